//! A background thread that panics makes the database read-only with an
//! error, as a failed flush does, instead of leaving writers and `flush`
//! waiting for a flush that will never come.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lsmkit_engine::{Db, Options};
use lsmkit_vfs::{FileLock, Fs, MemFs, RandomAccessFile, WritableFile};

/// `MemFs`, except that creating a table panics while `armed`.
#[derive(Debug)]
struct PanickyFs {
    inner: MemFs,
    armed: AtomicBool,
}

impl Fs for PanickyFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let table = path.to_string_lossy().contains(".sst");
        assert!(
            !(table && self.armed.load(Ordering::SeqCst)),
            "injected panic"
        );
        self.inner.create(path)
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.inner.open_append(path)
    }
    fn open(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        self.inner.open(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.inner.remove(path)
    }
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        self.inner.truncate(path, len)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.inner.create_dir_all(dir)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.inner.sync_dir(dir)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.inner.exists(path)
    }
    fn size(&self, path: &Path) -> io::Result<u64> {
        self.inner.size(path)
    }
    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        self.inner.lock(path)
    }
}

#[test]
fn a_panicking_flush_sticks_as_an_error_and_loses_nothing() {
    let mem = MemFs::new();
    let fs = Arc::new(PanickyFs {
        inner: mem.clone(),
        armed: AtomicBool::new(false),
    });
    let db = Db::open("/db", Options::default().fs(fs.clone())).unwrap();
    db.put(b"k", b"v").unwrap();
    fs.armed.store(true, Ordering::SeqCst);
    let err = db.flush().unwrap_err();
    assert!(err.to_string().contains("panicked"), "{err}");
    assert_eq!(
        db.put(b"k2", b"v2").unwrap_err().to_string(),
        err.to_string()
    );
    assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
    assert!(db.close().is_err());

    let db = Db::open("/db", Options::default().fs(Arc::new(mem))).unwrap();
    assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
    db.close().unwrap();
}
