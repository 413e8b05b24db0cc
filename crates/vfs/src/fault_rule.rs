//! The rules a [`FaultFs`](crate::FaultFs) injects errors by.

use std::io;
use std::path::Path;

use crate::Op;
use crate::split_mix::SplitMix64;

/// When a [`FaultFs`](crate::FaultFs) fails a call, and how.
///
/// A rule matches calls of its operations (and, if given, on paths
/// containing a string); its trigger decides which of the matching calls
/// fail. Calls are counted from the moment the rule is added, across the
/// whole filesystem including calls on the files it opened.
///
/// ```
/// use lsmkit_vfs::{Op, Rule};
///
/// let third_sync = Rule::on(Op::Sync).nth(3);
/// let broken_manifest = Rule::on_ops(&[Op::Append, Op::Sync]).path_contains("MANIFEST");
/// let flaky_reads = Rule::on(Op::Read).with_probability(0.01, 42);
/// let dead_disk = Rule::on_mutating().from_nth(100);
/// let full_disk = Rule::disk_full(1 << 20);
/// # let _ = (third_sync, broken_manifest, flaky_reads, dead_disk, full_disk);
/// ```
#[derive(Clone, Debug)]
pub struct Rule {
    ops: u32,
    path_contains: Option<String>,
    trigger: Trigger,
    kind: io::ErrorKind,
}

#[derive(Clone, Debug)]
enum Trigger {
    Always,
    Nth(u64),
    FromNth(u64),
    Probability { p: f64, seed: u64 },
    DiskFull { budget: u64 },
}

impl Rule {
    fn with_ops(ops: u32) -> Rule {
        Rule {
            ops,
            path_contains: None,
            trigger: Trigger::Always,
            kind: io::ErrorKind::Other,
        }
    }

    /// Fails every call of `op` (narrow it with the methods below).
    pub fn on(op: Op) -> Rule {
        Rule::on_ops(&[op])
    }

    /// Fails every call of any of `ops`.
    pub fn on_ops(ops: &[Op]) -> Rule {
        Rule::with_ops(ops.iter().fold(0, |set, op| set | 1 << op.index()))
    }

    /// Fails every call of an operation that [`Op::is_mutating`].
    pub fn on_mutating() -> Rule {
        let mutating: Vec<Op> = Op::ALL.into_iter().filter(|op| op.is_mutating()).collect();
        Rule::on_ops(&mutating)
    }

    /// Fails every call of every operation.
    pub fn on_all() -> Rule {
        Rule::on_ops(&Op::ALL)
    }

    /// A full disk: fails each [`Op::Append`] that would take the bytes
    /// appended since the rule was added past `budget`, with
    /// [`io::ErrorKind::StorageFull`]. A failed append writes nothing and
    /// uses none of the budget, so smaller appends may still fit.
    pub fn disk_full(budget: u64) -> Rule {
        Rule {
            trigger: Trigger::DiskFull { budget },
            kind: io::ErrorKind::StorageFull,
            ..Rule::on(Op::Append)
        }
    }

    /// Fails only the `n`-th matching call (counting from 1) and no other.
    pub fn nth(self, n: u64) -> Rule {
        Rule {
            trigger: Trigger::Nth(n),
            ..self
        }
    }

    /// Fails the `n`-th matching call (counting from 1) and every one after
    /// it: the disk dies at that call. With [`Rule::on_mutating`], this is
    /// the "crash at the k-th write" of crash tests: run until the error,
    /// then crash the [`MemFs`](crate::MemFs) underneath.
    pub fn from_nth(self, n: u64) -> Rule {
        Rule {
            trigger: Trigger::FromNth(n),
            ..self
        }
    }

    /// Fails each matching call with probability `p`, drawn from a
    /// generator seeded with `seed`: the same calls in the same order fail
    /// the same way.
    pub fn with_probability(self, p: f64, seed: u64) -> Rule {
        Rule {
            trigger: Trigger::Probability { p, seed },
            ..self
        }
    }

    /// Matches only calls whose path contains `fragment` (for a rename,
    /// either path).
    pub fn path_contains(self, fragment: impl Into<String>) -> Rule {
        Rule {
            path_contains: Some(fragment.into()),
            ..self
        }
    }

    /// The kind of the injected errors; [`io::ErrorKind::Other`] unless
    /// set (and [`io::ErrorKind::StorageFull`] for [`Rule::disk_full`]).
    pub fn kind(self, kind: io::ErrorKind) -> Rule {
        Rule { kind, ..self }
    }

    fn matches(&self, op: Op, paths: &[&Path]) -> bool {
        self.ops & (1 << op.index()) != 0
            && match &self.path_contains {
                None => true,
                Some(fragment) => paths
                    .iter()
                    .any(|path| path.to_string_lossy().contains(fragment.as_str())),
            }
    }
}

/// A rule with its counters, as a [`FaultFs`](crate::FaultFs) holds it.
#[derive(Debug)]
pub(crate) struct ActiveRule {
    rule: Rule,
    /// Matching calls seen.
    matched: u64,
    /// Calls failed.
    pub(crate) fired: u64,
    /// Bytes appended under a disk-full rule.
    used: u64,
    rng: SplitMix64,
}

/// What a rule decided about one call.
pub(crate) enum Verdict {
    /// The rule does not match, or lets the call through.
    Pass,
    /// A disk-full rule lets the append of `bytes` through, if no other
    /// rule fails it.
    Use(u64),
    /// Fail the call with this kind.
    Fail(io::ErrorKind),
}

impl ActiveRule {
    pub(crate) fn new(rule: Rule) -> ActiveRule {
        let seed = match rule.trigger {
            Trigger::Probability { seed, .. } => seed,
            _ => 0,
        };
        ActiveRule {
            rule,
            matched: 0,
            fired: 0,
            used: 0,
            rng: SplitMix64::new(seed),
        }
    }

    /// Judges one call of `op` on `paths` that would write `bytes`.
    pub(crate) fn judge(&mut self, op: Op, paths: &[&Path], bytes: u64) -> Verdict {
        if !self.rule.matches(op, paths) {
            return Verdict::Pass;
        }
        self.matched += 1;
        let fail = match self.rule.trigger {
            Trigger::Always => true,
            Trigger::Nth(n) => self.matched == n,
            Trigger::FromNth(n) => self.matched >= n,
            Trigger::Probability { p, .. } => self.rng.next_f64() < p,
            Trigger::DiskFull { budget } => {
                if self.used.saturating_add(bytes) > budget {
                    true
                } else {
                    return Verdict::Use(bytes);
                }
            }
        };
        if fail {
            self.fired += 1;
            Verdict::Fail(self.rule.kind)
        } else {
            Verdict::Pass
        }
    }

    /// Records that an append this rule let through went ahead.
    pub(crate) fn commit(&mut self, bytes: u64) {
        self.used += bytes;
    }
}
