//! The domain in plain types: requests and their state machine, intents, the catalog, principals. No I/O.

pub mod catalog;
pub mod duration;
pub mod intent;
pub mod principal;
pub mod redact;
pub mod request;
pub mod text;

pub use catalog::{Catalog, CatalogError, Resource, Risk, RoleSpec};
pub use duration::{format_duration, parse_duration};
pub use intent::{Action, Intent, IntentError};
pub use principal::{Person, Platform, PlatformUser, Principal};
pub use request::{RequestEvent, RequestId, RequestState, TransitionError};
