//! MemFs crash semantics: what survives a crash is exactly what the
//! durability model says, edge case by edge case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::ErrorKind;
use std::path::Path;

use lsmkit_vfs::{Fs, MemFs};

fn fs_with_dir() -> MemFs {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/db")).unwrap();
    fs
}

fn contents(fs: &MemFs, path: &str) -> Option<Vec<u8>> {
    let path = Path::new(path);
    if !fs.exists(path).unwrap() {
        return None;
    }
    let file = fs.open(path).unwrap();
    Some(file.as_bytes().unwrap().to_vec())
}

/// Creates `path` holding `data`, synced, with its entry made durable.
fn durable_file(fs: &MemFs, path: &str, data: &[u8]) {
    let mut file = fs.create(Path::new(path)).unwrap();
    file.append(data).unwrap();
    file.sync().unwrap();
    fs.sync_dir(Path::new(path).parent().unwrap()).unwrap();
}

#[test]
fn unsynced_appends_are_lost() {
    let fs = fs_with_dir();
    durable_file(&fs, "/db/wal", b"synced");
    let mut file = fs.open_append(Path::new("/db/wal")).unwrap();
    file.append(b"+flushed").unwrap();
    file.flush().unwrap();
    file.append(b"+buffered").unwrap();
    drop(file);
    assert_eq!(
        contents(&fs, "/db/wal").unwrap(),
        b"synced+flushed+buffered"
    );
    fs.crash();
    assert_eq!(contents(&fs, "/db/wal").unwrap(), b"synced");
}

/// What a reader sees of the whole file, reserved zeros included.
fn read_whole(fs: &MemFs, path: &str) -> Vec<u8> {
    let file = fs.open(Path::new(path)).unwrap();
    let mut buf = vec![0; file.len() as usize];
    file.read_at(0, &mut buf).unwrap();
    buf
}

#[test]
fn unsynced_appends_into_preallocated_space_turn_back_into_zeros() {
    let fs = fs_with_dir();
    let mut file = fs.create(Path::new("/db/wal")).unwrap();
    fs.sync_dir(Path::new("/db")).unwrap();
    file.append(b"synced").unwrap();
    file.preallocate(64).unwrap();
    file.sync().unwrap();
    file.append(b"+lost").unwrap();
    file.flush().unwrap();
    // A second reservation that was never synced is lost too.
    file.preallocate(128).unwrap();
    drop(file);
    assert_eq!(read_whole(&fs, "/db/wal").len(), 128);
    fs.crash();
    let mut expected = b"synced".to_vec();
    expected.resize(64, 0);
    assert_eq!(read_whole(&fs, "/db/wal"), expected);
    assert_eq!(fs.size(Path::new("/db/wal")).unwrap(), 64);
}

#[test]
fn a_released_reserve_comes_back_as_zeros_until_synced() {
    let fs = fs_with_dir();
    let mut file = fs.create(Path::new("/db/wal")).unwrap();
    fs.sync_dir(Path::new("/db")).unwrap();
    file.append(b"data").unwrap();
    file.preallocate(64).unwrap();
    file.sync().unwrap();
    file.release_reserve().unwrap();
    assert_eq!(fs.size(Path::new("/db/wal")).unwrap(), 4);
    let unsynced = fs.crash_clone();
    assert_eq!(unsynced.size(Path::new("/db/wal")).unwrap(), 64);
    file.sync().unwrap();
    fs.crash();
    assert_eq!(read_whole(&fs, "/db/wal"), b"data");
}

#[test]
fn a_torn_crash_keeps_a_prefix_of_the_appends_into_preallocated_space() {
    for seed in 0..32 {
        let fs = fs_with_dir();
        let mut file = fs.create(Path::new("/db/wal")).unwrap();
        fs.sync_dir(Path::new("/db")).unwrap();
        file.preallocate(32).unwrap();
        file.sync().unwrap();
        file.append(b"0123456789").unwrap();
        drop(file);
        fs.crash_torn(seed);
        let after = read_whole(&fs, "/db/wal");
        assert_eq!(after.len(), 32, "seed {seed}");
        let kept = after.iter().take_while(|&&b| b != 0).count();
        assert_eq!(&after[..kept], &b"0123456789"[..kept], "seed {seed}");
        assert!(after[kept..].iter().all(|&b| b == 0), "seed {seed}");
    }
}

