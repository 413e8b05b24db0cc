//! Test sources and the BTreeMap model shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lsmkit_sstable::key::{self, compare};
use lsmkit_sstable::{
    InternalIterator, MAX_SEQNO, RangeTombstone, SeqNo, SstOptions, SstWriter, ValueKind,
};
use lsmkit_vfs::Fs;
use proptest::prelude::*;

/// `base` proptest cases, scaled by `PROPTEST_CASES` as that variable
/// scales proptest's default of 256 (an explicit `cases` ignores it):
/// `PROPTEST_CASES=2560` runs ten times `base`.
pub fn scaled_cases(base: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(base, |n| {
            u32::try_from((u64::from(base) * n / 256).max(1)).unwrap_or(u32::MAX)
        })
}

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

/// How many sources a generated history spreads its writes over.
pub const SOURCES: usize = 4;

/// One write of the history; its sequence number is its position + 1.
#[derive(Clone, Debug)]
pub enum Write {
    Put(Vec<u8>, u8),
    Delete(Vec<u8>),
    DeleteRange(Vec<u8>, Vec<u8>),
}

pub fn arb_user_key() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(b'a'..b'f', 1..3)
}

pub fn arb_write() -> impl Strategy<Value = Write> {
    prop_oneof![
        6 => (arb_user_key(), any::<u8>()).prop_map(|(k, v)| Write::Put(k, v)),
        2 => arb_user_key().prop_map(Write::Delete),
        1 => (arb_user_key(), arb_user_key()).prop_map(|(a, b)| Write::DeleteRange(a, b)),
    ]
}

/// A history, split between compaction inputs and (unless the output is
/// the oldest run) an older run that the compaction does not touch.
#[derive(Clone, Debug)]
pub struct Case {
    pub writes: Vec<(Write, usize)>,
    pub snapshots: Vec<SeqNo>,
    pub bottommost: bool,
    /// Writes with a sequence number at or below this stay in the older run.
    pub older_up_to: SeqNo,
}

pub fn arb_case() -> impl Strategy<Value = Case> {
    proptest::collection::vec((arb_write(), 0..SOURCES), 0..60).prop_flat_map(|writes| {
        let n = writes.len() as SeqNo;
        (
            Just(writes),
            proptest::collection::vec(0..=n + 1, 0..5),
            any::<bool>(),
            0..=n,
        )
            .prop_map(|(writes, snapshots, bottommost, cut)| Case {
                writes,
                snapshots,
                bottommost,
                older_up_to: if bottommost { 0 } else { cut },
            })
    })
}

pub struct History {
    /// Per source: its point versions (in write order) and tombstones.
    pub inputs: Vec<(Vec<Version>, Vec<RangeTombstone>)>,
    pub older_points: Vec<Version>,
    pub older_tombstones: Vec<RangeTombstone>,
    pub all_points: Vec<Version>,
    pub all_tombstones: Vec<RangeTombstone>,
}

pub fn build(case: &Case) -> History {
    let mut h = History {
        inputs: vec![(Vec::new(), Vec::new()); SOURCES],
        older_points: Vec::new(),
        older_tombstones: Vec::new(),
        all_points: Vec::new(),
        all_tombstones: Vec::new(),
    };
    for (i, (write, source)) in case.writes.iter().enumerate() {
        let seqno = i as SeqNo + 1;
        let older = seqno <= case.older_up_to;
        match write {
            Write::DeleteRange(start, end) => {
                let t = RangeTombstone::new(start.clone(), end.clone(), seqno);
                if older {
                    h.older_tombstones.push(t.clone());
                } else {
                    h.inputs[*source].1.push(t.clone());
                }
                h.all_tombstones.push(t);
            }
            Write::Put(key, _) | Write::Delete(key) => {
                let (kind, value) = match write {
                    Write::Put(_, v) => (ValueKind::Put, vec![*v]),
                    _ => (ValueKind::Delete, Vec::new()),
                };
                let v = Version {
                    user_key: key.clone(),
                    seqno,
                    kind,
                    value,
                };
                if older {
                    h.older_points.push(v.clone());
                } else {
                    h.inputs[*source].0.push(v.clone());
                }
                h.all_points.push(v);
            }
        }
    }
    h
}

/// The readers: each live snapshot and the newest state.
pub fn readers(case: &Case) -> Vec<SeqNo> {
    let mut r = case.snapshots.clone();
    r.push(MAX_SEQNO);
    r
}

/// The stripe of `seqno` among `snapshots`.
pub fn stripe(snapshots: &[SeqNo], seqno: SeqNo) -> usize {
    snapshots.iter().filter(|&&s| s < seqno).count()
}

/// Small blocks, so that tables hold several.
pub fn small_tables() -> SstOptions {
    SstOptions::default().block_size(64).creation_time(0)
}

/// Writes `points` (in any order) and `tombstones` as the table at `path`.
pub fn write_table(
    fs: &Arc<dyn Fs>,
    path: &Path,
    points: &[Version],
    tombstones: &[RangeTombstone],
) -> PathBuf {
    if let Some(dir) = path.parent() {
        fs.create_dir_all(dir).unwrap();
    }
    let mut w = SstWriter::create(fs.clone(), path, small_tables()).unwrap();
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| compare(&a.internal_key(), &b.internal_key()));
    for v in &sorted {
        w.add(&v.internal_key(), &v.value).unwrap();
    }
    for t in tombstones {
        w.add_range_tombstone(t).unwrap();
    }
    w.finish().unwrap();
    path.to_path_buf()
}

/// Writes one input table per source of the history into `dir`; returns
/// their paths.
pub fn write_inputs(fs: &Arc<dyn Fs>, h: &History, dir: &str) -> Vec<PathBuf> {
    h.inputs
        .iter()
        .enumerate()
        .filter(|(_, (points, tombstones))| !points.is_empty() || !tombstones.is_empty())
        .map(|(i, (points, tombstones))| {
            let path = PathBuf::from(format!("{dir}/in-{i}.sst"));
            write_table(fs, &path, points, tombstones)
        })
        .collect()
}
