//! `lsmkit dump`: every live pair in key order, in a format `lsmkit load`
//! reads back exactly. The database is opened read-only.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::Bound;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::db::{db_failure, open_existing};
use super::keyspace::KeyspaceArg;
use crate::failure::Failure;
use crate::pairs::{PairFormat, count};

/// `lsmkit dump`'s arguments.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// The database directory.
    #[arg(long, value_name = "DIR")]
    db: PathBuf,
    /// How the pairs are written (see "Formats" below).
    #[arg(long, value_enum, default_value_t = PairFormat::Text)]
    format: PairFormat,
    /// The first key (inclusive), written as the format writes keys: text
    /// escaped, hex as hex, csv as it is.
    #[arg(long, value_name = "KEY")]
    from: Option<String>,
    /// The key to stop before (exclusive), written as --from.
    #[arg(long, value_name = "KEY")]
    to: Option<String>,
    /// Write to FILE (created, or truncated) instead of stdout, and print
    /// a summary on stderr.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    #[command(flatten)]
    keyspace: KeyspaceArg,
}

/// How much output is gathered before it is written.
const CHUNK: usize = 1 << 16;

/// `lsmkit dump`.
pub fn dump(args: &DumpArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let bound = |flag: &str, given: &Option<String>| {
        given
            .as_deref()
            .map(|k| {
                args.format
                    .parse_key(k)
                    .map_err(|e| Failure::new(format!("{flag}: {e}")))
            })
            .transpose()
    };
    let range = (
        bound("--from", &args.from)?.map_or(Bound::Unbounded, Bound::Included),
        bound("--to", &args.to)?.map_or(Bound::Unbounded, Bound::Excluded),
    );
    let db = open_existing(&args.db, true)?;
    let keyspace = args.keyspace.of(&db, &args.db)?;
    let start = Instant::now();
    let mut file = match &args.file {
        Some(path) => {
            Some(BufWriter::new(File::create(path).map_err(|e| {
                Failure::new(format!("{}: {e}", path.display()))
            })?))
        }
        None => None,
    };
    // Errors writing a named file name it; errors writing stdout keep
    // their broken-pipe meaning.
    let name_file = |e: std::io::Error| match &args.file {
        Some(path) => Failure::new(format!("{}: {e}", path.display())),
        None => Failure::from(e),
    };
    let sink: &mut dyn Write = match &mut file {
        Some(file) => file,
        None => out,
    };
    let (mut pairs, mut bytes) = (0u64, 0u64);
    let mut chunk = Vec::with_capacity(CHUNK);
    for entry in keyspace.range(range) {
        let (key, value) = entry.map_err(|e| db_failure(&args.db, e))?;
        args.format.write_pair(&key, &value, &mut chunk);
        pairs += 1;
        bytes += (key.len() + value.len()) as u64;
        if chunk.len() >= CHUNK {
            sink.write_all(&chunk).map_err(name_file)?;
            chunk.clear();
        }
    }
    sink.write_all(&chunk).map_err(name_file)?;
    sink.flush().map_err(name_file)?;
    db.close().map_err(|e| db_failure(&args.db, e))?;
    if let Some(path) = &args.file {
        eprintln!(
            "dumped {} ({bytes} bytes of keys and values) from {} to {} in {:.2} s",
            count(pairs),
            args.db.display(),
            path.display(),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
