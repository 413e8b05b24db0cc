//! Usage errors exit 2; help exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::lsmkit;

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["frobnicate"],
        &["sst"],
        &["sst", "dump"],
        &["sst", "dump", "--limit", "many", "x.sst"],
        &["wal", "dump", "--mode", "optimistic", "dir"],
        &["bench", "--num", "lots"],
        &["bench", "--workloads", "fillseq,teleport"],
        &["bench", "--workloads", "fillsync:0"],
        &["create"],
        &["load", "--db", "x", "--format", "xml"],
        &["dump", "--db", "x", "--format", "json"],
    ] {
        let output = lsmkit(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn help_and_version_exit_0() {
    for args in [
        &["--help"][..],
        &["--version"],
        &["sst", "--help"],
        &["bench", "--help"],
        &["create", "--help"],
        &["load", "--help"],
        &["dump", "--help"],
    ] {
        assert_eq!(lsmkit(args).status.code(), Some(0), "{args:?}");
    }
}
