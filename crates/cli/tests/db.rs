//! The database commands: put, delete, compact and checkpoint through the
//! engine; get, scan and stats through its read-only open, which leaves
//! the directory byte for byte as it was; manifest read-only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{assert_fails_naming, lsmkit, snapshot, stdout, with_db};
use lsmkit_engine::{Db, Options};

/// A database with keys k000..k099 (value v<i>), flushed to a table, and
/// k100 in the WAL only.
fn database(dir: &Path) -> PathBuf {
    let path = dir.join("db");
    // Through `with_db`: a command run right after it closes would
    // otherwise meet a LOCK that a child spawned meanwhile still holds.
    with_db(&path, |db| {
        for i in 0..100 {
            db.put(format!("k{i:03}").as_bytes(), format!("v{i}").as_bytes())
                .unwrap();
        }
        db.flush().unwrap();
        db.put(b"k100", b"in the log").unwrap();
    });
    path
}

fn run(args: &[&str]) -> std::process::Output {
    lsmkit(args)
}

#[test]
fn get_put_delete_scan_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let db = db.to_str().unwrap();

    let output = run(&["get", "--db", db, "k042"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "'v42'\n");
    assert_eq!(stdout(&run(&["get", "--db", db, "k100"])), "'in the log'\n");

    assert_eq!(
        run(&["put", "--db", db, "new", "value\n"]).status.code(),
        Some(0)
    );
    assert_eq!(stdout(&run(&["get", "--db", db, "new"])), "'value\\n'\n");
    let hex = run(&["get", "--db", db, "--encoding", "hex", "6e6577"]);
    assert_eq!(stdout(&hex), "76616c75650a\n");

    assert_eq!(run(&["delete", "--db", db, "k042"]).status.code(), Some(0));
    let gone = run(&["get", "--db", db, "k042"]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("'k042' not found"));

    let output = run(&[
        "scan", "--db", db, "--from", "k040", "--to", "k045", "--limit", "3",
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stdout(&output),
        "'k040' => 'v40'\n'k041' => 'v41'\n'k043' => 'v43'\n"
    );
    let all = stdout(&run(&["scan", "--db", db]));
    assert_eq!(all.lines().count(), 101); // 101 keys, one deleted, one added
}

#[test]
fn compact_stats_and_manifest_describe_the_shape() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let db_str = db.to_str().unwrap();

    let before = snapshot(&db);
    let output = run(&["manifest", db_str]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(text.contains("1 tables"), "{text}");
    assert!(text.contains("seqnos 1..=100"), "{text}");
    assert_eq!(snapshot(&db), before, "manifest changed the database");

    let output = run(&["compact", "--db", db_str]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("-> 1 runs"));

    let output = run(&["stats", "--db", db_str]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("sorted runs                1"));
    assert!(stdout(&output).contains("last seqno                 101"));

    let text = stdout(&run(&["manifest", db_str]));
    assert!(text.contains("seqnos 1..=101"), "{text}");
}

#[test]
fn a_missing_directory_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing");
    for args in [
        vec!["get", "--db", missing.to_str().unwrap(), "k"],
        vec!["put", "--db", missing.to_str().unwrap(), "k", "v"],
        vec!["scan", "--db", missing.to_str().unwrap()],
        vec!["stats", "--db", missing.to_str().unwrap()],
        vec!["compact", "--db", missing.to_str().unwrap()],
        vec![
            "checkpoint",
            "--db",
            missing.to_str().unwrap(),
            dir.path().join("copy").to_str().unwrap(),
        ],
        vec!["manifest", missing.to_str().unwrap()],
    ] {
        assert_fails_naming(&run(&args), &missing);
        assert!(!missing.exists(), "{args:?} created it");
    }
}

#[test]
fn a_damaged_manifest_is_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let current = db.join("CURRENT");
    fs::write(&current, "garbage\n").unwrap();
    let before = snapshot(&db);
    assert_fails_naming(&run(&["manifest", db.to_str().unwrap()]), &current);
    assert_eq!(snapshot(&db), before);

    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let name = fs::read_to_string(db.join("CURRENT")).unwrap();
    let manifest = db.join(name.trim());
    let mut bytes = fs::read(&manifest).unwrap();
    bytes[5] ^= 0x40;
    fs::write(&manifest, &bytes).unwrap();
    let before = snapshot(&db);
    let output = run(&["manifest", db.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_fails_naming(&output, &manifest);
    assert_eq!(snapshot(&db), before);
}

#[test]
fn get_scan_and_stats_leave_the_database_byte_for_byte_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let db_str = db.to_str().unwrap();
    let before = snapshot(&db);
    assert_eq!(
        stdout(&run(&["get", "--db", db_str, "k100"])),
        "'in the log'\n"
    );
    assert_eq!(snapshot(&db), before, "get changed the database");
    assert_eq!(stdout(&run(&["scan", "--db", db_str])).lines().count(), 101);
    let stats = stdout(&run(&["stats", "--db", db_str]));
    assert!(stats.contains("last seqno                 101"), "{stats}");
    assert_eq!(snapshot(&db), before, "scan or stats changed the database");
    // Beside a writer that holds the lock: read-only opens take none.
    let writer = Db::open(&db, Options::default()).unwrap();
    writer.put(b"k200", b"from the writer").unwrap();
    let output = run(&["get", "--db", db_str, "k200"]);
    assert_eq!(stdout(&output), "'from the writer'\n", "{output:?}");
    writer.close().unwrap();
}

