//! Every byte lsmkit-raft puts on disk: where the Raft log, the vote and
//! the state machine live in the engine's key space, how log entries,
//! commands and log ids are encoded, and the header of a snapshot file.
//!
//! One engine database holds everything, so that one WAL (and one fsync)
//! orders the log, the vote and the state machine:
//!
//! ```text
//! key                      value
//! 0x00 'v'                 vote         (the vote; written durably)
//! 0x00 'c'                 log_id       (the committed log id)
//! 0x00 'p'                 log_id       (the last purged log id)
//! 0x01 index:be64          entry        (a log entry; big-endian, so keys sort by index)
//! 0x02 user_key            user value   (the state machine's data)
//! 0x03 'a'                 log_id       (last applied, in the batch of the data it applied)
//! 0x03 'm'                 membership   (the last applied membership)
//! ```
//!
//! A snapshot covers `[0x02, 0x04)`: the data and the state machine's own
//! last-applied id and membership, so that installing it replaces both at
//! once.
//!
//! ```text
//! vote       := term:fixed64 node:fixed64 committed:u8
//! log_id     := term:fixed64 node:fixed64 index:fixed64
//! opt_log_id := 0x00 | 0x01 log_id
//! entry      := log_id payload
//! payload    := 0x00                              (blank)
//!             | 0x01 command                      (normal)
//!             | 0x02 config                       (membership)
//! command    := 0x00 key:bytes value:bytes        (Put)
//!             | 0x01 key:bytes                    (Delete)
//!             | 0x02 start:bytes end:bytes        (DeleteRange of [start, end))
//!             | 0x03 count:varint32 command{count} (Batch; nested at most 8 deep)
//! config     := sets:varint32 (ids:varint32 id:fixed64{ids}){sets}
//!               nodes:varint32 (id:fixed64 addr:bytes){nodes}
//! membership := opt_log_id config
//! bytes      := len:varint32 byte{len}
//! ```
//!
//! Integers are little-endian except the index in a log key; varints are
//! LEB128 (`lsmkit_block::format`). Tags are frozen; a retired tag is never
//! reused.
//!
//! A snapshot file is a header followed by the SSTables it ships, each
//! whole, in key order:
//!
//! ```text
//! snapshot := magic:"LSMKRSNP" version:fixed32 body_len:fixed32 body
//!             body_checksum:fixed64 table{count}
//! body     := cluster:bytes last_log_id:opt_log_id membership
//!             snapshot_id:bytes count:varint32 (size:fixed64 checksum:fixed64){count}
//! ```
//!
//! Checksums are XXH3-64 (the body's over the body, each table's over its
//! bytes). A reader refuses a file whose magic, version, cluster or
//! checksums do not match before it ingests anything.

use std::collections::{BTreeMap, BTreeSet};

use lsmkit_block::format::{put_fixed64, put_varint32};
use lsmkit_engine::format::{DecodeError, Decoder, put_bytes};
use openraft::{BasicNode, EntryPayload, LogId, Membership, StoredMembership, Vote};

mod snapshot;

pub use snapshot::{
    MAX_SNAPSHOT_BODY, SNAPSHOT_MAGIC, SNAPSHOT_PREFIX_LEN, SNAPSHOT_VERSION, SnapshotHeader,
    TableEntry,
};

use crate::command::Command;
use crate::{Entry, NodeId};

/// The key of the vote.
pub const VOTE_KEY: &[u8] = b"\x00v";
/// The key of the committed log id.
pub const COMMITTED_KEY: &[u8] = b"\x00c";
/// The key of the last purged log id.
pub const PURGED_KEY: &[u8] = b"\x00p";
/// The first byte of every log entry key.
pub const LOG_PREFIX: u8 = 0x01;
/// The first key after every log entry.
pub const LOG_END: &[u8] = b"\x02";
/// The first byte of every state machine data key.
pub const DATA_PREFIX: u8 = 0x02;
/// The first key of what a snapshot covers.
pub const SNAPSHOT_START: &[u8] = b"\x02";
/// The first key after what a snapshot covers.
pub const SNAPSHOT_END: &[u8] = b"\x04";
/// The key of the state machine's last applied log id.
pub const APPLIED_KEY: &[u8] = b"\x03a";
/// The key of the state machine's last applied membership.
pub const MEMBERSHIP_KEY: &[u8] = b"\x03m";

/// Batches nested deeper than this are refused when decoded.
pub const MAX_BATCH_DEPTH: usize = 8;

/// Tags of an entry's payload. Frozen.
mod payload_tag {
    pub const BLANK: u8 = 0;
    pub const NORMAL: u8 = 1;
    pub const MEMBERSHIP: u8 = 2;
}

