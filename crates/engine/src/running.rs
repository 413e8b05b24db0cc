//! The compactions running in one keyspace, so that another picked
//! meanwhile keeps off them; and the exclusive mode of a full compaction or
//! a keyspace drop, which waits for them and keeps new ones from starting.
//!
//! Two compactions of one keyspace may run at once when they take no table
//! in common and, writing into the same level, their outputs answer for
//! key ranges that do not meet (a level's tables must not overlap). Both
//! then install in either order: each removes only its own inputs, a
//! tiered output takes the place of its own contiguous stretch of runs,
//! and a leveled output joins its level between tables no other compaction
//! touches. The pickers are told what is busy (see `compact::pick_task`)
//! and [`Running::conflicts`] checks what they cannot see: the answer
//! ranges, and the tables an output level's stretch was widened to.

use std::collections::HashSet;
use std::sync::MutexGuard;

use crate::background::lock;
use crate::compact::Task;
use crate::db::Inner;
use crate::error::Result;
use crate::keyspace::Tree;

/// What runs in one keyspace.
#[derive(Debug, Default)]
pub(crate) struct Running {
    jobs: Vec<Job>,
    next_id: u64,
    /// Set while an exclusive holder waits or works: no job starts.
    exclusive: bool,
}

/// One running compaction.
#[derive(Debug)]
struct Job {
    id: u64,
    /// Its input tables, by number.
    tables: HashSet<u64>,
    /// A leveled output: its level and the range `[lower, upper)` it
    /// answers for.
    output: Option<(u32, Vec<u8>, Option<Vec<u8>>)>,
}

/// Whether `[a_lower, a_upper)` and `[b_lower, b_upper)` share a key (no
/// upper bound: unbounded): the larger lower bound is below both upper
/// bounds.
fn ranges_meet(a: (&[u8], Option<&[u8]>), b: (&[u8], Option<&[u8]>)) -> bool {
    let lower = a.0.max(b.0);
    [a.1, b.1]
        .iter()
        .all(|upper| upper.is_none_or(|u| lower < u))
}

impl Running {
    /// Whether no compaction runs.
    pub fn is_idle(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Whether a compaction may start: no exclusive holder waits.
    pub fn may_start(&self) -> bool {
        !self.exclusive
    }

    /// Whether a running compaction takes table `number`.
    pub fn is_busy(&self, number: u64) -> bool {
        self.jobs.iter().any(|j| j.tables.contains(&number))
    }

    /// Whether `task` takes a table a running compaction takes, or writes
    /// into a level where a running one's output answers for keys its own
    /// does.
    pub fn conflicts(&self, task: &Task) -> bool {
        let output = (task.lower.as_slice(), task.upper.as_deref());
        task.tables().any(|t| self.is_busy(t.record.number))
            || (task.output_level > 0
                && self.jobs.iter().any(|j| {
                    j.output.as_ref().is_some_and(|(level, lower, upper)| {
                        *level == task.output_level
                            && ranges_meet((lower, upper.as_deref()), output)
                    })
                }))
    }

    /// Records `task` as running; returns its id for [`finish`](Self::finish).
    /// REQUIRES: it does not [conflict](Self::conflicts).
    pub fn start(&mut self, task: &Task) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.jobs.push(Job {
            id,
            tables: task.tables().map(|t| t.record.number).collect(),
            output: (task.output_level > 0)
                .then(|| (task.output_level, task.lower.clone(), task.upper.clone())),
        });
        id
    }

    /// Forgets the compaction `id`: it installed or failed.
    pub fn finish(&mut self, id: u64) {
        self.jobs.retain(|j| j.id != id);
    }
}

/// While held, no compaction of its keyspace runs or starts (see
/// [`exclusive`]).
pub(crate) struct Exclusive<'a> {
    inner: &'a Inner,
    tree: &'a Tree,
    _one_holder: MutexGuard<'a, ()>,
}

impl Drop for Exclusive<'_> {
    fn drop(&mut self) {
        lock(&self.tree.running).exclusive = false;
        // The compaction threads may start again.
        self.inner.bg.notify();
    }
}

/// Keeps new compactions of `tree` from starting, waits for the running
/// ones to finish, and returns the guard that lets them start again; one
/// holder at a time. Fails with the background error (a running compaction
/// may be what failed).
pub(crate) fn exclusive<'a>(inner: &'a Inner, tree: &'a Tree) -> Result<Exclusive<'a>> {
    let one_holder = lock(&tree.exclusive);
    lock(&tree.running).exclusive = true;
    let guard = Exclusive {
        inner,
        tree,
        _one_holder: one_holder,
    };
    inner.bg.wait_until(|| lock(&tree.running).is_idle())?;
    Ok(guard)
}

#[cfg(test)]
mod tests {
    use super::ranges_meet;

    #[test]
    fn ranges_meet_as_half_open_intervals() {
        let r = |l: &'static [u8], u: Option<&'static [u8]>| (l, u);
        assert!(ranges_meet(r(b"a", Some(b"c")), r(b"b", Some(b"d"))));
        assert!(!ranges_meet(r(b"a", Some(b"c")), r(b"c", Some(b"d"))));
        assert!(!ranges_meet(r(b"c", Some(b"d")), r(b"a", Some(b"c"))));
        assert!(ranges_meet(r(b"", None), r(b"x", Some(b"y"))));
        assert!(ranges_meet(r(b"m", None), r(b"a", None)));
        assert!(!ranges_meet(r(b"m", None), r(b"a", Some(b"m"))));
        // An empty range meets nothing.
        assert!(!ranges_meet(r(b"b", Some(b"b")), r(b"a", Some(b"z"))));
    }
}
