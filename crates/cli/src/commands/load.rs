//! `lsmkit load`: many pairs from a file or stdin, written in
//! WriteBatches and synced at the end.
//!
//! On malformed input (or a failed read) the pairs before the bad line
//! are still written and synced, and nothing from that line on: the
//! error names the line and how many pairs went in, so that the rest can
//! be loaded once the line is fixed.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use lsmkit_engine::{Db, Keyspace, WriteBatch, WriteOptions};

use super::create::CreateIfMissing;
use super::keyspace::KeyspaceArg;
use crate::failure::Failure;
use crate::pairs::{PairFormat, PairReader, ReadError, count};

/// `lsmkit load`'s arguments.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The database directory.
    #[arg(long, value_name = "DIR")]
    db: PathBuf,
    /// Read the pairs from FILE; without it, from stdin.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// How the pairs are written (see "Formats" below).
    #[arg(long, value_enum, default_value_t = PairFormat::Text)]
    format: PairFormat,
    /// Pairs per WriteBatch.
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..))]
    batch_size: u64,
    /// Bytes of keys and values per WriteBatch: a batch is written when it
    /// holds --batch-size pairs or this many bytes, whichever comes first.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20,
          value_parser = clap::value_parser!(u64).range(1..))]
    batch_bytes: u64,
    #[command(flatten)]
    create: CreateIfMissing,
    #[command(flatten)]
    keyspace: KeyspaceArg,
}

/// What went into the database so far.
#[derive(Debug, Default)]
struct Loaded {
    pairs: u64,
    bytes: u64,
}

/// Why the input stopped before its end.
enum Stop {
    Read(ReadError),
    /// A key or value the engine cannot hold, on this line.
    TooLong(u64),
}

/// `lsmkit load`: prints a summary line when every pair is in and synced.
pub fn load(args: &LoadArgs, out: &mut dyn Write) -> Result<(), Failure> {
    // The input opens first, so that a wrong path creates no database.
    let (input, name, len): (Box<dyn BufRead>, String, Option<u64>) = match &args.file {
        Some(path) => {
            let file =
                File::open(path).map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
            let len = file.metadata().ok().map(|m| m.len());
            let input = BufReader::with_capacity(1 << 16, file);
            (Box::new(input), path.display().to_string(), len)
        }
        None => (Box::new(io::stdin().lock()), "stdin".to_string(), None),
    };
    let mut reader = PairReader::new(input, args.format);
    let db = args.create.open(&args.db)?;
    let keyspace = args.keyspace.of(&db, &args.db)?;
    let start = Instant::now();
    let bar = progress_bar(len);
    let mut loaded = Loaded::default();
    let stopped = load_batches(args, &db, &keyspace, &mut reader, &bar, &mut loaded);
    drop(keyspace);
    bar.finish_and_clear();
    let not_synced = |e| {
        Failure::new(format!(
            "database {}: {e}; {} written before it, not all synced",
            args.db.display(),
            count(loaded.pairs)
        ))
    };
    let stopped = stopped.map_err(not_synced)?;
    db.sync_wal()
        .and_then(|()| db.close())
        .map_err(not_synced)?;
    let elapsed = start.elapsed();
    let before = |line: u64| {
        format!(
            "; loaded and synced the {} before line {line}, nothing from it on",
            count(loaded.pairs)
        )
    };
    match stopped {
        None => {
            writeln!(out, "{}", summary(&loaded, &name, args, elapsed))?;
            Ok(())
        }
        Some(Stop::Read(ReadError::Malformed { line, problem })) => Err(Failure::new(format!(
            "{name}: line {line}: {problem}{}",
            before(line)
        ))),
        Some(Stop::Read(ReadError::Io(e))) => Err(Failure::new(format!(
            "{name}: {e}{}",
            before(reader.pair_line() + 1)
        ))),
        Some(Stop::TooLong(line)) => Err(Failure::new(format!(
            "{name}: line {line}: a key or value of 4 GiB or more, longer than lsmkit holds{}",
            before(line)
        ))),
    }
}

/// Reads and writes batches until the input ends (`None`) or stops early;
/// the pairs read before an early stop are written too.
fn load_batches<R: BufRead>(
    args: &LoadArgs,
    db: &Db,
    keyspace: &Keyspace,
    reader: &mut PairReader<R>,
    bar: &ProgressBar,
    loaded: &mut Loaded,
) -> Result<Option<Stop>, lsmkit_engine::Error> {
    let mut batch = WriteBatch::new();
    let mut batch_bytes = 0u64;
    let write = |batch: &mut WriteBatch, batch_bytes: &mut u64, loaded: &mut Loaded| {
        if batch.is_empty() {
            return Ok(());
        }
        let pairs = batch.len() as u64;
        db.write_with(std::mem::take(batch), WriteOptions::buffered())?;
        loaded.pairs += pairs;
        loaded.bytes += std::mem::take(batch_bytes);
        Ok::<(), lsmkit_engine::Error>(())
    };
    let stop = loop {
        let (key, value) = match reader.next_pair() {
            Ok(Some(pair)) => pair,
            Ok(None) => break None,
            Err(e) => break Some(Stop::Read(e)),
        };
        if u32::try_from(key.len()).is_err() || u32::try_from(value.len()).is_err() {
            break Some(Stop::TooLong(reader.pair_line()));
        }
        batch.put_in(keyspace, &key, &value);
        batch_bytes += (key.len() + value.len()) as u64;
        if batch.len() as u64 >= args.batch_size || batch_bytes >= args.batch_bytes {
            write(&mut batch, &mut batch_bytes, loaded)?;
            bar.set_position(if bar.length().is_some() {
                reader.bytes_read()
            } else {
                loaded.pairs
            });
            bar.set_message(format!("{} pairs", loaded.pairs));
        }
    };
    write(&mut batch, &mut batch_bytes, loaded)?;
    Ok(stop)
}

/// A bar over the input's bytes when its length is known, a spinner
/// counting pairs otherwise; hidden when stderr is not a terminal, so
/// that logs and pipes get only the summary.
fn progress_bar(len: Option<u64>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match len {
        Some(len) => (
            ProgressBar::new(len),
            "loading [{bar:30}] {binary_bytes}/{binary_total_bytes}, {msg}, eta {eta}",
        ),
        None => (ProgressBar::new_spinner(), "loading {spinner} {msg}"),
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.enable_steady_tick(Duration::from_millis(200));
    bar.set_message("0 pairs");
    bar.with_style(style)
}

fn summary(loaded: &Loaded, name: &str, args: &LoadArgs, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    format!(
        "loaded {} ({} bytes of keys and values) from {name} into {} in {seconds:.2} s: \
         {:.0} pairs/s; synced",
        count(loaded.pairs),
        loaded.bytes,
        args.db.display(),
        loaded.pairs as f64 / seconds.max(1e-9)
    )
}
