//! A fake OpenID Connect issuer over real HTTP: discovery and a JWKS it can rotate, with real
//! RSA and P-256 keys made by `openssl` for each test, and a signer for tokens of every shape.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A private key with its public JWK and PEM.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Jwk,
    pub public_pem: Vec<u8>,
}

fn openssl(args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        // openssl draws its key-generation progress on stderr.
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl is installed");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl {args:?} failed");
    out.stdout
}

impl TestKey {
    /// A fresh key for `alg` (RS256: RSA 2048; ES256: P-256), generated now.
    pub fn generate(kid: &str, alg: Algorithm) -> Self {
        let private = match alg {
            Algorithm::RS256 => openssl(
                &[
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                ],
                None,
            ),
            Algorithm::ES256 => openssl(
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                ],
                None,
            ),
            other => panic!("no test keys for {other:?}"),
        };
        let public_pem = openssl(&["pkey", "-pubout"], Some(&private));
        let encoding = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(&private).unwrap(),
            _ => EncodingKey::from_ec_pem(&private).unwrap(),
        };
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
        jwk.common.key_id = Some(kid.to_string());
        Self {
            kid: kid.to_string(),
            alg,
            encoding,
            jwk,
            public_pem,
        }
    }

    /// A token signed by this key with its own `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// `alg: none`, no signature, naming `kid`.
pub fn unsigned_token(kid: &str, claims: &Value) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = json!({"alg": "none", "typ": "JWT", "kid": kid});
    format!(
        "{}.{}.",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string())
    )
}

/// HS256 with the issuer's public key PEM as the HMAC secret: the classic key-confusion attack.
pub fn hs256_with_public_key(key: &TestKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(&key.public_pem).unwrap(),
    )
    .unwrap()
}

#[derive(Default)]
struct IssuerState {
    issuer: String,
    keys: Mutex<Vec<Jwk>>,
    jwks_hits: AtomicUsize,
}

/// The issuer: `GET /.well-known/openid-configuration` and `GET /jwks`.
pub struct FakeIssuer {
    state: Arc<IssuerState>,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeIssuer {
    pub async fn start(keys: &[&TestKey]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(IssuerState {
            issuer,
            keys: Mutex::new(keys.iter().map(|k| k.jwk.clone()).collect()),
            jwks_hits: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { state, _task: task }
    }

    pub fn issuer(&self) -> String {
        self.state.issuer.clone()
    }

    /// Publishes exactly these keys from now on (a rotation).
    pub fn publish(&self, keys: &[&TestKey]) {
        *self.state.keys.lock().unwrap() = keys.iter().map(|k| k.jwk.clone()).collect();
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }
}

async fn discovery(State(s): State<Arc<IssuerState>>) -> Json<Value> {
    Json(json!({
        "issuer": s.issuer,
        "jwks_uri": format!("{}/jwks", s.issuer),
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
    }))
}

async fn jwks(State(s): State<Arc<IssuerState>>) -> Json<Value> {
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let keys = s.keys.lock().unwrap().clone();
    Json(json!({ "keys": keys }))
}
