//! Compaction filters: a rule of the user's, consulted at compaction for
//! each value only the newest state can read, that keeps, removes or
//! rewrites it; and [`TtlFilter`], which removes values past their age.
//!
//! # Which entries a filter sees
//!
//! A filter sees a key's newest surviving version when it is a value
//! ([`ValueKind::Put`]) that no live snapshot reads: its sequence number is
//! above every snapshot of the job. A version some snapshot reads is passed
//! through unchanged, so that the snapshot goes on reading what it read; it
//! is filtered by a later compaction, once the snapshot is released.
//! Tombstones, and the older versions kept for snapshots, are never shown.
//!
//! # What a removal writes
//!
//! Dropping a value could bring an older version of the key back to life
//! (one kept for a snapshot, or one in an older run the compaction does not
//! read), so a removed value becomes a point tombstone of its own sequence
//! number. At the bottom (`bottommost`) with no older version of the key in
//! the output, the tombstone would hide nothing, and is not written.
//!
//! # Snapshots taken while the compaction runs
//!
//! A snapshot taken after the job's snapshot list was read reads at or
//! above every input, so it could read a value the filter then changes.
//! [`FilterStats::min_seqno`] is the smallest sequence number the filter
//! changed or removed: an engine installs the output only if no live
//! snapshot is at or above it, checked under the lock that orders snapshot
//! creation, and otherwise runs the compaction again with the new snapshot
//! list (lsmkit-engine does).
//!
//! # Example
//!
//! ```
//! use std::path::PathBuf;
//! use std::sync::Arc;
//! use lsmkit_compaction::{CompactionFilter, CompactionJob, Decision, FilterContext, execute};
//! use lsmkit_sstable::{SstOptions, SstReader, SstWriter};
//! use lsmkit_vfs::{Fs, MemFs};
//!
//! /// Drops the values of keys under `tmp/`.
//! struct DropTemporary;
//!
//! impl CompactionFilter for DropTemporary {
//!     fn name(&self) -> &str {
//!         "DropTemporary"
//!     }
//!     fn filter(&self, key: &[u8], _value: &[u8], _: &FilterContext) -> Decision {
//!         if key.starts_with(b"tmp/") { Decision::Remove } else { Decision::Keep }
//!     }
//! }
//!
//! let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
//! fs.create_dir_all("/db".as_ref())?;
//! let mut writer = SstWriter::create(fs.clone(), "/db/in.sst", SstOptions::default())?;
//! writer.put(b"keep/a", 1, b"1")?;
//! writer.put(b"tmp/b", 2, b"2")?;
//! writer.finish()?;
//!
//! let job = CompactionJob {
//!     inputs: vec![PathBuf::from("/db/in.sst")],
//!     snapshots: Vec::new(),
//!     bottommost: true,
//!     target_file_size: 64 << 20,
//!     table_options: SstOptions::default(),
//!     lower: Vec::new(),
//!     upper: None,
//!     filter: Some(Arc::new(DropTemporary)),
//!     merge_operator: None,
//! };
//! let outcome = execute(&fs, &job, || PathBuf::from("/db/out.sst"))?;
//! assert_eq!(outcome.filter.removed, 1);
//! let table = SstReader::open(&*fs, PathBuf::from("/db/out.sst"))?;
//! assert_eq!(table.properties().num_entries, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lsmkit_sstable::key::{self, SeqNo};
use lsmkit_sstable::{ParsedKey, ValueKind};

use crate::Error;

/// What a [`CompactionFilter`] does with one value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The value stays as it is.
    Keep,
    /// The key is deleted as of the value's sequence number.
    Remove,
    /// The value is replaced by these bytes, at the same sequence number.
    Change(Vec<u8>),
}

/// Where a filtered value is being compacted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FilterContext {
    /// The output is the oldest data: no older version of any key exists
    /// outside the compaction.
    pub bottommost: bool,
}

/// A rule consulted at compaction for each value only the newest state
/// reads (see the [module docs](self)).
///
/// Called from the compaction thread, once per value, possibly more than
/// once for the same value (a compaction that fails or is run again calls
/// it again): it must decide the same way each time, or at least accept
/// any of its decisions standing.
pub trait CompactionFilter: Send + Sync {
    /// A name for logs and errors.
    fn name(&self) -> &str;

    /// What to do with `value`, the newest version of `key`.
    fn filter(&self, key: &[u8], value: &[u8], context: &FilterContext) -> Decision;
}

impl fmt::Debug for dyn CompactionFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CompactionFilter")
            .field(&self.name())
            .finish()
    }
}

/// What a filter did in one compaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FilterStats {
    /// Values shown to the filter.
    pub consulted: u64,
    /// Values it removed.
    pub removed: u64,
    /// Values it changed.
    pub changed: u64,
    /// The smallest sequence number of a value it removed or changed:
    /// a snapshot at or above it must not read the output.
    pub min_seqno: Option<SeqNo>,
}

impl FilterStats {
    /// Adds `other`'s counts to these: the stats of a compaction run in
    /// parts.
    pub fn absorb(&mut self, other: &FilterStats) {
        self.consulted += other.consulted;
        self.removed += other.removed;
        self.changed += other.changed;
        self.min_seqno = match (self.min_seqno, other.min_seqno) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Applies a filter to the entries a compaction stream keeps, in their
/// order, handing each entry of the output to a sink.
pub(crate) struct Filtering<'f> {
    filter: Option<&'f dyn CompactionFilter>,
    /// Entries above this are read only by the newest state.
    newest_snapshot: Option<SeqNo>,
    context: FilterContext,
    user_key: Vec<u8>,
    started: bool,
    /// At the bottom, the tombstone of a removed value, written only if an
    /// older version of its key follows.
    held: Option<Vec<u8>>,
    scratch: Vec<u8>,
    /// Entries seen, to name a bad one by its position.
    seen: u64,
    stats: FilterStats,
}

impl<'f> Filtering<'f> {
    pub fn new(
        filter: Option<&'f dyn CompactionFilter>,
        snapshots: &[SeqNo],
        bottommost: bool,
    ) -> Filtering<'f> {
        Filtering {
            filter,
            newest_snapshot: snapshots.iter().copied().max(),
            context: FilterContext { bottommost },
            user_key: Vec::new(),
            started: false,
            held: None,
            scratch: Vec::new(),
            seen: 0,
            stats: FilterStats::default(),
        }
    }

