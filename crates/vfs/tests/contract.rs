//! One test body per behaviour of the `Fs` contract, run against every
//! implementation: `StdFs` (with and without memory maps) in a temporary
//! directory, `MemFs`, and `FaultFs` without rules over both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;

use lsmkit_vfs::{FaultFs, Fs, FsError, MemFs, StdFs};

/// Reads a whole file back through `open` and `read_at`, checking
/// `as_bytes` agrees where it is offered.
fn read_all(fs: &dyn Fs, path: &Path) -> Vec<u8> {
    let file = fs.open(path).unwrap();
    let mut buf = vec![0; file.len() as usize];
    file.read_at(0, &mut buf).unwrap();
    if let Some(bytes) = file.as_bytes() {
        assert_eq!(bytes, &buf[..]);
    }
    buf
}

fn write_file(fs: &dyn Fs, path: &Path, data: &[u8]) {
    let mut file = fs.create(path).unwrap();
    file.append(data).unwrap();
    file.sync().unwrap();
}

fn kind_of<T: std::fmt::Debug>(result: std::io::Result<T>) -> ErrorKind {
    result.unwrap_err().kind()
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

fn appends_read_back_whole_and_in_pieces(fs: &dyn Fs, root: &Path) {
    let path = root.join("table");
    let chunks = [
        pattern(10, 1),
        pattern(100_000, 2),
        Vec::new(),
        pattern(3, 3),
    ];
    let mut file = fs.create(&path).unwrap();
    let mut expected = Vec::new();
    for chunk in &chunks {
        file.append(chunk).unwrap();
        expected.extend_from_slice(chunk);
        assert_eq!(file.len(), expected.len() as u64);
    }
    file.sync().unwrap();
    drop(file);
    assert_eq!(fs.size(&path).unwrap(), expected.len() as u64);
    assert_eq!(read_all(fs, &path), expected);
    let reader = fs.open(&path).unwrap();
    assert_eq!(reader.len(), expected.len() as u64);
    for (offset, len) in [(0, 1), (9, 2), (50_000, 7_000), (100_010, 3)] {
        let mut buf = vec![0; len];
        reader.read_at(offset as u64, &mut buf).unwrap();
        assert_eq!(buf, expected[offset..offset + len]);
    }
}

fn reads_past_the_end_are_unexpected_eof(fs: &dyn Fs, root: &Path) {
    let path = root.join("short");
    write_file(fs, &path, b"hello");
    let reader = fs.open(&path).unwrap();
    let mut two = [0; 2];
    assert_eq!(
        kind_of(reader.read_at(4, &mut two)),
        ErrorKind::UnexpectedEof
    );
    assert_eq!(
        kind_of(reader.read_at(u64::MAX, &mut two)),
        ErrorKind::UnexpectedEof
    );
    assert_eq!(
        kind_of(reader.read_at(6, &mut [])),
        ErrorKind::UnexpectedEof
    );
    reader.read_at(5, &mut []).unwrap();
    reader.read_at(3, &mut two).unwrap();
    assert_eq!(&two, b"lo");
}

fn empty_files_open_and_read_nothing(fs: &dyn Fs, root: &Path) {
    let path = root.join("empty");
    write_file(fs, &path, b"");
    let reader = fs.open(&path).unwrap();
    assert!(reader.is_empty());
    reader.read_at(0, &mut []).unwrap();
    assert_eq!(
        kind_of(reader.read_at(0, &mut [0])),
        ErrorKind::UnexpectedEof
    );
}

fn writer_len_counts_buffered_bytes_and_flush_publishes_them(fs: &dyn Fs, root: &Path) {
    let path = root.join("log");
    let mut file = fs.create(&path).unwrap();
    assert!(file.is_empty());
    file.append(b"abc").unwrap();
    assert_eq!(file.len(), 3);
    file.flush().unwrap();
    assert_eq!(fs.size(&path).unwrap(), 3);
    assert_eq!(read_all(fs, &path), b"abc");
}

fn readers_see_the_file_as_it_was_when_opened(fs: &dyn Fs, root: &Path) {
    let path = root.join("growing");
    let mut file = fs.create(&path).unwrap();
    file.append(b"first").unwrap();
    file.flush().unwrap();
    let before = fs.open(&path).unwrap();
    file.append(b"second").unwrap();
    file.sync().unwrap();
    assert_eq!(before.len(), 5);
    let mut buf = [0; 5];
    before.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"first");
    assert_eq!(read_all(fs, &path), b"firstsecond");
}

