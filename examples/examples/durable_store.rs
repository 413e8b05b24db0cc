//! A durable in-memory store from `lsmkit-wal` and `lsmkit-memtable` alone:
//! every write is logged before it is applied, and the log is replayed on
//! open. No SSTables: the data lives in memory and the log holds all of it,
//! which suits a small store (configuration, a queue's state, a lock table)
//! that must survive restarts.
//!
//! ```sh
//! cargo run -p lsmkit-examples --example durable_store
//! ```
//!
//! It runs twice: on the real filesystem, closing and reopening the store;
//! and on `MemFs`, cutting the power (a crash that keeps only what was
//! synced, plus a torn piece of what was not) and checking that every
//! acknowledged write is back and nothing else.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use lsmkit_examples::{Error, check, check_eq};
use lsmkit_memtable::{Lookup, Memtable};
use lsmkit_sstable::{MAX_SEQNO, SeqNo, ValueKind};
use lsmkit_vfs::{Fs, MemFs, StdFs};
use lsmkit_wal::{RecoveryMode, RecoveryReport, SyncPolicy, Wal, WalOptions, WalReader};

/// The model every run is checked against: what the store must hold.
type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn main() -> Result<(), Error> {
    restart_on_disk()?;
    power_loss_in_memory()?;
    println!("durable_store: all checks passed");
    Ok(())
}

/// Writes, closes, reopens on a real directory: everything is back.
fn restart_on_disk() -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let wal_dir = dir.path().join("wal");
    let mut model = Model::new();

    let (mut store, _) = DurableMap::open(fs.clone(), &wal_dir, WalOptions::default())?;
    for i in 0..500u32 {
        store.put(&mut model, &key(i), format!("v{i}").as_bytes())?;
    }
    for i in (0..500).step_by(10) {
        store.delete(&mut model, &key(i))?;
    }
    store.delete_range(&mut model, &key(100), &key(200))?;
    store.put(&mut model, &key(150), b"written after the range delete")?;
    check_eq(
        "contents before the restart",
        store.contents(),
        model.clone(),
    )?;
    drop(store);

    let (store, report) = DurableMap::open(fs, &wal_dir, WalOptions::default())?;
    println!(
        "restart: replayed {} records from {} segment(s) in {}; {} keys live",
        report.records(),
        report.segments.len(),
        wal_dir.display(),
        model.len(),
    );
    check("a clean shutdown leaves a clean log", report.is_clean())?;
    check_eq("contents after the restart", store.contents(), model)?;
    check_eq("a range-deleted key", store.get(&key(120)), None)?;
    check_eq(
        "a key written after the range delete",
        store.get(&key(150)),
        Some(b"written after the range delete".to_vec()),
    )?;
    Ok(())
}

/// Cuts the power on `MemFs`: under the default group commit every
/// acknowledged write survives; under `SyncPolicy::Never` what survives is
/// the synced writes plus some prefix of the rest, never a hole.
fn power_loss_in_memory() -> Result<(), Error> {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let wal_dir = Path::new("/store/wal");
    let mut model = Model::new();

    let (mut store, _) = DurableMap::open(fs, wal_dir, WalOptions::default())?;
    for i in 0..300u32 {
        store.put(
            &mut model,
            &key(i % 97),
            format!("round {}", i / 97).as_bytes(),
        )?;
    }
    // The store runs on; the crash is taken of a copy, at this instant.
    let crashed: Arc<dyn Fs> = Arc::new(mem.crash_clone_torn(7));
    let (recovered, report) = DurableMap::open(crashed, wal_dir, WalOptions::default())?;
    check_eq(
        "acknowledged writes after a power loss",
        recovered.contents(),
        model.clone(),
    )?;
    println!(
        "power loss under group commit: {} of 300 acknowledged writes replayed, none lost",
        report.records()
    );
    drop((store, recovered));

    // Without syncs, a crash may lose the unsynced writes, but only a tail
    // of them: recovery returns a prefix of the writes, in order.
    let never = WalOptions {
        sync: SyncPolicy::Never,
        ..WalOptions::default()
    };
    let (mut store, _) = DurableMap::open(Arc::new(mem.clone()), wal_dir, never)?;
    let mut history = vec![model.clone()]; // history[k]: after k more writes
    for i in 0..100u32 {
        store.put(&mut model, &key(1000 + i), b"unsynced")?;
        if i == 49 {
            store.wal.sync()?;
            history.clear(); // the first 50 are durable now
        }
        history.push(model.clone());
    }
    for seed in 0..5 {
        let crashed: Arc<dyn Fs> = Arc::new(mem.crash_clone_torn(seed));
        let (recovered, _) = DurableMap::open(crashed, wal_dir, never)?;
        let contents = recovered.contents();
        let survived = history
            .iter()
            .position(|m| *m == contents)
            .ok_or("recovered state is not a prefix of the writes")?;
        println!(
            "power loss without syncs (seed {seed}): the 50 synced writes and {survived} of the 50 unsynced ones survived"
        );
    }
    Ok(())
}

