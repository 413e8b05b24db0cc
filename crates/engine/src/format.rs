//! Every byte the engine itself puts on disk: file names, the CURRENT
//! pointer, the write batch (the payload of each WAL record) and the
//! version edit (the payload of each manifest record). Tables and log
//! framing belong to `lsmkit-sstable` and `lsmkit-wal`; `docs/FORMAT.md`
//! ("Manifest") tells the whole story.
//!
//! ```text
//! batch    := seqno:fixed64 count:fixed32 op{count}
//! op       := 0x00 key:bytes                  (Delete)
//!           | 0x01 key:bytes value:bytes      (Put)
//!           | 0x02 start:bytes end:bytes      (RangeDelete of [start, end))
//!           | 0x03 key:bytes operand:bytes    (Merge)
//!           | 0x10 keyspace:varint64          (switch: the ops after it are
//!                                              of that keyspace; no op,
//!                                              not counted, no seqno)
//! bytes    := len:varint32 byte{len}
//!
//! edit     := field*
//! field    := 1 last_seqno:varint64
//!           | 2 flushed_seqno:varint64
//!           | 3 next_file_number:varint64
//!           | 4 table                         (add a table)
//!           | 5 number:varint64               (remove a table)
//!           | 6 level:varint32 table          (add a table at a level >= 1)
//!           | 7 global_seqno:varint64         (of the table added before it)
//!           | 8 id:varint64 name:bytes        (create keyspace `id`)
//!           | 9 id:varint64                   (drop keyspace `id`)
//!           | 10 keyspace:varint64            (of the table added before it;
//!                                              absent: keyspace 0)
//!           | 11 id:varint64 seqno:varint64   (keyspace `id` flushed through
//!                                              `seqno`)
//! table    := run:varint64 number:varint64 size:varint64
//!             min_seqno:varint64 max_seqno:varint64
//!             lower:bytes (0x00 | 0x01 upper:bytes)
//! ```
//!
//! Op kinds are the `ValueKind` wire values of `lsmkit-sstable`; field tags
//! are frozen, and a retired tag is never reused. Integers are
//! little-endian; varints are LEB128 (`lsmkit_block::format`).

use lsmkit_block::format::{
    get_fixed32, get_fixed64, get_varint32, get_varint64, put_varint32, put_varint64,
};
use lsmkit_sstable::{MAX_SEQNO, SeqNo, ValueKind};

/// Name of the lock file.
pub const LOCK: &str = "LOCK";
/// Name of the pointer to the current manifest.
pub const CURRENT: &str = "CURRENT";
/// Name under which CURRENT is written before it is renamed into place.
pub const CURRENT_TMP: &str = "CURRENT.tmp";
/// The WAL's directory inside the database directory.
pub const WAL_DIR: &str = "wal";
/// Prefix of manifest file names.
const MANIFEST_PREFIX: &str = "MANIFEST-";

/// Bytes of a batch header: the first sequence number and the op count.
pub const BATCH_HEADER_LEN: usize = 12;

/// Field tags of a version edit. Frozen.
mod tag {
    pub const LAST_SEQNO: u32 = 1;
    pub const FLUSHED_SEQNO: u32 = 2;
    pub const NEXT_FILE_NUMBER: u32 = 3;
    pub const ADD_TABLE: u32 = 4;
    pub const REMOVE_TABLE: u32 = 5;
    pub const ADD_LEVEL_TABLE: u32 = 6;
    pub const GLOBAL_SEQNO: u32 = 7;
    pub const CREATE_KEYSPACE: u32 = 8;
    pub const DROP_KEYSPACE: u32 = 9;
    pub const TABLE_KEYSPACE: u32 = 10;
    pub const KEYSPACE_FLUSHED: u32 = 11;
}

/// The id of the default keyspace, which every database has and which
/// ops and tables belong to unless they say otherwise.
pub const DEFAULT_KEYSPACE: u64 = 0;

/// The byte that opens a keyspace switch in a batch, in the place of an op
/// kind: the ops after it belong to the keyspace it names.
pub const KEYSPACE_SWITCH: u8 = 0x10;

/// The longest keyspace name, in bytes.
pub const MAX_KEYSPACE_NAME: usize = 255;

/// The file name of table `number`.
pub fn table_file_name(number: u64) -> String {
    format!("{number:06}.sst")
}