fn dropping_a_writer_flushes_it(fs: &dyn Fs, root: &Path) {
    let path = root.join("dropped");
    let mut file = fs.create(&path).unwrap();
    file.append(b"kept").unwrap();
    drop(file);
    assert_eq!(read_all(fs, &path), b"kept");
}

fn open_append_continues_at_the_end(fs: &dyn Fs, root: &Path) {
    let path = root.join("wal");
    write_file(fs, &path, b"one");
    let mut file = fs.open_append(&path).unwrap();
    assert_eq!(file.len(), 3);
    file.append(b"two").unwrap();
    assert_eq!(file.len(), 6);
    file.sync().unwrap();
    assert_eq!(read_all(fs, &path), b"onetwo");
}

fn preallocated_space_reads_as_zeros_until_appends_fill_it(fs: &dyn Fs, root: &Path) {
    let path = root.join("reserved");
    let mut file = fs.create(&path).unwrap();
    file.append(b"head").unwrap();
    file.preallocate(4096).unwrap();
    assert_eq!(file.len(), 4, "preallocation is not appended bytes");
    assert_eq!(fs.size(&path).unwrap(), 4096);
    let mut expected = b"head".to_vec();
    expected.resize(4096, 0);
    assert_eq!(read_all(fs, &path), expected);
    // Appends overwrite the zeros in place, then grow the file past them.
    file.append(b"-middle").unwrap();
    file.sync().unwrap();
    expected[4..11].copy_from_slice(b"-middle");
    assert_eq!(read_all(fs, &path), expected);
    file.append(&pattern(5000, 3)).unwrap();
    file.flush().unwrap();
    assert_eq!(file.len(), 5011);
    let mut grown = expected[..11].to_vec();
    grown.extend_from_slice(&pattern(5000, 3));
    assert_eq!(read_all(fs, &path), grown);
    // Asking for less than the file has changes nothing.
    file.preallocate(100).unwrap();
    assert_eq!(fs.size(&path).unwrap(), 5011);
    // A reader opened on a partly filled reservation reads across the
    // boundary between bytes and zeros.
    file.preallocate(8192).unwrap();
    let reader = fs.open(&path).unwrap();
    let mut straddle = [9u8; 20];
    reader.read_at(5001, &mut straddle).unwrap();
    assert_eq!(&straddle[..10], &pattern(5000, 3)[4990..]);
    assert_eq!(straddle[10..], [0; 10]);
    assert_eq!(
        kind_of(reader.read_at(8190, &mut [0; 3])),
        ErrorKind::UnexpectedEof
    );
}

fn open_append_goes_on_after_preallocated_zeros(fs: &dyn Fs, root: &Path) {
    let path = root.join("reopened");
    let mut file = fs.create(&path).unwrap();
    file.append(b"one").unwrap();
    file.preallocate(16).unwrap();
    file.sync().unwrap();
    drop(file);
    let mut file = fs.open_append(&path).unwrap();
    assert_eq!(file.len(), 16);
    file.append(b"two").unwrap();
    file.sync().unwrap();
    let mut expected = b"one".to_vec();
    expected.resize(16, 0);
    expected.extend_from_slice(b"two");
    assert_eq!(read_all(fs, &path), expected);
}

