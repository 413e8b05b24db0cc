//! Test sources and the BTreeMap model shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use lsmkit_sstable::key::{self, compare};
use lsmkit_sstable::{InternalIterator, RangeTombstone, SeqNo, ValueKind};

/// An in-memory sorted source that can be told to fail once it reaches a
/// given position, as a table with a corrupt block would.
#[derive(Clone, Debug)]
pub struct VecIter {
    entries: Arc<Vec<(Vec<u8>, Vec<u8>)>>,
    pos: Option<usize>,
    fail_at: Option<usize>,
    failed: bool,
}

impl VecIter {
    /// REQUIRES: `entries` sorted in internal-key order.
    pub fn new(entries: Vec<(Vec<u8>, Vec<u8>)>) -> VecIter {
        VecIter {
            entries: Arc::new(entries),
            pos: None,
            fail_at: None,
            failed: false,
        }
    }

    /// A source that fails when it would land on entry `index`.
    pub fn failing_at(mut self, index: usize) -> VecIter {
        self.fail_at = Some(index);
        self
    }

    fn land(&mut self, pos: Option<usize>) {
        if self.failed {
            return;
        }
        if pos.is_some() && pos == self.fail_at {
            self.failed = true;
            self.pos = None;
        } else {
            self.pos = pos.filter(|&p| p < self.entries.len());
        }
    }
}

impl InternalIterator for VecIter {
    fn valid(&self) -> bool {
        self.pos.is_some()
    }
    fn seek_to_first(&mut self) {
        self.land(Some(0));
    }
    fn seek_to_last(&mut self) {
        self.land(self.entries.len().checked_sub(1));
    }
    fn seek(&mut self, target: &[u8]) {
        let at = self
            .entries
            .partition_point(|(k, _)| compare(k, target).is_lt());
        self.land(Some(at));
    }
    fn next(&mut self) {
        let next = self.pos.map(|p| p + 1);
        self.land(next);
    }
    fn prev(&mut self) {
        let prev = self.pos.and_then(|p| p.checked_sub(1));
        self.land(prev);
    }
    fn key(&self) -> &[u8] {
        self.pos.map_or(&[], |p| &self.entries[p].0)
    }
    fn value(&self) -> &[u8] {
        self.pos.map_or(&[], |p| &self.entries[p].1)
    }
    fn status(&self) -> Result<(), lsmkit_sstable::Error> {
        if self.failed {
            Err(lsmkit_sstable::Error::Corruption {
                file: PathBuf::from("test-source"),
                offset: 0,
                what: "injected".into(),
            })
        } else {
            Ok(())
        }
    }
}

/// One point version as the model holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub user_key: Vec<u8>,
    pub seqno: SeqNo,
    pub kind: ValueKind,
    pub value: Vec<u8>,
}

impl Version {
    pub fn internal_key(&self) -> Vec<u8> {
        let mut out = Vec::new();
        key::encode(&self.user_key, self.seqno, self.kind, &mut out);
        out
    }

    pub fn from_entry(key: &[u8], value: &[u8]) -> Version {
        let parsed = lsmkit_sstable::ParsedKey::parse(key).expect("valid internal key");
        Version {
            user_key: parsed.user_key.to_vec(),
            seqno: parsed.seqno,
            kind: parsed.kind,
            value: value.to_vec(),
        }
    }
}

/// What a reader at `snapshot` sees: the live value of each user key.
pub fn visible(
    versions: &[Version],
    tombstones: &[RangeTombstone],
    snapshot: SeqNo,
) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut newest: BTreeMap<&[u8], &Version> = BTreeMap::new();
    for v in versions.iter().filter(|v| v.seqno <= snapshot) {
        let slot = newest.entry(&v.user_key).or_insert(v);
        if v.seqno > slot.seqno {
            *slot = v;
        }
    }
    newest
        .into_iter()
        .filter(|(k, v)| {
            v.kind == ValueKind::Put
                && !tombstones
                    .iter()
                    .any(|t| t.visible_at(snapshot) && t.covers(k, v.seqno))
        })
        .map(|(k, v)| (k.to_vec(), v.value.clone()))
        .collect()
}

/// Drains a source into versions, checking its status.
pub fn collect(it: &mut dyn InternalIterator) -> Vec<Version> {
    let mut out = Vec::new();
    it.seek_to_first();
    while it.valid() {
        out.push(Version::from_entry(it.key(), it.value()));
        it.next();
    }
    it.status().expect("source failed");
    out
}
