//! OPA over REST.