/// The file name of manifest `number`.
pub fn manifest_file_name(number: u64) -> String {
    format!("{MANIFEST_PREFIX}{number:06}")
}

/// What a file in the database directory is, by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `<n>.sst`
    Table(u64),
    /// `<n>.sst.tmp`, a table whose writer did not finish.
    TableTmp,
    /// `MANIFEST-<n>`
    Manifest(u64),
    /// `CURRENT.tmp`, a pointer that was not renamed into place.
    CurrentTmp,
}

/// Classifies a database-directory file name; `None` for names the engine
/// does not own (CURRENT, LOCK, `wal/` and anything foreign are kept).
pub fn parse_file_name(name: &str) -> Option<FileKind> {
    let number = |digits: &str| {
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
    };
    if let Some(stem) = name.strip_suffix(".sst.tmp") {
        return number(stem).map(|_: u64| FileKind::TableTmp);
    }
    if let Some(stem) = name.strip_suffix(".sst") {
        return number(stem).map(FileKind::Table);
    }
    if let Some(digits) = name.strip_prefix(MANIFEST_PREFIX) {
        return number(digits).map(FileKind::Manifest);
    }
    (name == CURRENT_TMP).then_some(FileKind::CurrentTmp)
}

/// The contents of CURRENT naming manifest `number`.
pub fn encode_current(number: u64) -> Vec<u8> {
    format!("{}\n", manifest_file_name(number)).into_bytes()
}

/// The manifest number CURRENT names, or `None` when its contents are not
/// one manifest name followed by a newline.
pub fn decode_current(contents: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(contents).ok()?;
    match parse_file_name(text.strip_suffix('\n')?)? {
        FileKind::Manifest(number) => Some(number),
        _ => None,
    }
}

/// Appends a length-prefixed byte string.
pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // A key or value of 4 GiB or more is refused before it gets here.
    put_varint32(out, bytes.len() as u32);
    out.extend_from_slice(bytes);
}

/// A cursor over encoded bytes that reports where decoding failed.
#[derive(Debug)]
pub struct Decoder<'a> {
    src: &'a [u8],
    at: usize,
}

/// Why decoding failed: at which offset, and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Offset within the record.
    pub offset: usize,
    /// What was wrong.
    pub what: String,
}

impl<'a> Decoder<'a> {
    /// A decoder positioned at the start of `src`.
    pub fn new(src: &'a [u8]) -> Decoder<'a> {
        Decoder { src, at: 0 }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.at >= self.src.len()
    }

    /// The offset of the next byte.
    pub fn offset(&self) -> usize {
        self.at
    }

    /// An error at the current offset.
    pub fn error(&self, what: impl Into<String>) -> DecodeError {
        DecodeError {
            offset: self.at,
            what: what.into(),
        }
    }

    fn rest(&self) -> &'a [u8] {
        self.src.get(self.at..).unwrap_or_default()
    }

    /// Reads one byte.
    pub fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        let byte = *self
            .rest()
            .first()
            .ok_or_else(|| self.error(format!("end of record in {what}")))?;
        self.at += 1;
        Ok(byte)
    }

    /// Reads a fixed32.
    pub fn fixed32(&mut self, what: &str) -> Result<u32, DecodeError> {
        let v = get_fixed32(self.src, self.at)
            .ok_or_else(|| self.error(format!("end of record in {what}")))?;
        self.at += 4;
        Ok(v)
    }

    /// Reads a fixed64.
    pub fn fixed64(&mut self, what: &str) -> Result<u64, DecodeError> {
        let v = get_fixed64(self.src, self.at)
            .ok_or_else(|| self.error(format!("end of record in {what}")))?;
        self.at += 8;
        Ok(v)
    }

    /// Reads a varint32.
    pub fn varint32(&mut self, what: &str) -> Result<u32, DecodeError> {
        let (v, n) =
            get_varint32(self.rest()).ok_or_else(|| self.error(format!("bad varint in {what}")))?;
        self.at += n;
        Ok(v)
    }

    /// Reads a varint64.
    pub fn varint64(&mut self, what: &str) -> Result<u64, DecodeError> {
        let (v, n) =
            get_varint64(self.rest()).ok_or_else(|| self.error(format!("bad varint in {what}")))?;
        self.at += n;
        Ok(v)
    }

    /// Reads a varint64 sequence number, at most `MAX_SEQNO`.
    pub fn seqno(&mut self, what: &str) -> Result<SeqNo, DecodeError> {
        let at = self.at;
        let v = self.varint64(what)?;
        if v > MAX_SEQNO {
            return Err(DecodeError {
                offset: at,
                what: format!("{what} {v} exceeds {MAX_SEQNO}"),
            });
        }
        Ok(v)
    }

    /// Reads a length-prefixed byte string, checking the length against the
    /// bytes left before slicing.
    pub fn bytes(&mut self, what: &str) -> Result<&'a [u8], DecodeError> {
        let len = self.varint32(what)? as usize;
        let rest = self.rest();
        let bytes = rest.get(..len).ok_or_else(|| {
            self.error(format!(
                "{what} of {len} bytes runs past the record's end ({} left)",
                rest.len()
            ))
        })?;
        self.at += len;
        Ok(bytes)
    }
}

