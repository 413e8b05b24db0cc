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

#[cfg(target_os = "linux")]
#[test]
fn cold_reads_reopen_the_database_and_run_the_reads_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let output = lsmkit([
        "bench",
        "--num",
        "3000",
        "--workloads",
        "fillrandom,readrandom,readseq,overwrite",
        "--reads",
        "500",
        "--cold",
        "--cache-mib",
        "1",
        "--json",
        "--progress",
        "lines",
        "--db",
        db.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let m = &json["measurements"];
    assert_eq!(m[0]["ops"], 3000, "a write workload runs --num");
    assert_eq!(m[1]["ops"], 500);
    assert_eq!(m[1]["found"], 500);
    assert_eq!(m[2]["ops"], 500);
    assert_eq!(m[3]["ops"], 3000);
    // The page cache is dropped before each read workload only.
    assert_eq!(
        stderr.matches("dropped the page cache").count(),
        2,
        "{stderr}"
    );
    assert!(
        json["engine_config"]
            .as_str()
            .unwrap()
            .contains("block cache 1 MiB")
    );

    let output = lsmkit(["bench", "--num", "100", "--reads", "0"]);
    assert_ne!(output.status.code(), Some(0));
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