#[test]
fn synced_data_of_an_unsynced_creation_vanishes() {
    let fs = fs_with_dir();
    let mut file = fs.create(Path::new("/db/000001.sst")).unwrap();
    file.append(b"table").unwrap();
    file.sync().unwrap();
    fs.crash();
    assert_eq!(contents(&fs, "/db/000001.sst"), None);
    assert!(fs.list(Path::new("/db")).unwrap().is_empty());
}

#[test]
fn sync_dir_makes_a_creation_durable_and_file_sync_its_data() {
    let fs = fs_with_dir();
    let mut file = fs.create(Path::new("/db/a")).unwrap();
    fs.sync_dir(Path::new("/db")).unwrap();
    file.append(b"data").unwrap();
    file.flush().unwrap();
    assert_eq!(contents(&fs.crash_clone(), "/db/a").unwrap(), b"");
    file.sync().unwrap();
    assert_eq!(contents(&fs.crash_clone(), "/db/a").unwrap(), b"data");
}

#[test]
fn sync_dir_of_another_directory_does_not_help() {
    let fs = fs_with_dir();
    fs.create_dir_all(Path::new("/db/archive")).unwrap();
    let mut file = fs.create(Path::new("/db/a")).unwrap();
    file.sync().unwrap();
    fs.sync_dir(Path::new("/db/archive")).unwrap();
    fs.sync_dir(Path::new("/")).unwrap();
    assert_eq!(contents(&fs.crash_clone(), "/db/a"), None);
}

#[test]
fn rename_without_sync_dir_is_undone() {
    let fs = fs_with_dir();
    durable_file(&fs, "/db/CURRENT", b"MANIFEST-1");
    durable_file(&fs, "/db/CURRENT.tmp", b"MANIFEST-2");
    fs.rename(Path::new("/db/CURRENT.tmp"), Path::new("/db/CURRENT"))
        .unwrap();
    let crashed = fs.crash_clone();
    assert_eq!(contents(&crashed, "/db/CURRENT").unwrap(), b"MANIFEST-1");
    assert_eq!(
        contents(&crashed, "/db/CURRENT.tmp").unwrap(),
        b"MANIFEST-2"
    );
    fs.sync_dir(Path::new("/db")).unwrap();
    fs.crash();
    assert_eq!(contents(&fs, "/db/CURRENT").unwrap(), b"MANIFEST-2");
    assert_eq!(contents(&fs, "/db/CURRENT.tmp"), None);
}

#[test]
fn rename_across_directories_needs_both_synced() {
    let fs = fs_with_dir();
    fs.create_dir_all(Path::new("/db/old")).unwrap();
    durable_file(&fs, "/db/a", b"x");
    fs.rename(Path::new("/db/a"), Path::new("/db/old/a"))
        .unwrap();
    fs.sync_dir(Path::new("/db/old")).unwrap();
    // Only the new entry is durable: after a crash both names exist.
    let crashed = fs.crash_clone();
    assert_eq!(contents(&crashed, "/db/a").unwrap(), b"x");
    assert_eq!(contents(&crashed, "/db/old/a").unwrap(), b"x");
    fs.sync_dir(Path::new("/db")).unwrap();
    let crashed = fs.crash_clone();
    assert_eq!(contents(&crashed, "/db/a"), None);
    assert_eq!(contents(&crashed, "/db/old/a").unwrap(), b"x");
}

#[test]
fn hard_link_without_sync_dir_is_undone() {
    let fs = fs_with_dir();
    fs.create_dir_all(Path::new("/copy")).unwrap();
    durable_file(&fs, "/db/000007.sst", b"table");
    fs.hard_link(Path::new("/db/000007.sst"), Path::new("/copy/000007.sst"))
        .unwrap();
    // Syncing the source's directory does not make the link durable.
    fs.sync_dir(Path::new("/db")).unwrap();
    assert_eq!(contents(&fs.crash_clone(), "/copy/000007.sst"), None);
    fs.sync_dir(Path::new("/copy")).unwrap();
    let crashed = fs.crash_clone();
    assert_eq!(contents(&crashed, "/copy/000007.sst").unwrap(), b"table");
    // Removing the original leaves the link's bytes, before and after a
    // crash.
    fs.remove(Path::new("/db/000007.sst")).unwrap();
    fs.sync_dir(Path::new("/db")).unwrap();
    fs.crash();
    assert_eq!(contents(&fs, "/db/000007.sst"), None);
    assert_eq!(contents(&fs, "/copy/000007.sst").unwrap(), b"table");
}