    /// Filters one kept entry, handing what the output holds to `sink`.
    pub fn entry(
        &mut self,
        internal_key: &[u8],
        value: &[u8],
        sink: &mut impl FnMut(&[u8], &[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let Some(filter) = self.filter else {
            return sink(internal_key, value);
        };
        let parsed = ParsedKey::parse(internal_key).ok_or_else(|| Error::BadKey {
            index: self.seen,
            key: internal_key.to_vec(),
            what: "too short for its trailer, or an unknown kind",
        })?;
        self.seen += 1;
        let newest = !self.started || parsed.user_key != self.user_key.as_slice();
        if newest {
            // The held tombstone's key has no older version: it hides nothing.
            self.held = None;
            self.started = true;
            self.user_key.clear();
            self.user_key.extend_from_slice(parsed.user_key);
        } else if let Some(tombstone) = self.held.take() {
            sink(&tombstone, &[])?;
        }
        let unseen = self.newest_snapshot.is_none_or(|s| parsed.seqno > s);
        if !(newest && unseen && parsed.kind == ValueKind::Put) {
            return sink(internal_key, value);
        }
        self.stats.consulted += 1;
        match filter.filter(parsed.user_key, value, &self.context) {
            Decision::Keep => sink(internal_key, value),
            Decision::Change(changed) => {
                self.note(parsed.seqno, |s| &mut s.changed);
                sink(internal_key, &changed)
            }
            Decision::Remove => {
                self.note(parsed.seqno, |s| &mut s.removed);
                self.scratch.clear();
                key::encode(
                    parsed.user_key,
                    parsed.seqno,
                    ValueKind::Delete,
                    &mut self.scratch,
                );
                if self.context.bottommost {
                    self.held = Some(self.scratch.clone());
                    Ok(())
                } else {
                    sink(&self.scratch, &[])
                }
            }
        }
    }

    fn note(&mut self, seqno: SeqNo, count: impl FnOnce(&mut FilterStats) -> &mut u64) {
        *count(&mut self.stats) += 1;
        self.stats.min_seqno = Some(self.stats.min_seqno.map_or(seqno, |m| m.min(seqno)));
    }

    /// What the filter did.
    pub fn stats(&self) -> FilterStats {
        self.stats
    }
}

/// The clock a [`TtlFilter`] reads: seconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// The current time, in seconds since the Unix epoch.
    fn now_secs(&self) -> u64;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_secs(&self) -> u64 {
        // A clock before 1970 reads as 1970: nothing expires early.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// The length of the timestamp [`TtlFilter`] reads at the start of each
/// value.
pub const TTL_TIMESTAMP_LEN: usize = 8;

/// Prefixes `value` with `written_secs`, the write time in seconds since the
/// Unix epoch, as [`TtlFilter`] reads it: 8 bytes, big-endian.
pub fn ttl_value(written_secs: u64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(TTL_TIMESTAMP_LEN + value.len());
    out.extend_from_slice(&written_secs.to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// The write time and the user's value of a value made by [`ttl_value`];
/// `None` if it is shorter than the timestamp.
pub fn split_ttl_value(stored: &[u8]) -> Option<(u64, &[u8])> {
    let (stamp, value) = stored.split_first_chunk::<TTL_TIMESTAMP_LEN>()?;
    Some((u64::from_be_bytes(*stamp), value))
}

/// Removes values older than a time to live, by the write time the caller
/// put at the start of each value ([`ttl_value`]), as RocksDB's
/// `DBWithTTL` does.
///
/// A value is removed once `written + ttl <= now`. Like RocksDB's, the
/// removal happens at compaction: until a compaction reaches it, an expired
/// value is still read (check [`split_ttl_value`]'s time on read to hide
/// it sooner). A value too short to hold a timestamp is kept: the filter
/// never guesses.
pub struct TtlFilter {
    ttl: Duration,
    clock: Box<dyn Clock>,
}

impl TtlFilter {
    /// A filter removing values written more than `ttl` ago, by the system
    /// clock.
    pub fn new(ttl: Duration) -> TtlFilter {
        TtlFilter::with_clock(ttl, SystemClock)
    }

    /// A filter reading `clock` (a test's, or an application's own).
    pub fn with_clock(ttl: Duration, clock: impl Clock + 'static) -> TtlFilter {
        TtlFilter {
            ttl,
            clock: Box::new(clock),
        }
    }

    /// The time to live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

impl fmt::Debug for TtlFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TtlFilter").field("ttl", &self.ttl).finish()
    }
}

impl CompactionFilter for TtlFilter {
    fn name(&self) -> &str {
        "lsmkit.TtlFilter"
    }

    fn filter(&self, _key: &[u8], value: &[u8], _context: &FilterContext) -> Decision {
        match split_ttl_value(value) {
            Some((written, _))
                if written.saturating_add(self.ttl.as_secs()) <= self.clock.now_secs() =>
            {
                Decision::Remove
            }
            _ => Decision::Keep,
        }
    }
}
