//! What the integration tests share: a model of a table's contents and a
//! way to write one.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use lsmkit_sstable::key::{self, InternalKey, SeqNo};
use lsmkit_sstable::{
    InternalIterator, Lookup, RangeTombstone, SstOptions, SstWriter, TableMeta, ValueKind,
};
use lsmkit_vfs::Fs;

/// The entries and range tombstones of a table, in internal-key order.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub entries: BTreeMap<InternalKey, Vec<u8>>,
    pub tombstones: Vec<RangeTombstone>,
}

impl Model {
    pub fn put(&mut self, user_key: &[u8], seqno: SeqNo, value: &[u8]) {
        self.entries.insert(
            InternalKey::new(user_key, seqno, ValueKind::Put),
            value.to_vec(),
        );
    }

    pub fn delete(&mut self, user_key: &[u8], seqno: SeqNo) {
        self.entries.insert(
            InternalKey::new(user_key, seqno, ValueKind::Delete),
            Vec::new(),
        );
    }

    /// What a table of this model must answer.
    pub fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Lookup {
        let tombstone = self
            .tombstones
            .iter()
            .filter(|t| t.visible_at(snapshot) && t.contains(user_key))
            .map(|t| t.seqno)
            .max();
        let newest = self
            .entries
            .range(InternalKey::seek(user_key, snapshot)..)
            .next()
            .filter(|(k, _)| k.user_key() == user_key);
        match newest {
            Some((k, _)) if tombstone.is_some_and(|t| k.seqno() < t) => Lookup::Deleted,
            Some((k, v)) => match k.parsed().unwrap().kind {
                ValueKind::Put => Lookup::Found(v.clone()),
                _ => Lookup::Deleted,
            },
            None if tombstone.is_some() => Lookup::Deleted,
            None => Lookup::Absent,
        }
    }

    /// The entries as `(internal key, value)` pairs, in order.
    pub fn list(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.entries
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
            .collect()
    }

    /// Writes the model as a table at `path`.
    pub fn write(&self, fs: &Arc<dyn Fs>, path: &str, options: SstOptions) -> TableMeta {
        let mut w = SstWriter::create(fs.clone(), path, options).unwrap();
        for (k, v) in &self.entries {
            w.add(k.as_bytes(), v).unwrap();
        }
        for t in &self.tombstones {
            w.add_range_tombstone(t).unwrap();
        }
        w.finish().unwrap()
    }
}

/// Every entry of `it` from the first, forwards.
pub fn scan(it: &mut dyn InternalIterator) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    it.seek_to_first();
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.next();
    }
    it.status().unwrap();
    out
}

/// Every entry of `it` from the last, backwards.
pub fn scan_back(it: &mut dyn InternalIterator) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    it.seek_to_last();
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.prev();
    }
    it.status().unwrap();
    out
}

/// A small table with several blocks, every kind of entry and two range
/// tombstones, with a fixed creation time.
pub fn small_model() -> Model {
    let mut m = Model::default();
    for i in 0..40u64 {
        let k = format!("key{i:03}");
        m.put(k.as_bytes(), 100 + i, format!("value-{i}").as_bytes());
        if i % 3 == 0 {
            m.put(k.as_bytes(), 10 + i, b"older");
        }
        if i % 7 == 0 {
            m.delete(k.as_bytes(), 200 + i);
        }
    }
    m.tombstones
        .push(RangeTombstone::new(&b"key010"[..], &b"key015"[..], 150));
    m.tombstones
        .push(RangeTombstone::new(&b"key030"[..], &b"zzz"[..], 50));
    m
}

/// Options that cut small blocks, so that a small table has many.
pub fn small_options() -> SstOptions {
    SstOptions::default()
        .block_size(256)
        .restart_interval(4)
        .creation_time(1_700_000_000)
}

/// The internal seek key of `(user_key, snapshot)`.
pub fn seek_key(user_key: &[u8], snapshot: SeqNo) -> Vec<u8> {
    let mut k = Vec::new();
    key::encode_seek(user_key, snapshot, &mut k);
    k
}