fn releasing_the_reserve_ends_the_file_at_its_bytes(fs: &dyn Fs, root: &Path) {
    let path = root.join("released");
    let mut file = fs.create(&path).unwrap();
    file.append(b"kept").unwrap();
    file.preallocate(8192).unwrap();
    file.append(&pattern(100, 5)).unwrap();
    file.release_reserve().unwrap();
    assert_eq!(fs.size(&path).unwrap(), 104);
    file.append(b"after").unwrap();
    file.sync().unwrap();
    let mut expected = b"kept".to_vec();
    expected.extend_from_slice(&pattern(100, 5));
    expected.extend_from_slice(b"after");
    assert_eq!(read_all(fs, &path), expected);
    // Releasing with nothing reserved changes nothing.
    file.release_reserve().unwrap();
    assert_eq!(fs.size(&path).unwrap(), 109);
}

fn unmapped_readers_read_what_a_writer_leaves(fs: &dyn Fs, root: &Path) {
    let path = root.join("live");
    let mut file = fs.create(&path).unwrap();
    file.append(b"abc").unwrap();
    file.preallocate(100).unwrap();
    file.sync().unwrap();
    let reader = fs.open_unmapped(&path).unwrap();
    assert_eq!(reader.len(), 100);
    // The writer gives its reserve back under the reader: what was cut
    // off reads as the zeros it held.
    file.release_reserve().unwrap();
    file.sync().unwrap();
    let mut buf = [9u8; 100];
    reader.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf[..3], b"abc");
    assert!(buf[3..].iter().all(|&b| b == 0));
    assert_eq!(
        kind_of(reader.read_at(99, &mut [0; 2])),
        ErrorKind::UnexpectedEof
    );
}

fn create_replaces_an_existing_file(fs: &dyn Fs, root: &Path) {
    let path = root.join("again");
    write_file(fs, &path, b"old contents");
    write_file(fs, &path, b"new");
    assert_eq!(read_all(fs, &path), b"new");
}

fn rename_moves_and_replaces(fs: &dyn Fs, root: &Path) {
    let (a, b) = (root.join("a"), root.join("b"));
    write_file(fs, &a, b"from a");
    write_file(fs, &b, b"from b");
    fs.rename(&a, &b).unwrap();
    assert!(!fs.exists(&a).unwrap());
    assert_eq!(read_all(fs, &b), b"from a");
    assert_eq!(fs.list(root).unwrap(), ["b"]);
    fs.rename(&b, &b).unwrap();
    assert_eq!(read_all(fs, &b), b"from a");
    fs.create_dir_all(&root.join("sub")).unwrap();
    fs.rename(&b, &root.join("sub/c")).unwrap();
    assert_eq!(read_all(fs, &root.join("sub/c")), b"from a");
}

fn hard_link_names_the_same_file_twice(fs: &dyn Fs, root: &Path) {
    let (a, b) = (root.join("a"), root.join("b"));
    write_file(fs, &a, b"linked bytes");
    fs.hard_link(&a, &b).unwrap();
    assert_eq!(read_all(fs, &b), b"linked bytes");
    assert_eq!(fs.list(root).unwrap(), ["a", "b"]);
    fs.remove(&a).unwrap();
    assert_eq!(read_all(fs, &b), b"linked bytes");
    write_file(fs, &a, b"other");
    assert_eq!(kind_of(fs.hard_link(&b, &a)), ErrorKind::AlreadyExists);
    assert_eq!(read_all(fs, &a), b"other");
    assert_eq!(
        kind_of(fs.hard_link(&root.join("missing"), &root.join("c"))),
        ErrorKind::NotFound
    );
    assert!(!fs.exists(&root.join("c")).unwrap());
}