#[test]
fn hard_link_keeps_only_the_synced_bytes_across_a_crash() {
    let fs = fs_with_dir();
    let mut file = fs.create(Path::new("/db/a")).unwrap();
    file.append(b"synced").unwrap();
    file.sync().unwrap();
    file.append(b"+unsynced").unwrap();
    file.flush().unwrap();
    fs.hard_link(Path::new("/db/a"), Path::new("/db/b"))
        .unwrap();
    fs.sync_dir(Path::new("/db")).unwrap();
    assert_eq!(contents(&fs, "/db/b").unwrap(), b"synced+unsynced");
    fs.crash();
    assert_eq!(contents(&fs, "/db/a").unwrap(), b"synced");
    assert_eq!(contents(&fs, "/db/b").unwrap(), b"synced");
}

#[test]
fn remove_without_sync_dir_is_undone() {
    let fs = fs_with_dir();
    durable_file(&fs, "/db/obsolete", b"old table");
    fs.remove(Path::new("/db/obsolete")).unwrap();
    assert_eq!(
        contents(&fs.crash_clone(), "/db/obsolete").unwrap(),
        b"old table"
    );
    fs.sync_dir(Path::new("/db")).unwrap();
    assert_eq!(contents(&fs.crash_clone(), "/db/obsolete"), None);
}

#[test]
fn create_over_an_existing_file_reverts_until_sync_dir() {
    let fs = fs_with_dir();
    durable_file(&fs, "/db/OPTIONS", b"old");
    let mut file = fs.create(Path::new("/db/OPTIONS")).unwrap();
    file.append(b"new").unwrap();
    file.sync().unwrap();
    assert_eq!(contents(&fs.crash_clone(), "/db/OPTIONS").unwrap(), b"old");
    fs.sync_dir(Path::new("/db")).unwrap();
    assert_eq!(contents(&fs.crash_clone(), "/db/OPTIONS").unwrap(), b"new");
}

#[test]
fn truncate_is_durable_when_it_returns() {
    let fs = fs_with_dir();
    durable_file(&fs, "/db/wal", b"record");
    let mut file = fs.open_append(Path::new("/db/wal")).unwrap();
    file.append(b"torn").unwrap();
    drop(file);
    fs.truncate(Path::new("/db/wal"), 8).unwrap();
    assert_eq!(contents(&fs.crash_clone(), "/db/wal").unwrap(), b"recordto");
    fs.truncate(Path::new("/db/wal"), 3).unwrap();
    assert_eq!(contents(&fs.crash_clone(), "/db/wal").unwrap(), b"rec");
}

#[test]
fn directories_are_durable_at_once() {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/a/b/c")).unwrap();
    fs.crash();
    assert!(fs.exists(Path::new("/a/b/c")).unwrap());
    assert_eq!(fs.list(Path::new("/a")).unwrap(), ["b"]);
}

#[test]
fn crash_torn_keeps_a_seeded_prefix_of_the_unsynced_tail() {
    let synced = b"synced|";
    let tail: Vec<u8> = (0..200u8).collect();
    let fs = fs_with_dir();
    durable_file(&fs, "/db/wal", synced);
    let mut file = fs.open_append(Path::new("/db/wal")).unwrap();
    file.append(&tail).unwrap();
    file.flush().unwrap();
    let mut lengths = std::collections::BTreeSet::new();
    for seed in 0..32 {
        let torn = contents(&fs.crash_clone_torn(seed), "/db/wal").unwrap();
        assert!(torn.len() >= synced.len(), "seed {seed} cut synced bytes");
        assert_eq!(torn[..synced.len()], synced[..]);
        assert_eq!(torn[synced.len()..], tail[..torn.len() - synced.len()]);
        let again = contents(&fs.crash_clone_torn(seed), "/db/wal").unwrap();
        assert_eq!(torn, again, "seed {seed} is not deterministic");
        lengths.insert(torn.len());
    }
    assert!(lengths.len() > 10, "torn lengths hardly vary: {lengths:?}");
    // In place, the same seed tears the same way.
    let expected = contents(&fs.crash_clone_torn(5), "/db/wal").unwrap();
    drop(file);
    fs.crash_torn(5);
    assert_eq!(contents(&fs, "/db/wal").unwrap(), expected);
}

