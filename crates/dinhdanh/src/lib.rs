//! The `dinhdanh` binary's library half: configuration and the seeding pipeline, shared by the
//! commands and by the benchmarks.

pub mod config;
pub mod seed;