fn missing_files_are_not_found(fs: &dyn Fs, root: &Path) {
    let missing = root.join("missing");
    assert_eq!(kind_of(fs.open(&missing)), ErrorKind::NotFound);
    assert_eq!(kind_of(fs.open_append(&missing)), ErrorKind::NotFound);
    assert_eq!(kind_of(fs.size(&missing)), ErrorKind::NotFound);
    assert_eq!(kind_of(fs.remove(&missing)), ErrorKind::NotFound);
    assert_eq!(kind_of(fs.truncate(&missing, 0)), ErrorKind::NotFound);
    assert_eq!(
        kind_of(fs.rename(&missing, &root.join("x"))),
        ErrorKind::NotFound
    );
    assert_eq!(kind_of(fs.list(&missing)), ErrorKind::NotFound);
    assert_eq!(kind_of(fs.sync_dir(&missing)), ErrorKind::NotFound);
    assert_eq!(
        kind_of(fs.create(&missing.join("child"))),
        ErrorKind::NotFound
    );
    assert!(!fs.exists(&missing).unwrap());
}

fn errors_name_the_operation_and_path(fs: &dyn Fs, root: &Path) {
    let missing = root.join("nowhere");
    let error = fs.open(&missing).unwrap_err();
    let inner = FsError::of(&error).expect("an FsError inside");
    assert_eq!(inner.path(), missing);
    assert_eq!(inner.op(), lsmkit_vfs::Op::Open);
    assert!(!FsError::is_injected(&error));
    assert!(error.to_string().contains("nowhere"), "{error}");
}

fn remove_deletes_but_open_readers_keep_reading(fs: &dyn Fs, root: &Path) {
    let path = root.join("obsolete");
    write_file(fs, &path, b"still here");
    let reader = fs.open(&path).unwrap();
    fs.remove(&path).unwrap();
    assert!(!fs.exists(&path).unwrap());
    assert_eq!(fs.list(root).unwrap(), Vec::<String>::new());
    let mut buf = [0; 10];
    reader.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"still here");
}

fn truncate_cuts_and_pads_with_zeros(fs: &dyn Fs, root: &Path) {
    let path = root.join("torn");
    write_file(fs, &path, b"record|torn");
    fs.truncate(&path, 6).unwrap();
    assert_eq!(fs.size(&path).unwrap(), 6);
    assert_eq!(read_all(fs, &path), b"record");
    fs.truncate(&path, 8).unwrap();
    assert_eq!(read_all(fs, &path), b"record\0\0");
    let mut file = fs.open_append(&path).unwrap();
    file.append(b"!").unwrap();
    file.sync().unwrap();
    assert_eq!(read_all(fs, &path), b"record\0\0!");
}

fn list_names_direct_children_sorted(fs: &dyn Fs, root: &Path) {
    for name in ["b", "a", "c10", "c9"] {
        write_file(fs, &root.join(name), b"");
    }
    fs.create_dir_all(&root.join("d/e")).unwrap();
    write_file(fs, &root.join("d/x"), b"");
    assert_eq!(fs.list(root).unwrap(), ["a", "b", "c10", "c9", "d"]);
    assert_eq!(fs.list(&root.join("d")).unwrap(), ["e", "x"]);
    assert!(fs.list(&root.join("d/e")).unwrap().is_empty());
    assert_eq!(kind_of(fs.list(&root.join("a"))), ErrorKind::NotADirectory);
}

fn directories_are_created_whole_and_only_once(fs: &dyn Fs, root: &Path) {
    let deep = root.join("x/y/z");
    fs.create_dir_all(&deep).unwrap();
    fs.create_dir_all(&deep).unwrap();
    assert!(fs.exists(&root.join("x/y")).unwrap());
    assert!(fs.exists(&deep).unwrap());
    assert_eq!(kind_of(fs.size(&deep)), ErrorKind::IsADirectory);
    assert_eq!(kind_of(fs.open(&deep)), ErrorKind::IsADirectory);
    fs.sync_dir(&deep).unwrap();
    fs.sync_dir(root).unwrap();
    write_file(fs, &deep.join("f"), b"1");
    assert_eq!(read_all(fs, &deep.join("f")), b"1");
}