/// Writes a batch header into the first [`BATCH_HEADER_LEN`] bytes of `rep`.
///
/// REQUIRES: `rep.len() >= BATCH_HEADER_LEN`.
pub fn set_batch_header(rep: &mut [u8], seqno: SeqNo, count: u32) {
    // The layout of `put_fixed64` then `put_fixed32`, written in place.
    rep[..8].copy_from_slice(&seqno.to_le_bytes());
    rep[8..BATCH_HEADER_LEN].copy_from_slice(&count.to_le_bytes());
}

/// Appends one op to a batch body.
pub fn put_op(rep: &mut Vec<u8>, kind: ValueKind, key: &[u8], value: &[u8]) {
    rep.push(kind as u8);
    put_bytes(rep, key);
    if kind != ValueKind::Delete {
        put_bytes(rep, value);
    }
}

/// Appends a switch to `keyspace` to a batch body: the ops after it, until
/// the next switch, belong to that keyspace (before any switch, to the
/// default keyspace).
pub fn put_keyspace_switch(rep: &mut Vec<u8>, keyspace: u64) {
    rep.push(KEYSPACE_SWITCH);
    put_varint64(rep, keyspace);
}

/// One decoded op of a batch; `value` is empty for a delete and the end key
/// for a range delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op<'a> {
    /// The keyspace the op writes to.
    pub keyspace: u64,
    /// What the op does.
    pub kind: ValueKind,
    /// The key (the start, for a range delete).
    pub key: &'a [u8],
    /// The value, or the end of a range delete.
    pub value: &'a [u8],
}

/// A batch decoded from its bytes: its first sequence number and its ops,
/// checked to be exactly `count` well-formed ops filling the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedBatch<'a> {
    /// The sequence number of the first op; op `i` has `seqno + i`.
    pub seqno: SeqNo,
    /// The ops in order.
    pub ops: Vec<Op<'a>>,
}

/// Decodes a batch record. Every op is checked before any is returned, so
/// that a damaged batch is applied not at all rather than in part.
pub fn decode_batch(rep: &[u8]) -> Result<DecodedBatch<'_>, DecodeError> {
    let mut d = Decoder::new(rep);
    let seqno = d.fixed64("batch sequence number")?;
    let count = d.fixed32("batch count")?;
    // Recovery adds `count` to `seqno`; the memtable only checks each op.
    if seqno
        .checked_add(u64::from(count))
        .is_none_or(|end| end > MAX_SEQNO + 1)
    {
        return Err(DecodeError {
            offset: 0,
            what: format!("sequence numbers {seqno} + {count} ops exceed {MAX_SEQNO}"),
        });
    }
    // Each op takes at least two bytes: never allocate more than the input.
    let mut ops = Vec::with_capacity((count as usize).min(rep.len() / 2));
    let mut keyspace = DEFAULT_KEYSPACE;
    while ops.len() < count as usize {
        let at = d.offset();
        let byte = d.u8("op kind")?;
        if byte == KEYSPACE_SWITCH {
            // At least two bytes each: the loop ends within the input.
            keyspace = d.varint64("keyspace")?;
            continue;
        }
        let kind = ValueKind::from_u8(byte).ok_or_else(|| DecodeError {
            offset: at,
            what: "unknown op kind".into(),
        })?;
        let key = d.bytes("key")?;
        let value = match kind {
            ValueKind::Delete => &[][..],
            ValueKind::Put => d.bytes("value")?,
            ValueKind::RangeDelete => d.bytes("range end")?,
            ValueKind::Merge => d.bytes("merge operand")?,
        };
        ops.push(Op {
            keyspace,
            kind,
            key,
            value,
        });
    }
    if !d.is_empty() {
        return Err(d.error(format!("bytes after the batch's {count} ops")));
    }
    Ok(DecodedBatch { seqno, ops })
}

