//! The write gate: lets many writers in at once and closes for good on
//! freeze, waiting for the writers already inside.
//!
//! One word holds both facts (a closed bit and a count of writers inside) so
//! that a writer's "is it open?" and "I am in" are one atomic step: a writer
//! can never slip in after `close` has returned.

use std::sync::atomic::{AtomicU64, Ordering};

const CLOSED: u64 = 1 << 63;

/// Admits concurrent writers until closed.
#[derive(Debug, Default)]
pub(crate) struct WriteGate {
    state: AtomicU64,
}

/// A writer inside the gate; leaving is dropping it.
pub(crate) struct Pass<'a> {
    gate: &'a WriteGate,
}

impl WriteGate {
    /// Enters the gate, or `None` when it is closed.
    pub(crate) fn enter(&self) -> Option<Pass<'_>> {
        // Acquire pairs with `close`'s release so that an admitted writer
        // runs entirely before a successful close observes zero writers.
        let before = self.state.fetch_add(1, Ordering::Acquire);
        if before & CLOSED != 0 {
            self.state.fetch_sub(1, Ordering::Release);
            return None;
        }
        Some(Pass { gate: self })
    }

    /// Closes the gate and waits until every writer inside has left. After
    /// it returns, every admitted write is complete and no other will be
    /// admitted. Idempotent.
    pub(crate) fn close(&self) {
        self.state.fetch_or(CLOSED, Ordering::AcqRel);
        // Writers hold the gate only for one skiplist insert, so the wait is
        // short; yielding keeps a writer descheduled on the same core going.
        while self.state.load(Ordering::Acquire) & !CLOSED != 0 {
            std::thread::yield_now();
        }
    }

    /// Whether the gate is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        // Release publishes the writer's insert to the closer's acquire load.
        self.gate.state.fetch_sub(1, Ordering::Release);
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn closed_gate_refuses_and_counts_nothing() {
        let gate = WriteGate::default();
        drop(gate.enter().expect("open gate admits"));
        gate.close();
        assert!(gate.is_closed());
        assert!(gate.enter().is_none());
        assert_eq!(gate.state.load(Ordering::Relaxed), CLOSED);
        gate.close();
    }

    #[test]
    fn close_waits_for_a_writer_inside() {
        let gate = WriteGate::default();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            let pass = gate.enter().expect("open gate admits");
            let closer = s.spawn(|| {
                gate.close();
                done.load(Ordering::Acquire)
            });
            std::thread::sleep(std::time::Duration::from_millis(20));
            done.store(true, Ordering::Release);
            drop(pass);
            assert!(closer.join().expect("closer"), "close returned early");
        });
    }
}
