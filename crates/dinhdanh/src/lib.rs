//! The `dinhdanh` binary's library half: configuration, the seeding pipeline and the log audit,
//! shared by the commands, the tests and the benchmarks.

pub mod config;
pub mod log_audit;
pub mod seed;
