//! Every outbound HTTP client Warden builds: one TLS provider, one user agent, bounded time,
//! and the one rule for which remote addresses may be reached without TLS.
//!
//! A leaf: it knows reqwest and rustls and nothing of Warden. Crates that build their own
//! connector (slack-morphism over hyper-rustls) still get their TLS provider from here.

use anyhow::Context;
use std::sync::Once;
use std::time::Duration;

/// What Warden calls itself on the wire.
pub const USER_AGENT: &str = concat!("warden/", env!("CARGO_PKG_VERSION"));

/// The longest wait for a TCP + TLS connection, whatever the request timeout.
pub const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// reqwest and hyper-rustls are built without a default TLS provider; this installs rustls'
/// ring provider as the process default, once. Safe to call from anywhere, any number of times.
pub fn install_crypto() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // An embedding program may already have chosen a provider; theirs stands.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Whether a client follows HTTP redirects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Redirects {
    /// A 3xx is the answer: the caller sees it as a non-success status. Warden's outbound calls
    /// carry tokens, signatures and POST bodies that must not be replayed to another address.
    #[default]
    Refuse,
    /// Follow at most this many hops.
    Follow(usize),
}

/// How the client introduces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Agent {
    /// `warden/<version>`.
    #[default]
    Warden,
    /// Discord's required form, `DiscordBot (<url>, <version>)`, followed by `warden/<version>`.
    DiscordBot,
}

impl Agent {
    pub fn header(self) -> &'static str {
        match self {
            Agent::Warden => USER_AGENT,
            Agent::DiscordBot => concat!(
                "DiscordBot (https://github.com/warden, ",
                env!("CARGO_PKG_VERSION"),
                ") warden/",
                env!("CARGO_PKG_VERSION")
            ),
        }
    }
}

/// The settings one outbound client is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpOptions {
    /// The limit for a whole request, connection to last byte of the body.
    pub timeout: Duration,
    /// The limit for connecting; never more than `timeout`.
    pub connect_timeout: Duration,
    pub redirects: Redirects,
    pub agent: Agent,
}

impl HttpOptions {
    /// Requests bounded by `timeout`, connections by the smaller of it and
    /// [`MAX_CONNECT_TIMEOUT`], no redirects followed.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            connect_timeout: timeout.min(MAX_CONNECT_TIMEOUT),
            redirects: Redirects::default(),
            agent: Agent::default(),
        }
    }

    pub fn with_redirects(mut self, redirects: Redirects) -> Self {
        self.redirects = redirects;
        self
    }

    pub fn with_agent(mut self, agent: Agent) -> Self {
        self.agent = agent;
        self
    }
}

/// Why a remote URL may not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("is not an http(s) URL")]
    NotHttp,
    #[error(
        "uses plain http to {host}; use https, or list \"{host}\" in transport.allow_http_hosts"
    )]
    PlainHttp { host: String },
}

/// The transport rule for every remote service Warden sends secrets or decisions to: `https`,
/// or plain `http` only to a loopback address or to a host the operator listed explicitly.
/// Loopback traffic never leaves the machine; anything else in clear text could be read or
/// forged on the way (a forged PDP answer is an access grant).
pub fn check_transport(url: &url::Url, allow_http_hosts: &[String]) -> Result<(), TransportError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let host = url.host_str().unwrap_or_default();
            if is_loopback(url)
                || allow_http_hosts
                    .iter()
                    .any(|h| h.trim().eq_ignore_ascii_case(host))
            {
                Ok(())
            } else {
                Err(TransportError::PlainHttp {
                    host: host.to_string(),
                })
            }
        }
        _ => Err(TransportError::NotHttp),
    }
}

/// 127.0.0.0/8, ::1, `localhost` and names under `.localhost` (RFC 6761).
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        None => false,
    }
}

/// A reqwest client with rustls (ring) and the given options.
pub fn client(options: HttpOptions) -> anyhow::Result<reqwest::Client> {
    install_crypto();
    let redirect = match options.redirects {
        Redirects::Refuse => reqwest::redirect::Policy::none(),
        Redirects::Follow(hops) => reqwest::redirect::Policy::limited(hops),
    };
    reqwest::Client::builder()
        .user_agent(options.agent.header())
        .timeout(options.timeout)
        .connect_timeout(options.connect_timeout.min(options.timeout))
        .redirect(redirect)
        .build()
        .context("Failed to build an HTTP client")
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[test]
    fn the_connect_timeout_never_exceeds_the_request_timeout() {
        let short = HttpOptions::new(Duration::from_millis(800));
        assert_eq!(short.connect_timeout, Duration::from_millis(800));
        let long = HttpOptions::new(Duration::from_secs(60));
        assert_eq!(long.connect_timeout, MAX_CONNECT_TIMEOUT);
    }

    #[test]
    fn plain_http_is_refused_unless_loopback_or_allowed() {
        let check = |u: &str, allowed: &[&str]| {
            let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
            check_transport(&url::Url::parse(u).unwrap(), &allowed)
        };
        for ok in [
            "https://pdp.example.com",
            "http://127.0.0.1:8181",
            "http://127.9.9.9",
            "http://[::1]:8181/x",
            "http://localhost:11434/v1",
            "http://pdp.localhost",
        ] {
            assert_eq!(check(ok, &[]), Ok(()), "{ok}");
        }
        assert_eq!(
            check("http://opa.internal:8181", &[]),
            Err(TransportError::PlainHttp {
                host: "opa.internal".into()
            })
        );
        assert_eq!(
            check("http://10.0.0.5", &[]),
            Err(TransportError::PlainHttp {
                host: "10.0.0.5".into()
            })
        );
        assert!(check("http://localhost.evil.com", &[]).is_err());
        assert_eq!(check("http://OPA.internal:8181", &["opa.internal"]), Ok(()));
        assert_eq!(
            check("ftp://pdp.example.com", &[]),
            Err(TransportError::NotHttp)
        );
    }

    #[test]
    fn the_discord_agent_keeps_discords_required_prefix() {
        assert!(Agent::DiscordBot.header().starts_with("DiscordBot ("));
        assert!(Agent::DiscordBot.header().ends_with(USER_AGENT));
    }

    #[tokio::test]
    async fn requests_name_warden_and_redirects_are_not_followed_unless_asked() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/moved"))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("location", format!("{}/here", server.uri())),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/here"))
            .and(header("user-agent", USER_AGENT))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        let url = format!("{}/moved", server.uri());
        let refusing = client(HttpOptions::new(Duration::from_secs(2))).unwrap();
        assert_eq!(refusing.get(&url).send().await.unwrap().status(), 302);
        let following =
            client(HttpOptions::new(Duration::from_secs(2)).with_redirects(Redirects::Follow(2)))
                .unwrap();
        assert_eq!(following.get(&url).send().await.unwrap().status(), 200);
    }

    #[tokio::test]
    async fn a_slow_answer_is_cut_off_at_the_timeout() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
            .mount(&server)
            .await;
        let c = client(HttpOptions::new(Duration::from_millis(200))).unwrap();
        let err = c.get(server.uri()).send().await.unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
    }
}