/// Tags of a command. Frozen.
mod command_tag {
    pub const PUT: u8 = 0;
    pub const DELETE: u8 = 1;
    pub const DELETE_RANGE: u8 = 2;
    pub const BATCH: u8 = 3;
}

/// The key of log entry `index`.
pub fn log_key(index: u64) -> [u8; 9] {
    let mut key = [LOG_PREFIX; 9];
    key[1..].copy_from_slice(&index.to_be_bytes());
    key
}

/// The index a log key names, if it is one.
pub fn log_index(key: &[u8]) -> Option<u64> {
    match key {
        [LOG_PREFIX, rest @ ..] => rest.try_into().ok().map(u64::from_be_bytes),
        _ => None,
    }
}

/// The engine key of user key `key` of the state machine.
pub fn data_key(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 1);
    out.push(DATA_PREFIX);
    out.extend_from_slice(key);
    out
}

/// Appends `vote`.
pub fn put_vote(out: &mut Vec<u8>, vote: &Vote<NodeId>) {
    put_fixed64(out, vote.leader_id.term);
    put_fixed64(out, vote.leader_id.node_id);
    out.push(u8::from(vote.committed));
}

/// Reads a vote.
pub fn get_vote(d: &mut Decoder<'_>) -> Result<Vote<NodeId>, DecodeError> {
    let term = d.fixed64("vote term")?;
    let node = d.fixed64("vote node")?;
    let committed = match d.u8("vote committed flag")? {
        0 => false,
        1 => true,
        other => return Err(d.error(format!("vote committed flag {other} is neither 0 nor 1"))),
    };
    let mut vote = Vote::new(term, node);
    vote.committed = committed;
    Ok(vote)
}

/// Appends `log_id`.
pub fn put_log_id(out: &mut Vec<u8>, log_id: &LogId<NodeId>) {
    put_fixed64(out, log_id.leader_id.term);
    put_fixed64(out, log_id.leader_id.node_id);
    put_fixed64(out, log_id.index);
}

/// Reads a log id.
pub fn get_log_id(d: &mut Decoder<'_>) -> Result<LogId<NodeId>, DecodeError> {
    let term = d.fixed64("log id term")?;
    let node = d.fixed64("log id node")?;
    let index = d.fixed64("log id index")?;
    Ok(LogId::new(
        openraft::CommittedLeaderId::new(term, node),
        index,
    ))
}

/// Appends an optional log id.
pub fn put_opt_log_id(out: &mut Vec<u8>, log_id: Option<&LogId<NodeId>>) {
    match log_id {
        None => out.push(0),
        Some(id) => {
            out.push(1);
            put_log_id(out, id);
        }
    }
}

/// Reads an optional log id.
pub fn get_opt_log_id(d: &mut Decoder<'_>) -> Result<Option<LogId<NodeId>>, DecodeError> {
    match d.u8("log id presence")? {
        0 => Ok(None),
        1 => get_log_id(d).map(Some),
        other => Err(d.error(format!("log id presence flag {other} is neither 0 nor 1"))),
    }
}

/// Appends a membership config: its voter sets and its nodes.
fn put_config(out: &mut Vec<u8>, membership: &Membership<NodeId, BasicNode>) {
    let sets = membership.get_joint_config();
    put_varint32(out, sets.len() as u32);
    for set in sets {
        put_varint32(out, set.len() as u32);
        for id in set {
            put_fixed64(out, *id);
        }
    }
    let nodes: Vec<_> = membership.nodes().collect();
    put_varint32(out, nodes.len() as u32);
    for (id, node) in nodes {
        put_fixed64(out, *id);
        put_bytes(out, node.addr.as_bytes());
    }
}

/// Reads a count that is followed by at least `min_item_len` bytes per
/// item, refusing one the rest of the input cannot hold (so that no
/// allocation exceeds the input).
pub(crate) fn get_count(
    d: &mut Decoder<'_>,
    left: usize,
    min_item_len: usize,
    what: &str,
) -> Result<usize, DecodeError> {
    let count = d.varint32(what)? as usize;
    if count.saturating_mul(min_item_len) > left.saturating_sub(d.offset()) {
        return Err(d.error(format!("{what} {count} exceeds the bytes left")));
    }
    Ok(count)
}

