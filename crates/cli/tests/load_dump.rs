//! `lsmkit load` and `lsmkit dump`: each format from a file and from stdin,
//! malformed input, and dump | load round trips against a BTreeMap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Output;

use common::{
    assert_fails_naming, lsmkit, lsmkit_with_stdin, scaled_cases, snapshot, stdout, with_db,
};
use proptest::prelude::*;

const FORMATS: [&str; 3] = ["text", "hex", "csv"];

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_ok(output: &Output) {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
}

/// The same three pairs, keys in order, in each format: a tab, a line
/// break, a comma, quotes, a backslash and a byte that is not UTF-8.
fn sample(format: &str) -> &'static [u8] {
    match format {
        "text" => b"a\\tb\t1\nc,\\\"d\\\"\tline\\nbreak\n\\xff\\\\\t\n",
        "hex" => b"610962\t31\n632c226422\t6c696e650a627265616b\nff5c\t\n",
        "csv" => b"a\tb,1\r\n\"c,\"\"d\"\"\",\"line\nbreak\"\r\n\xff\\,\r\n",
        _ => unreachable!("{format}"),
    }
}

fn sample_pairs() -> BTreeMap<Vec<u8>, Vec<u8>> {
    BTreeMap::from([
        (b"a\tb".to_vec(), b"1".to_vec()),
        (b"c,\"d\"".to_vec(), b"line\nbreak".to_vec()),
        (b"\xff\\".to_vec(), b"".to_vec()),
    ])
}

/// `lsmkit load` into `db` (created if missing) from `file` in `format`,
/// with `more` arguments.
fn load_file(db: &Path, format: &str, file: &Path, more: &[&str]) -> Output {
    let (db, file) = (db.to_str().unwrap(), file.to_str().unwrap());
    let mut args = vec![
        "load",
        "--db",
        db,
        "--create-if-missing",
        "--format",
        format,
    ];
    args.extend_from_slice(&["--file", file]);
    args.extend_from_slice(more);
    lsmkit(args)
}

/// Every pair in the database at `db`, read through the engine.
fn contents(db: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    with_db(db, |db| db.iter().map(Result::unwrap).collect())
}

#[test]
fn each_format_loads_from_a_file_and_dumps_back_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    for format in FORMATS {
        let input = dir.path().join(format!("in.{format}"));
        fs::write(&input, sample(format)).unwrap();
        let db = dir.path().join(format!("db-{format}"));
        let db_str = db.to_str().unwrap();
        let output = load_file(&db, format, &input, &[]);
        assert_ok(&output);
        let summary = stdout(&output);
        assert!(summary.starts_with("loaded 3 pairs (21 bytes"), "{summary}");
        assert!(summary.contains(input.to_str().unwrap()), "{summary}");
        assert!(summary.contains("pairs/s; synced"), "{summary}");
        assert_eq!(contents(&db), sample_pairs(), "{format}");

        let dumped = lsmkit(["dump", "--db", db_str, "--format", format]);
        assert_ok(&dumped);
        assert_eq!(dumped.stdout, sample(format), "{format}");
    }
}

#[test]
fn each_format_loads_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    for format in FORMATS {
        let db = dir.path().join(format!("db-{format}"));
        let db_str = db.to_str().unwrap();
        assert_ok(&lsmkit(["create", "--db", db_str]));
        let args = [
            "load",
            "--db",
            db_str,
            "--format",
            format,
            "--batch-size",
            "2",
        ];
        let output = lsmkit_with_stdin(args, sample(format));
        assert_ok(&output);
        assert!(
            stdout(&output).contains("from stdin"),
            "{}",
            stdout(&output)
        );
        assert_eq!(contents(&db), sample_pairs(), "{format}");
    }
}

#[test]
fn text_is_the_default_format_and_crlf_and_blank_lines_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let db_str = db.to_str().unwrap();
    let input = b"k1\tv1\r\n\n\r\nk2\tv2";
    assert_ok(&lsmkit_with_stdin(
        ["load", "--db", db_str, "--create-if-missing"],
        input,
    ));
    assert_eq!(
        stdout(&lsmkit(["dump", "--db", db_str])),
        "k1\tv1\nk2\tv2\n"
    );
}

