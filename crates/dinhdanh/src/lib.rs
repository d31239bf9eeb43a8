//! The `dinhdanh` binary's library half: configuration, the seeding pipeline, the log audit
//! and the reconciliation of operator files, shared by the commands, the tests and the
//! benchmarks.

pub mod config;
pub mod log_audit;
pub mod reconcile;
pub mod seed;