/// Reads a membership config.
fn get_config(
    d: &mut Decoder<'_>,
    len: usize,
) -> Result<Membership<NodeId, BasicNode>, DecodeError> {
    let sets = get_count(d, len, 1, "voter set count")?;
    let mut configs = Vec::with_capacity(sets);
    for _ in 0..sets {
        let ids = get_count(d, len, 8, "voter count")?;
        let mut set = BTreeSet::new();
        for _ in 0..ids {
            set.insert(d.fixed64("voter id")?);
        }
        configs.push(set);
    }
    let count = get_count(d, len, 9, "node count")?;
    let mut nodes = BTreeMap::new();
    for _ in 0..count {
        let id = d.fixed64("node id")?;
        let at = d.offset();
        let addr = std::str::from_utf8(d.bytes("node address")?).map_err(|_| DecodeError {
            offset: at,
            what: "node address is not UTF-8".into(),
        })?;
        nodes.insert(id, BasicNode::new(addr));
    }
    Ok(Membership::new(configs, nodes))
}

/// Appends a stored membership (the log id it was applied at, and itself).
pub fn put_membership(out: &mut Vec<u8>, membership: &StoredMembership<NodeId, BasicNode>) {
    put_opt_log_id(out, membership.log_id().as_ref());
    put_config(out, membership.membership());
}

/// Reads a stored membership.
pub fn get_membership(
    d: &mut Decoder<'_>,
    len: usize,
) -> Result<StoredMembership<NodeId, BasicNode>, DecodeError> {
    let log_id = get_opt_log_id(d)?;
    Ok(StoredMembership::new(log_id, get_config(d, len)?))
}

/// Appends `command`.
pub fn put_command(out: &mut Vec<u8>, command: &Command) {
    match command {
        Command::Put { key, value } => {
            out.push(command_tag::PUT);
            put_bytes(out, key);
            put_bytes(out, value);
        }
        Command::Delete { key } => {
            out.push(command_tag::DELETE);
            put_bytes(out, key);
        }
        Command::DeleteRange { start, end } => {
            out.push(command_tag::DELETE_RANGE);
            put_bytes(out, start);
            put_bytes(out, end);
        }
        Command::Batch(commands) => {
            out.push(command_tag::BATCH);
            put_varint32(out, commands.len() as u32);
            for command in commands {
                put_command(out, command);
            }
        }
    }
}

/// Reads a command; `len` is the length of the whole input.
pub fn get_command(d: &mut Decoder<'_>, len: usize, depth: usize) -> Result<Command, DecodeError> {
    let at = d.offset();
    Ok(match d.u8("command tag")? {
        command_tag::PUT => Command::Put {
            key: d.bytes("put key")?.to_vec(),
            value: d.bytes("put value")?.to_vec(),
        },
        command_tag::DELETE => Command::Delete {
            key: d.bytes("delete key")?.to_vec(),
        },
        command_tag::DELETE_RANGE => Command::DeleteRange {
            start: d.bytes("range start")?.to_vec(),
            end: d.bytes("range end")?.to_vec(),
        },
        command_tag::BATCH if depth >= MAX_BATCH_DEPTH => {
            return Err(DecodeError {
                offset: at,
                what: format!("batch nested more than {MAX_BATCH_DEPTH} deep"),
            });
        }
        command_tag::BATCH => {
            // Every command is at least its tag and one length byte.
            let count = get_count(d, len, 2, "batch size")?;
            let mut commands = Vec::with_capacity(count);
            for _ in 0..count {
                commands.push(get_command(d, len, depth + 1)?);
            }
            Command::Batch(commands)
        }
        other => {
            return Err(DecodeError {
                offset: at,
                what: format!("unknown command tag {other}"),
            });
        }
    })
}

/// Encodes a log entry.
pub fn encode_entry(entry: &Entry) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    put_log_id(&mut out, &entry.log_id);
    match &entry.payload {
        EntryPayload::Blank => out.push(payload_tag::BLANK),
        EntryPayload::Normal(command) => {
            out.push(payload_tag::NORMAL);
            put_command(&mut out, command);
        }
        EntryPayload::Membership(membership) => {
            out.push(payload_tag::MEMBERSHIP);
            put_config(&mut out, membership);
        }
    }
    out
}

/// Decodes a log entry, every byte of `src`.
pub fn decode_entry(src: &[u8]) -> Result<Entry, DecodeError> {
    let mut d = Decoder::new(src);
    let log_id = get_log_id(&mut d)?;
    let at = d.offset();
    let payload = match d.u8("entry payload tag")? {
        payload_tag::BLANK => EntryPayload::Blank,
        payload_tag::NORMAL => EntryPayload::Normal(get_command(&mut d, src.len(), 0)?),
        payload_tag::MEMBERSHIP => EntryPayload::Membership(get_config(&mut d, src.len())?),
        other => {
            return Err(DecodeError {
                offset: at,
                what: format!("unknown entry payload tag {other}"),
            });
        }
    };
    finish(&d)?;
    Ok(Entry { log_id, payload })
}

