//! SigV4 checked the way AWS checks it, written from the specification (not with the crate
//! Warden signs with): the canonical request, the string to sign, the derived key, the HMAC.

use axum::http::HeaderMap;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// What a verified `Authorization` header said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub access_key_id: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| format!("no {name} header"))
}

/// Parses the `Authorization` header's credential scope and signed headers.
pub fn parse(headers: &HeaderMap) -> Result<(Signed, String, String), String> {
    let auth = header(headers, "authorization")?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not AWS4-HMAC-SHA256")?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',').map(str::trim) {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let (credential, signed, signature) = (
        credential.ok_or("no Credential")?,
        signed.ok_or("no SignedHeaders")?,
        signature.ok_or("no Signature")?,
    );
    let scope: Vec<&str> = credential.split('/').collect();
    let [key, date, region, service, "aws4_request"] = scope[..] else {
        return Err(format!("bad credential scope {credential}"));
    };
    Ok((
        Signed {
            access_key_id: key.into(),
            region: region.into(),
            service: service.into(),
            signed_headers: signed.split(';').map(str::to_string).collect(),
        },
        date.to_string(),
        signature.to_string(),
    ))
}

/// Recomputes the signature of a `POST /` with `body` using `secret`; `Ok` when it matches.
pub fn verify(headers: &HeaderMap, body: &[u8], secret: &str) -> Result<Signed, String> {
    let (signed, date, signature) = parse(headers)?;
    let amz_date = header(headers, "x-amz-date")?;
    if !amz_date.starts_with(&date) {
        return Err("x-amz-date is not the scope's date".into());
    }
    let when = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| "x-amz-date is not a time")?
        .and_utc();
    if (chrono::Utc::now() - when).num_seconds().abs() > 300 {
        return Err("signed more than 5 minutes away from now".into());
    }
    for required in ["host", "x-amz-date", "x-amz-target", "content-type"] {
        if !signed.signed_headers.iter().any(|h| h == required) {
            return Err(format!("{required} is not signed"));
        }
    }
    if headers.contains_key("x-amz-security-token")
        && !signed
            .signed_headers
            .iter()
            .any(|h| h == "x-amz-security-token")
    {
        return Err("the session token is not signed".into());
    }
    let mut canonical_headers = String::new();
    for name in &signed.signed_headers {
        let value = header(headers, name)?;
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let canonical = format!(
        "POST\n/\n\n{canonical_headers}\n{}\n{}",
        signed.signed_headers.join(";"),
        hex::encode(Sha256::digest(body))
    );
    let scope = format!("{date}/{}/{}/aws4_request", signed.region, signed.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), &date);
    for part in [
        signed.region.as_str(),
        signed.service.as_str(),
        "aws4_request",
    ] {
        key = hmac(&key, part);
    }
    let expected = hex::encode(hmac(&key, &to_sign));
    if expected != signature {
        return Err("the signature does not match".into());
    }
    Ok(signed)
}
