//! The engines of the comparison, each behind the [`Store`] trait of
//! `lsmkit-cli`, and all configured alike:
//!
//! - data blocks compressed with the codec `--compression` names (off by
//!   default), where the engine has it: RocksDB has LZ4 and Zstandard,
//!   fjall LZ4 only (it runs uncompressed under `zstd`), and sled none
//!   (its `compression` feature needs a `zstd-sys` older than lsmkit's,
//!   and two cannot link into one binary);
//! - write-ahead log on, not synced, except for `fillsync`, whose every
//!   write waits for its log sync;
//! - 64 MiB write buffer (memtable);
//! - bloom filters of 10 bits per key;
//! - 64 MiB of block cache (sled's page cache), which holds decompressed
//!   blocks; lsmkit reads the files through memory maps, and every engine
//!   also reads through the OS page cache.
//!
//! lsmkit runs as `lsmkit` (tiered compaction, the engine's default),
//! `lsmkit-leveled`, and `lsmkit-buffered`: tiered with
//! `Options::manual_wal_flush`, its WAL records waiting in a 64 KiB buffer
//! as fjall's journal waits in an 8 KiB `BufWriter` by default (fjall 3.1,
//! `journal/writer.rs`). Both then lose the buffered tail of acknowledged
//! unsynced writes if the process crashes; lsmkit's default hands every
//! record to the OS with its own `write(2)` and loses them only if the
//! machine crashes. `lsmkit-buffered` against fjall compares like
//! promises.
//!
//! RocksDB, fjall and sled are compiled only with the cargo features of
//! the same names, so that `cargo test --workspace` never builds them.
//!
//! [`Store`]: lsmkit_cli::bench::Store

use std::path::Path;

use lsmkit_cli::bench::{self, BenchConfig, BenchError, LsmkitEngine, Progress, Report};
use lsmkit_engine::CompactionStyle;
pub use lsmkit_engine::Compression;

#[cfg(feature = "fjall")]
mod fjall;
#[cfg(feature = "rocksdb")]
mod rocksdb;
#[cfg(feature = "sled")]
mod sled;

/// The cache every engine with a block cache gets.
/// Every engine's block (or page) cache unless `compare --cache-mib` says
/// otherwise.
pub const CACHE_BYTES: usize = 64 << 20;
/// The write buffer (memtable) size of every engine.
pub const WRITE_BUFFER_BYTES: usize = 64 << 20;
/// Bloom filter bits per key for every engine.
pub const BLOOM_BITS_PER_KEY: u32 = 10;

/// The engines compiled into this build, lsmkit first.
pub fn available() -> Vec<&'static str> {
    let mut names = vec!["lsmkit", "lsmkit-leveled", "lsmkit-buffered"];
    if cfg!(feature = "rocksdb") {
        names.push("rocksdb");
    }
    if cfg!(feature = "fjall") {
        names.push("fjall");
    }
    if cfg!(feature = "sled") {
        names.push("sled");
    }
    names
}

/// Runs `config` against the engine named `name` in `dir`, its data
/// blocks compressed with `codec` where it can; `None` when this build
/// does not have it.
pub fn run(
    name: &str,
    dir: &Path,
    config: &BenchConfig,
    progress: Progress,
    codec: Compression,
    cache_bytes: usize,
) -> Option<Result<Report, BenchError>> {
    let lsmkit = || {
        LsmkitEngine::new()
            .compression(codec)
            .block_cache_size(cache_bytes as u64)
    };
    match name {
        "lsmkit" => Some(bench::run(&lsmkit(), dir, config, progress)),
        "lsmkit-leveled" => {
            let engine = lsmkit().compaction_style(CompactionStyle::Leveled);
            Some(bench::run(&engine, dir, config, progress))
        }
        "lsmkit-buffered" => {
            let engine = lsmkit().manual_wal_flush(true);
            Some(bench::run(&engine, dir, config, progress))
        }
        #[cfg(feature = "rocksdb")]
        "rocksdb" => Some(bench::run(
            &rocksdb::RocksEngine { codec, cache_bytes },
            dir,
            config,
            progress,
        )),
        #[cfg(feature = "fjall")]
        "fjall" => Some(bench::run(
            &fjall::FjallEngine { codec, cache_bytes },
            dir,
            config,
            progress,
        )),
        #[cfg(feature = "sled")]
        "sled" => Some(bench::run(
            &sled::SledEngine { cache_bytes },
            dir,
            config,
            progress,
        )),
        _ => None,
    }
}
