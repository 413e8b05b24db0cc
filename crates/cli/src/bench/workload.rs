//! The workloads, db_bench's names and meanings, and how each thread runs
//! its share of one.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// A db_bench workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// Write `num` keys in key order into a fresh database.
    FillSeq,
    /// Write `num` keys in a random order (each key once) into a fresh
    /// database.
    FillRandom,
    /// Write `num` random keys (with repeats) over the loaded keys.
    Overwrite,
    /// Read `num` random loaded keys; every one must be found.
    ReadRandom,
    /// Read `num` keys that sort between loaded keys and are absent.
    ReadMissing,
    /// Scan all keys in order.
    ReadSeq,
    /// `num` times: seek to a random loaded key and read it and the 10
    /// entries after it.
    SeekRandom,
    /// Delete the loaded keys in a random order.
    DeleteRandom,
    /// Write `num / 1000` keys (at least 100) into a fresh database, each
    /// write durable before the next.
    FillSync,
    /// Into a fresh database, `num` increments of random counters (`num /
    /// 10` of them, at least 1) by the store's merge
    /// ([`Store::merge_add`](super::store::Store::merge_add): a merge
    /// operand for lsmkit), then every counter read back, untimed, and
    /// their sum checked.
    MergeRandom,
    /// [`MergeRandom`](Workload::MergeRandom) done as a read of the counter
    /// then a write of the sum: what a merge saves. With more than one
    /// thread increments may race and be lost; the sum is then checked to
    /// be at most `num`.
    ReadModifyWrite,
}

impl Workload {
    /// The default workloads, in the default order: each read runs on what
    /// the fills before it left, deletes empty the database, and the synced
    /// fills start fresh.
    pub const ALL: [Workload; 9] = [
        Workload::FillSeq,
        Workload::FillRandom,
        Workload::Overwrite,
        Workload::ReadRandom,
        Workload::ReadMissing,
        Workload::ReadSeq,
        Workload::SeekRandom,
        Workload::DeleteRandom,
        Workload::FillSync,
    ];

    /// The workloads run only when named: the counters of a merge operator
    /// against read-modify-write, each in a fresh database.
    pub const OPT_IN: [Workload; 2] = [Workload::MergeRandom, Workload::ReadModifyWrite];

    /// The db_bench name.
    pub fn name(self) -> &'static str {
        match self {
            Workload::FillSeq => "fillseq",
            Workload::FillRandom => "fillrandom",
            Workload::Overwrite => "overwrite",
            Workload::ReadRandom => "readrandom",
            Workload::ReadMissing => "readmissing",
            Workload::ReadSeq => "readseq",
            Workload::SeekRandom => "seekrandom",
            Workload::DeleteRandom => "deleterandom",
            Workload::FillSync => "fillsync",
            Workload::MergeRandom => "mergerandom",
            Workload::ReadModifyWrite => "readmodifywrite",
        }
    }

    /// Whether the workload starts from an empty database.
    pub fn fresh(self) -> bool {
        matches!(
            self,
            Workload::FillSeq
                | Workload::FillRandom
                | Workload::FillSync
                | Workload::MergeRandom
                | Workload::ReadModifyWrite
        )
    }

    /// Whether the workload increments counters.
    pub fn counts(self) -> bool {
        matches!(self, Workload::MergeRandom | Workload::ReadModifyWrite)
    }

    /// Whether the workload needs keys `0..num` loaded first.
    pub fn needs_keys(self) -> bool {
        matches!(
            self,
            Workload::Overwrite
                | Workload::ReadRandom
                | Workload::ReadMissing
                | Workload::ReadSeq
                | Workload::SeekRandom
                | Workload::DeleteRandom
        )
    }

    /// Whether the workload writes (and so has a write amplification).
    pub fn writes(self) -> bool {
        matches!(
            self,
            Workload::FillSeq
                | Workload::FillRandom
                | Workload::Overwrite
                | Workload::DeleteRandom
                | Workload::FillSync
                | Workload::MergeRandom
                | Workload::ReadModifyWrite
        )
    }

    /// How many operations the workload runs for `num` keys.
    pub fn ops(self, num: u64) -> u64 {
        match self {
            // db_bench divides by 1000 too: a synced write costs an fsync.
            Workload::FillSync => (num / 1000).max(num.min(100)),
            _ => num,
        }
    }

    /// Whether keys `0..num` are all present after the workload ran on a
    /// database that held them before (or on a fresh one, for fills).
    pub fn leaves_keys(self, loaded_before: bool) -> bool {
        match self {
            Workload::FillSeq | Workload::FillRandom => true,
            Workload::DeleteRandom
            | Workload::FillSync
            | Workload::MergeRandom
            | Workload::ReadModifyWrite => false,
            _ => loaded_before,
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A workload and how many threads run it: written `name` or
/// `name:threads` (`fillsync:4`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WorkloadSpec {
    /// The workload.
    pub workload: Workload,
    /// Threads sharing its operations; `None` takes the run's default.
    pub threads: Option<usize>,
}

impl WorkloadSpec {
    /// The default list: every workload on the default threads, then
    /// `fillsync:4` to show group commit.
    pub fn defaults() -> Vec<WorkloadSpec> {
        let mut specs: Vec<WorkloadSpec> = Workload::ALL
            .iter()
            .map(|&workload| WorkloadSpec {
                workload,
                threads: None,
            })
            .collect();
        specs.push(WorkloadSpec {
            workload: Workload::FillSync,
            threads: Some(4),
        });
        specs
    }
}

impl fmt::Display for WorkloadSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.threads {
            Some(threads) => write!(f, "{}:{threads}", self.workload),
            None => write!(f, "{}", self.workload),
        }
    }
}

/// Why a workload name did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown workload {given:?}: expected one of {}, optionally with :THREADS",
    names()
)]
pub struct ParseWorkloadError {
    given: String,
}

fn names() -> String {
    Workload::ALL
        .iter()
        .chain(&Workload::OPT_IN)
        .map(|w| w.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for WorkloadSpec {
    type Err = ParseWorkloadError;

    fn from_str(s: &str) -> Result<WorkloadSpec, ParseWorkloadError> {
        let error = || ParseWorkloadError {
            given: s.to_string(),
        };
        let (name, threads) = match s.split_once(':') {
            Some((name, threads)) => {
                let threads: usize = threads.parse().map_err(|_| error())?;
                if threads == 0 {
                    return Err(error());
                }
                (name, Some(threads))
            }
            None => (s, None),
        };
        let workload = Workload::ALL
            .into_iter()
            .chain(Workload::OPT_IN)
            .find(|w| w.name() == name)
            .ok_or_else(error)?;
        Ok(WorkloadSpec { workload, threads })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print_back() {
        for s in [
            "fillseq",
            "fillsync:4",
            "readrandom:2",
            "mergerandom",
            "readmodifywrite:2",
        ] {
            assert_eq!(s.parse::<WorkloadSpec>().unwrap().to_string(), s);
        }
        for bad in ["fill", "fillsync:", "fillsync:0", "readseq:x", ""] {
            assert!(bad.parse::<WorkloadSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn sync_fills_are_shorter_but_never_empty() {
        assert_eq!(Workload::FillSync.ops(1_000_000), 1000);
        assert_eq!(Workload::FillSync.ops(2000), 100);
        assert_eq!(Workload::FillSync.ops(10), 10);
        assert_eq!(Workload::ReadSeq.ops(10), 10);
    }
}
