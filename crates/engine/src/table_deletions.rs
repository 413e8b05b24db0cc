//! [`TableDeletions`]: the removal of tables a compaction retired, which a
//! checkpoint can hold back while it links the tables it copies.
//!
//! A checkpoint reads the live tables from the manifest, then links them
//! one by one; a compaction that installs meanwhile retires some of them,
//! and removing them before they are linked would leave the checkpoint
//! short. While a [`DeletionHold`] is alive, removals are queued instead,
//! and the last hold to go removes them. Writers, flushes and compactions
//! go on: only the removal of files no version needs waits.

use std::path::{Path, PathBuf};

use std::sync::Mutex;

use lsmkit_vfs::Fs;

use crate::background::lock;
use crate::stats::Counters;

#[derive(Debug, Default)]
struct State {
    holds: usize,
    /// Removals queued while a hold was alive.
    deferred: Vec<PathBuf>,
}

/// Removes retired tables, or queues them while a checkpoint holds them.
#[derive(Debug, Default)]
pub(crate) struct TableDeletions {
    state: Mutex<State>,
}

/// Keeps retired tables on disk until dropped; see [`TableDeletions`].
pub(crate) struct DeletionHold<'a> {
    deletions: &'a TableDeletions,
    fs: &'a dyn Fs,
    dir: &'a Path,
    counters: &'a Counters,
}

impl TableDeletions {
    /// Queues removals from now until the returned hold is dropped.
    pub fn hold<'a>(
        &'a self,
        fs: &'a dyn Fs,
        dir: &'a Path,
        counters: &'a Counters,
    ) -> DeletionHold<'a> {
        lock(&self.state).holds += 1;
        DeletionHold {
            deletions: self,
            fs,
            dir,
            counters,
        }
    }

    /// Removes `paths` (files of `dir` no version references) and syncs
    /// `dir`, or queues them while a hold is alive. A failure only counts:
    /// the next open removes what is left.
    pub fn remove<'p>(
        &self,
        fs: &dyn Fs,
        dir: &Path,
        paths: impl Iterator<Item = &'p Path>,
        counters: &Counters,
    ) {
        let mut state = lock(&self.state);
        if state.holds > 0 {
            state.deferred.extend(paths.map(Path::to_path_buf));
            return;
        }
        drop(state);
        remove_now(fs, dir, paths, counters);
    }
}

fn remove_now<'p>(
    fs: &dyn Fs,
    dir: &Path,
    paths: impl Iterator<Item = &'p Path>,
    counters: &Counters,
) {
    for path in paths {
        if fs.remove(path).is_err() {
            Counters::add(&counters.obsolete_file_errors, 1);
        }
    }
    if fs.sync_dir(dir).is_err() {
        Counters::add(&counters.obsolete_file_errors, 1);
    }
}

impl Drop for DeletionHold<'_> {
    fn drop(&mut self) {
        let deferred = {
            let mut state = lock(&self.deletions.state);
            state.holds -= 1;
            if state.holds > 0 || state.deferred.is_empty() {
                return;
            }
            std::mem::take(&mut state.deferred)
        };
        remove_now(
            self.fs,
            self.dir,
            deferred.iter().map(PathBuf::as_path),
            self.counters,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsmkit_vfs::MemFs;

    #[test]
    fn removals_wait_for_the_last_hold() {
        let fs = MemFs::new();
        let dir = Path::new("/db");
        fs.create_dir_all(dir).unwrap();
        let (a, b) = (dir.join("000001.sst"), dir.join("000002.sst"));
        drop(fs.create(&a).unwrap());
        drop(fs.create(&b).unwrap());
        let deletions = TableDeletions::default();
        let counters = Counters::default();
        let first = deletions.hold(&fs, dir, &counters);
        let second = deletions.hold(&fs, dir, &counters);
        deletions.remove(&fs, dir, [a.as_path()].into_iter(), &counters);
        drop(first);
        assert!(fs.exists(&a).unwrap(), "removed while a hold was alive");
        drop(second);
        assert!(!fs.exists(&a).unwrap(), "the last hold did not remove it");
        deletions.remove(&fs, dir, [b.as_path()].into_iter(), &counters);
        assert!(!fs.exists(&b).unwrap(), "no hold: removed at once");
    }
}
