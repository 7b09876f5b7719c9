//! The console adapter.