/// Refuses bytes left after a value.
pub fn finish(d: &Decoder<'_>) -> Result<(), DecodeError> {
    if d.is_empty() {
        Ok(())
    } else {
        Err(d.error("bytes after the end of the value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::CommittedLeaderId;
    use proptest::prelude::*;

    fn id(term: u64, node: u64, index: u64) -> LogId<NodeId> {
        LogId::new(CommittedLeaderId::new(term, node), index)
    }

    fn command() -> impl Strategy<Value = Command> {
        let bytes = || proptest::collection::vec(any::<u8>(), 0..8);
        let leaf = prop_oneof![
            (bytes(), bytes()).prop_map(|(key, value)| Command::Put { key, value }),
            bytes().prop_map(|key| Command::Delete { key }),
            (bytes(), bytes()).prop_map(|(start, end)| Command::DeleteRange { start, end }),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            proptest::collection::vec(inner, 0..4).prop_map(Command::Batch)
        })
    }

    proptest! {
        #[test]
        fn entries_round_trip(command in command(), term in 0u64..9, index: u64) {
            let entry = Entry { log_id: id(term, 2, index), payload: EntryPayload::Normal(command) };
            prop_assert_eq!(decode_entry(&encode_entry(&entry)).ok(), Some(entry));
        }

        #[test]
        fn damaged_entries_are_errors(command in command(), cut: prop::sample::Index, flip: prop::sample::Index) {
            let entry = Entry { log_id: id(1, 2, 3), payload: EntryPayload::Normal(command) };
            let encoded = encode_entry(&entry);
            // Every truncation is refused; a flipped byte is refused or
            // decodes to something, never panics.
            prop_assert!(decode_entry(&encoded[..cut.index(encoded.len())]).is_err());
            let mut flipped = encoded.clone();
            let at = flip.index(flipped.len());
            flipped[at] ^= 0xff;
            let _ = decode_entry(&flipped);
        }
    }

    #[test]
    fn membership_entries_round_trip() {
        let nodes = BTreeMap::from([
            (1, BasicNode::new("127.0.0.1:1")),
            (4, BasicNode::new("127.0.0.1:4")),
        ]);
        let membership =
            Membership::new(vec![BTreeSet::from([1, 2]), BTreeSet::from([2, 3])], nodes);
        let entry = Entry {
            log_id: id(3, 1, 9),
            payload: EntryPayload::Membership(membership),
        };
        assert_eq!(decode_entry(&encode_entry(&entry)), Ok(entry));
    }

    #[test]
    fn a_huge_count_is_refused_without_allocating() {
        let mut src = Vec::new();
        put_log_id(&mut src, &id(1, 1, 1));
        src.push(payload_tag::NORMAL);
        src.push(command_tag::BATCH);
        put_varint32(&mut src, u32::MAX);
        let err = decode_entry(&src).unwrap_err();
        assert!(err.what.contains("batch size"), "{err:?}");
    }

    #[test]
    fn deep_batches_are_refused() {
        let mut command = Command::Delete { key: b"k".to_vec() };
        for _ in 0..=MAX_BATCH_DEPTH {
            command = Command::Batch(vec![command]);
        }
        let entry = Entry {
            log_id: id(1, 1, 1),
            payload: EntryPayload::Normal(command),
        };
        let err = decode_entry(&encode_entry(&entry)).unwrap_err();
        assert!(err.what.contains("nested"), "{err:?}");
    }

    #[test]
    fn votes_and_log_ids_round_trip() {
        for vote in [Vote::new(0, 0), Vote::new_committed(7, 3)] {
            let mut out = Vec::new();
            put_vote(&mut out, &vote);
            assert_eq!(get_vote(&mut Decoder::new(&out)), Ok(vote));
        }
        let mut out = Vec::new();
        put_opt_log_id(&mut out, None);
        put_opt_log_id(&mut out, Some(&id(5, 6, 7)));
        let mut d = Decoder::new(&out);
        assert_eq!(get_opt_log_id(&mut d), Ok(None));
        assert_eq!(get_opt_log_id(&mut d), Ok(Some(id(5, 6, 7))));
    }

    #[test]
    fn log_keys_sort_by_index() {
        assert!(log_key(255) < log_key(256));
        assert_eq!(log_index(&log_key(u64::MAX)), Some(u64::MAX));
        assert!(&log_key(u64::MAX)[..] < LOG_END);
        assert_eq!(log_index(b"\x01short"), None);
    }
}
