//! Making a database: `lsmkit create`, and `--create-if-missing` for the
//! commands that write (`put`, `delete`, `load`), as in RocksDB's ldb.
//!
//! A database is made only in a directory that does not exist or is
//! empty: a directory holding files but no CURRENT may be a database that
//! lost its CURRENT, and opening the engine there could replay or delete
//! what it finds.

use std::io::Write;
use std::path::Path;

use clap::Args;
use lsmkit_engine::format::CURRENT;
use lsmkit_engine::{Db, Options};

use super::db::{db_failure, open_existing};
use crate::failure::Failure;

/// `--create-if-missing`, for the commands that write.
#[derive(Debug, Args)]
pub struct CreateIfMissing {
    /// Create the database if DIR does not exist or is empty (as `lsmkit
    /// create` does); without it a missing database is an error.
    #[arg(long)]
    create_if_missing: bool,
}

impl CreateIfMissing {
    /// Opens the database in `dir`, creating it if it is missing and the
    /// flag was given.
    pub fn open(&self, dir: &Path) -> Result<Db, Failure> {
        if is_database(dir) {
            open_existing(dir, false)
        } else if self.create_if_missing {
            create_in(dir)
        } else {
            Err(Failure::new(format!(
                "{}: not an lsmkit database (no {CURRENT} file); make one with \
                 `lsmkit create --db {}`, or pass --create-if-missing",
                dir.display(),
                dir.display()
            )))
        }
    }
}

/// `lsmkit create --db DIR`: an empty database, in a directory that does
/// not exist or is empty.
pub fn create(dir: &Path, out: &mut dyn Write) -> Result<(), Failure> {
    if is_database(dir) {
        return Err(Failure::new(format!(
            "{}: already an lsmkit database (it has a {CURRENT} file)",
            dir.display()
        )));
    }
    let db = create_in(dir)?;
    db.close().map_err(|e| db_failure(dir, e))?;
    writeln!(out, "created an empty lsmkit database in {}", dir.display())?;
    Ok(())
}

fn is_database(dir: &Path) -> bool {
    dir.join(CURRENT).is_file()
}

/// Creates a database in `dir`, which must not exist or be empty.
fn create_in(dir: &Path) -> Result<Db, Failure> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Failure::new(format!(
                    "{}: not an lsmkit database (no {CURRENT} file) and not empty: \
                     a database is created only in a new or empty directory",
                    dir.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Failure::new(format!("{}: {e}", dir.display()))),
    }
    Db::open(dir, Options::default()).map_err(|e| db_failure(dir, e))
}