fn lock_is_exclusive_until_dropped(fs: &dyn Fs, root: &Path) {
    let path = root.join("LOCK");
    let held = fs.lock(&path).unwrap();
    assert!(fs.exists(&path).unwrap());
    assert_eq!(kind_of(fs.lock(&path)), ErrorKind::WouldBlock);
    let other = fs.lock(&root.join("OTHER")).unwrap();
    drop(held);
    let again = fs.lock(&path).unwrap();
    drop((again, other));
}

fn readers_are_shared_between_threads(fs: &dyn Fs, root: &Path) {
    let path = root.join("shared");
    let data = pattern(4096, 9);
    write_file(fs, &path, &data);
    let reader = fs.open(&path).unwrap();
    let expected = Arc::new(data);
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (reader, expected) = (Arc::clone(&reader), Arc::clone(&expected));
            thread::spawn(move || {
                for i in 0..64u64 {
                    let offset = (t * 997 + i * 61) % 4000;
                    let mut buf = [0; 96];
                    reader.read_at(offset, &mut buf).unwrap();
                    let start = offset as usize;
                    assert_eq!(buf, expected[start..start + 96]);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// Runs every body against one implementation, each in a fresh root.
macro_rules! contract {
    ($module:ident, $setup:expr) => {
        mod $module {
            use super::*;

            contract!(@tests $setup,
                appends_read_back_whole_and_in_pieces,
                reads_past_the_end_are_unexpected_eof,
                empty_files_open_and_read_nothing,
                writer_len_counts_buffered_bytes_and_flush_publishes_them,
                readers_see_the_file_as_it_was_when_opened,
                dropping_a_writer_flushes_it,
                open_append_continues_at_the_end,
                preallocated_space_reads_as_zeros_until_appends_fill_it,
                open_append_goes_on_after_preallocated_zeros,
                releasing_the_reserve_ends_the_file_at_its_bytes,
                unmapped_readers_read_what_a_writer_leaves,
                create_replaces_an_existing_file,
                rename_moves_and_replaces,
                hard_link_names_the_same_file_twice,
                missing_files_are_not_found,
                errors_name_the_operation_and_path,
                remove_deletes_but_open_readers_keep_reading,
                truncate_cuts_and_pads_with_zeros,
                list_names_direct_children_sorted,
                directories_are_created_whole_and_only_once,
                lock_is_exclusive_until_dropped,
                readers_are_shared_between_threads
            );
        }
    };
    (@tests $setup:expr, $($body:ident),*) => {
        $(
            #[test]
            fn $body() {
                let (fs, root, _guard): (Box<dyn Fs>, PathBuf, _) = $setup;
                super::$body(&*fs, &root);
            }
        )*
    };
}

fn std_fs(fs: StdFs) -> (Box<dyn Fs>, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    fs.create_dir_all(&root).unwrap();
    (Box::new(fs), root, dir)
}

fn mem_fs() -> (Box<dyn Fs>, PathBuf, ()) {
    let fs = MemFs::new();
    let root = PathBuf::from("/tmp/db");
    fs.create_dir_all(&root).unwrap();
    (Box::new(fs), root, ())
}

#[test]
fn std_fs_maps_readers_exactly_under_the_mmap_feature() {
    assert_eq!(StdFs::new().maps_readers(), cfg!(feature = "mmap"));
    assert!(!StdFs::without_mmap().maps_readers());
}

contract!(std_mmap, std_fs(StdFs::new()));
contract!(std_pread, std_fs(StdFs::without_mmap()));
contract!(mem, mem_fs());
contract!(fault_over_mem, {
    let (fs, root, guard) = mem_fs();
    (Box::new(FaultFs::wrap(Arc::from(fs))), root, guard)
});
contract!(fault_over_std, {
    let (fs, root, guard) = std_fs(StdFs::new());
    (Box::new(FaultFs::wrap(Arc::from(fs))), root, guard)
});
