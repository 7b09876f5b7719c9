//! The SIEM endpoint: where it is, how Warden authenticates to it, and how it is named in logs.
//!
//! The credential travels in a header whose value comes from env or a file (`admin.siem_auth`,
//! `admin.siem_auth_file`), never in the URL. A URL that still carries userinfo or a query (some
//! collectors take a token there) is shown only as [`redacted`], and transport errors are
//! stripped of their URL, so neither reaches a log line.

use crate::config::AdminSettings;
use crate::http_client::HttpOptions;
use anyhow::Context;
use reqwest::header::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// A SIEM ingest endpoint and the header that authenticates to it.
#[derive(Clone)]
pub struct SiemTarget {
    client: reqwest::Client,
    url: url::Url,
    auth: Option<(HeaderName, SecretString)>,
}

/// The URL without userinfo, query or fragment: what logs and errors may show.
pub fn redacted(url: &url::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

impl SiemTarget {
    pub fn new(url: &str) -> anyhow::Result<Self> {
        // The parse error names no part of the URL.
        let url = url::Url::parse(url).context("admin.siem_url is not a valid URL")?;
        anyhow::ensure!(
            matches!(url.scheme(), "http" | "https"),
            "admin.siem_url must be http(s)"
        );
        let client = crate::http_client::client(HttpOptions::new(Duration::from_secs(10)))
            .context("Failed to build the SIEM client")?;
        Ok(Self {
            client,
            url,
            auth: None,
        })
    }

    /// The target `admin.*` configures, if any.
    pub fn from_settings(s: &AdminSettings) -> anyhow::Result<Option<Self>> {
        let Some(url) = &s.siem_url else {
            return Ok(None);
        };
        let mut target = Self::new(url)?;
        if let Some(value) = &s.siem_auth {
            target = target.with_auth(&s.siem_auth_header, value.clone())?;
        }
        Ok(Some(target))
    }

    /// Sends `value` in header `name` with every post.
    pub fn with_auth(mut self, name: &str, value: SecretString) -> anyhow::Result<Self> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .context("admin.siem_auth_header is not a valid header name")?;
        // Checked once here, so a post never fails on it (the error would not name the value).
        HeaderValue::from_str(value.expose_secret())
            .context("admin.siem_auth is not a valid header value")?;
        self.auth = Some((name, value));
        Ok(self)
    }

    /// The URL as logs may show it.
    pub fn shown(&self) -> String {
        redacted(&self.url)
    }

    /// Posts JSON lines; any status but 2xx is an error. Errors never carry the URL's secrets.
    pub async fn post_ndjson(&self, body: String) -> anyhow::Result<()> {
        let mut rb = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
            .body(body);
        if let Some((name, value)) = &self.auth {
            let mut v = HeaderValue::from_str(value.expose_secret())
                .context("admin.siem_auth is not a valid header value")?;
            v.set_sensitive(true);
            rb = rb.header(name.clone(), v);
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| e.without_url())
            .with_context(|| format!("Failed to reach the SIEM webhook at {}", self.shown()))?;
        anyhow::ensure!(
            resp.status().is_success(),
            "the SIEM webhook at {} answered {}",
            self.shown(),
            resp.status()
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shown_url_keeps_host_and_path_only() {
        let u = url::Url::parse("https://u:p@siem.example:8443/hec/raw?token=t#f").unwrap();
        assert_eq!(redacted(&u), "https://siem.example:8443/hec/raw");
    }

    #[test]
    fn a_bad_header_value_is_refused_without_printing_it() {
        let t = SiemTarget::new("http://127.0.0.1:1/x").unwrap();
        let err = t
            .with_auth("Authorization", SecretString::from("bad\nvalue-secret"))
            .err()
            .expect("refused");
        assert!(!format!("{err:#}").contains("value-secret"));
    }
}