#[test]
fn crash_torn_keeps_nothing_of_files_whose_creation_is_not_durable() {
    let fs = fs_with_dir();
    let mut file = fs.create(Path::new("/db/new")).unwrap();
    file.append(b"bytes").unwrap();
    file.flush().unwrap();
    for seed in 0..8 {
        assert_eq!(contents(&fs.crash_clone_torn(seed), "/db/new"), None);
    }
}

#[test]
fn crash_clone_leaves_the_original_running() {
    let fs = fs_with_dir();
    let mut file = fs.create(Path::new("/db/wal")).unwrap();
    fs.sync_dir(Path::new("/db")).unwrap();
    file.append(b"synced").unwrap();
    file.sync().unwrap();
    file.append(b"+more").unwrap();
    file.flush().unwrap();
    let crashed = fs.crash_clone();
    file.append(b"+after").unwrap();
    file.sync().unwrap();
    assert_eq!(contents(&crashed, "/db/wal").unwrap(), b"synced");
    assert_eq!(contents(&fs, "/db/wal").unwrap(), b"synced+more+after");
    // The clone is independent: writing to it leaves the original alone.
    durable_file(&crashed, "/db/other", b"x");
    assert!(!fs.exists(Path::new("/db/other")).unwrap());
}

#[test]
fn a_crash_releases_locks_and_old_guards_release_nothing() {
    let fs = fs_with_dir();
    let old = fs.lock(Path::new("/db/LOCK")).unwrap();
    fs.sync_dir(Path::new("/db")).unwrap();
    fs.crash();
    let new = fs.lock(Path::new("/db/LOCK")).unwrap();
    drop(old);
    let error = fs.lock(Path::new("/db/LOCK")).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WouldBlock);
    drop(new);
    fs.lock(Path::new("/db/LOCK")).unwrap();
    // A crash clone holds no locks either.
    let _held = fs.lock(Path::new("/db/LOCK2")).unwrap();
    fs.crash_clone().lock(Path::new("/db/LOCK2")).unwrap();
}

#[test]
fn handles_from_before_a_crash_are_detached() {
    let fs = fs_with_dir();
    let mut file = fs.create(Path::new("/db/wal")).unwrap();
    fs.sync_dir(Path::new("/db")).unwrap();
    file.append(b"before").unwrap();
    file.sync().unwrap();
    let reader = fs.open(Path::new("/db/wal")).unwrap();
    fs.crash();
    file.append(b"zombie").unwrap();
    file.sync().unwrap();
    drop(file);
    assert_eq!(contents(&fs, "/db/wal").unwrap(), b"before");
    assert_eq!(reader.as_bytes().unwrap(), b"before");
}

#[test]
fn truncating_or_replacing_a_file_under_a_reader_is_refused() {
    let fs = fs_with_dir();
    durable_file(&fs, "/db/table", b"contents");
    let reader = fs.open(Path::new("/db/table")).unwrap();
    let busy = fs.truncate(Path::new("/db/table"), 2).unwrap_err();
    assert_eq!(busy.kind(), ErrorKind::ResourceBusy);
    let busy = fs.create(Path::new("/db/table")).unwrap_err();
    assert_eq!(busy.kind(), ErrorKind::ResourceBusy);
    // Renaming over it and removing it are fine: the reader keeps the file.
    durable_file(&fs, "/db/next", b"next");
    fs.rename(Path::new("/db/next"), Path::new("/db/table"))
        .unwrap();
    assert_eq!(reader.as_bytes().unwrap(), b"contents");
    drop(reader);
    fs.truncate(Path::new("/db/table"), 2).unwrap();
}

#[test]
fn sync_counters_count_per_file_and_follow_renames() {
    let fs = fs_with_dir();
    let mut a = fs.create(Path::new("/db/a")).unwrap();
    let mut b = fs.create(Path::new("/db/b")).unwrap();
    for _ in 0..3 {
        a.append(b"x").unwrap();
        a.sync().unwrap();
    }
    b.sync().unwrap();
    a.flush().unwrap();
    fs.sync_dir(Path::new("/db")).unwrap();
    assert_eq!(fs.file_syncs(Path::new("/db/a")).unwrap(), 3);
    assert_eq!(fs.file_syncs(Path::new("/db/b")).unwrap(), 1);
    assert_eq!(fs.sync_count(), 4);
    assert_eq!(fs.sync_dir_count(), 1);
    fs.rename(Path::new("/db/a"), Path::new("/db/c")).unwrap();
    assert_eq!(fs.file_syncs(Path::new("/db/c")).unwrap(), 3);
    let missing = fs.file_syncs(Path::new("/db/a")).unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
}

