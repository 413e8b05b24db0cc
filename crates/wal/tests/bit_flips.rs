//! Bit flips at random positions of a synced multi-segment WAL, detected
//! by every recovery mode according to its rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::{record, recover};
use lsmkit_vfs::{Fs, MemFs};
use lsmkit_wal::format::BLOCK_SIZE;
use lsmkit_wal::{Position, RecoveryMode, SyncPolicy, WalOptions};

const DIR: &str = "/wal";

/// A record as written: its bytes, position and end offset.
struct Written {
    data: Vec<u8>,
    position: Position,
    end: u64,
}

impl Written {
    /// Whether the record lies wholly before byte `at` of `segment`.
    fn before(&self, segment: u64, at: u64) -> bool {
        self.position.segment < segment || (self.position.segment == segment && self.end <= at)
    }

    fn contains(&self, segment: u64, at: u64) -> bool {
        self.position.segment == segment && (self.position.offset..self.end).contains(&at)
    }
}

struct Fixture {
    mem: MemFs,
    fs: Arc<dyn Fs>,
    written: Vec<Written>,
    /// Each segment's number, path and bytes.
    segments: Vec<(u64, PathBuf, Vec<u8>)>,
}

fn fixture() -> Fixture {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let options = WalOptions {
        segment_size: 48 * 1024,
        sync: SyncPolicy::Never,
        // Flips land in written bytes only.
        preallocate: 0,
    };
    let wal = common::open_wal(&fs, DIR, options);
    let mut written = Vec::new();
    for i in 0..60u64 {
        // Mostly small records, some spanning blocks.
        let len = if i % 13 == 5 {
            40_000
        } else {
            (i as usize * 311) % 1500
        };
        let data = record(i, len);
        let appended = wal.append(&data).unwrap();
        let end = fs
            .size(&wal.segment_path(appended.position.segment))
            .unwrap();
        written.push(Written {
            data,
            position: appended.position,
            end,
        });
    }
    wal.sync().unwrap();
    let segments = wal
        .segments()
        .into_iter()
        .map(|s| {
            let path = wal.segment_path(s);
            let bytes = mem.open(&path).unwrap().as_bytes().unwrap().to_vec();
            (s, path, bytes)
        })
        .collect();
    drop(wal);
    Fixture {
        mem,
        fs,
        written,
        segments,
    }
}

impl Fixture {
    fn write_segment(&self, index: usize, bytes: &[u8]) {
        let mut file = self.mem.create(&self.segments[index].1).unwrap();
        file.append(bytes).unwrap();
        file.sync().unwrap();
    }
}

/// A SplitMix64 step: deterministic positions without a dependency.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[test]
fn every_mode_handles_bit_flips_by_its_rules() {
    let f = fixture();
    assert!(f.segments.len() >= 3);
    let newest = f.segments.last().unwrap().0;
    let last = f.written.last().unwrap();
    assert_eq!(
        last.position.segment, newest,
        "the newest segment holds records"
    );
    // The last fragment of the newest segment: damage there is a torn tail.
    let tail_start = last
        .position
        .offset
        .max((last.end - 1) / BLOCK_SIZE as u64 * BLOCK_SIZE as u64);

    let mut rng = 7;
    for trial in 0..120 {
        let newest_index = f.segments.len() - 1;
        let newest_len = f.segments[newest_index].2.len() as u64;
        // The first trials pin the torn-tail cases: the last byte, and the
        // header of the last fragment.
        let (index, at) = match trial {
            0 => (newest_index, newest_len - 1),
            1 => (newest_index, tail_start),
            2 => (newest_index, tail_start - 1),
            _ => {
                let index = (next(&mut rng) % f.segments.len() as u64) as usize;
                (index, next(&mut rng) % f.segments[index].2.len() as u64)
            }
        };
        let (segment, _, original) = &f.segments[index];
        let mut damaged = original.clone();
        damaged[at as usize] ^= 1 << (next(&mut rng) % 8);
        f.write_segment(index, &damaged);
        let context = format!("trial {trial}: segment {segment} byte {at}");

        // Any damage at all is an error.
        let (records, _) = recover(&f.fs, DIR, RecoveryMode::AbsoluteConsistency);
        assert!(records.unwrap_err().is_corruption(), "{context}");

        // Only damage in the newest segment's last fragment is a torn tail.
        // (Each reader is dropped before the next recovery: shadowing
        // would keep its files open.)
        let (records, reader) = recover(&f.fs, DIR, RecoveryMode::TolerateCorruptedTail);
        if *segment == newest && at >= tail_start {
            let records = records.unwrap();
            assert_eq!(records.len(), f.written.len() - 1, "{context}");
            let (tail_segment, tail) = reader.report().torn_tail().unwrap();
            assert_eq!(
                (tail_segment, tail.offset),
                (newest, last.position.offset),
                "{context}"
            );
        } else {
            assert!(records.unwrap_err().is_corruption(), "{context}");
        }
        drop(reader);

        // A gap-free prefix: exactly the records wholly before the flip.
        let (records, reader) = recover(&f.fs, DIR, RecoveryMode::PointInTime);
        let records = records.unwrap();
        let before: Vec<&Written> = f
            .written
            .iter()
            .filter(|w| w.before(*segment, at))
            .collect();
        assert_eq!(records.len(), before.len(), "{context}");
        assert!(
            records.iter().zip(&before).all(|(r, w)| r.data == w.data),
            "{context}"
        );
        let stop = reader.report().stopped_at.unwrap();
        assert!(
            stop.segment == *segment && stop.offset <= at,
            "{context}: {stop:?}"
        );

        // Every record away from the damaged block, none invented, in order.
        let (records, reader) = recover(&f.fs, DIR, RecoveryMode::SkipCorrupted);
        let records = records.unwrap();
        assert!(reader.report().skipped() >= 1, "{context}");
        let block = at / BLOCK_SIZE as u64 * BLOCK_SIZE as u64;
        let mut originals = f.written.iter();
        for record in &records {
            let original = originals
                .find(|w| w.position == record.position)
                .unwrap_or_else(|| {
                    panic!("{context}: invented or reordered {:?}", record.position)
                });
            assert_eq!(record.data, original.data, "{context}");
            assert!(
                !original.contains(*segment, at),
                "{context}: damaged record returned"
            );
        }
        for w in &f.written {
            let away = w.position.segment != *segment
                || w.end <= at
                || w.position.offset >= block + BLOCK_SIZE as u64;
            if away {
                assert!(
                    records.iter().any(|r| r.position == w.position),
                    "{context}: lost {:?}",
                    w.position
                );
            }
        }

        drop(reader);
        f.write_segment(index, original);
    }
}
