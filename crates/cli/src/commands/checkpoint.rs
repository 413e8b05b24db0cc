//! `lsmkit checkpoint --db DIR OUT`: a consistent copy of the database in
//! a new directory (`Db::checkpoint`), its tables hard-linked where the
//! filesystem allows and copied where it does not.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::commands::db::{db_failure, open_existing};
use crate::failure::Failure;

/// `lsmkit checkpoint`'s arguments.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// The database directory.
    #[arg(long, value_name = "DIR")]
    db: PathBuf,
    /// The directory to write the copy into: it must not exist or be
    /// empty.
    #[arg(value_name = "OUT")]
    out: PathBuf,
}

/// Writes the checkpoint, then opens it read-only and says what it holds.
pub fn run(args: &CheckpointArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let db = open_existing(&args.db, false)?;
    db.checkpoint(&args.out)
        .map_err(|e| db_failure(&args.db, e))?;
    db.close().map_err(|e| db_failure(&args.db, e))?;
    let copy = open_existing(&args.out, true)?;
    let stats = copy.stats();
    writeln!(
        out,
        "checkpoint of {} written to {}: {} runs, {} tables, {} bytes, last seqno {}",
        args.db.display(),
        args.out.display(),
        stats.runs(),
        stats.tables_per_run.iter().sum::<usize>(),
        stats.run_bytes.iter().sum::<u64>(),
        stats.last_seqno
    )?;
    Ok(())
}
