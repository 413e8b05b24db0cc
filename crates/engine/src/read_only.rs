//! Opening a database read-only: the reading half of recovery
//! (`recovery::read`) and nothing after it, into a version that never
//! changes. No file is written, renamed, created, truncated or deleted, no
//! lock is taken: another handle may hold the database open for writing.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lsmkit_sstable::{ReaderOptions, SeqNo};

use crate::error::{Error, Result};
use crate::keyspace::Trees;
use crate::manifest::RecoveredManifest;
use crate::options::Options;
use crate::recovery::{self, Recovered};

/// How many times an open that raced a writer's flush or manifest switch
/// reads the database again before it reports what it found.
const ATTEMPTS: u32 = 20;
/// The pause before the first retry; the n-th waits n times as long (at
/// most about 0.2 s in all).
const RETRY_PAUSE: Duration = Duration::from_millis(1);

/// What a read-only handle reads: the version recovered at open, at the
/// newest sequence number recovered.
#[derive(Debug)]
pub(crate) struct ReadOnly {
    pub dir: PathBuf,
    /// The keyspaces, each with the version recovered at open.
    pub trees: Trees,
    pub seqno: SeqNo,
    pub reader_options: ReaderOptions,
}

/// Recovers the database in `dir` into memory, changing nothing.
pub(crate) fn open(dir: &Path, options: &Options) -> Result<ReadOnly> {
    options.validate()?;
    let fs = Arc::clone(&options.fs);
    if !fs.exists(dir).map_err(|e| Error::io(dir, e))? {
        return Err(Error::io(
            dir,
            io::Error::new(io::ErrorKind::NotFound, "no database directory here"),
        ));
    }
    // A writer may be appending to the newest WAL segment, so the WAL is
    // read beside it: by copies, and with the newest segment ending at its
    // first damage, even where a read-write open would refuse it.
    let mode = options.wal_recovery_mode;
    let mut attempt = 1;
    loop {
        let manifest = RecoveredManifest::read(&*fs, dir);
        let result = match &manifest {
            Ok(m) => recovery::read(&fs, dir, options, m.clone(), mode, true),
            Err(e) => Err(e.clone()),
        };
        let again = RecoveredManifest::read(&*fs, dir);
        match result {
            Ok(recovered) => {
                // A writer may have flushed writes and removed their WAL
                // segment before it was listed: then the manifest read now
                // says they are flushed, and this view, the tables of the
                // manifest read before plus what the WAL still held, stops
                // short of them. (What it holds is gap-free: the replay
                // refuses a batch that does not continue the one before.)
                let flushed_now = match &again {
                    Ok(m) => m.as_ref().map_or(0, |m| m.state.flushed_seqno),
                    Err(_) => SeqNo::MAX,
                };
                if flushed_now <= recovered.last_seqno {
                    return fixed(dir, recovered);
                }
                if attempt >= ATTEMPTS {
                    return Err(Error::io(
                        dir,
                        io::Error::new(
                            io::ErrorKind::Interrupted,
                            format!(
                                "a writer flushed under the read-only open {ATTEMPTS} times; \
                                 try again"
                            ),
                        ),
                    ));
                }
            }
            Err(error) => {
                // A writer that flushed (removing WAL segments), compacted
                // (removing tables) or switched manifests while this open
                // read leaves another manifest behind: read again. The
                // same manifest means the error is the database's.
                let changed = match (&manifest, &again) {
                    (Ok(before), Ok(after)) => before != after,
                    _ => true,
                };
                // A flush records itself in the manifest first and deletes
                // the WAL segments it made obsolete after: a segment listed
                // before that deletion is gone when it is opened, under an
                // unchanged manifest. Read again then too.
                if !(changed || vanished(&error)) || attempt >= ATTEMPTS {
                    return Err(error);
                }
            }
        }
        // A pause that grows, so that a writer flushing in a burst can
        // finish it.
        std::thread::sleep(RETRY_PAUSE * attempt);
        attempt += 1;
    }
}

/// Whether `error` comes from a file that was not found: one listed, then
/// deleted by a writer before it was opened.
fn vanished(error: &Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        let io = e
            .downcast_ref::<io::Error>()
            .or_else(|| e.downcast_ref::<Arc<io::Error>>().map(|a| &**a));
        if io.is_some_and(|io| io.kind() == io::ErrorKind::NotFound) {
            return true;
        }
        cause = e.source();
    }
    false
}

fn fixed(dir: &Path, recovered: Recovered) -> Result<ReadOnly> {
    let Recovered {
        trees,
        last_seqno,
        reader_options,
        ..
    } = recovered;
    // Operands are read with the operator their tables name, or not at all
    // (checked as each tree is built).
    let mut built = Vec::with_capacity(trees.len());
    for tree in trees {
        built.push(Arc::new(tree.into_tree(last_seqno)?.0));
    }
    let default = built.remove(0);
    Ok(ReadOnly {
        dir: dir.to_path_buf(),
        trees: Trees::new(default, built),
        seqno: last_seqno,
        reader_options,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_not_found_at_any_depth_has_vanished() {
        let gone = || io::Error::new(io::ErrorKind::NotFound, "gone");
        assert!(vanished(&Error::io("/db/wal/000007.wal", gone())));
        let table = Error::Table(lsmkit_sstable::Error::Io {
            file: "/db/000009.sst".into(),
            source: Arc::new(gone()),
        });
        assert!(vanished(&table));
        let denied = io::Error::new(io::ErrorKind::PermissionDenied, "no");
        assert!(!vanished(&Error::io("/db/wal", denied)));
        assert!(!vanished(&Error::corruption(
            "/db/CURRENT",
            0,
            "CURRENT",
            "bad"
        )));
    }
}
