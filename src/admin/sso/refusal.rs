//! Why a sign-in was refused: a short message for the person, the cause for the log.

/// Why a sign-in was refused. `user_message` is what the person sees; `Display` is for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "the callback matches no sign-in begun in this browser (unknown, reused or expired state)"
    )]
    UnknownState,
    #[error("the provider answered with error {0}")]
    ProviderError(String),
    #[error("the authorization response names another issuer")]
    WrongIssuer,
    #[error("the callback lacks {0}")]
    Malformed(&'static str),
    #[error("the provider could not be used: {0}")]
    ProviderUnavailable(String),
    #[error("the code exchange failed: {0}")]
    TokenExchange(String),
    #[error("the ID token was refused: {0}")]
    BadIdToken(&'static str),
    #[error("the logout token was refused: {0}")]
    BadLogoutToken(&'static str),
    #[error("no groups claim maps to a Warden role")]
    NoRole,
    #[error("no directory person matches the signed-in subject")]
    NoPerson,
    #[error("the directory could not be read: {0}")]
    Directory(String),
}

impl Refusal {
    pub fn user_message(&self) -> &'static str {
        match self {
            Refusal::UnknownState | Refusal::Malformed(_) => {
                "That sign-in expired or did not start in this browser. Start again."
            }
            Refusal::ProviderError(_) => "The identity provider did not sign you in.",
            Refusal::WrongIssuer | Refusal::BadIdToken(_) | Refusal::BadLogoutToken(_) => {
                "The identity provider's answer could not be verified, so you are not signed in."
            }
            Refusal::ProviderUnavailable(_) | Refusal::TokenExchange(_) | Refusal::Directory(_) => {
                "Single sign-on is not working right now. Try again, or use an admin token."
            }
            Refusal::NoRole => "Your account is in no group that may use Warden's admin pages.",
            Refusal::NoPerson => "Your account is not linked to anyone in Warden's directory.",
        }
    }
}
