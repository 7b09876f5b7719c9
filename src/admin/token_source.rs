//! The tokens file, read again whenever it changes: removing or rotating a token takes effect
//! at the next request, on every instance, without a restart.

use super::tokens::TokenSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where tokens come from, and the set last parsed from it.
#[derive(Clone)]
pub struct TokenSource {
    path: Option<PathBuf>,
    cached: Arc<Mutex<Parsed>>,
}

/// The file's bytes when last parsed, and what they parsed to (`None`: invalid).
type Parsed = (Vec<u8>, Option<Arc<TokenSet>>);

impl TokenSource {
    /// Reads the file once now, so a broken file stops the start with a clear error.
    pub fn load(path: Option<PathBuf>) -> anyhow::Result<Self> {
        let (bytes, set) = match &path {
            Some(p) => (std::fs::read(p).unwrap_or_default(), TokenSet::load(p)?),
            None => (Vec::new(), TokenSet::default()),
        };
        Ok(Self {
            path,
            cached: Arc::new(Mutex::new((bytes, Some(Arc::new(set))))),
        })
    }

    /// The tokens as the file says now. The file is small and admin traffic light, so it is
    /// read on every call and parsed only when its bytes changed. `None` while the file cannot
    /// be read or parsed: nobody is admitted (fail closed), but no session is ended for it
    /// either, since a half-written file says nothing about which tokens were removed.
    pub async fn current(&self) -> Option<Arc<TokenSet>> {
        let Some(path) = &self.path else {
            return self.cached.lock().expect("token cache").1.clone();
        };
        let bytes = match tokio::fs::read(path).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, file = %path.display(), "cannot read admin.tokens_file: nobody is admitted until it is readable");
                return None;
            }
        };
        let mut cached = self.cached.lock().expect("token cache");
        if cached.0 != bytes {
            let set = std::str::from_utf8(&bytes)
                .map_err(anyhow::Error::from)
                .and_then(TokenSet::from_toml)
                .map(Arc::new)
                .inspect_err(|e| {
                    tracing::error!(error = %e, file = %path.display(), "admin.tokens_file is invalid: nobody is admitted until it is fixed");
                })
                .ok();
            if set.is_some() {
                tracing::info!(file = %path.display(), "admin tokens reloaded");
            }
            *cached = (bytes, set);
        }
        cached.1.clone()
    }
}
