//! The library behind the `lsmkit` tool: the db_bench-style workload
//! runner that `lsmkit bench` and lsmkit's engine comparison share.
//!
//! The `lsmkit` binary does three jobs, as RocksDB's db_bench, sst_dump
//! and ldb do: `lsmkit bench` runs workloads through lsmkit-engine;
//! `lsmkit sst` and `lsmkit wal` look inside table and log files;
//! `lsmkit create|get|put|delete|scan|compact|stats|manifest|load|dump`
//! work on a database.
//! This library holds what other crates reuse: [`bench`](mod@bench), whose [`Store`]
//! trait any engine can implement to run the very same workloads.
//!
//! ```
//! use lsmkit_cli::bench::{self, BenchConfig, MemEngine, Progress};
//!
//! let config = BenchConfig { num: 500, ..BenchConfig::default() };
//! let dir = tempfile::tempdir()?;
//! let report = bench::run(&MemEngine, dir.path(), &config, Progress::Quiet)?;
//! assert!(report.measurements.iter().all(|m| m.ops > 0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Concurrency
//!
//! [`bench::run`] runs one workload at a time, each on its own scoped
//! threads, which share the store through `&S` (so [`Store`] is `Sync`).
//!
//! [`Store`]: bench::Store
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod bench;

/// The README's examples, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
