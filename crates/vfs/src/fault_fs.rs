//! [`FaultFs`]: any filesystem, with errors injected by rule.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::injected;
use crate::fault_rule::{ActiveRule, Verdict};
use crate::mem_file::lock;
use crate::{FileLock, Fs, Op, RandomAccessFile, Rule, WritableFile};

/// Wraps a filesystem and fails calls by [`Rule`], deterministically.
///
/// Injected errors are ordinary [`io::Error`]s (with an
/// [`FsError::Injected`](crate::FsError::Injected) inside, see
/// [`FsError::is_injected`](crate::FsError::is_injected)), so the code under
/// test handles them on its one error path. A failed call does not reach
/// the wrapped filesystem: a failed sync leaves the data unsynced, a failed
/// append writes nothing, and after a failed flush the bytes stay buffered
/// in the wrapped writer (a later flush, sync or drop writes them).
///
/// Every call is counted per [`Op`] whether it fails or not, including calls
/// on the files it opened; a crash test can run a workload once to learn
/// how many mutating calls it makes, then crash at each of them in turn.
///
/// Readers from [`FaultFs::open`](Fs::open) never offer
/// [`as_bytes`](RandomAccessFile::as_bytes), so that every read is a
/// counted call that rules can fail.
///
/// Clones share the rules and counters.
///
/// ```
/// use std::path::Path;
/// use lsmkit_vfs::{FaultFs, Fs, FsError, MemFs, Op, Rule};
///
/// let fs = FaultFs::new(MemFs::new());
/// let second_sync = fs.add(Rule::on(Op::Sync).nth(2));
/// let mut file = fs.create(Path::new("/wal")).unwrap();
/// file.append(b"one").unwrap();
/// file.sync().unwrap();
/// let error = file.sync().unwrap_err();
/// assert!(FsError::is_injected(&error));
/// file.sync().unwrap();
/// assert_eq!(fs.fired(second_sync), 1);
/// assert_eq!(fs.count(Op::Sync), 3);
/// ```
#[derive(Clone)]
pub struct FaultFs {
    inner: Arc<dyn Fs>,
    faults: Arc<Faults>,
}

/// Names a rule added to a [`FaultFs`], to ask how often it fired or to
/// remove it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RuleId(u64);

/// The rules and counters shared by a `FaultFs` and the files it opened.
struct Faults {
    rules: Mutex<Vec<(RuleId, ActiveRule)>>,
    next_id: AtomicU64,
    counts: [AtomicU64; Op::ALL.len()],
}

impl Faults {
    /// Counts a call and fails it if a rule says so. Every matching rule
    /// sees the call, so that each rule's count is of calls made.
    fn check(&self, op: Op, paths: &[&Path], bytes: u64) -> io::Result<()> {
        self.counts[op.index()].fetch_add(1, Ordering::Relaxed);
        let mut rules = lock(&self.rules);
        let mut failure = None;
        let mut uses = Vec::new();
        for (index, (_, rule)) in rules.iter_mut().enumerate() {
            match rule.judge(op, paths, bytes) {
                Verdict::Pass => {}
                Verdict::Use(bytes) => uses.push((index, bytes)),
                Verdict::Fail(kind) => {
                    failure.get_or_insert(kind);
                }
            }
        }
        match failure {
            Some(kind) => {
                let path = paths.first().copied().unwrap_or(Path::new(""));
                Err(injected(op, path, kind))
            }
            None => {
                for (index, bytes) in uses {
                    rules[index].1.commit(bytes);
                }
                Ok(())
            }
        }
    }
}

impl FaultFs {
    /// A reader of `path` whose reads go through the rules.
    fn reader(&self, path: &Path, inner: Arc<dyn RandomAccessFile>) -> Arc<dyn RandomAccessFile> {
        Arc::new(FaultRandomAccessFile {
            path: path.to_path_buf(),
            inner,
            faults: Arc::clone(&self.faults),
        })
    }

    /// Wraps `inner` with no rules: every call passes through, counted.
    pub fn new<F: Fs>(inner: F) -> FaultFs {
        FaultFs::wrap(Arc::new(inner))
    }

    /// Wraps a shared filesystem.
    pub fn wrap(inner: Arc<dyn Fs>) -> FaultFs {
        FaultFs {
            inner,
            faults: Arc::new(Faults {
                rules: Mutex::new(Vec::new()),
                next_id: AtomicU64::new(0),
                counts: std::array::from_fn(|_| AtomicU64::new(0)),
            }),
        }
    }

    /// Adds a rule; it sees calls from now on. A call fails if any rule
    /// fails it.
    pub fn add(&self, rule: Rule) -> RuleId {
        let id = RuleId(self.faults.next_id.fetch_add(1, Ordering::Relaxed));
        lock(&self.faults.rules).push((id, ActiveRule::new(rule)));
        id
    }

    /// Removes a rule; returns whether it was there.
    pub fn remove_rule(&self, id: RuleId) -> bool {
        let mut rules = lock(&self.faults.rules);
        let before = rules.len();
        rules.retain(|(rule_id, _)| *rule_id != id);
        rules.len() != before
    }

