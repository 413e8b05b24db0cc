//! The database commands, RocksDB's ldb for lsmkit: `put`, `delete`,
//! `compact` open the database with lsmkit-engine for writing; `get`,
//! `scan`, `stats` open it read-only (`Db::open_read_only`), and
//! `manifest` reads the manifest alone.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use lsmkit_engine::format::{CURRENT, TableRecord, manifest_file_name};
use lsmkit_engine::{Db, Options, RecoveredManifest, WriteBatch, WriteOptions};
use lsmkit_vfs::StdFs;

use super::create::CreateIfMissing;
use super::keyspace::KeyspaceArg;
use crate::bytes::Encoding;
use crate::failure::Failure;

/// What opening a database for writing does to it, for the help texts.
pub const RECOVERY_WRITES: &str = "Opening the database runs lsmkit-engine's recovery, which writes: it replays the WAL, cuts a torn WAL tail, writes a new manifest and deletes obsolete files. It never changes what the database holds.";

/// What opening a database read-only does to it, for the help texts.
pub const READ_ONLY: &str = "The database is opened read-only: the WAL is replayed into memory and nothing on disk is written, so this works while another process has the database open.";

/// The database and how keys and values are written.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// The database directory.
    #[arg(long, value_name = "DIR")]
    db: PathBuf,
    /// How keys and values are given and shown: text (shown escaped) or
    /// hex.
    #[arg(long, value_enum, default_value_t = Encoding::Text)]
    encoding: Encoding,
    #[command(flatten)]
    keyspace: KeyspaceArg,
}

/// `lsmkit compact`'s flags.
#[derive(Debug, Args)]
pub struct CompactArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Split the compaction into up to this many key ranges, each merged
    /// on a thread of its own (`Options::max_subcompactions`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    subcompactions: u32,
}

/// `lsmkit scan`'s bounds.
#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    db: DbArgs,
    /// The first key (inclusive).
    #[arg(long)]
    from: Option<String>,
    /// The key to stop before (exclusive).
    #[arg(long)]
    to: Option<String>,
    /// Print at most this many entries.
    #[arg(long)]
    limit: Option<usize>,
}

/// Opens the database in `dir` for writing (`read_only` false) or
/// read-only; it must exist: the commands never create one.
pub fn open_existing(dir: &Path, read_only: bool) -> Result<Db, Failure> {
    open_existing_with(dir, read_only, Options::default())
}

/// [`open_existing`] with `options`.
fn open_existing_with(dir: &Path, read_only: bool, options: Options) -> Result<Db, Failure> {
    if !dir.join(CURRENT).is_file() {
        return Err(Failure::new(format!(
            "{}: not an lsmkit database (no {CURRENT} file)",
            dir.display()
        )));
    }
    let opened = if read_only {
        Db::open_read_only(dir, options)
    } else {
        Db::open(dir, options)
    };
    opened.map_err(|e| db_failure(dir, e))
}

/// `error` of the database in `dir`, as a command's failure.
pub fn db_failure(dir: &Path, error: lsmkit_engine::Error) -> Failure {
    match error {
        // It names the database already.
        lsmkit_engine::Error::Locked { .. } | lsmkit_engine::Error::ReadOnly { .. } => {
            Failure::new(error.to_string())
        }
        _ => Failure::new(format!("database {}: {error}", dir.display())),
    }
}

impl DbArgs {
    /// Opens the database for writing, with `options`.
    fn open_with(&self, options: Options) -> Result<Db, Failure> {
        open_existing_with(&self.db, false, options)
    }

    /// Opens the database read-only.
    fn open_read_only(&self) -> Result<Db, Failure> {
        open_existing(&self.db, true)
    }

    /// The keyspace given (by default, the default one) of `db`.
    fn keyspace(&self, db: &Db) -> Result<lsmkit_engine::Keyspace, Failure> {
        self.keyspace.of(db, &self.db)
    }

    fn failure(&self, error: lsmkit_engine::Error) -> Failure {
        db_failure(&self.db, error)
    }

    fn parse(&self, what: &str, given: &str) -> Result<Vec<u8>, Failure> {
        self.encoding
            .parse(given)
            .map_err(|e| Failure::new(format!("{what}: {e}")))
    }

    /// Closes `db`, reporting a background error it kept.
    fn close(&self, db: Db) -> Result<(), Failure> {
        db.close().map_err(|e| self.failure(e))
    }
}

/// `lsmkit get`: prints the value, or fails when the key is absent.
pub fn get(args: &DbArgs, key: &str, out: &mut dyn Write) -> Result<(), Failure> {
    let key = args.parse("key", key)?;
    let db = args.open_read_only()?;
    let value = args.keyspace(&db)?.get(&key).map_err(|e| args.failure(e))?;
    args.close(db)?;
    match value {
        Some(value) => {
            writeln!(out, "{}", args.encoding.show(&value))?;
            Ok(())
        }
        None => Err(Failure::new(format!(
            "{}: key {} not found",
            args.db.display(),
            args.encoding.show(&key)
        ))),
    }
}

/// `lsmkit put` (`value` Some) and `lsmkit delete`: one durable write.
pub fn write(
    args: &DbArgs,
    create: &CreateIfMissing,
    key: &str,
    value: Option<&str>,
) -> Result<(), Failure> {
    let key = args.parse("key", key)?;
    let value = value.map(|v| args.parse("value", v)).transpose()?;
    let db = create.open(&args.db)?;
    let keyspace = args.keyspace(&db)?;
    let mut batch = WriteBatch::new();
    match value {
        Some(value) => batch.put_in(&keyspace, &key, &value),
        None => batch.delete_in(&keyspace, &key),
    };
    db.write_with(batch, WriteOptions::durable())
        .map_err(|e| args.failure(e))?;
    args.close(db)
}

