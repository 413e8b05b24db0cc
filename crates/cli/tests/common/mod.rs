//! Running the built `lsmkit` binary and checking how it fails.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

use lsmkit_engine::{Db, Options};

/// Held while a child is spawned, and while a test holds a database open
/// in its own process: a child spawned while a `Db` is open holds a copy
/// of its LOCK file (a flock) until it execs, so that a database closed
/// meanwhile stays locked and the next command on it fails.
static SPAWNING: Mutex<()> = Mutex::new(());

fn spawning() -> MutexGuard<'static, ()> {
    SPAWNING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `f` on the database at `path`, opened in this process (created if
/// missing), and closes it.
pub fn with_db<T>(path: &Path, f: impl FnOnce(&Db) -> T) -> T {
    let _spawning = spawning();
    let db = Db::open(path, Options::default()).expect("the database opens");
    let result = f(&db);
    db.close().expect("the database closes");
    result
}

fn spawn(command: &mut Command) -> Child {
    let _spawning = spawning();
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the lsmkit binary runs")
}

/// Runs `lsmkit` with `args`.
pub fn lsmkit<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    spawn(Command::new(env!("CARGO_BIN_EXE_lsmkit")).args(args))
        .wait_with_output()
        .expect("lsmkit ends")
}

/// Runs `lsmkit` with `args`, `input` on its stdin.
pub fn lsmkit_with_stdin<I, S>(args: I, input: &[u8]) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut child = spawn(
        Command::new(env!("CARGO_BIN_EXE_lsmkit"))
            .args(args)
            .stdin(Stdio::piped()),
    );
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // Fed from a thread: a large input would otherwise block on a full
    // pipe while lsmkit blocks on a full stdout.
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        // lsmkit may stop reading early (a malformed line): not an error here.
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().expect("lsmkit ends");
    feeder.join().expect("the feeder thread ends");
    output
}

/// `base` proptest cases, scaled by `PROPTEST_CASES` as that variable
/// scales proptest's default of 256 (an explicit `cases` ignores it):
/// `PROPTEST_CASES=2560` runs ten times `base`.
pub fn scaled_cases(base: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(base, |n| {
            u32::try_from((u64::from(base) * n / 256).max(1)).unwrap_or(u32::MAX)
        })
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

/// Every file under `dir`, with its bytes.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(snapshot(&path));
        } else {
            files.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    files.sort();
    files
}
