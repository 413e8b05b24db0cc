//! `lsmkit bench`: db_bench's workloads through lsmkit-engine, with a
//! table (or JSON) of throughput, latency percentiles, write amplification,
//! disk usage and peak memory.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use lsmkit_cli::bench::{
    self, BenchConfig, Engine, LsmkitEngine, MemEngine, Progress, WorkloadSpec,
};
use lsmkit_engine::{Compression, Options};

use lsmkit_engine::CompactionStyle;

use crate::failure::Failure;

/// Keys per workload by default: half of db_bench's million, so that the
/// default run takes well under a minute on a small (2-core) machine;
/// `--num 1000000` runs db_bench's size.
const DEFAULT_NUM: u64 = 500_000;

/// The flags of `lsmkit bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Keys per workload (fillsync writes NUM / 1000, at least 100).
    #[arg(long, default_value_t = DEFAULT_NUM)]
    num: u64,
    /// Bytes per key (decimal digits, zero-padded).
    #[arg(long, default_value_t = 16)]
    key_size: usize,
    /// Bytes per value (half pseudo-random, half a repeat: compressible to
    /// about half).
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Threads for each workload that does not name its own.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seed of the keys' order and the values.
    #[arg(long, default_value_t = 301)]
    seed: u64,
    /// Workloads to run, in order, comma-separated; NAME:THREADS runs one
    /// on its own number of threads. Names: fillseq, fillrandom, overwrite,
    /// readrandom, readmissing, readseq, seekrandom, deleterandom,
    /// fillsync; and, only when named, mergerandom and readmodifywrite
    /// (counters incremented by merges, or by a read and a write).
    #[arg(long, value_delimiter = ',', default_values_t = WorkloadSpec::defaults())]
    workloads: Vec<WorkloadSpec>,
    /// Database directory, kept afterwards. It must be empty, missing, or
    /// left by an earlier `lsmkit bench`: fills delete its contents.
    /// Default: a fresh temporary directory, removed at the end.
    #[arg(long, value_name = "DIR")]
    db: Option<PathBuf>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// How to show progress on stderr.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    progress: ProgressArg,
    /// The engine to measure: lsmkit, or an in-memory map (the harness's
    /// own cost).
    #[arg(long, value_enum, default_value_t = EngineArg::Lsmkit)]
    engine: EngineArg,
    /// How lsmkit-engine compacts: tiered (its default) or leveled.
    #[arg(long, value_enum, default_value_t = StyleArg::Tiered)]
    compaction_style: StyleArg,
    /// Buffer lsmkit-engine's WAL records until a sync or close instead of
    /// one write(2) each (a crash of the process loses the buffered ones).
    #[arg(long)]
    manual_wal_flush: bool,
    /// Bytes of WAL space lsmkit-engine reserves ahead of the writer, which
    /// on Linux it fills through a memory map; 0 for none (one write(2) per
    /// record).
    #[arg(long, value_name = "BYTES", default_value_t = Options::default().wal_preallocate)]
    wal_preallocate: u64,
    /// lsmkit-engine syncs its WAL in the background each time this many
    /// bytes were appended (0: never), so that the sync closing a full
    /// segment, which runs in the writer, finds little left to write.
    #[arg(long, value_name = "BYTES", default_value_t = Options::default().wal_bytes_per_sync)]
    wal_bytes_per_sync: u64,
    /// The codec of lsmkit's data blocks (lz4 is the engine's default).
    #[arg(long, value_enum, default_value_t = CompressionArg::Lz4)]
    compression: CompressionArg,
    /// Operations of each read workload (db_bench's --reads); by default
    /// NUM. The keys read are drawn from all NUM.
    #[arg(long, value_name = "N")]
    reads: Option<u64>,
    /// Start each read workload cold: close the database, drop the page
    /// cache of its files (posix_fadvise DONTNEED; Linux only) and reopen
    /// it, so that the reads come from the disk. With a small
    /// --cache-mib and more data than memory this measures a database
    /// larger than memory.
    #[arg(long)]
    cold: bool,
    /// lsmkit's block cache, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(..=MAX_MIB))]
    cache_mib: u64,
    /// The most key-range parts, each on a thread of its own, that one
    /// lsmkit compaction is split into (`Options::max_subcompactions`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    subcompactions: u32,
    /// lsmkit's write buffer: the memtable is frozen and flushed at about
    /// this many MiB (`Options::write_buffer_size`).
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=MAX_MIB))]
    write_buffer_mib: u64,
    /// Frozen memtables waiting for their flush before lsmkit's writers
    /// stop (`Options::max_immutable_memtables`; RocksDB's
    /// `max_write_buffer_number` minus one).
    #[arg(long, value_name = "N", default_value_t = Options::default().max_immutable_memtables, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_immutable_memtables: usize,
    /// A budget in MiB for all of lsmkit's memtables, mutable and frozen
    /// (`Options::db_write_buffer_size`); 0 for none.
    #[arg(long, value_name = "MIB", default_value_t = 0, value_parser = clap::value_parser!(u64).range(..=MAX_MIB))]
    db_write_buffer_mib: u64,
}

