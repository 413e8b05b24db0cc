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

/// A table file held in memory, with or without the zero-copy view.
#[derive(Debug)]
pub struct VecFile {
    pub bytes: Vec<u8>,
    pub mapped: bool,
}

impl lsmkit_vfs::RandomAccessFile for VecFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| std::io::ErrorKind::UnexpectedEof)?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.bytes.get(start..end))
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn as_bytes(&self) -> Option<&[u8]> {
        self.mapped.then_some(&self.bytes[..])
    }
}

/// Opens `bytes` as a table.
pub fn open_bytes(
    bytes: &[u8],
    mapped: bool,
) -> Result<Arc<lsmkit_sstable::SstReader>, lsmkit_sstable::Error> {
    let file = Arc::new(VecFile {
        bytes: bytes.to_vec(),
        mapped,
    });
    lsmkit_sstable::SstReader::open_file(file, "/fuzz.sst")
}

/// The bytes of the small table.
pub fn small_table_bytes() -> Vec<u8> {
    table_bytes(&small_model(), small_options())
}

/// Every codec this build can write: the compressed small tables of the
/// corruption tests use each.
pub fn codecs() -> Vec<lsmkit_sstable::Compression> {
    use lsmkit_sstable::Compression;
    let mut all = vec![Compression::None];
    if cfg!(feature = "lz4") {
        all.push(Compression::Lz4);
    }
    if cfg!(feature = "zstd") {
        all.push(Compression::Zstd);
    }
    all
}

/// The small table with its data blocks compressed by `codec` wherever
/// that shrinks them at all, so that it holds compressed blocks (and, for
/// `None`, raw ones in envelopes).
pub fn small_table_bytes_with(codec: lsmkit_sstable::Compression) -> Vec<u8> {
    let options = small_options()
        .compression(codec)
        .compression_min_savings_permille(0);
    let bytes = table_bytes(&small_model(), options);
    let compressed = open_bytes(&bytes, true)
        .unwrap()
        .properties()
        .num_compressed_blocks;
    assert_eq!(compressed > 0, codec != lsmkit_sstable::Compression::None);
    bytes
}

/// The bytes of `model` written as a table under `options`.
pub fn table_bytes(model: &Model, options: SstOptions) -> Vec<u8> {
    let fs: Arc<dyn Fs> = Arc::new(lsmkit_vfs::MemFs::new());
    model.write(&fs, "/t.sst", options);
    let file = fs.open(std::path::Path::new("/t.sst")).unwrap();
    let mut bytes = vec![0; file.len() as usize];
    file.read_at(0, &mut bytes).unwrap();
    bytes
}

/// Opens `bytes` and uses every read path: scans both ways, bounded
/// ranges, seeks, point lookups, verify. Returns the first error; must
/// never panic, whatever the bytes.
pub fn exercise(bytes: &[u8], mapped: bool) -> Result<(), lsmkit_sstable::Error> {
    let table = open_bytes(bytes, mapped)?;
    let mut keys = Vec::new();
    let mut it = table.iter();
    it.seek_to_first();
    while it.valid() && keys.len() < 10_000 {
        keys.push(it.key().to_vec());
        it.next();
    }
    it.status()?;
    it.seek_to_last();
    while it.valid() {
        it.prev();
    }
    it.status()?;
    for k in keys.iter().step_by(7) {
        let user = key::user_key(k);
        table.get(user, lsmkit_sstable::MAX_SEQNO)?;
        table.get(user, 0)?;
        it.seek(k);
        let mut r = table.range(Some(user), Some(b"key03"));
        r.seek_to_last();
        r.prev();
        r.seek_to_first();
        r.next();
        r.status()?;
    }
    table.get(b"absent", 5)?;
    table.verify()
}