#[test]
fn empty_input_loads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let db_str = db.to_str().unwrap();
    let empty = dir.path().join("empty");
    fs::write(&empty, b"").unwrap();
    for format in FORMATS {
        let output = load_file(&db, format, &empty, &[]);
        assert_ok(&output);
        assert!(stdout(&output).starts_with("loaded 0 pairs (0 bytes"));
        let output = lsmkit_with_stdin(["load", "--db", db_str, "--format", format], b"");
        assert_ok(&output);
        assert!(stdout(&output).starts_with("loaded 0 pairs (0 bytes"));
    }
    assert!(db.join("CURRENT").is_file());
    assert!(contents(&db).is_empty());
}

#[test]
fn a_malformed_line_is_named_and_the_pairs_before_it_are_loaded() {
    let cases: &[(&str, &[u8], u64, &str)] = &[
        ("text", b"a\t1\nb\t2\nno tab\nd\t4\n", 3, "no tab"),
        ("text", b"a\t1\nb\t2\nc\\z\t3\nd\t4\n", 3, "unknown escape"),
        (
            "hex",
            b"61\t31\n62\t32\n6\t33\n64\t34\n",
            3,
            "odd number of digits",
        ),
        ("csv", b"a,1\nb,2\nc\"x,3\nd,4\n", 3, "a quote inside"),
        (
            "csv",
            b"a,1\nb,2\n\"c,3\nd,4\n",
            3,
            "quoted field never closes",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, &(format, input, line, problem)) in cases.iter().enumerate() {
        // From a file, batches of one: the two pairs before the line are
        // written, the one after it is not.
        let db = dir.path().join(format!("file-{i}"));
        let file = dir.path().join(format!("in-{i}.{format}"));
        fs::write(&file, input).unwrap();
        let output = load_file(&db, format, &file, &["--batch-size", "1"]);
        assert_fails_naming(&output, &file);
        let message = stderr(&output);
        assert!(message.contains(&format!(": line {line}: ")), "{message}");
        assert!(message.contains(problem), "{message}");
        assert!(
            message.contains("loaded and synced the 2 pairs before line 3"),
            "{message}"
        );
        assert_eq!(contents(&db).len(), 2, "{format}: {message}");

        // From stdin, one batch: the same pairs are in.
        let db = dir.path().join(format!("stdin-{i}"));
        let output = lsmkit_with_stdin(
            [
                "load",
                "--db",
                db.to_str().unwrap(),
                "--create-if-missing",
                "--format",
                format,
            ],
            input,
        );
        assert_eq!(output.status.code(), Some(1));
        let message = stderr(&output);
        assert!(
            message.starts_with(&format!("lsmkit: stdin: line {line}: ")),
            "{message}"
        );
        assert_eq!(contents(&db).len(), 2, "{format}: {message}");
    }
}

#[test]
fn a_missing_input_file_creates_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let missing = dir.path().join("missing.txt");
    let output = lsmkit([
        "load",
        "--db",
        db.to_str().unwrap(),
        "--create-if-missing",
        "--file",
        missing.to_str().unwrap(),
    ]);
    assert_fails_naming(&output, &missing);
    assert!(!db.exists());
}

#[test]
fn batch_limits_must_be_positive() {
    for flag in ["--batch-size", "--batch-bytes"] {
        let output = lsmkit(["load", "--db", "x", flag, "0"]);
        assert_eq!(output.status.code(), Some(2), "{flag}");
    }
}

#[test]
fn dump_bounds_take_keys_as_the_format_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let db_str = db.to_str().unwrap();
    let input: String = (0..10).map(|i| format!("k{i}\tv{i}\n")).collect();
    assert_ok(&lsmkit_with_stdin(
        ["load", "--db", db_str, "--create-if-missing"],
        input.as_bytes(),
    ));
    let text = lsmkit(["dump", "--db", db_str, "--from", "k3", "--to", "k6"]);
    assert_eq!(stdout(&text), "k3\tv3\nk4\tv4\nk5\tv5\n");
    let hex = lsmkit(["dump", "--db", db_str, "--format", "hex", "--from", "6b38"]);
    assert_eq!(stdout(&hex), "6b38\t7638\n6b39\t7639\n");
    let escaped = lsmkit(["dump", "--db", db_str, "--to", "k\\x31"]);
    assert_eq!(stdout(&escaped), "k0\tv0\n");

    let bad = lsmkit(["dump", "--db", db_str, "--format", "hex", "--from", "zz"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("--from"), "{}", stderr(&bad));
}

