//! The oracle shared by the model and concurrency tests: a BTreeMap of
//! `(user key, newest first) -> version` and a list of range tombstones.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};

use lsmkit_memtable::{Lookup, Memtable};
use lsmkit_sstable::{InternalIterator, InternalKey, RangeTombstone, SeqNo, ValueKind};

/// One write, before it is given a sequence number.
#[derive(Clone, Debug)]
pub enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    DeleteRange(Vec<u8>, Vec<u8>),
}

impl Op {
    /// Applies the write to a memtable at `seqno`.
    pub fn apply(&self, table: &Memtable, seqno: SeqNo) {
        match self {
            Op::Put(k, v) => table.insert(k, seqno, ValueKind::Put, v),
            Op::Delete(k) => table.insert(k, seqno, ValueKind::Delete, b""),
            Op::DeleteRange(s, e) => table.delete_range(s, e, seqno),
        }
        .expect("a writable memtable takes a fresh version");
    }
}

/// `(user key, newest first)`: the model's order of versions.
type Version = (Vec<u8>, Reverse<SeqNo>);

#[derive(Debug, Default)]
pub struct Model {
    points: BTreeMap<Version, (ValueKind, Vec<u8>)>,
    tombstones: Vec<RangeTombstone>,
}

impl Model {
    pub fn apply(&mut self, op: &Op, seqno: SeqNo) {
        match op {
            Op::Put(k, v) => {
                self.points
                    .insert((k.clone(), Reverse(seqno)), (ValueKind::Put, v.clone()));
            }
            Op::Delete(k) => {
                self.points
                    .insert((k.clone(), Reverse(seqno)), (ValueKind::Delete, Vec::new()));
            }
            Op::DeleteRange(s, e) => {
                self.tombstones
                    .push(RangeTombstone::new(s.clone(), e.clone(), seqno))
            }
        }
    }

    /// The model's answer: the newest point version at or below the
    /// snapshot, unless a visible tombstone newer than it covers the key.
    pub fn get(&self, key: &[u8], snapshot: SeqNo) -> Lookup {
        let newest = self
            .points
            .range((key.to_vec(), Reverse(snapshot))..=(key.to_vec(), Reverse(0)))
            .next();
        let tombstone = self
            .tombstones
            .iter()
            .filter(|t| t.visible_at(snapshot) && t.contains(key))
            .map(|t| t.seqno)
            .max();
        match (newest, tombstone) {
            (Some(((_, Reverse(s)), _)), Some(t)) if *s < t => Lookup::Deleted,
            (None, Some(_)) => Lookup::Deleted,
            (Some((_, (ValueKind::Put, v))), _) => Lookup::Found(v.as_slice().into()),
            (Some(_), _) => Lookup::Deleted,
            (None, None) => Lookup::Absent,
        }
    }

    /// The live pairs in `range` at `snapshot`, in key order.
    pub fn scan(&self, range: &impl RangeBounds<[u8]>, snapshot: SeqNo) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut keys: Vec<&Vec<u8>> = self
            .points
            .keys()
            .map(|(k, _)| k)
            .filter(|k| range.contains(k.as_slice()))
            .collect();
        keys.dedup();
        keys.into_iter()
            .filter_map(|k| match self.get(k, snapshot) {
                Lookup::Found(v) => Some((k.clone(), v.to_vec())),
                _ => None,
            })
            .collect()
    }

    /// Every point version as (internal key, value), in internal-key order.
    pub fn raw(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.points
            .iter()
            .map(|((k, Reverse(s)), (kind, v))| {
                (
                    InternalKey::new(k, *s, *kind).as_bytes().to_vec(),
                    v.clone(),
                )
            })
            .collect()
    }

    /// Every tombstone, in the order the memtable reports them.
    pub fn tombstones(&self) -> Vec<RangeTombstone> {
        let mut ts = self.tombstones.clone();
        ts.sort_by(|a, b| a.start.cmp(&b.start).then(b.seqno.cmp(&a.seqno)));
        ts
    }

    /// Every user key the model has seen, point or tombstone bound.
    pub fn keys(&self) -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = self.points.keys().map(|(k, _)| k.clone()).collect();
        for t in &self.tombstones {
            keys.push(t.start.clone());
            keys.push(t.end.clone());
        }
        keys.sort();
        keys.dedup();
        keys
    }
}

/// Everything a raw cursor yields from the first entry on.
pub fn drain_forward(it: &mut impl InternalIterator) -> Vec<(Vec<u8>, Vec<u8>)> {
    drain(it, true)
}

/// Everything a raw cursor yields from the last entry back, in reverse.
pub fn drain_backward(it: &mut impl InternalIterator) -> Vec<(Vec<u8>, Vec<u8>)> {
    drain(it, false)
}

fn drain(it: &mut impl InternalIterator, forward: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    if forward {
        it.seek_to_first()
    } else {
        it.seek_to_last()
    }
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        if forward { it.next() } else { it.prev() }
    }
    it.status().expect("a memtable cursor never fails");
    out
}

/// The memtable's live pairs in `range` at `snapshot`.
pub fn scan(
    table: &Memtable,
    range: (Bound<&[u8]>, Bound<&[u8]>),
    snapshot: SeqNo,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    table
        .range::<[u8], _>(range, snapshot)
        .map(|e| (e.user_key().to_vec(), e.value().to_vec()))
        .collect()
}
