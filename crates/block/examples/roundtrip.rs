//! Builds a block, opens it, reads it back every way, and shows that a
//! damaged copy is refused.
//!
//! ```sh
//! cargo run --release -p lsmkit-block --example roundtrip
//! ```

use std::time::Instant;

use lsmkit_block::{Block, BlockBuilder, BlockOptions, Bytewise};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = BlockOptions {
        restart_interval: 16,
        target_size: 4096,
    };
    let mut builder = BlockBuilder::with_options(Bytewise, options);
    let mut entries = Vec::new();
    let mut raw = 0;
    let mut i = 0u32;
    while !builder.is_full() {
        let key = format!("user:{:06}:profile", i * 37).into_bytes();
        let value = format!("{{\"id\":{i},\"visits\":{}}}", i * i % 1000).into_bytes();
        builder.add(&key, &value)?;
        raw += key.len() + value.len();
        entries.push((key, value));
        i += 1;
    }
    let bytes = builder.finish().to_vec();
    println!(
        "built a block of {} entries: {} bytes of keys and values in {} bytes ({:.0}%)",
        entries.len(),
        raw,
        bytes.len(),
        100.0 * bytes.len() as f64 / raw as f64
    );

    let started = Instant::now();
    let block = Block::new(bytes.clone(), Bytewise)?;
    println!(
        "opened and validated it in {:?}: {} entries, {} restart points",
        started.elapsed(),
        block.len(),
        block.num_restarts()
    );

    let mut it = block.iter();
    it.seek_to_first();
    for (key, value) in &entries {
        if !it.valid() || it.key() != key || it.value() != value {
            return Err("forward scan disagrees with what was written".into());
        }
        it.next();
    }
    it.seek_to_last();
    for (key, _) in entries.iter().rev() {
        if !it.valid() || it.key() != key {
            return Err("backward scan disagrees with what was written".into());
        }
        it.prev();
    }
    println!(
        "read all {} entries back, forwards and backwards",
        entries.len()
    );

    let target = b"user:000500";
    it.seek(target);
    println!(
        "first key at or after {:?}: {:?} => {}",
        String::from_utf8_lossy(target),
        String::from_utf8_lossy(it.key()),
        String::from_utf8_lossy(it.value())
    );

    let mut damaged = bytes;
    damaged[100] ^= 0x04;
    match Block::new(damaged, Bytewise) {
        Ok(_) => return Err("a flipped bit went unnoticed".into()),
        Err(err) => println!("with one bit flipped: {err}"),
    }
    Ok(())
}
