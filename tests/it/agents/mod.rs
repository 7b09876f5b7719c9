//! Agents as requesters: workload-token authentication against a fake OIDC issuer.

mod auth;
