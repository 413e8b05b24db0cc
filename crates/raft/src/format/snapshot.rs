//! The header of a snapshot file (the grammar is in the parent module's
//! docs): what it says, its encoding, and its checks.

use lsmkit_block::format::{put_fixed32, put_fixed64, put_varint32};
use lsmkit_engine::format::{DecodeError, Decoder, put_bytes};
use openraft::{BasicNode, LogId, StoredMembership};

use super::{finish, get_count, get_membership, get_opt_log_id, put_membership, put_opt_log_id};
use crate::NodeId;

/// The first bytes of a snapshot file.
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"LSMKRSNP";
/// The snapshot format this crate writes (and the only one it reads).
pub const SNAPSHOT_VERSION: u32 = 1;
/// Bytes before a snapshot's body: magic, version, body length.
pub const SNAPSHOT_PREFIX_LEN: usize = 16;
/// The largest snapshot body a reader accepts (a body lists tables, so
/// anything larger is damage, not data).
pub const MAX_SNAPSHOT_BODY: u32 = 16 << 20;
/// One table of a snapshot, as its header lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableEntry {
    /// Bytes of the table.
    pub size: u64,
    /// XXH3-64 of those bytes.
    pub checksum: u64,
}

/// What a snapshot's header says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// The cluster the snapshot was taken in.
    pub cluster: String,
    /// The last log id the snapshot includes.
    pub last_log_id: Option<LogId<NodeId>>,
    /// The last membership the snapshot includes.
    pub membership: StoredMembership<NodeId, BasicNode>,
    /// The snapshot's id.
    pub snapshot_id: String,
    /// The tables that follow the header, in order.
    pub tables: Vec<TableEntry>,
}

impl SnapshotHeader {
    /// The encoded header: prefix, body, body checksum.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        put_bytes(&mut body, self.cluster.as_bytes());
        put_opt_log_id(&mut body, self.last_log_id.as_ref());
        put_membership(&mut body, &self.membership);
        put_bytes(&mut body, self.snapshot_id.as_bytes());
        put_varint32(&mut body, self.tables.len() as u32);
        for table in &self.tables {
            put_fixed64(&mut body, table.size);
            put_fixed64(&mut body, table.checksum);
        }
        let mut out = Vec::with_capacity(SNAPSHOT_PREFIX_LEN + body.len() + 8);
        out.extend_from_slice(SNAPSHOT_MAGIC);
        put_fixed32(&mut out, SNAPSHOT_VERSION);
        put_fixed32(&mut out, body.len() as u32);
        out.extend_from_slice(&body);
        put_fixed64(&mut out, xxhash_rust::xxh3::xxh3_64(&body));
        out
    }

    /// The body length a snapshot's first [`SNAPSHOT_PREFIX_LEN`] bytes
    /// announce, after checking its magic and version.
    pub fn body_len(prefix: &[u8; SNAPSHOT_PREFIX_LEN]) -> Result<u32, DecodeError> {
        let mut d = Decoder::new(prefix);
        if &prefix[..8] != SNAPSHOT_MAGIC {
            return Err(d.error("not a snapshot file (bad magic)"));
        }
        d.fixed64("magic")?;
        let version = d.fixed32("format version")?;
        if version != SNAPSHOT_VERSION {
            return Err(DecodeError {
                offset: 8,
                what: format!(
                    "snapshot format version {version}, this reader knows {SNAPSHOT_VERSION}"
                ),
            });
        }
        let len = d.fixed32("body length")?;
        if len > MAX_SNAPSHOT_BODY {
            return Err(DecodeError {
                offset: 12,
                what: format!("snapshot header of {len} bytes exceeds {MAX_SNAPSHOT_BODY}"),
            });
        }
        Ok(len)
    }

    /// Decodes a body and its checksum (`src` is both, checksum last).
    /// Offsets in errors count from the start of the file.
    pub fn decode_body(src: &[u8]) -> Result<SnapshotHeader, DecodeError> {
        let at_file = |e: DecodeError| DecodeError {
            offset: e.offset + SNAPSHOT_PREFIX_LEN,
            what: e.what,
        };
        let split = src.len().checked_sub(8).ok_or_else(|| DecodeError {
            offset: SNAPSHOT_PREFIX_LEN,
            what: "snapshot header shorter than its checksum".into(),
        })?;
        let (body, checksum) = src.split_at(split);
        let stored = Decoder::new(checksum)
            .fixed64("header checksum")
            .map_err(at_file)?;
        let actual = xxhash_rust::xxh3::xxh3_64(body);
        if stored != actual {
            return Err(DecodeError {
                offset: SNAPSHOT_PREFIX_LEN + split,
                what: format!(
                    "header checksum mismatch: stored {stored:#018x}, computed {actual:#018x}"
                ),
            });
        }
        let mut d = Decoder::new(body);
        let header = (|| {
            let cluster = utf8(&mut d, "cluster name")?;
            let last_log_id = get_opt_log_id(&mut d)?;
            let membership = get_membership(&mut d, body.len())?;
            let snapshot_id = utf8(&mut d, "snapshot id")?;
            let count = get_count(&mut d, body.len(), 16, "table count")?;
            let mut tables = Vec::with_capacity(count);
            for _ in 0..count {
                let size = d.fixed64("table size")?;
                let checksum = d.fixed64("table checksum")?;
                tables.push(TableEntry { size, checksum });
            }
            finish(&d)?;
            Ok(SnapshotHeader {
                cluster,
                last_log_id,
                membership,
                snapshot_id,
                tables,
            })
        })();
        header.map_err(at_file)
    }
}

/// Reads a length-prefixed UTF-8 string.
fn utf8(d: &mut Decoder<'_>, what: &str) -> Result<String, DecodeError> {
    let at = d.offset();
    let bytes = d.bytes(what)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError {
        offset: at,
        what: format!("{what} is not UTF-8"),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use openraft::{CommittedLeaderId, Membership};

    use super::*;

    fn id(term: u64, node: u64, index: u64) -> LogId<NodeId> {
        LogId::new(CommittedLeaderId::new(term, node), index)
    }

    #[test]
    fn snapshot_headers_round_trip_and_check_their_checksum() {
        let header = SnapshotHeader {
            cluster: "test".into(),
            last_log_id: Some(id(2, 1, 40)),
            membership: StoredMembership::new(
                Some(id(1, 1, 1)),
                Membership::new(vec![BTreeSet::from([1, 2, 3])], ()),
            ),
            snapshot_id: "2-1-40-1".into(),
            tables: vec![TableEntry {
                size: 100,
                checksum: 7,
            }],
        };
        let bytes = header.encode();
        let prefix: [u8; SNAPSHOT_PREFIX_LEN] = bytes[..SNAPSHOT_PREFIX_LEN].try_into().unwrap();
        let len = SnapshotHeader::body_len(&prefix).unwrap() as usize;
        assert_eq!(bytes.len(), SNAPSHOT_PREFIX_LEN + len + 8);
        assert_eq!(
            SnapshotHeader::decode_body(&bytes[SNAPSHOT_PREFIX_LEN..]),
            Ok(header)
        );
        let mut damaged = bytes[SNAPSHOT_PREFIX_LEN..].to_vec();
        damaged[3] ^= 1;
        let err = SnapshotHeader::decode_body(&damaged).unwrap_err();
        assert!(err.what.contains("checksum mismatch"), "{err:?}");
    }
}
