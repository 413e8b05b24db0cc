//! Replays inputs (an AFL++ queue, a corpus) through a target under an
//! allocator with a limit, so that a decoder that allocates beyond its
//! input aborts here: `alloc_check TARGET DIR...`.
//!
//! The limit for an input of `n` bytes is what was allocated before it,
//! plus 8 × `n`, plus 64 MiB (the format's largest decompressed block,
//! which a small compressed input may rightly claim), plus 1 MiB for the
//! fixed buffers of a reader (a WAL block, an iterator's key). An
//! allocation past it fails, and the process aborts naming the input it
//! was decoding (printed before each).
use std::alloc::System;
use std::io::Write;
use std::path::PathBuf;

use cap::Cap;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

const BLOCK_LIMIT: usize = 64 << 20;
const SLACK: usize = 1 << 20;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(target) = args.next() else {
        eprintln!("usage: alloc_check block|sstable|wal|manifest|engine_open DIR...");
        std::process::exit(2);
    };
    let run: fn(&[u8]) = match target.as_str() {
        "block" => lsmkit_fuzz::block,
        "sstable" => lsmkit_fuzz::sstable,
        "wal" => lsmkit_fuzz::wal,
        "manifest" => lsmkit_fuzz::manifest,
        "engine_open" => lsmkit_fuzz::engine_open,
        other => {
            eprintln!("alloc_check: no target {other}");
            std::process::exit(2);
        }
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in args {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
            eprintln!("alloc_check: {dir}: {e}");
            std::process::exit(2);
        });
        files.extend(entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()));
    }
    files.sort();
    let (mut largest, mut bytes) = (0usize, 0usize);
    for file in &files {
        let data = std::fs::read(file).unwrap_or_else(|e| {
            eprintln!("alloc_check: {}: {e}", file.display());
            std::process::exit(2);
        });
        // Named first: an abort below is this input's.
        let mut err = std::io::stderr();
        let _ = writeln!(err, "{}", file.display());
        let limit = ALLOCATOR.allocated() + 8 * data.len() + BLOCK_LIMIT + SLACK;
        if ALLOCATOR.set_limit(limit).is_err() {
            eprintln!("alloc_check: cannot set the limit");
            std::process::exit(2);
        }
        run(&data);
        let _ = ALLOCATOR.set_limit(usize::MAX);
        largest = largest.max(data.len());
        bytes += data.len();
    }
    println!(
        "{target}: {} inputs ({bytes} bytes, the largest {largest}) decoded within the allocation limit",
        files.len()
    );
}
