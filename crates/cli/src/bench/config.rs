//! [`BenchConfig`]: what a run does, its checks, and [`BenchError`]: why
//! a run stops.

use std::io;
use std::path::PathBuf;

use super::runner::MARKER;
use super::store::StoreError;
use super::workload::{Workload, WorkloadSpec};

/// What to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchConfig {
    /// Keys per workload (db_bench's `--num`).
    pub num: u64,
    /// Bytes per key; at least 2, so that missing keys can be made.
    pub key_size: usize,
    /// Bytes per value.
    pub value_size: usize,
    /// Threads for workloads that do not name their own.
    pub threads: usize,
    /// Seed of every random choice and of the values.
    pub seed: u64,
    /// The workloads, in order.
    pub workloads: Vec<WorkloadSpec>,
    /// Operations of each read workload (db_bench's `--reads`); `None`:
    /// `num`. The keys read are still drawn from all `num`.
    pub reads: Option<u64>,
    /// Before each read workload, close the store, drop the page cache of
    /// its files and open it again, so that the reads start cold: from the
    /// disk, not from memory (Linux only).
    pub cold: bool,
}

impl BenchConfig {
    /// The operations `workload` runs.
    pub fn ops(&self, workload: Workload) -> u64 {
        match self.reads {
            Some(reads) if !workload.writes() => reads,
            _ => workload.ops(self.num),
        }
    }
}

impl Default for BenchConfig {
    /// db_bench's defaults: a million keys of 16 bytes, values of 100, one
    /// thread, every workload.
    fn default() -> BenchConfig {
        BenchConfig {
            num: 1_000_000,
            key_size: 16,
            value_size: 100,
            threads: 1,
            seed: 301,
            workloads: WorkloadSpec::defaults(),
            reads: None,
            cold: false,
        }
    }
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The engine failed an operation.
    #[error("{workload}: {source}")]
    Store {
        /// The workload (or `open`, `load`, `flush`) that was running.
        workload: String,
        /// The engine's error.
        #[source]
        source: StoreError,
    },
    /// The engine returned a wrong answer: a benchmark of a broken engine
    /// measures nothing.
    #[error("{workload}: wrong answer: {what}")]
    WrongAnswer {
        /// The workload.
        workload: String,
        /// What was expected and found.
        what: String,
    },
    /// Preparing or measuring the database directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The directory holds files that no benchmark made; a run would
    /// delete them.
    #[error(
        "{} is not empty and was not made by lsmkit bench (no {MARKER} file); refusing to delete its contents",
        dir.display()
    )]
    NotBenchDir {
        /// The directory.
        dir: PathBuf,
    },
    /// The configuration cannot run.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Refuses a configuration that cannot run.
pub(crate) fn check(config: &BenchConfig) -> Result<(), BenchError> {
    if config.num == 0 {
        return Err(BenchError::Config("--num must be at least 1".to_string()));
    }
    if config.key_size < 2 {
        return Err(BenchError::Config(
            "--key-size must be at least 2".to_string(),
        ));
    }
    // Keys 0..num must be distinct after truncation to key_size digits.
    let digits = config.num.saturating_sub(1).max(1).ilog10() as usize + 1;
    if digits > config.key_size - 1 {
        return Err(BenchError::Config(format!(
            "--key-size {} is too short for {} keys: it needs {} bytes",
            config.key_size,
            config.num,
            digits + 1
        )));
    }
    if config.reads == Some(0) {
        return Err(BenchError::Config("--reads must be at least 1".to_string()));
    }
    if config.threads == 0 || config.workloads.iter().any(|s| s.threads == Some(0)) {
        return Err(BenchError::Config("threads must be at least 1".to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_that_cannot_run_are_refused() {
        let ok = BenchConfig::default();
        assert!(check(&ok).is_ok());
        for bad in [
            BenchConfig {
                num: 0,
                ..ok.clone()
            },
            BenchConfig {
                key_size: 1,
                ..ok.clone()
            },
            BenchConfig {
                key_size: 6,
                ..ok.clone()
            },
            BenchConfig {
                threads: 0,
                ..ok.clone()
            },
            BenchConfig {
                reads: Some(0),
                ..ok.clone()
            },
        ] {
            assert!(matches!(check(&bad), Err(BenchError::Config(_))), "{bad:?}");
        }
        assert!(check(&BenchConfig { key_size: 7, ..ok }).is_ok());
    }
}
