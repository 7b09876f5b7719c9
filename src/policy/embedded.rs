//! Embedded Rego policy evaluated in-process with regorus.
