//! How long `Db::checkpoint` takes on the real filesystem: loads a database
//! of about `LSMKIT_CHECKPOINT_MIB` MiB (default 64) of 1 KiB values in a
//! temporary directory (under `TMPDIR`), lets compaction settle, then
//! takes a checkpoint by hard links and one by copies (links refused by a
//! `FaultFs` rule), timing each, and checks that each opens read-only with
//! every key.
//!
//! ```sh
//! LSMKIT_CHECKPOINT_MIB=1024 cargo run --release -p lsmkit-engine --example checkpoint_time
//! ```

use std::error::Error;
use std::sync::Arc;
use std::time::Instant;

use lsmkit_engine::lsmkit_vfs::{FaultFs, Fs, Op, Rule, StdFs};
use lsmkit_engine::{Db, Options, WriteBatch};

const VALUE: usize = 1024;

fn main() -> Result<(), Box<dyn Error>> {
    let mib: u64 = match std::env::var("LSMKIT_CHECKPOINT_MIB") {
        Ok(text) => text.parse()?,
        Err(_) => 64,
    };
    let keys = mib * (1 << 20) / VALUE as u64;
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("db");
    // Links refused, so that the second checkpoint copies every table.
    let fs = FaultFs::new(StdFs::new());
    let db = Db::open(&dir, Options::default().fs(Arc::new(fs.clone())))?;

    let started = Instant::now();
    let mut value = vec![0u8; VALUE];
    for chunk in 0..keys.div_ceil(100) {
        let mut batch = WriteBatch::new();
        for i in chunk * 100..((chunk + 1) * 100).min(keys) {
            // Distinct values that do not compress away.
            for (j, byte) in value.iter_mut().enumerate() {
                *byte = (i.wrapping_mul(0x9E37_79B9) >> (j % 24)) as u8 ^ j as u8;
            }
            batch.put(format!("key{i:012}").as_bytes(), &value);
        }
        db.write(batch)?;
    }
    db.wait_for_compactions()?;
    let stats = db.stats();
    let bytes: u64 = stats.run_bytes.iter().sum();
    let tables: usize = stats.tables_per_run.iter().sum();
    println!(
        "loaded {keys} keys in {:.1?}: {} MiB in {tables} tables, {} runs",
        started.elapsed(),
        bytes >> 20,
        stats.runs()
    );

    let linked = tmp.path().join("linked");
    let started = Instant::now();
    db.checkpoint(&linked)?;
    println!(
        "checkpoint by hard links: {:.1?} ({} links)",
        started.elapsed(),
        fs.count(Op::HardLink)
    );

    fs.add(Rule::on(Op::HardLink));
    let copied = tmp.path().join("copied");
    let started = Instant::now();
    db.checkpoint(&copied)?;
    println!(
        "checkpoint by copies (links refused): {:.1?} ({} MiB copied)",
        started.elapsed(),
        bytes >> 20
    );
    db.close()?;

    let real = StdFs::new();
    for copy in [&linked, &copied] {
        let opened = Db::open_read_only(copy, Options::default())?;
        let found = opened.iter().count() as u64;
        let on_disk: u64 = real
            .list(copy)?
            .iter()
            .map(|name| real.size(&copy.join(name)))
            .sum::<Result<u64, _>>()?;
        if found != keys {
            return Err(format!("{}: {found} keys, {keys} written", copy.display()).into());
        }
        println!(
            "{}: opens read-only with all {found} keys, {} MiB on disk",
            copy.display(),
            on_disk >> 20
        );
    }
    Ok(())
}
