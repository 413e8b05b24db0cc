//! `lsmkit sst dump|verify|props FILE`: RocksDB's sst_dump for lsmkit
//! tables. Tables are opened read-only (memory-mapped where possible) and
//! never written.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Subcommand;
use lsmkit_sstable::{InternalIterator, ParsedKey, SstReader};
use lsmkit_vfs::StdFs;

use crate::bytes::{Encoding, hex};
use crate::failure::Failure;

/// What to do with a table.
#[derive(Debug, Subcommand)]
pub enum SstCommand {
    /// Print the table's entries in order (key, sequence number, kind,
    /// value), then its range tombstones.
    Dump {
        /// The table file.
        file: PathBuf,
        /// Print at most this many entries.
        #[arg(long)]
        limit: Option<u64>,
        /// How to show keys and values.
        #[arg(long, value_enum, default_value_t = Encoding::Text)]
        encoding: Encoding,
    },
    /// Read every block and check every checksum, the key order and the
    /// counts; report the first problem with its offset in the file.
    Verify {
        /// The table file.
        file: PathBuf,
    },
    /// Print the footer and the properties block.
    Props {
        /// The table file.
        file: PathBuf,
    },
}

/// Runs `command`, printing to `out`.
pub fn run(command: &SstCommand, out: &mut dyn Write) -> Result<(), Failure> {
    match command {
        SstCommand::Dump {
            file,
            limit,
            encoding,
        } => dump(&open(file)?, *limit, *encoding, out),
        SstCommand::Verify { file } => {
            let table = open(file)?;
            table.verify()?;
            let props = table.properties();
            writeln!(
                out,
                "{}: OK: {} entries, {} range tombstones, {} data blocks, {} bytes verified",
                file.display(),
                props.num_entries,
                table.range_tombstones().len(),
                props.num_data_blocks,
                table.file_size()
            )?;
            Ok(())
        }
        SstCommand::Props { file } => props(&*open(file)?, out),
    }
}

fn open(file: &Path) -> Result<Arc<SstReader>, Failure> {
    Ok(SstReader::open(&StdFs::new(), file)?)
}

fn dump(
    table: &Arc<SstReader>,
    limit: Option<u64>,
    encoding: Encoding,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let limit = limit.unwrap_or(u64::MAX);
    let mut it = table.iter();
    it.seek_to_first();
    let mut shown = 0;
    while it.valid() && shown < limit {
        let Some(key) = ParsedKey::parse(it.key()) else {
            return Err(Failure::new(format!(
                "{}: entry {shown} has a malformed internal key {}",
                table.path().display(),
                hex(it.key())
            )));
        };
        writeln!(
            out,
            "{} @ {} {:?} => {}",
            encoding.show(key.user_key),
            key.seqno,
            key.kind,
            encoding.show(it.value())
        )?;
        shown += 1;
        it.next();
    }
    it.status()?;
    let total = table.properties().num_entries;
    if shown < total {
        writeln!(out, "... {} more entries", total - shown)?;
    }
    for t in table.range_tombstones() {
        writeln!(
            out,
            "range delete [{}, {}) @ {}",
            encoding.show(&t.start),
            encoding.show(&t.end),
            t.seqno
        )?;
    }
    Ok(())
}

fn props(table: &SstReader, out: &mut dyn Write) -> Result<(), Failure> {
    let footer = table.footer();
    let p = table.properties();
    let show = |key: &Option<Vec<u8>>| {
        key.as_deref()
            .map_or_else(|| "-".to_string(), |k| Encoding::Text.show(k))
    };
    let seqno = |s: Option<u64>| s.map_or_else(|| "-".to_string(), |s| s.to_string());
    let rows: Vec<(&str, String)> = vec![
        ("file", table.path().display().to_string()),
        ("file size", table.file_size().to_string()),
        ("format version", format!("{:?}", footer.version)),
        (
            "metaindex block",
            format!(
                "offset {} size {}",
                footer.metaindex.offset, footer.metaindex.size
            ),
        ),
        (
            "index block",
            format!("offset {} size {}", footer.index.offset, footer.index.size),
        ),
        ("comparator", p.comparator.clone()),
        ("creation time", p.creation_time.to_string()),
        ("entries", p.num_entries.to_string()),
        ("deletions", p.num_deletions.to_string()),
        ("range tombstones", p.num_range_tombstones.to_string()),
        ("data blocks", p.num_data_blocks.to_string()),
        ("smallest key", show(&p.min_user_key)),
        ("largest key", show(&p.max_user_key)),
        ("smallest seqno", seqno(p.min_seqno)),
        ("largest seqno", seqno(p.max_seqno)),
        ("raw key bytes", p.raw_key_size.to_string()),
        ("raw value bytes", p.raw_value_size.to_string()),
        ("compression", p.compression.name().to_string()),
        (
            "compressed blocks",
            format!("{} of {}", p.num_compressed_blocks, p.num_data_blocks),
        ),
        ("data bytes", p.data_size.to_string()),
        ("raw data bytes", p.raw_data_size.to_string()),
        (
            "compression ratio",
            if p.data_size == 0 {
                "-".to_string()
            } else {
                format!("{:.2}", p.raw_data_size as f64 / p.data_size as f64)
            },
        ),
        ("index bytes", p.index_size.to_string()),
        ("filter bytes", p.filter_size.to_string()),
        ("filter bits per key", p.filter_bits_per_key.to_string()),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<20} {value}")?;
    }
    for (name, value) in &p.user {
        writeln!(out, "{:<20} {}", name, Encoding::Text.show(value))?;
    }
    Ok(())
}
