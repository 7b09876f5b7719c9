//! Engine integration tests: the whole workflow on real SQLite and PostgreSQL databases.

mod harness;
mod approvals;
mod lifecycle;
