//! `lsmkit bench` end to end through lsmkit-engine, small.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{lsmkit, stdout};

#[test]
fn a_tiny_run_through_the_engine_prints_a_table_and_json() {
    let output = lsmkit(["bench", "--num", "2000", "--progress", "none"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = stdout(&output);
    for workload in ["fillseq ", "readrandom ", "seekrandom ", "fillsync:4 "] {
        assert!(text.contains(workload), "{workload} missing:\n{text}");
    }

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let output = lsmkit([
        "bench",
        "--num",
        "2000",
        "--workloads",
        "fillrandom,readrandom:2",
        "--json",
        "--progress",
        "lines",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["engine"], "lsmkit");
    assert_eq!(json["measurements"][1]["found"], 2000);
    assert_eq!(json["measurements"][1]["threads"], 2);
    assert!(String::from_utf8_lossy(&output.stderr).contains("readrandom:2: 2000 ops"));
    // --db keeps the database.
    assert!(db.join("CURRENT").is_file());
}

#[test]
fn compression_is_chosen_and_named_in_the_configuration() {
    for codec in ["none", "lz4", "zstd"] {
        let output = lsmkit([
            "bench",
            "--num",
            "1000",
            "--workloads",
            "fillrandom,readrandom",
            "--compression",
            codec,
            "--progress",
            "none",
        ]);
        assert_eq!(output.status.code(), Some(0));
        let text = stdout(&output);
        assert!(
            text.contains(&format!("compression {codec},")),
            "{codec}:\n{text}"
        );
    }
    let output = lsmkit(["bench", "--compression", "snappy"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_directory_that_is_not_a_benchmarks_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("thesis.tex"), "years of work").unwrap();
    let output = lsmkit([
        "bench",
        "--num",
        "100",
        "--db",
        dir.path().to_str().unwrap(),
    ]);
    common::assert_fails_naming(&output, dir.path());
    assert_eq!(
        std::fs::read(dir.path().join("thesis.tex")).unwrap(),
        b"years of work"
    );
}
