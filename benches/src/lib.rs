//! lsmkit's benchmarks (not published): criterion benches of each crate in
//! `benches/`, and the engine comparison (`src/bin/compare.rs`), which runs
//! `lsmkit bench`'s workloads against lsmkit-engine and, behind the cargo
//! features `rocksdb`, `fjall` and `sled`, against those engines.
//!
//! The data generator lives in `lsmkit-cli` (whose `lsmkit bench` needs it
//! and which is published); it is re-exported here so that every benchmark
//! and every engine sees the same bytes.
#![forbid(unsafe_code)]

pub use lsmkit_cli::bench::{Rng, key, value};

pub mod chart;
pub mod engines;