/// Every block handle of a well-formed table, found through its footer,
/// index and metaindex.
pub fn block_handles(bytes: &[u8]) -> Vec<lsmkit_sstable::BlockHandle> {
    use lsmkit_block::{Block, Bytewise};
    use lsmkit_sstable::format::{FOOTER_LEN, Footer};
    use lsmkit_sstable::{BlockHandle, InternalKeyComparator};
    let footer: [u8; FOOTER_LEN] = bytes[bytes.len() - FOOTER_LEN..].try_into().unwrap();
    let footer = Footer::decode(&footer).unwrap();
    let slice = |h: BlockHandle| bytes[h.offset as usize..(h.offset + h.size) as usize].to_vec();
    let mut handles = vec![footer.index, footer.metaindex];
    let index = Block::new(slice(footer.index), InternalKeyComparator).unwrap();
    let meta = Block::new(slice(footer.metaindex), Bytewise).unwrap();
    let mut values = Vec::new();
    let mut it = index.iter();
    it.seek_to_first();
    while it.valid() {
        values.push(it.value().to_vec());
        it.next();
    }
    let mut it = meta.iter();
    it.seek_to_first();
    while it.valid() {
        values.push(it.value().to_vec());
        it.next();
    }
    handles.extend(values.iter().map(|v| BlockHandle::decode(v).unwrap()));
    handles.sort_by_key(|h| h.offset);
    handles
}

/// Recomputes the checksum of the block (or footer) holding `offset`, so
/// that a mutation there gets past checksums to the structural checks.
pub fn fix_checksum(bytes: &mut [u8], handles: &[lsmkit_sstable::BlockHandle], offset: usize) {
    use lsmkit_block::format::checksum;
    use lsmkit_sstable::format::{FOOTER_CHECKSUM_AT, FOOTER_LEN};
    let footer_at = bytes.len().saturating_sub(FOOTER_LEN);
    let range = if offset >= footer_at && bytes.len() >= FOOTER_LEN {
        let sum = checksum(&bytes[footer_at..footer_at + FOOTER_CHECKSUM_AT]);
        let at = footer_at + FOOTER_CHECKSUM_AT;
        bytes[at..at + 8].copy_from_slice(&sum.to_le_bytes());
        return;
    } else {
        match handles
            .iter()
            .find(|h| (h.offset..h.offset + h.size).contains(&(offset as u64)))
        {
            Some(h) => h.offset as usize..(h.offset + h.size) as usize,
            None => return,
        }
    };
    if range.end > bytes.len() || range.len() < 8 {
        return;
    }
    let block = &mut bytes[range];
    let at = block.len() - 8;
    let sum = checksum(&block[..at]);
    block[at..].copy_from_slice(&sum.to_le_bytes());
}

#[derive(Clone, Debug)]
pub enum Mutation {
    /// Set a byte, then repair the checksum of its block or the footer.
    SetRepaired { at: usize, byte: u8 },
    /// Set a byte, checksums left alone.
    Set { at: usize, byte: u8 },
    /// Cut the file.
    Truncate { len: usize },
    /// Copy a run of the file over another place.
    Splice { from: usize, to: usize, len: usize },
}

/// Applies mutations to `table`, whose block handles are `handles`.
pub fn mutate(table: &[u8], handles: &[lsmkit_sstable::BlockHandle], ms: &[Mutation]) -> Vec<u8> {
    let mut bytes = table.to_vec();
    for m in ms {
        if bytes.is_empty() {
            break;
        }
        let n = bytes.len();
        match *m {
            Mutation::SetRepaired { at, byte } => {
                bytes[at % n] = byte;
                fix_checksum(&mut bytes, handles, at % n);
            }
            Mutation::Set { at, byte } => bytes[at % n] = byte,
            Mutation::Truncate { len } => bytes.truncate(len % n),
            Mutation::Splice { from, to, len } => {
                let (from, to) = (from % n, to % n);
                let len = len.min(n - from).min(n - to);
                bytes.copy_within(from..from + len, to);
            }
        }
    }
    bytes
}

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
