//! Engine integration tests: the whole workflow on real SQLite and PostgreSQL databases.

mod approvals;
mod harness;
mod lifecycle;