#[test]
fn checkpoint_writes_a_copy_that_opens() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let out = dir.path().join("copy");
    let output = run(&[
        "checkpoint",
        "--db",
        db.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("written to"), "{text}");
    assert!(text.contains("last seqno 101"), "{text}");
    let copy = Db::open(&out, Options::default()).unwrap();
    assert_eq!(copy.get(b"k100").unwrap(), Some(b"in the log".to_vec()));
    assert_eq!(copy.iter().count(), 101);
    drop(copy);
    // Into a directory that holds something: refused, naming it.
    assert_fails_naming(
        &run(&[
            "checkpoint",
            "--db",
            db.to_str().unwrap(),
            out.to_str().unwrap(),
        ]),
        &out,
    );
}

#[test]
fn ingest_links_a_table_in_and_refuses_an_overlap() {
    use lsmkit_sstable::{SstOptions, SstWriter};
    use lsmkit_vfs::StdFs;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let table = dir.path().join("bulk.sst");
    let mut writer =
        SstWriter::create(Arc::new(StdFs::new()), &table, SstOptions::default()).unwrap();
    writer.put(b"k042", 0, b"ingested").unwrap();
    writer.put(b"zzz", 0, b"new").unwrap();
    writer.finish().unwrap();
    let output = run(&[
        "ingest",
        "--db",
        db.to_str().unwrap(),
        table.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("ingested 1 files"), "{text}");
    assert!(text.contains("1 hard-linked, 0 copied"), "{text}");
    assert_eq!(
        stdout(&run(&["get", "--db", db.to_str().unwrap(), "k042"])),
        "'ingested'\n"
    );
    assert_eq!(
        stdout(&run(&["get", "--db", db.to_str().unwrap(), "zzz"])),
        "'new'\n"
    );
    // The same file twice overlaps itself: refused, naming it, nothing in.
    let twice = run(&[
        "ingest",
        "--db",
        db.to_str().unwrap(),
        table.to_str().unwrap(),
        table.to_str().unwrap(),
    ]);
    assert_fails_naming(&twice, &table);
}

#[test]
fn keyspaces_are_created_written_read_loaded_dumped_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let db = db.to_str().unwrap();
    let ok = |args: &[&str]| {
        let output = run(args);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {output:?}");
        stdout(&output)
    };
    ok(&["keyspace", "create", "--db", db, "logs"]);
    assert_eq!(ok(&["keyspace", "list", "--db", db]), "default\nlogs\n");
    ok(&["put", "--db", db, "--keyspace", "logs", "k042", "in logs"]);
    assert_eq!(
        ok(&["get", "--db", db, "--keyspace", "logs", "k042"]),
        "'in logs'\n"
    );
    assert_eq!(ok(&["get", "--db", db, "k042"]), "'v42'\n");

    let input = dir.path().join("pairs.csv");
    fs::write(&input, "a,1\nb,2\n").unwrap();
    let input = input.to_str().unwrap();
    ok(&[
        "load",
        "--db",
        db,
        "--keyspace",
        "logs",
        "--format",
        "csv",
        "--file",
        input,
    ]);
    assert_eq!(
        ok(&["dump", "--db", db, "--keyspace", "logs", "--format", "csv"]),
        "a,1\r\nb,2\r\nk042,in logs\r\n"
    );
    assert_eq!(
        ok(&["scan", "--db", db, "--keyspace", "logs", "--limit", "1"]),
        "'a' => '1'\n"
    );
    assert!(ok(&["compact", "--db", db, "--keyspace", "logs"]).contains("-> 1 runs"));
    assert!(
        ok(&["stats", "--db", db, "--keyspace", "logs"]).contains("sorted runs                1")
    );
    assert!(ok(&["manifest", db]).contains("(keyspace logs)"));

    let missing = run(&["get", "--db", db, "--keyspace", "nope", "k042"]);
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr).to_string();
    assert!(stderr.contains("no keyspace \"nope\""), "{stderr}");
    assert!(stderr.contains("lsmkit keyspace create"), "{stderr}");

    ok(&["keyspace", "drop", "--db", db, "logs"]);
    assert_eq!(ok(&["keyspace", "list", "--db", db]), "default\n");
    let default = run(&["keyspace", "drop", "--db", db, "default"]);
    assert_eq!(default.status.code(), Some(1));
    // The default keyspace kept its data throughout.
    assert_eq!(ok(&["get", "--db", db, "k100"]), "'in the log'\n");
}
