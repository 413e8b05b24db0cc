//! Group commit: many threads that each need their records durable share
//! one fsync.
//!
//! Records are numbered by sequence. A thread that needs every record
//! below `target` durable either finds that done already, or becomes the
//! *leader* if no sync is running (it syncs the log for everyone, covering
//! every record appended before it started), or waits as a *follower* for
//! the running sync to finish and then looks again. While the leader is in
//! its fsync it holds no lock that appenders take: they keep appending, and
//! those that need durability queue up for the next leader, so that a
//! burst of N durable appends costs about two fsyncs, not N.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::error::Error;

/// Locks a mutex, ignoring poisoning: every critical section of this crate
/// leaves its state consistent before anything in it can panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How far the log is durable, and who is making it more so.
#[derive(Debug, Default)]
pub(crate) struct SyncGroup {
    state: Mutex<GroupState>,
    synced: Condvar,
}

#[derive(Debug, Default)]
struct GroupState {
    /// Every record with a smaller sequence is durable.
    durable: u64,
    /// Whether a leader is syncing now.
    leader: bool,
    /// The error a sync failed with; no later sync is attempted.
    failed: Option<Error>,
}

impl SyncGroup {
    /// A group in which records below `durable` are durable already.
    pub(crate) fn new(durable: u64) -> SyncGroup {
        SyncGroup {
            state: Mutex::new(GroupState {
                durable,
                ..GroupState::default()
            }),
            synced: Condvar::new(),
        }
    }

    /// Returns once every record below `target` is durable, running `sync`
    /// as the leader if no one else is syncing. `sync` makes the log
    /// durable and returns the sequence below which that covers every
    /// record; it is called without any lock of the group held.
    pub(crate) fn wait_durable(
        &self,
        target: u64,
        mut sync: impl FnMut() -> Result<u64, Error>,
    ) -> Result<(), Error> {
        let mut state = lock(&self.state);
        loop {
            if state.durable >= target {
                return Ok(());
            }
            if let Some(error) = &state.failed {
                return Err(error.clone());
            }
            if state.leader {
                state = self
                    .synced
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            state.leader = true;
            drop(state);
            // Should `sync` unwind, the guard still steps down and wakes the
            // followers: a leader flag left set would park every later
            // waiter for good.
            let leadership = Leadership(self);
            let result = sync();
            state = lock(&self.state);
            match result {
                Ok(durable) => state.durable = state.durable.max(durable),
                Err(error) => {
                    state.failed.get_or_insert(error);
                }
            }
            leadership.step_down(&mut state);
        }
    }

    /// Records that every record below `durable` was made durable outside
    /// the group (by a rotation or a sync-on-every-append).
    pub(crate) fn mark_durable(&self, durable: u64) {
        let mut state = lock(&self.state);
        if durable > state.durable {
            state.durable = durable;
            self.synced.notify_all();
        }
    }
}

/// The running sync of a leader. Stepping down, in the same critical
/// section that records the sync's outcome, wakes the followers to look
/// again; dropped instead (the sync unwound), it does the same without an
/// outcome.
struct Leadership<'a>(&'a SyncGroup);

impl Leadership<'_> {
    fn step_down(self, state: &mut GroupState) {
        state.leader = false;
        self.0.synced.notify_all();
        std::mem::forget(self);
    }
}

impl Drop for Leadership<'_> {
    fn drop(&mut self) {
        lock(&self.0.state).leader = false;
        self.0.synced.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn a_target_already_durable_needs_no_sync() {
        let group = SyncGroup::new(5);
        group
            .wait_durable(5, || panic!("no sync needed"))
            .expect("durable");
    }

    #[test]
    fn a_failed_sync_fails_every_later_waiter() {
        let group = SyncGroup::new(0);
        let failure = || Err(Error::from(std::io::Error::other("disk on fire")));
        assert!(group.wait_durable(1, failure).is_err());
        let error = group
            .wait_durable(1, || Ok(1))
            .expect_err("the group stays failed");
        assert!(error.to_string().contains("disk on fire"));
    }

    #[test]
    fn a_sync_that_panics_does_not_park_later_waiters() {
        let group = Arc::new(SyncGroup::new(0));
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            group.wait_durable(1, || panic!("sync blew up"))
        }));
        assert!(unwound.is_err());
        // A waiter after the unwound leader must become leader itself, not
        // wait for a leader that is gone; a thread and a timeout keep a
        // regression from hanging the suite.
        let (done, finished) = std::sync::mpsc::channel();
        let waiter = Arc::clone(&group);
        std::thread::spawn(move || {
            let _ = done.send(waiter.wait_durable(1, || Ok(1)).is_ok());
        });
        let outcome = finished.recv_timeout(std::time::Duration::from_secs(10));
        assert_eq!(outcome, Ok(true), "the next waiter was parked");
    }

    #[test]
    fn concurrent_waiters_share_syncs() {
        let group = Arc::new(SyncGroup::new(0));
        let appended = Arc::new(AtomicU64::new(0));
        let syncs = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (group, appended, syncs) = (group.clone(), appended.clone(), syncs.clone());
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let target = appended.fetch_add(1, Ordering::SeqCst) + 1;
                        group
                            .wait_durable(target, || {
                                syncs.fetch_add(1, Ordering::SeqCst);
                                std::thread::sleep(std::time::Duration::from_micros(200));
                                Ok(appended.load(Ordering::SeqCst))
                            })
                            .expect("sync");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("thread");
        }
        assert!(syncs.load(Ordering::SeqCst) < 1600);
    }
}