/// The largest size in MiB a flag takes (1 TiB), so that none overflows
/// in bytes.
const MAX_MIB: u64 = 1 << 20;

/// `--compaction-style`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum StyleArg {
    /// Tiered (universal) compaction: merges whole runs of similar size.
    Tiered,
    /// Leveled compaction: L0, then levels of non-overlapping tables.
    Leveled,
}

/// `--compression`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompressionArg {
    /// Data blocks stored raw.
    None,
    /// LZ4: fast, about half the size on db_bench's values.
    Lz4,
    /// Zstandard at level 3: smaller, slower.
    Zstd,
}

impl CompressionArg {
    /// The engine's codec.
    pub fn codec(self) -> Compression {
        match self {
            CompressionArg::None => Compression::None,
            CompressionArg::Lz4 => Compression::Lz4,
            CompressionArg::Zstd => Compression::Zstd,
        }
    }
}

/// `--progress`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ProgressArg {
    /// A bar when stderr is a terminal, lines otherwise.
    Auto,
    /// A progress bar per workload.
    Bar,
    /// A line per workload.
    Lines,
    /// Nothing.
    None,
}

/// `--engine`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum EngineArg {
    /// lsmkit-engine.
    Lsmkit,
    /// A BTreeMap under a lock: nothing on disk.
    Memory,
}

/// Runs the benchmark, printing the results to `out`.
pub fn run(args: &BenchArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let config = BenchConfig {
        num: args.num,
        key_size: args.key_size,
        value_size: args.value_size,
        threads: args.threads,
        seed: args.seed,
        workloads: args.workloads.clone(),
        reads: args.reads,
        cold: args.cold,
    };
    let progress = match args.progress {
        ProgressArg::Auto => Progress::auto(),
        ProgressArg::Bar => Progress::Bar,
        ProgressArg::Lines => Progress::Lines,
        ProgressArg::None => Progress::Quiet,
    };
    match args.engine {
        EngineArg::Lsmkit => {
            let style = match args.compaction_style {
                StyleArg::Tiered => CompactionStyle::Tiered,
                StyleArg::Leveled => CompactionStyle::Leveled,
            };
            let engine = LsmkitEngine::new()
                .compaction_style(style)
                .manual_wal_flush(args.manual_wal_flush)
                .wal_preallocate(args.wal_preallocate)
                .wal_bytes_per_sync(args.wal_bytes_per_sync)
                .compression(args.compression.codec())
                .max_subcompactions(args.subcompactions as usize)
                .block_cache_size(args.cache_mib << 20)
                .write_buffer_size(args.write_buffer_mib << 20)
                .max_immutable_memtables(args.max_immutable_memtables)
                .db_write_buffer_size(args.db_write_buffer_mib << 20);
            run_on(&engine, args, &config, progress, out)
        }
        EngineArg::Memory => run_on(&MemEngine, args, &config, progress, out),
    }
}

fn run_on<E: Engine>(
    engine: &E,
    args: &BenchArgs,
    config: &BenchConfig,
    progress: Progress,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    // Dropped (and removed) after the run, when it is ours.
    let temporary;
    let dir = match &args.db {
        Some(dir) => dir.clone(),
        None => {
            temporary = tempfile::Builder::new()
                .prefix("lsmkit-bench-")
                .tempdir()
                .map_err(|e| Failure::new(format!("creating a temporary directory: {e}")))?;
            temporary.path().to_path_buf()
        }
    };
    let report = bench::run(engine, &dir, config, progress).map_err(Failure::new)?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report)
            .map_err(|e| Failure::from(std::io::Error::from(e)))?;
        writeln!(out)?;
    } else {
        write!(out, "{}", report.table())?;
    }
    Ok(())
}