/// `lsmkit scan`: the live entries in `[from, to)`.
pub fn scan(args: &ScanArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let db_args = &args.db;
    let from = args
        .from
        .as_deref()
        .map(|k| db_args.parse("--from", k))
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(|k| db_args.parse("--to", k))
        .transpose()?;
    let db = db_args.open_read_only()?;
    let keyspace = db_args.keyspace(&db)?;
    let range = (
        from.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Included),
        to.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
    );
    for entry in keyspace.range(range).take(args.limit.unwrap_or(usize::MAX)) {
        let (key, value) = entry.map_err(|e| db_args.failure(e))?;
        writeln!(
            out,
            "{} => {}",
            db_args.encoding.show(&key),
            db_args.encoding.show(&value)
        )?;
    }
    db_args.close(db)
}

/// `lsmkit compact`: flush, merge every run into one, print the shape.
pub fn compact(compact: &CompactArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let args = &compact.db;
    let options = Options::default().max_subcompactions(compact.subcompactions as usize);
    let db = args.open_with(options)?;
    let keyspace = args.keyspace(&db)?;
    let before = keyspace.stats();
    keyspace.compact().map_err(|e| args.failure(e))?;
    let after = keyspace.stats();
    drop(keyspace);
    writeln!(
        out,
        "compacted {} (keyspace {}): {} runs ({} bytes) -> {} runs ({} bytes)",
        args.db.display(),
        args.keyspace.keyspace,
        before.runs(),
        before.run_bytes.iter().sum::<u64>(),
        after.runs(),
        after.run_bytes.iter().sum::<u64>()
    )?;
    args.close(db)
}

/// `lsmkit stats`: the shape of the database, opened read-only (whose
/// counters, of work since open, are all zero, so they are not shown).
pub fn stats(args: &DbArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let db = args.open_read_only()?;
    let s = args.keyspace(&db)?.stats();
    let rows: Vec<(&str, String)> = vec![
        ("keyspace", args.keyspace.keyspace.clone()),
        ("last seqno", s.last_seqno.to_string()),
        ("sorted runs", s.runs().to_string()),
        ("tables per run", format!("{:?}", s.tables_per_run)),
        ("bytes per run", format!("{:?}", s.run_bytes)),
        ("level per run", format!("{:?}", s.run_levels)),
        ("memtable bytes", s.memtable_bytes.to_string()),
        ("frozen memtables", format!("{:?}", s.frozen_memtable_bytes)),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<26} {value}")?;
    }
    args.close(db)
}

/// `lsmkit manifest DIR`: the current version, read from CURRENT and the
/// manifest it names without opening the database: nothing is written.
pub fn manifest(dir: &Path, out: &mut dyn Write) -> Result<(), Failure> {
    let fs = StdFs::new();
    let manifest = RecoveredManifest::read(&fs, dir)
        .map_err(Failure::new)?
        .ok_or_else(|| {
            Failure::new(format!(
                "{}: not an lsmkit database (no {CURRENT} file)",
                dir.display()
            ))
        })?;
    let view = &manifest.state;
    writeln!(
        out,
        "{}: {} edits; last seqno {}, flushed seqno {}, next file number {}",
        dir.join(manifest_file_name(manifest.number)).display(),
        manifest.edits,
        view.last_seqno,
        view.flushed_seqno,
        view.next_file_number
    )?;
    let mut runs: BTreeMap<(u64, u64), Vec<&TableRecord>> = BTreeMap::new();
    for table in view.tables.values() {
        runs.entry((table.keyspace, table.run))
            .or_default()
            .push(table);
    }
    let keyspace_name = |id: u64| match id {
        lsmkit_engine::format::DEFAULT_KEYSPACE => lsmkit_engine::DEFAULT_KEYSPACE_NAME,
        id => view.keyspaces.get(&id).map_or("?", String::as_str),
    };
    for (id, name) in &view.keyspaces {
        writeln!(
            out,
            "keyspace {name:?} (id {id}): flushed seqno {}",
            view.flushed_of(*id)
        )?;
    }
    // Keyspace by keyspace, newest run first: runs are numbered as they are made.
    for ((keyspace, run), tables) in runs.iter().rev() {
        let bytes: u64 = tables.iter().map(|t| t.size).sum();
        let (min, max) = (tables[0].min_seqno, tables[0].max_seqno);
        writeln!(
            out,
            "run {run} (keyspace {}): {} tables, {bytes} bytes, seqnos {min}..={max}",
            keyspace_name(*keyspace),
            tables.len()
        )?;
        for t in tables {
            let upper = t
                .upper
                .as_deref()
                .map_or_else(|| "end".to_string(), |u| Encoding::Text.show(u));
            let global = t.global_seqno.map_or_else(String::new, |s| {
                format!(", every entry read at seqno {s} (ingested)")
            });
            writeln!(
                out,
                "  table {:06}.sst: {} bytes, keys [{}, {upper}){global}",
                t.number,
                t.size,
                Encoding::Text.show(&t.lower)
            )?;
        }
    }
    Ok(())
}
