//! `lsmkit ingest --db DIR FILE...`: external tables into the database
//! (`Db::ingest`), hard-linked in unchanged where the filesystem allows and
//! copied where it does not, all of them or none.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::commands::db::{db_failure, open_existing};
use crate::commands::keyspace::KeyspaceArg;
use crate::failure::Failure;

/// `lsmkit ingest`'s arguments.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The database directory.
    #[arg(long, value_name = "DIR")]
    db: PathBuf,
    /// The tables to ingest, written with lsmkit-sstable's `SstWriter` (or
    /// taken from another lsmkit database): at most one version of each
    /// key, and no two files overlapping. Do not write to them afterwards:
    /// a linked file is shared with the database.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    keyspace: KeyspaceArg,
}

/// Ingests the files and says how they went in.
pub fn run(args: &IngestArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let db = open_existing(&args.db, false)?;
    let started = Instant::now();
    let keyspace = args.keyspace.of(&db, &args.db)?;
    keyspace
        .ingest(&args.files)
        .map_err(|e| db_failure(&args.db, e))?;
    let took = started.elapsed();
    let stats = keyspace.stats();
    drop(keyspace);
    db.close().map_err(|e| db_failure(&args.db, e))?;
    writeln!(
        out,
        "ingested {} files into {} in {:.3} ms: {} hard-linked, {} copied; last seqno {}",
        args.files.len(),
        args.db.display(),
        took.as_secs_f64() * 1e3,
        stats.ingest_links,
        stats.ingest_copies,
        stats.last_seqno
    )?;
    Ok(())
}
