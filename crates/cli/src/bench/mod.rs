//! db_bench-style workloads, run against any engine behind the [`Store`]
//! trait.
//!
//! [`run`] drives the workloads of a [`BenchConfig`] against the stores an
//! [`Engine`] opens: each workload's operations are split between its
//! threads, every operation is timed into a latency histogram
//! (hdrhistogram), reads are checked (a benchmark of an engine that loses
//! keys measures nothing), and the process's own counters give write
//! amplification and peak memory, the same way for every engine. The
//! result is a [`Report`]: a table, or JSON.
//!
//! The data comes from one generator ([`Rng`], [`key`], [`value`]), so
//! every engine sees the same bytes for the same seed.
//!
//! ```
//! use lsmkit_cli::bench::{self, BenchConfig, MemEngine, Progress, WorkloadSpec};
//!
//! let config = BenchConfig {
//!     num: 1000,
//!     workloads: vec!["fillrandom".parse()?, "readrandom".parse()?, "seekrandom:2".parse()?],
//!     ..BenchConfig::default()
//! };
//! let dir = tempfile::tempdir()?;
//! let report = bench::run(&MemEngine, dir.path(), &config, Progress::Quiet)?;
//! assert_eq!(report.measurements.len(), 3);
//! assert_eq!(report.measurements[1].found, Some(1000));
//! println!("{}", report.table());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod data;
mod lsmkit_store;
pub mod process;
mod progress;
mod report;
mod runner;
mod store;
mod workload;

pub use config::{BenchConfig, BenchError};
pub use data::{Permutation, Rng, ValuePool, key, key_into, missing_key_into, value};
pub use lsmkit_store::{LsmkitEngine, LsmkitStore};
pub use progress::Progress;
pub use report::{Measurement, Report, size};
pub use runner::{MARKER, run};
pub use store::{Engine, MemEngine, MemStore, Store, StoreError, StoreState, Write, copy_found};
pub use workload::{ParseWorkloadError, Workload, WorkloadSpec};