fn key(i: u32) -> Vec<u8> {
    format!("user:{i:04}").into_bytes()
}

/// A map kept in a memtable and made durable by a WAL. Sequence numbers
/// count the records of the log, so replay gives every write the number it
/// had.
struct DurableMap {
    wal: Wal,
    memtable: Memtable,
    last_seqno: SeqNo,
}

impl DurableMap {
    /// Replays the log in `dir` into a new memtable, then continues it.
    fn open(
        fs: Arc<dyn Fs>,
        dir: &Path,
        options: WalOptions,
    ) -> Result<(DurableMap, RecoveryReport), Error> {
        let mut reader = WalReader::open(fs, dir, RecoveryMode::TolerateCorruptedTail)?;
        let memtable = Memtable::new();
        let mut last_seqno = 0;
        for record in reader.by_ref() {
            let record = record?;
            last_seqno += 1;
            let (kind, key, value) = decode(&record.data).ok_or_else(|| {
                format!(
                    "undecodable record at segment {} offset {}",
                    record.position.segment, record.position.offset
                )
            })?;
            memtable.insert(key, last_seqno, kind, value)?;
        }
        let (wal, report) = reader.into_wal(options)?;
        Ok((
            DurableMap {
                wal,
                memtable,
                last_seqno,
            },
            report,
        ))
    }

    /// Logs one write (durable on return under the default sync policy),
    /// then applies it to the memtable.
    fn write(&mut self, kind: ValueKind, key: &[u8], value: &[u8]) -> Result<(), Error> {
        self.wal.append(&encode(kind, key, value))?;
        self.last_seqno += 1;
        self.memtable.insert(key, self.last_seqno, kind, value)?;
        Ok(())
    }

    fn put(&mut self, model: &mut Model, key: &[u8], value: &[u8]) -> Result<(), Error> {
        self.write(ValueKind::Put, key, value)?;
        model.insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn delete(&mut self, model: &mut Model, key: &[u8]) -> Result<(), Error> {
        self.write(ValueKind::Delete, key, b"")?;
        model.remove(key);
        Ok(())
    }

    fn delete_range(&mut self, model: &mut Model, start: &[u8], end: &[u8]) -> Result<(), Error> {
        self.write(ValueKind::RangeDelete, start, end)?;
        model.retain(|k, _| k.as_slice() < start || k.as_slice() >= end);
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.memtable.get(key, MAX_SEQNO) {
            Lookup::Found(value) => Some(value.to_vec()),
            // This store writes no merge operands.
            Lookup::Deleted | Lookup::Absent | Lookup::Merge => None,
        }
    }

    /// Every live key and its value.
    fn contents(&self) -> Model {
        self.memtable
            .iter(MAX_SEQNO)
            .map(|e| (e.user_key().to_vec(), e.value().to_vec()))
            .collect()
    }
}

/// A log record: kind (1 byte), key length (4 bytes, little-endian), key,
/// value. For a range delete the key is the start and the value the end.
fn encode(kind: ValueKind, key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut record = Vec::with_capacity(5 + key.len() + value.len());
    record.push(kind as u8);
    record.extend_from_slice(&(key.len() as u32).to_le_bytes());
    record.extend_from_slice(key);
    record.extend_from_slice(value);
    record
}

/// The inverse of [`encode`]; `None` for a record it did not write.
fn decode(record: &[u8]) -> Option<(ValueKind, &[u8], &[u8])> {
    let (&kind, rest) = record.split_first()?;
    let (len, rest) = rest.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
    if len > rest.len() {
        return None;
    }
    let (key, value) = rest.split_at(len);
    Some((ValueKind::from_u8(kind)?, key, value))
}