#[test]
fn paths_name_one_tree_however_spelled() {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("db")).unwrap();
    durable_file(&fs, "/db/./a", b"1");
    assert_eq!(contents(&fs, "db/a").unwrap(), b"1");
    assert_eq!(contents(&fs, "/db/x/../a").unwrap(), b"1");
    assert_eq!(fs.list(Path::new("/")).unwrap(), ["db"]);
    assert_eq!(fs.list(Path::new("")).unwrap(), ["db"]);
}

#[test]
fn a_lost_synced_write_is_dropped_by_the_crash() {
    let fs = fs_with_dir();
    durable_file(&fs, "/db/000001.wal", b"before;");
    durable_file(&fs, "/db/other", b"kept;");
    let mut wal = fs.open_append(Path::new("/db/000001.wal")).unwrap();
    fs.lose_synced_writes("000001.wal");
    wal.append(b"acked;").unwrap();
    wal.sync().unwrap();
    // Other files keep their promises.
    let mut other = fs.open_append(Path::new("/db/other")).unwrap();
    other.append(b"synced;").unwrap();
    other.sync().unwrap();
    assert_eq!(
        contents(&fs, "/db/000001.wal").unwrap(),
        b"before;acked;",
        "the lie is seen only at a crash"
    );
    assert_eq!(fs.file_syncs(Path::new("/db/000001.wal")).unwrap(), 2);

    let crashed = fs.crash_clone();
    assert_eq!(contents(&crashed, "/db/000001.wal").unwrap(), b"before;");
    assert_eq!(contents(&crashed, "/db/other").unwrap(), b"kept;synced;");

    // A torn crash keeps some prefix of what the lying sync claimed.
    let torn = fs.crash_clone_torn(7);
    let data = contents(&torn, "/db/000001.wal").unwrap();
    assert!(b"before;acked;".starts_with(&data) && data.starts_with(b"before;"));

    // Once the fault is cleared, the next sync keeps its promise again.
    fs.clear_faults();
    wal.sync().unwrap();
    fs.crash();
    assert_eq!(contents(&fs, "/db/000001.wal").unwrap(), b"before;acked;");
}

#[test]
fn a_lost_dir_rename_brings_the_old_names_back() {
    let fs = fs_with_dir();
    durable_file(&fs, "/db/CURRENT", b"old");
    fs.lose_dir_renames("CURRENT");
    let mut tmp = fs.create(Path::new("/db/CURRENT.tmp")).unwrap();
    tmp.append(b"new").unwrap();
    tmp.sync().unwrap();
    // A table created in the same directory is unaffected.
    durable_file(&fs, "/db/000002.sst", b"table");
    fs.rename(Path::new("/db/CURRENT.tmp"), Path::new("/db/CURRENT"))
        .unwrap();
    fs.sync_dir(Path::new("/db")).unwrap();
    assert_eq!(contents(&fs, "/db/CURRENT").unwrap(), b"new");

    let crashed = fs.crash_clone();
    assert_eq!(contents(&crashed, "/db/CURRENT").unwrap(), b"old");
    // The source's creation was made durable by the sync for the table,
    // so it is back under its old name.
    assert_eq!(contents(&crashed, "/db/CURRENT.tmp").unwrap(), b"new");
    assert_eq!(contents(&crashed, "/db/000002.sst").unwrap(), b"table");

    // A later sync of the directory covers the rename.
    fs.sync_dir(Path::new("/db")).unwrap();
    fs.crash();
    assert_eq!(contents(&fs, "/db/CURRENT").unwrap(), b"new");
    assert_eq!(contents(&fs, "/db/CURRENT.tmp"), None);
}

#[test]
fn a_lost_rename_of_a_durable_source_keeps_the_source() {
    let fs = fs_with_dir();
    durable_file(&fs, "/db/7.sst.tmp", b"table");
    fs.lose_dir_renames(".sst");
    fs.rename(Path::new("/db/7.sst.tmp"), Path::new("/db/7.sst"))
        .unwrap();
    fs.sync_dir(Path::new("/db")).unwrap();
    fs.crash();
    assert_eq!(fs.list(Path::new("/db")).unwrap(), ["7.sst.tmp"]);
}
