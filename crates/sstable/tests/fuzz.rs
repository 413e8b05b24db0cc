//! A fuzzer for the reader that runs on stable Rust: a seeded loop of
//! random mutations of valid tables (checksums repaired half the time, so
//! that structural checks are reached), each fed through open, iteration,
//! lookups and verify. Ignored by default; run it with
//!
//! ```text
//! LSMKIT_FUZZ_ITERS=1000000 LSMKIT_FUZZ_SEED=7 \
//!     cargo test --release -p lsmkit-sstable --test fuzz -- --ignored --nocapture
//! ```
//!
//! A panic prints the seed and iteration that reproduce it. For
//! coverage-guided fuzzing on nightly, see the crate README (cargo-fuzz).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{Model, Mutation, block_handles, exercise, mutate, small_model, small_options};
use lsmkit_sstable::RangeTombstone;
use lsmkit_vfs::{Fs, MemFs};
use proptest::prelude::Rng as _;
use proptest::test_runner::{RngAlgorithm, TestRng};

/// The fuzz loop's generator: proptest's, seeded from the command line.
struct FuzzRng(TestRng);

impl FuzzRng {
    fn new(seed: u64) -> FuzzRng {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        FuzzRng(TestRng::from_seed(RngAlgorithm::XorShift, &bytes))
    }

    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n.max(1)) as usize
    }
}

fn table_bytes(model: &Model) -> Vec<u8> {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    model.write(&fs, "/t.sst", small_options());
    let file = fs.open(std::path::Path::new("/t.sst")).unwrap();
    let mut bytes = vec![0; file.len() as usize];
    file.read_at(0, &mut bytes).unwrap();
    bytes
}

fn seeds() -> Vec<Vec<u8>> {
    let mut only_tombstones = Model::default();
    only_tombstones
        .tombstones
        .push(RangeTombstone::new(&b"a"[..], &b"m"[..], 3));
    vec![
        table_bytes(&small_model()),
        table_bytes(&Model::default()),
        table_bytes(&only_tombstones),
    ]
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore = "long-running fuzz loop; see the module docs"]
fn fuzz_reader_with_random_mutations() {
    let iters = env("LSMKIT_FUZZ_ITERS", 100_000);
    let seed = env("LSMKIT_FUZZ_SEED", 1);
    let tables: Vec<_> = seeds()
        .into_iter()
        .map(|t| {
            let handles = block_handles(&t);
            (t, handles)
        })
        .collect();
    let mut rng = FuzzRng::new(seed);
    let (mut opened, mut clean) = (0u64, 0u64);
    for i in 0..iters {
        let (table, handles) = &tables[rng.below(tables.len() as u64)];
        let ms: Vec<_> = (0..1 + rng.below(4))
            .map(|_| match rng.below(10) {
                0..=5 => Mutation::SetRepaired {
                    at: rng.next() as usize,
                    byte: rng.next() as u8,
                },
                6..=7 => Mutation::Set {
                    at: rng.next() as usize,
                    byte: rng.next() as u8,
                },
                8 => Mutation::Truncate {
                    len: rng.next() as usize,
                },
                _ => Mutation::Splice {
                    from: rng.next() as usize,
                    to: rng.next() as usize,
                    len: 1 + rng.below(64),
                },
            })
            .collect();
        let bytes = mutate(table, handles, &ms);
        let outcome = std::panic::catch_unwind(|| exercise(&bytes, i % 2 == 0));
        match outcome {
            Ok(Ok(())) => clean += 1,
            Ok(Err(_)) => {}
            Err(_) => panic!("panic at seed {seed} iteration {i}: {ms:?}"),
        }
        if common::open_bytes(&bytes, true).is_ok() {
            opened += 1;
        }
    }
    println!("{iters} iterations: {opened} opened, {clean} read and verified cleanly");
}
