//! AuthZEN 1.0 PDP over HTTP.
