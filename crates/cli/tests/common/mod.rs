//! Running the built `lsmkit` binary and checking how it fails.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `lsmkit` with `args`.
pub fn lsmkit<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_lsmkit"))
        .args(args)
        .output()
        .expect("the lsmkit binary runs")
}

/// Stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Checks that `output` is a runtime failure: exit status 1 and exactly
/// one line on stderr, naming `file`, and no panic.
pub fn assert_fails_naming(output: &Output, file: &Path) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.starts_with("lsmkit: "), "{stderr}");
    assert!(
        stderr.contains(&file.display().to_string()),
        "{stderr} does not name {}",
        file.display()
    );
}

/// Checks that `output` ended normally (0) or with a reported failure (1),
/// never a panic.
pub fn assert_no_panic(output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(matches!(output.status.code(), Some(0 | 1)), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