/// Whether `name` may name a keyspace: 1 to [`MAX_KEYSPACE_NAME`] bytes.
pub fn valid_keyspace_name(name: &str) -> bool {
    (1..=MAX_KEYSPACE_NAME).contains(&name.len())
}

/// A table as the manifest records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRecord {
    /// The run the table belongs to.
    pub run: u64,
    /// The table's file number.
    pub number: u64,
    /// The file's size in bytes.
    pub size: u64,
    /// The sequence numbers the table's run covers (every write in it is
    /// in this range; a run's tables share it).
    pub min_seqno: SeqNo,
    /// See `min_seqno`.
    pub max_seqno: SeqNo,
    /// The level of a leveled tree the table's run is (every table of a
    /// run has the run's level): 0 for a run of L0 or of a tiered tree,
    /// ordered among the others by sequence numbers; 1 and up for the
    /// levels, ordered by level below every level-0 run. A level's tables
    /// need not share their sequence-number range.
    pub level: u32,
    /// The first user key the table answers for within its run.
    pub lower: Vec<u8>,
    /// The first user key it no longer answers for; `None`: every key
    /// from `lower` on. A run's tables partition the key space this way, so
    /// that a lookup consults exactly one table of a run.
    pub upper: Option<Vec<u8>>,
    /// The sequence number every version in the file reads at, whatever
    /// the file says (an ingested table, linked in unchanged: see
    /// `ReaderOptions::global_seqno`); then `min_seqno == max_seqno ==`
    /// it. `None`: the file's own numbers.
    pub global_seqno: Option<SeqNo>,
    /// The keyspace the table belongs to ([`DEFAULT_KEYSPACE`] unless the
    /// record says otherwise).
    pub keyspace: u64,
}

/// A change to the set of tables and the counters, one manifest record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionEdit {
    /// The largest sequence number written so far.
    pub last_seqno: Option<SeqNo>,
    /// Every write at or below this sequence number is in a table: WAL
    /// batches at or below it are skipped on recovery, and the segments
    /// that hold only such batches are deleted. (The engine's "log number".)
    pub flushed_seqno: Option<SeqNo>,
    /// The next file number to hand out (tables, manifests, runs).
    pub next_file_number: Option<u64>,
    /// Tables added.
    pub added: Vec<TableRecord>,
    /// Tables removed, by number.
    pub removed: Vec<u64>,
    /// Keyspaces created: id and name.
    pub created_keyspaces: Vec<(u64, String)>,
    /// Keyspaces dropped, by id (their tables are removed by the same
    /// edit).
    pub dropped_keyspaces: Vec<u64>,
    /// Keyspaces whose writes are all in tables up to a sequence number
    /// above `flushed_seqno` (which holds for every keyspace).
    pub keyspace_flushed: Vec<(u64, SeqNo)>,
}

