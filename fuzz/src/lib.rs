//! The fuzz targets' bodies, one function per decoder, called by the
//! `afl::fuzz!` binaries in `src/bin` and by `seeds`, which checks that
//! the seed corpora pass. Every function must return without panicking on
//! any input: a panic is the bug AFL++ reports.
#![forbid(unsafe_code)]

use std::path::Path;
use std::sync::Arc;

use lsmkit_block::{Block, Bytewise};
use lsmkit_engine::format::{VersionEdit, decode_batch, decode_current};
use lsmkit_engine::{Db, Options, RecoveryMode};
use lsmkit_sstable::{InternalIterator, SstReader};
use lsmkit_vfs::{Fs, MemFs};
use lsmkit_wal::LogReader;

/// A file holding `data` on a fresh `MemFs`, at `path`.
fn mem_file(path: &Path, data: &[u8]) -> MemFs {
    let fs = MemFs::new();
    if let Some(dir) = path.parent() {
        fs.create_dir_all(dir).expect("MemFs creates directories");
    }
    let mut file = fs.create(path).expect("MemFs creates files");
    file.append(data).expect("MemFs appends");
    file.sync().expect("MemFs syncs");
    fs
}

/// A data or index block: open it, walk it both ways, seek.
pub fn block(data: &[u8]) {
    let Ok(block) = Block::new(data.to_vec(), Bytewise) else {
        return;
    };
    let mut it = block.iter();
    it.seek_to_first();
    let mut keys = Vec::new();
    while it.valid() && keys.len() < 100_000 {
        keys.push(it.key().to_vec());
        let _ = it.value();
        it.next();
    }
    it.seek_to_last();
    while it.valid() {
        it.prev();
    }
    for key in keys.iter().take(16) {
        it.seek(key);
    }
    it.seek(b"m");
}

/// A table: open it, verify it, scan it, look a few keys up.
pub fn sstable(data: &[u8]) {
    let path = Path::new("/t/000001.sst");
    let fs = mem_file(path, data);
    let Ok(reader) = SstReader::open(&fs, path) else {
        return;
    };
    let _ = reader.verify();
    let mut it = reader.iter();
    it.seek_to_first();
    let mut keys = Vec::new();
    while it.valid() && keys.len() < 100_000 {
        keys.push(it.key().to_vec());
        it.next();
    }
    let _ = it.status();
    for key in keys.iter().take(8) {
        let user_key = &key[..key.len().saturating_sub(8)];
        let _ = reader.get(user_key, u64::MAX >> 8);
    }
    let _ = reader.get(b"missing", 1);
    let _ = reader.range_tombstones();
}

/// A WAL segment (or any log file): read it under every recovery mode,
/// decoding each record as a write batch.
pub fn wal(data: &[u8]) {
    let path = Path::new("/w/000001.wal");
    let fs = mem_file(path, data);
    for mode in [
        RecoveryMode::TolerateCorruptedTail,
        RecoveryMode::AbsoluteConsistency,
        RecoveryMode::PointInTime,
        RecoveryMode::SkipCorrupted,
    ] {
        let Ok(reader) = LogReader::open(&fs, path, 1, mode) else {
            return;
        };
        for record in reader.take(100_000) {
            match record {
                Ok(record) => {
                    let _ = decode_batch(&record.data);
                }
                Err(_) => break,
            }
        }
    }
}

/// A manifest's pieces: the bytes as one version edit, as a write batch,
/// as CURRENT, and as a manifest log of edits.
pub fn manifest(data: &[u8]) {
    let _ = VersionEdit::decode(data);
    let _ = decode_batch(data);
    let _ = decode_current(data);
    let path = Path::new("/m/MANIFEST-000001");
    let fs = mem_file(path, data);
    if let Ok(reader) = LogReader::open(&fs, path, 1, RecoveryMode::TolerateCorruptedTail) {
        for record in reader.take(100_000) {
            match record {
                Ok(record) => {
                    let _ = VersionEdit::decode(&record.data);
                }
                Err(_) => break,
            }
        }
    }
}

/// Splits `data` into the files of a database directory: records of a
/// name length byte, the name, a little-endian u16 length and that many
/// bytes. Names are kept to `[A-Za-z0-9._-]`, with at most one `wal/`
/// directory in front; other records are skipped.
pub fn split_db(data: &[u8]) -> Vec<(String, &[u8])> {
    let mut files = Vec::new();
    let mut rest = data;
    while let Some((&name_len, tail)) = rest.split_first() {
        let name_len = usize::from(name_len);
        if tail.len() < name_len + 2 {
            break;
        }
        let (name, tail) = tail.split_at(name_len);
        let len = usize::from(u16::from_le_bytes([tail[0], tail[1]])).min(tail.len() - 2);
        let bytes = &tail[2..2 + len];
        rest = &tail[2 + len..];
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        let base = name.strip_prefix("wal/").unwrap_or(name);
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if !base.is_empty() && base != "." && base != ".." && base.chars().all(plain) {
            files.push((name.to_string(), bytes));
        }
    }
    files
}

/// The inverse of [`split_db`], for building seeds.
pub fn join_db(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, bytes) in files {
        for chunk in bytes.chunks(u16::MAX as usize) {
            out.push(u8::try_from(name.len()).expect("a short name"));
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(chunk.len() as u16).to_le_bytes());
            out.extend_from_slice(chunk);
        }
    }
    out
}

/// The engine's open on a directory of crafted files, then a full scan
/// both ways and a few reads, under two recovery modes.
pub fn engine_open(data: &[u8]) {
    for mode in [
        RecoveryMode::TolerateCorruptedTail,
        RecoveryMode::SkipCorrupted,
    ] {
        let fs = MemFs::new();
        let dir = Path::new("/db");
        fs.create_dir_all(&dir.join("wal"))
            .expect("MemFs creates directories");
        for (name, bytes) in split_db(data) {
            let path = dir.join(&name);
            // A name may be taken by a directory (`wal`): no such file.
            let Ok(mut file) = fs.open_append(&path).or_else(|_| fs.create(&path)) else {
                continue;
            };
            file.append(bytes).expect("MemFs appends");
            file.sync().expect("MemFs syncs");
        }
        fs.sync_dir(dir).expect("MemFs syncs directories");
        let options = Options::default()
            .fs(Arc::new(fs))
            .write_buffer_size(1 << 20)
            .auto_compaction(false)
            .wal_recovery_mode(mode);
        let Ok(db) = Db::open(dir, options) else {
            continue;
        };
        let _ = db.iter().take(100_000).count();
        let _ = db.iter().rev().take(100_000).count();
        let _ = db.get(b"a");
        let _ = db.close();
    }
}
