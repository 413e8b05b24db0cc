//! `lsmkit`: benchmark lsmkit, and look inside its files.
//!
//! Exit status: 0 on success, 1 when a command fails (one line on stderr
//! naming the file and the problem), 2 on a usage error.
#![deny(unsafe_code)]

/// jemalloc, not the system allocator. With glibc's malloc, the writer
/// thread of `lsmkit bench` stalled for 8 to 80 ms now and then (the
/// worst `fillrandom` and `overwrite` writes of 1,000,000 keys, this
/// project's 2-core VM), when a flush thread freed a memtable's
/// hundreds of thousands of entries into the arena the writer allocates
/// from; under jemalloc the worst write was 1.7 to 4.4 ms, and the writes
/// 10 to 40% faster. The library crates leave the choice to the
/// application.
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options for this binary (`_RJEM_MALLOC_CONF` in the
/// environment still overrides them). By default jemalloc keeps freed
/// pages for about 10 s and returns them only while the program allocates:
/// a flushed 64 MiB memtable, or a finished compaction's buffers, stayed
/// resident while the block cache filled, and `lsmkit bench` peaked 40 to
/// 90 MiB higher (1,000,000 keys, this project's 2-core VM). Returning them
/// within a second from a background thread cost no throughput there.
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[allow(unsafe_code, non_upper_case_globals)]
// SAFETY: jemalloc reads this symbol once, at its initialization, as a
// `const char *` (tikv-jemalloc-sys declares it so, `_rjem_` being the
// prefix of its symbols): a thin pointer to a NUL-terminated string, as a
// reference to this static byte array is. Nothing writes it, and only
// jemalloc and this definition name it.
#[unsafe(export_name = "_rjem_malloc_conf")]
static malloc_conf: &[u8; 60] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

mod bytes;
mod commands;
mod failure;
mod pairs;

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use commands::bench::BenchArgs;
use commands::checkpoint::CheckpointArgs;
use commands::create::CreateIfMissing;
use commands::db::{DbArgs, ScanArgs};
use commands::dump::DumpArgs;
use commands::ingest::IngestArgs;
use commands::keyspace::KeyspaceCommand;
use commands::load::LoadArgs;
use commands::sst::SstCommand;
use commands::wal::WalCommand;
use failure::{Failure, one_line};

/// lsmkit's tool: db_bench-style benchmarks, and sst_dump and ldb for
/// lsmkit's files.
///
/// Commands that only read files (sst, wal, manifest) open them read-only
/// and never change them; so do get, scan, stats and dump, which open the
/// database read-only; create, put, delete, load, compact and checkpoint
/// open it with lsmkit-engine for writing, whose recovery writes (see
/// their help). Exit
/// status: 0 ok, 1 the command failed (one line on stderr), 2 usage error.
#[derive(Debug, Parser)]
#[command(name = "lsmkit", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run db_bench-style workloads and print a table of the results.
    Bench(BenchArgs),
    /// Look inside an SSTable file (read-only).
    Sst {
        #[command(subcommand)]
        command: SstCommand,
    },
    /// Look inside a write-ahead log (read-only).
    Wal {
        #[command(subcommand)]
        command: WalCommand,
    },
    /// Print the current version from a database's manifest: its sorted
    /// runs, their tables, sizes, key and sequence number ranges.
    /// Read-only: the database is not opened.
    Manifest {
        /// The database directory.
        dir: PathBuf,
    },
    /// Create an empty database in DIR, which must not exist or be empty.
    Create {
        /// The database directory.
        #[arg(long, value_name = "DIR")]
        db: PathBuf,
    },
    /// Write many key/value pairs from a file or stdin in WriteBatches,
    /// then sync: durable when it prints its summary.
    ///
    /// On malformed input the error names the input and the line; every
    /// pair before that line is written and synced, nothing from it on,
    /// and the error says how many pairs went in. The database must exist,
    /// unless --create-if-missing.
    #[command(after_help = pairs::FORMATS_HELP)]
    Load(LoadArgs),
    /// Write every live pair in key order, in a format `load` reads back.
    ///
    /// The database must exist; it is opened read-only: the WAL is
    /// replayed into memory and nothing on disk is written, so this works
    /// while another process has the database open.
    #[command(after_help = pairs::FORMATS_HELP)]
    Dump(DumpArgs),
    /// Print the value of KEY (exit 1 when it is absent).
    #[command(after_help = commands::db::READ_ONLY)]
    Get {
        #[command(flatten)]
        db: DbArgs,
        /// The key.
        key: String,
    },
    /// Set KEY to VALUE, durably. The database must exist, unless
    /// --create-if-missing.
    #[command(after_help = commands::db::RECOVERY_WRITES)]
    Put {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        create: CreateIfMissing,
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Delete KEY, durably.
    #[command(after_help = commands::db::RECOVERY_WRITES)]
    Delete {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        create: CreateIfMissing,
        /// The key.
        key: String,
    },
    /// Print the live entries in key order.
    #[command(after_help = commands::db::READ_ONLY)]
    Scan(ScanArgs),
    /// Flush and merge every sorted run into one.
    #[command(after_help = commands::db::RECOVERY_WRITES)]
    Compact(commands::db::CompactArgs),
    /// Print the engine's statistics: runs, tables, memtable.
    #[command(after_help = commands::db::READ_ONLY)]
    Stats {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Write a consistent copy of the database into a new directory.
    #[command(after_help = commands::db::RECOVERY_WRITES)]
    Checkpoint(CheckpointArgs),
    /// Ingest external tables: hard-linked in (copied where links fail)
    /// as one write newer than everything in the database.
    #[command(after_help = commands::db::RECOVERY_WRITES)]
    Ingest(IngestArgs),
    /// Create, drop or list keyspaces (RocksDB's column families); the
    /// other commands take --keyspace NAME.
    Keyspace {
        #[command(subcommand)]
        command: KeyspaceCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = run(&cli.command, &mut out).and_then(|()| out.flush().map_err(Failure::from));
    match result {
        Ok(()) | Err(Failure::BrokenPipe) => ExitCode::SUCCESS,
        Err(Failure::Message(message)) => {
            // Whatever was printed before the failure goes out first.
            let _ = out.flush();
            eprintln!("lsmkit: {}", one_line(&message));
            ExitCode::FAILURE
        }
    }
}

fn run(command: &Command, out: &mut dyn Write) -> Result<(), Failure> {
    match command {
        Command::Bench(args) => commands::bench::run(args, out),
        Command::Sst { command } => commands::sst::run(command, out),
        Command::Wal { command } => commands::wal::run(command, out),
        Command::Manifest { dir } => commands::db::manifest(dir, out),
        Command::Get { db, key } => commands::db::get(db, key, out),
        Command::Put {
            db,
            create,
            key,
            value,
        } => commands::db::write(db, create, key, Some(value)),
        Command::Delete { db, create, key } => commands::db::write(db, create, key, None),
        Command::Create { db } => commands::create::create(db, out),
        Command::Load(args) => commands::load::load(args, out),
        Command::Dump(args) => commands::dump::dump(args, out),
        Command::Scan(args) => commands::db::scan(args, out),
        Command::Compact(args) => commands::db::compact(args, out),
        Command::Stats { db } => commands::db::stats(db, out),
        Command::Checkpoint(args) => commands::checkpoint::run(args, out),
        Command::Ingest(args) => commands::ingest::run(args, out),
        Command::Keyspace { command } => commands::keyspace::run(command, out),
    }
}
