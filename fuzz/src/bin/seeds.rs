//! Writes the seed corpora under `corpus/<target>/`: the golden tables of
//! `crates/sstable/testdata`, and blocks, a table, WAL segments, manifests
//! and whole database directories written here by the real writers. Each
//! seed is also run through its target once, so a seed that panics is
//! caught before fuzzing starts.
use std::fs;
use std::path::Path;
use std::sync::Arc;

use lsmkit_block::{BlockBuilder, Bytewise};
use lsmkit_engine::{Db, KeyspaceOptions, Options, WriteBatch};
use lsmkit_vfs::{Fs, MemFs};

fn read(fs: &MemFs, path: &Path) -> Vec<u8> {
    let file = fs.open(path).expect("the file exists");
    let mut buf = vec![0; file.len() as usize];
    file.read_at(0, &mut buf).expect("MemFs reads");
    buf
}

fn save(target: &str, name: &str, data: &[u8], check: fn(&[u8])) {
    let dir = Path::new("corpus").join(target);
    fs::create_dir_all(&dir).expect("create the corpus directory");
    fs::write(dir.join(name), data).expect("write a seed");
    check(data);
}

fn main() {
    // Blocks of a few shapes.
    for (i, restart) in [1usize, 4, 16].into_iter().enumerate() {
        let mut builder = BlockBuilder::with_options(
            Bytewise,
            lsmkit_block::BlockOptions {
                restart_interval: restart,
                ..Default::default()
            },
        );
        for k in 0..40u32 {
            builder
                .add(
                    format!("key{k:04}").as_bytes(),
                    format!("value{k}").as_bytes(),
                )
                .expect("sorted keys");
        }
        save(
            "block",
            &format!("block-{i}"),
            &builder.into_bytes(),
            lsmkit_fuzz::block,
        );
    }
    // The golden tables.
    for entry in fs::read_dir("../crates/sstable/testdata").expect("testdata") {
        let path = entry.expect("testdata entry").path();
        let data = fs::read(&path).expect("read a golden table");
        let name = path
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        save("sstable", &name, &data, lsmkit_fuzz::sstable);
    }
    // A small database: flushed tables, a manifest, and a WAL tail.
    let mem = MemFs::new();
    let dir = Path::new("/db");
    let options = Options::default()
        .fs(Arc::new(mem.clone()))
        .write_buffer_size(2 << 10)
        .block_size(256)
        .auto_compaction(false);
    let db = Db::open(dir, options).expect("open");
    // A second keyspace, so that the seeds hold keyspace switches in WAL
    // batches and keyspace tags in the manifest.
    let other = db
        .create_keyspace("other", KeyspaceOptions::default())
        .expect("create keyspace");
    for i in 0..60u32 {
        let mut batch = WriteBatch::new();
        batch
            .put(
                format!("k{:03}", i % 23).as_bytes(),
                format!("v{i}").as_bytes(),
            )
            .delete(format!("k{:03}", (i * 7) % 23).as_bytes());
        if i % 10 == 0 {
            batch.delete_range(b"k005".to_vec()..b"k008".to_vec());
        }
        if i % 3 == 0 {
            batch.put_in(&other, format!("o{i}").as_bytes(), b"in another keyspace");
        }
        if i == 45 {
            other.flush().expect("flush a keyspace");
        }
        db.write(batch).expect("write");
        if i == 30 {
            db.flush().expect("flush");
        }
    }
    db.sync_wal().expect("sync");
    let mut db_files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut names = mem.list(dir).expect("list");
    names.extend(
        mem.list(&dir.join("wal"))
            .expect("list")
            .into_iter()
            .map(|n| format!("wal/{n}")),
    );
    for name in names {
        let path = dir.join(&name);
        if mem.size(&path).is_err() || name == "LOCK" || name == "wal" {
            continue;
        }
        let data = read(&mem, &path);
        if name.ends_with(".sst") {
            save(
                "sstable",
                &format!("db-{name}"),
                &data,
                lsmkit_fuzz::sstable,
            );
        } else if name.ends_with(".wal") {
            save("wal", &name.replace('/', "-"), &data, lsmkit_fuzz::wal);
        } else if name.starts_with("MANIFEST") {
            save("manifest", &name, &data, lsmkit_fuzz::manifest);
        }
        db_files.push((name, data));
    }
    drop(db);
    // The database directory as one engine_open input.
    let files: Vec<(&str, &[u8])> = db_files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    save(
        "engine_open",
        "db",
        &lsmkit_fuzz::join_db(&files),
        lsmkit_fuzz::engine_open,
    );
    println!("seeds written under corpus/");
}