#[test]
fn dump_to_a_file_prints_a_summary_and_needs_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let db_str = db.to_str().unwrap();
    assert_ok(&lsmkit([
        "put",
        "--db",
        db_str,
        "--create-if-missing",
        "k",
        "v",
    ]));
    let out = dir.path().join("out.csv");
    let output = lsmkit([
        "dump",
        "--db",
        db_str,
        "--format",
        "csv",
        "--file",
        out.to_str().unwrap(),
    ]);
    assert_ok(&output);
    assert_eq!(fs::read(&out).unwrap(), b"k,v\r\n");
    assert_eq!(stdout(&output), "");
    assert!(
        stderr(&output).starts_with("dumped 1 pair (2 bytes"),
        "{}",
        stderr(&output)
    );

    let missing = dir.path().join("missing");
    let output = lsmkit(["dump", "--db", missing.to_str().unwrap()]);
    assert_fails_naming(&output, &missing);
    assert!(!missing.exists());
}

/// Bytes that the formats must escape or quote, and any other byte.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        prop::sample::select(b"\t\n\r,\"'\\ x".to_vec()),
        any::<u8>(),
    ];
    prop::collection::vec(byte, 0..8)
}

#[derive(Clone, Debug)]
enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (bytes(), bytes()).prop_map(|(k, v)| Op::Put(k, v)),
        1 => bytes().prop_map(Op::Delete),
    ]
}

proptest! {
    // Each case runs the binary nine times and opens four databases.
    #![proptest_config(ProptestConfig { cases: scaled_cases(12), ..ProptestConfig::default() })]

    /// dump of a database, loaded into a new one, holds exactly its live
    /// pairs, and dumps to the very same bytes.
    #[test]
    fn dump_then_load_round_trips_exactly(ops in prop::collection::vec(op(), 0..40)) {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source");
        let mut oracle = BTreeMap::new();
        with_db(&source, |db| {
            for op in &ops {
                match op {
                    Op::Put(k, v) => {
                        db.put(k, v).unwrap();
                        oracle.insert(k.clone(), v.clone());
                    }
                    Op::Delete(k) => {
                        db.delete(k).unwrap();
                        oracle.remove(k);
                    }
                }
            }
        });
        for format in FORMATS {
            let dumped = lsmkit(["dump", "--db", source.to_str().unwrap(), "--format", format]);
            prop_assert_eq!(dumped.status.code(), Some(0), "{}", stderr(&dumped));
            let copy = dir.path().join(format!("copy-{format}"));
            let copy_str = copy.to_str().unwrap();
            let loaded = lsmkit_with_stdin(
                ["load", "--db", copy_str, "--create-if-missing", "--format", format, "--batch-size", "3"],
                &dumped.stdout,
            );
            prop_assert_eq!(loaded.status.code(), Some(0), "{}", stderr(&loaded));
            let summary = format!("loaded {} pair", oracle.len());
            prop_assert!(stdout(&loaded).starts_with(&summary), "{}", stdout(&loaded));
            prop_assert_eq!(&contents(&copy), &oracle, "{}", format);
            let again = lsmkit(["dump", "--db", copy_str, "--format", format]);
            prop_assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
            prop_assert_eq!(&again.stdout, &dumped.stdout, "{}", format);
        }
    }
}

#[test]
fn dump_reads_while_a_writer_has_the_database_open_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    // Not `with_db`: it would hold off the spawn below. Nothing opens this
    // database after the writer closes, so a child that inherited its
    // LOCK meanwhile cannot get in the way.
    let writer = lsmkit_engine::Db::open(&path, lsmkit_engine::Options::default()).unwrap();
    writer.put(b"k", b"in the log").unwrap();
    let before = snapshot(&path);
    let output = lsmkit(["dump", "--db", path.to_str().unwrap()]);
    assert_ok(&output);
    assert_eq!(stdout(&output), "k\tin the log\n");
    assert_eq!(snapshot(&path), before, "dump changed the database");
    writer.close().unwrap();
}
