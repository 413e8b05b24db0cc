//! Offline tables: an SSTable built from a sorted CSV with `lsmkit-sstable`
//! alone, then served: point lookups and range scans, no WAL, no memtable,
//! no engine. This is how a dataset built in a batch job is shipped to the
//! servers that read it.
//!
//! ```sh
//! cargo run -p lsmkit-examples --example offline_tables [sorted.csv]
//! ```
//!
//! The CSV's first column is the key (rows sorted by it, bytewise, no
//! repeats), the rest of the row the value. Without an argument it reads
//! `examples/data/elements.csv`, the chemical elements by name.

use std::path::PathBuf;
use std::sync::Arc;

use lsmkit_examples::{Error, check, check_eq};
use lsmkit_sstable::{
    InternalIterator, Lookup, MAX_SEQNO, ParsedKey, SstOptions, SstReader, SstWriter,
};
use lsmkit_vfs::{Fs, StdFs};

/// Every row is written at this sequence number: a table built offline has
/// one version per key.
const SEQNO: u64 = 1;

fn main() -> Result<(), Error> {
    let csv_path = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/elements.csv"),
        PathBuf::from,
    );
    let text = std::fs::read_to_string(&csv_path)
        .map_err(|e| format!("reading {}: {e}", csv_path.display()))?;
    let rows = parse_csv(&text);
    println!("read {} rows from {}", rows.len(), csv_path.display());

    // Build: one streaming pass; the file appears atomically at `finish`.
    let dir = tempfile::tempdir()?;
    let table_path = dir.path().join("table.sst");
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let options = SstOptions::default().user_property("source", csv_path.display().to_string());
    let mut writer = SstWriter::create(fs.clone(), &table_path, options)?;
    for (line, (key, value)) in rows.iter().enumerate() {
        // An unsorted or repeated key is refused with a typed error.
        writer
            .put(key.as_bytes(), SEQNO, value.as_bytes())
            .map_err(|e| format!("{}: data row {}: {e}", csv_path.display(), line + 1))?;
    }
    let meta = writer.finish()?;
    println!(
        "wrote {}: {} entries, {} data blocks, {} bytes (filter {} bytes)",
        meta.path.display(),
        meta.properties.num_entries,
        meta.properties.num_data_blocks,
        meta.file_size,
        meta.properties.filter_size,
    );

    // Serve: open (memory-mapped), check every byte once, answer queries.
    let table = SstReader::open(&*fs, &table_path)?;
    table.verify()?;
    check_eq(
        "entries in the table",
        table.properties().num_entries,
        rows.len() as u64,
    )?;
    for (key, value) in &rows {
        let found = table.get(key.as_bytes(), MAX_SEQNO)?;
        check_eq(key, found, Lookup::Found(value.clone().into_bytes()))?;
    }
    println!("every row found by point lookup");
    if let Some((key, value)) = rows.get(rows.len() / 2) {
        println!("  get({key:?}) = {value:?}");
    }
    let missing = "unobtainium";
    check_eq(
        "a key not in the CSV",
        table.get(missing.as_bytes(), MAX_SEQNO)?,
        Lookup::Absent,
    )?;
    println!("  get({missing:?}) = absent");

    // Range scan: the keys in [lower, upper), forward.
    let (lower, upper) = range_of(&rows);
    let mut scanned = Vec::new();
    let mut it = table.range(Some(lower.as_bytes()), Some(upper.as_bytes()));
    it.seek_to_first();
    while it.valid() {
        let entry = ParsedKey::parse(it.key()).ok_or("a stored key does not parse")?;
        scanned.push(String::from_utf8_lossy(entry.user_key).into_owned());
        it.next();
    }
    it.status()?;
    let expected: Vec<String> = rows
        .iter()
        .map(|(k, _)| k.clone())
        .filter(|k| k.as_str() >= lower.as_str() && k.as_str() < upper.as_str())
        .collect();
    check_eq("range scan", &scanned, &expected)?;
    println!(
        "scan [{lower:?}, {upper:?}): {} keys: {}",
        scanned.len(),
        scanned.join(" ")
    );

    // And backwards from the end of the table: the last three keys.
    let mut it = table.iter();
    it.seek_to_last();
    let mut last = Vec::new();
    while it.valid() && last.len() < 3 {
        let entry = ParsedKey::parse(it.key()).ok_or("a stored key does not parse")?;
        last.push(String::from_utf8_lossy(entry.user_key).into_owned());
        it.prev();
    }
    it.status()?;
    let expected: Vec<String> = rows.iter().rev().take(3).map(|(k, _)| k.clone()).collect();
    check_eq("reverse scan", &last, &expected)?;
    println!("last keys, backwards: {}", last.join(" "));
    check(
        "the table has a data block",
        table.properties().num_data_blocks > 0,
    )?;
    println!("offline_tables: all checks passed");
    Ok(())
}

/// The data rows (the first line is a header): key = first field, value =
/// the rest of the line. Blank lines are skipped.
fn parse_csv(text: &str) -> Vec<(String, String)> {
    text.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| match line.split_once(',') {
            Some((key, rest)) => (key.to_owned(), rest.to_owned()),
            None => (line.to_owned(), String::new()),
        })
        .collect()
}

/// A range to scan: the keys that start with the same character as the
/// middle row's key.
fn range_of(rows: &[(String, String)]) -> (String, String) {
    let first = rows.get(rows.len() / 2).and_then(|(k, _)| k.chars().next());
    let next = first.and_then(|c| char::from_u32(u32::from(c) + 1));
    match (first, next) {
        (Some(c), Some(n)) => (c.to_string(), n.to_string()),
        _ => (String::new(), char::MAX.to_string()),
    }
}