impl VersionEdit {
    /// Appends the edit's encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut field = |tag: u32, v: Option<u64>| {
            if let Some(v) = v {
                put_varint32(out, tag);
                put_varint64(out, v);
            }
        };
        field(tag::LAST_SEQNO, self.last_seqno);
        field(tag::FLUSHED_SEQNO, self.flushed_seqno);
        field(tag::NEXT_FILE_NUMBER, self.next_file_number);
        for t in &self.added {
            if t.level == 0 {
                put_varint32(out, tag::ADD_TABLE);
            } else {
                put_varint32(out, tag::ADD_LEVEL_TABLE);
                put_varint32(out, t.level);
            }
            for v in [t.run, t.number, t.size, t.min_seqno, t.max_seqno] {
                put_varint64(out, v);
            }
            put_bytes(out, &t.lower);
            match &t.upper {
                None => out.push(0),
                Some(upper) => {
                    out.push(1);
                    put_bytes(out, upper);
                }
            }
            if let Some(seqno) = t.global_seqno {
                put_varint32(out, tag::GLOBAL_SEQNO);
                put_varint64(out, seqno);
            }
            if t.keyspace != DEFAULT_KEYSPACE {
                put_varint32(out, tag::TABLE_KEYSPACE);
                put_varint64(out, t.keyspace);
            }
        }
        for &number in &self.removed {
            put_varint32(out, tag::REMOVE_TABLE);
            put_varint64(out, number);
        }
        for (id, name) in &self.created_keyspaces {
            put_varint32(out, tag::CREATE_KEYSPACE);
            put_varint64(out, *id);
            put_bytes(out, name.as_bytes());
        }
        for &id in &self.dropped_keyspaces {
            put_varint32(out, tag::DROP_KEYSPACE);
            put_varint64(out, id);
        }
        for &(id, seqno) in &self.keyspace_flushed {
            put_varint32(out, tag::KEYSPACE_FLUSHED);
            put_varint64(out, id);
            put_varint64(out, seqno);
        }
    }

    /// Decodes an edit.
    pub fn decode(src: &[u8]) -> Result<VersionEdit, DecodeError> {
        let mut d = Decoder::new(src);
        let mut edit = VersionEdit::default();
        while !d.is_empty() {
            let at = d.offset();
            let tag = d.varint32("field tag")?;
            match tag {
                tag::LAST_SEQNO => edit.last_seqno = Some(d.seqno("last seqno")?),
                tag::FLUSHED_SEQNO => edit.flushed_seqno = Some(d.seqno("flushed seqno")?),
                tag::NEXT_FILE_NUMBER => {
                    edit.next_file_number = Some(d.varint64("next file number")?);
                }
                tag::ADD_TABLE | tag::ADD_LEVEL_TABLE => {
                    let level = match tag {
                        tag::ADD_TABLE => 0,
                        _ => match d.varint32("table level")? {
                            0 => return Err(d.error("a level table is at level 0")),
                            level => level,
                        },
                    };
                    let table = TableRecord {
                        level,
                        run: d.varint64("table run")?,
                        number: d.varint64("table number")?,
                        size: d.varint64("table size")?,
                        min_seqno: d.seqno("table min seqno")?,
                        max_seqno: d.seqno("table max seqno")?,
                        lower: d.bytes("table lower bound")?.to_vec(),
                        upper: match d.u8("table upper-bound flag")? {
                            0 => None,
                            1 => Some(d.bytes("table upper bound")?.to_vec()),
                            _ => return Err(d.error("table upper-bound flag is not 0 or 1")),
                        },
                        global_seqno: None,
                        keyspace: DEFAULT_KEYSPACE,
                    };
                    let empty_keys = table.upper.as_ref().is_some_and(|u| *u <= table.lower);
                    if table.min_seqno > table.max_seqno || empty_keys {
                        return Err(DecodeError {
                            offset: at,
                            what: format!("table {} has an empty range", table.number),
                        });
                    }
                    edit.added.push(table);
                }
                tag::GLOBAL_SEQNO => {
                    let seqno = d.seqno("global seqno")?;
                    let Some(table) = edit.added.last_mut() else {
                        return Err(d.error("a global seqno follows no added table"));
                    };
                    if table.global_seqno.is_some()
                        || table.min_seqno != seqno
                        || table.max_seqno != seqno
                    {
                        return Err(DecodeError {
                            offset: at,
                            what: format!(
                                "table {}: global seqno {seqno} is not its one sequence number ({}..={}), or is given twice",
                                table.number, table.min_seqno, table.max_seqno
                            ),
                        });
                    }
                    table.global_seqno = Some(seqno);
                }
                tag::TABLE_KEYSPACE => {
                    let keyspace = d.varint64("table keyspace")?;
                    let Some(table) = edit.added.last_mut() else {
                        return Err(d.error("a table keyspace follows no added table"));
                    };
                    if table.keyspace != DEFAULT_KEYSPACE || keyspace == DEFAULT_KEYSPACE {
                        return Err(DecodeError {
                            offset: at,
                            what: format!(
                                "table {}: keyspace given twice, or as the default",
                                table.number
                            ),
                        });
                    }
                    table.keyspace = keyspace;
                }
                tag::CREATE_KEYSPACE => {
                    let id = d.varint64("keyspace id")?;
                    let name_at = d.offset();
                    let name = d.bytes("keyspace name")?;
                    let name = std::str::from_utf8(name)
                        .ok()
                        .filter(|n| valid_keyspace_name(n))
                        .ok_or(DecodeError {
                            offset: name_at,
                            what: "keyspace name is not 1 to 255 bytes of UTF-8".into(),
                        })?;
                    if id == DEFAULT_KEYSPACE {
                        return Err(DecodeError {
                            offset: at,
                            what: "creates keyspace 0, the default".into(),
                        });
                    }
                    edit.created_keyspaces.push((id, name.to_string()));
                }
                tag::DROP_KEYSPACE => edit.dropped_keyspaces.push(d.varint64("dropped keyspace")?),
                tag::KEYSPACE_FLUSHED => {
                    let id = d.varint64("keyspace id")?;
                    edit.keyspace_flushed
                        .push((id, d.seqno("keyspace flushed seqno")?));
                }
                tag::REMOVE_TABLE => edit.removed.push(d.varint64("removed table")?),
                other => {
                    return Err(DecodeError {
                        offset: at,
                        what: format!("unknown field tag {other}"),
                    });
                }
            }
        }
        Ok(edit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn file_names_round_trip() {
        assert_eq!(
            parse_file_name(&table_file_name(7)),
            Some(FileKind::Table(7))
        );
        assert_eq!(parse_file_name("000007.sst.tmp"), Some(FileKind::TableTmp));
        assert_eq!(
            parse_file_name(&manifest_file_name(12)),
            Some(FileKind::Manifest(12))
        );
        assert_eq!(parse_file_name("CURRENT.tmp"), Some(FileKind::CurrentTmp));
        for foreign in [
            "CURRENT",
            "LOCK",
            "wal",
            ".sst",
            "x.sst",
            "MANIFEST-",
            "1a.sst",
        ] {
            assert_eq!(parse_file_name(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn current_must_be_one_manifest_name_and_a_newline() {
        assert_eq!(decode_current(&encode_current(3)), Some(3));
        assert_eq!(decode_current(b"MANIFEST-000003"), None);
        assert_eq!(decode_current(b"000003.sst\n"), None);
        assert_eq!(decode_current(b""), None);
    }

    #[test]
    fn a_keyspace_switch_is_no_op_and_may_not_trail() {
        let mut rep = vec![0; BATCH_HEADER_LEN];
        put_op(&mut rep, ValueKind::Put, b"k", b"v");
        put_keyspace_switch(&mut rep, 7);
        put_op(&mut rep, ValueKind::Delete, b"k", b"");
        set_batch_header(&mut rep, 5, 2);
        let decoded = decode_batch(&rep).unwrap();
        let keyspaces: Vec<u64> = decoded.ops.iter().map(|op| op.keyspace).collect();
        assert_eq!(keyspaces, [DEFAULT_KEYSPACE, 7]);
        put_keyspace_switch(&mut rep, 0);
        let err = decode_batch(&rep).unwrap_err();
        assert!(err.what.contains("after the batch"), "{err:?}");
    }

    #[test]
    fn batch_with_trailing_bytes_is_refused() {
        let mut rep = vec![0; BATCH_HEADER_LEN];
        put_op(&mut rep, ValueKind::Put, b"k", b"v");
        set_batch_header(&mut rep, 5, 1);
        assert_eq!(decode_batch(&rep).unwrap().ops.len(), 1);
        rep.push(0);
        assert!(decode_batch(&rep).is_err());
    }

    /// The worked example of docs/FORMAT.md, "Write batch".
    #[test]
    fn merge_batch_is_the_documented_bytes() {
        let mut rep = vec![0; BATCH_HEADER_LEN];
        put_op(&mut rep, ValueKind::Merge, b"a", b"+1");
        set_batch_header(&mut rep, 8, 1);
        assert_eq!(
            rep,
            [
                8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x03, 0x01, b'a', 0x02, b'+', b'1'
            ]
        );
        let op = decode_batch(&rep).unwrap().ops[0];
        assert_eq!(
            (op.kind, op.key, op.value),
            (ValueKind::Merge, &b"a"[..], &b"+1"[..])
        );
    }

    /// The worked example of docs/FORMAT.md, "Write batch", with a switch.
    #[test]
    fn keyspace_batch_is_the_documented_bytes() {
        let mut rep = vec![0; BATCH_HEADER_LEN];
        put_op(&mut rep, ValueKind::Put, b"a", b"1");
        put_keyspace_switch(&mut rep, 5);
        put_op(&mut rep, ValueKind::Delete, b"a", b"");
        set_batch_header(&mut rep, 9, 2);
        assert_eq!(
            rep,
            [
                9, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0x01, 0x01, b'a', 0x01, b'1', 0x10, 0x05, 0x00,
                0x01, b'a'
            ]
        );
    }

    #[test]
    fn batch_with_oversized_count_is_refused_without_allocating_it() {
        let mut rep = vec![0; BATCH_HEADER_LEN];
        set_batch_header(&mut rep, 5, u32::MAX);
        let err = decode_batch(&rep).unwrap_err();
        assert_eq!(err.offset, BATCH_HEADER_LEN);
    }

    #[test]
    fn batch_whose_sequence_numbers_overflow_is_refused() {
        let mut rep = vec![0; BATCH_HEADER_LEN];
        put_op(&mut rep, ValueKind::Put, b"k", b"v");
        set_batch_header(&mut rep, MAX_SEQNO, 1);
        assert_eq!(decode_batch(&rep).unwrap().seqno, MAX_SEQNO);
        for seqno in [MAX_SEQNO + 1, u64::MAX] {
            set_batch_header(&mut rep, seqno, 1);
            assert_eq!(decode_batch(&rep).unwrap_err().offset, 0, "{seqno}");
        }
    }

    #[test]
    fn edit_with_a_sequence_number_beyond_56_bits_is_refused() {
        let mut rep = Vec::new();
        VersionEdit {
            flushed_seqno: Some(u64::MAX),
            ..VersionEdit::default()
        }
        .encode(&mut rep);
        assert!(VersionEdit::decode(&rep).is_err());
    }

    #[test]
    fn unknown_edit_tag_is_refused_at_its_offset() {
        let mut rep = Vec::new();
        VersionEdit {
            last_seqno: Some(3),
            ..VersionEdit::default()
        }
        .encode(&mut rep);
        let at = rep.len();
        put_varint32(&mut rep, 99);
        let err = VersionEdit::decode(&rep).unwrap_err();
        assert_eq!(err.offset, at);
    }

    #[test]
    fn level_zero_tables_keep_the_old_tag_and_a_level_table_at_zero_is_refused() {
        let table = TableRecord {
            run: 7,
            number: 8,
            size: 9,
            min_seqno: 1,
            max_seqno: 2,
            level: 0,
            lower: b"a".to_vec(),
            upper: None,
            global_seqno: None,
            keyspace: 0,
        };
        let mut old = Vec::new();
        VersionEdit {
            added: vec![table.clone()],
            ..VersionEdit::default()
        }
        .encode(&mut old);
        assert_eq!(old[0], tag::ADD_TABLE as u8);
        let mut leveled = Vec::new();
        let at_level = TableRecord { level: 3, ..table };
        VersionEdit {
            added: vec![at_level.clone()],
            ..VersionEdit::default()
        }
        .encode(&mut leveled);
        assert_eq!(leveled[..2], [tag::ADD_LEVEL_TABLE as u8, 3]);
        assert_eq!(VersionEdit::decode(&leveled).unwrap().added, [at_level]);
        leveled[1] = 0;
        let err = VersionEdit::decode(&leveled).unwrap_err();
        assert!(err.what.contains("level 0"), "{err:?}");
    }

    #[test]
    fn a_global_seqno_must_be_its_tables_one_sequence_number() {
        let table = TableRecord {
            run: 7,
            number: 8,
            size: 9,
            min_seqno: 5,
            max_seqno: 5,
            level: 0,
            lower: Vec::new(),
            upper: None,
            global_seqno: Some(5),
            keyspace: 0,
        };
        let encode = |table: &TableRecord| {
            let mut out = Vec::new();
            VersionEdit {
                added: vec![table.clone()],
                ..VersionEdit::default()
            }
            .encode(&mut out);
            out
        };
        let bytes = encode(&table);
        assert_eq!(
            VersionEdit::decode(&bytes).unwrap().added,
            std::slice::from_ref(&table)
        );
        let wide = TableRecord {
            max_seqno: 6,
            ..table.clone()
        };
        let err = VersionEdit::decode(&encode(&wide)).unwrap_err();
        assert!(err.what.contains("global seqno 5"), "{err:?}");
        // Alone, with no table before it.
        let mut lone = Vec::new();
        put_varint32(&mut lone, tag::GLOBAL_SEQNO);
        put_varint64(&mut lone, 5);
        let err = VersionEdit::decode(&lone).unwrap_err();
        assert!(err.what.contains("follows no added table"), "{err:?}");
    }

    fn arb_edit() -> impl Strategy<Value = VersionEdit> {
        let table = (
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            0u64..1000,
            0u64..1000,
            proptest::collection::vec(any::<u8>(), 0..8),
            proptest::collection::vec(any::<u8>(), 0..8),
        )
            .prop_map(|(run, number, size, a, b, x, y)| TableRecord {
                level: (number % 3) as u32,
                run,
                number,
                size,
                // An ingested table: one sequence number, read globally.
                global_seqno: (size % 4 == 0).then_some(a),
                keyspace: number % 5 / 3 * (run % 9 + 1),
                min_seqno: if size % 4 == 0 { a } else { a.min(b) },
                max_seqno: if size % 4 == 0 { a } else { a.max(b) },
                upper: (x != y).then(|| x.clone().max(y.clone())),
                lower: x.min(y),
            });
        (
            proptest::option::of(0..=MAX_SEQNO),
            proptest::option::of(0..=MAX_SEQNO),
            proptest::option::of(any::<u64>()),
            proptest::collection::vec(table, 0..4),
            proptest::collection::vec(any::<u64>(), 0..4),
            proptest::collection::vec((1..u64::MAX, "[a-z]{1,8}"), 0..3),
            proptest::collection::vec(any::<u64>(), 0..3),
            proptest::collection::vec((any::<u64>(), 0..=MAX_SEQNO), 0..3),
        )
            .prop_map(
                |(
                    last_seqno,
                    flushed_seqno,
                    next_file_number,
                    added,
                    removed,
                    created_keyspaces,
                    dropped_keyspaces,
                    keyspace_flushed,
                )| VersionEdit {
                    last_seqno,
                    flushed_seqno,
                    next_file_number,
                    added,
                    removed,
                    created_keyspaces,
                    dropped_keyspaces,
                    keyspace_flushed,
                },
            )
    }

    proptest! {
        #[test]
        fn edit_round_trips(edit in arb_edit()) {
            let mut rep = Vec::new();
            edit.encode(&mut rep);
            prop_assert_eq!(VersionEdit::decode(&rep).unwrap(), edit);
        }

        #[test]
        fn edit_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = VersionEdit::decode(&bytes);
        }

        #[test]
        fn batch_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_batch(&bytes);
        }

        #[test]
        fn batch_round_trips(ops in proptest::collection::vec(
            (0u8..4, proptest::collection::vec(any::<u8>(), 0..6),
             proptest::collection::vec(any::<u8>(), 0..6), 0u64..3), 0..8),
            seqno in 0..=MAX_SEQNO - 8) {
            let mut rep = vec![0; BATCH_HEADER_LEN];
            let mut keyspace = DEFAULT_KEYSPACE;
            for (kind, key, value, ks) in &ops {
                if *ks != keyspace {
                    put_keyspace_switch(&mut rep, *ks);
                    keyspace = *ks;
                }
                put_op(&mut rep, ValueKind::from_u8(*kind).unwrap(), key, value);
            }
            set_batch_header(&mut rep, seqno, ops.len() as u32);
            let decoded = decode_batch(&rep).unwrap();
            prop_assert_eq!(decoded.seqno, seqno);
            prop_assert_eq!(decoded.ops.len(), ops.len());
            for (op, (kind, key, value, ks)) in decoded.ops.iter().zip(&ops) {
                prop_assert_eq!(op.kind as u8, *kind);
                prop_assert_eq!(op.keyspace, *ks);
                prop_assert_eq!(op.key, &key[..]);
                let expect: &[u8] = if *kind == 0 { b"" } else { value };
                prop_assert_eq!(op.value, expect);
            }
        }
    }
}