    /// Removes every rule: calls pass through from now on.
    pub fn clear_rules(&self) {
        lock(&self.faults.rules).clear();
    }

    /// How many calls the rule has failed (0 for a removed rule).
    pub fn fired(&self, id: RuleId) -> u64 {
        lock(&self.faults.rules)
            .iter()
            .find(|(rule_id, _)| *rule_id == id)
            .map_or(0, |(_, rule)| rule.fired)
    }

    /// How many calls of `op` were made, failed or not.
    pub fn count(&self, op: Op) -> u64 {
        self.faults.counts[op.index()].load(Ordering::Relaxed)
    }

    /// How many calls of mutating operations ([`Op::is_mutating`]) were
    /// made, failed or not.
    pub fn mutating_count(&self) -> u64 {
        Op::ALL
            .into_iter()
            .filter(|op| op.is_mutating())
            .map(|op| self.count(op))
            .sum()
    }

    /// How many calls were made in all, failed or not.
    pub fn total_count(&self) -> u64 {
        Op::ALL.into_iter().map(|op| self.count(op)).sum()
    }

    /// The wrapped filesystem.
    pub fn inner(&self) -> &Arc<dyn Fs> {
        &self.inner
    }

    fn check(&self, op: Op, path: &Path) -> io::Result<()> {
        self.faults.check(op, &[path], 0)
    }
}

impl fmt::Debug for FaultFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultFs")
            .field("inner", &self.inner)
            .field("rules", &lock(&self.faults.rules).len())
            .field("calls", &self.total_count())
            .finish()
    }
}

impl Fs for FaultFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.check(Op::Create, path)?;
        let inner = self.inner.create(path)?;
        Ok(Box::new(FaultWritableFile::new(path, inner, &self.faults)))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.check(Op::OpenAppend, path)?;
        let inner = self.inner.open_append(path)?;
        Ok(Box::new(FaultWritableFile::new(path, inner, &self.faults)))
    }

    fn open(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        self.check(Op::Open, path)?;
        let inner = self.inner.open(path)?;
        Ok(self.reader(path, inner))
    }

    fn open_unmapped(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        self.check(Op::Open, path)?;
        let inner = self.inner.open_unmapped(path)?;
        Ok(self.reader(path, inner))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.faults.check(Op::Rename, &[from, to], 0)?;
        self.inner.rename(from, to)
    }

    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.faults.check(Op::HardLink, &[from, to], 0)?;
        self.inner.hard_link(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.check(Op::Remove, path)?;
        self.inner.remove(path)
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        self.check(Op::Truncate, path)?;
        self.inner.truncate(path, len)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.check(Op::List, dir)?;
        self.inner.list(dir)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.check(Op::CreateDir, dir)?;
        self.inner.create_dir_all(dir)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.check(Op::SyncDir, dir)?;
        self.inner.sync_dir(dir)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.check(Op::Exists, path)?;
        self.inner.exists(path)
    }

    fn size(&self, path: &Path) -> io::Result<u64> {
        self.check(Op::Size, path)?;
        self.inner.size(path)
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        self.check(Op::Lock, path)?;
        self.inner.lock(path)
    }
}

/// A writer whose calls go through the rules.
struct FaultWritableFile {
    path: PathBuf,
    inner: Box<dyn WritableFile>,
    faults: Arc<Faults>,
}

impl FaultWritableFile {
    fn new(path: &Path, inner: Box<dyn WritableFile>, faults: &Arc<Faults>) -> FaultWritableFile {
        FaultWritableFile {
            path: path.to_path_buf(),
            inner,
            faults: Arc::clone(faults),
        }
    }
}

impl fmt::Debug for FaultWritableFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultWritableFile")
            .field("path", &self.path)
            .field("inner", &self.inner)
            .finish()
    }
}

impl WritableFile for FaultWritableFile {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.faults
            .check(Op::Append, &[&self.path], data.len() as u64)?;
        self.inner.append(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.faults.check(Op::Flush, &[&self.path], 0)?;
        self.inner.flush()
    }

    fn sync(&mut self) -> io::Result<()> {
        self.faults.check(Op::Sync, &[&self.path], 0)?;
        self.inner.sync()
    }

    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        self.faults.check(Op::Preallocate, &[&self.path], 0)?;
        self.inner.preallocate(len)
    }

    fn release_reserve(&mut self) -> io::Result<()> {
        self.faults.check(Op::Preallocate, &[&self.path], 0)?;
        self.inner.release_reserve()
    }

    fn len(&self) -> u64 {
        self.inner.len()
    }
}

/// A reader whose reads go through the rules.
struct FaultRandomAccessFile {
    path: PathBuf,
    inner: Arc<dyn RandomAccessFile>,
    faults: Arc<Faults>,
}

impl fmt::Debug for FaultRandomAccessFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultRandomAccessFile")
            .field("path", &self.path)
            .field("inner", &self.inner)
            .finish()
    }
}

impl RandomAccessFile for FaultRandomAccessFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.faults.check(Op::Read, &[&self.path], 0)?;
        self.inner.read_at(offset, buf)
    }

    fn len(&self) -> u64 {
        self.inner.len()
    }
}
