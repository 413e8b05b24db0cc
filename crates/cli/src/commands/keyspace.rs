//! Keyspaces from the command line: `--keyspace NAME` on the commands that
//! read or write pairs, and `lsmkit keyspace create|drop|list`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use lsmkit_engine::{DEFAULT_KEYSPACE_NAME, Db, Keyspace, KeyspaceOptions};

use super::db::{db_failure, open_existing};
use crate::failure::Failure;

/// `--keyspace NAME`: which keyspace a command reads or writes.
#[derive(Debug, Args)]
pub struct KeyspaceArg {
    /// The keyspace to read or write (`lsmkit keyspace list` shows them).
    #[arg(long, value_name = "NAME", default_value = DEFAULT_KEYSPACE_NAME)]
    pub keyspace: String,
}

impl KeyspaceArg {
    /// The keyspace of `db` (in `dir`), or a failure naming both.
    pub fn of(&self, db: &Db, dir: &Path) -> Result<Keyspace, Failure> {
        db.keyspace(&self.keyspace).map_err(|e| match e {
            lsmkit_engine::Error::KeyspaceNotFound { .. } => Failure::new(format!(
                "database {}: no keyspace {:?} (it has {}); make one with \
                 `lsmkit keyspace create --db {} {}`",
                dir.display(),
                self.keyspace,
                db.keyspace_names().join(", "),
                dir.display(),
                self.keyspace
            )),
            other => db_failure(dir, other),
        })
    }
}

/// `lsmkit keyspace ...`.
#[derive(Debug, Subcommand)]
pub enum KeyspaceCommand {
    /// Create an empty keyspace, durably.
    Create {
        /// The database directory.
        #[arg(long, value_name = "DIR")]
        db: PathBuf,
        /// The new keyspace's name (1 to 255 bytes).
        name: String,
    },
    /// Drop a keyspace and all of its data, durably.
    Drop {
        /// The database directory.
        #[arg(long, value_name = "DIR")]
        db: PathBuf,
        /// The keyspace's name.
        name: String,
    },
    /// List the keyspaces (opened read-only).
    List {
        /// The database directory.
        #[arg(long, value_name = "DIR")]
        db: PathBuf,
    },
}

/// Runs `lsmkit keyspace ...`.
pub fn run(command: &KeyspaceCommand, out: &mut dyn Write) -> Result<(), Failure> {
    match command {
        KeyspaceCommand::Create { db: dir, name } => {
            let db = open_existing(dir, false)?;
            db.create_keyspace(name, KeyspaceOptions::default())
                .map_err(|e| db_failure(dir, e))?;
            db.close().map_err(|e| db_failure(dir, e))?;
            writeln!(out, "created keyspace {name:?} in {}", dir.display())?;
        }
        KeyspaceCommand::Drop { db: dir, name } => {
            let db = open_existing(dir, false)?;
            db.drop_keyspace(name).map_err(|e| db_failure(dir, e))?;
            db.close().map_err(|e| db_failure(dir, e))?;
            writeln!(out, "dropped keyspace {name:?} from {}", dir.display())?;
        }
        KeyspaceCommand::List { db: dir } => {
            let db = open_existing(dir, true)?;
            for name in db.keyspace_names() {
                writeln!(out, "{name}")?;
            }
            db.close().map_err(|e| db_failure(dir, e))?;
        }
    }
    Ok(())
}
