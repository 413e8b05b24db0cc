//! Making a database: `lsmkit create`, and `--create-if-missing` on the
//! commands that write.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;

use common::{assert_fails_naming, lsmkit, lsmkit_with_stdin, stdout};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn create_makes_an_empty_database_that_put_then_opens() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new/db");
    let db_str = db.to_str().unwrap();

    let output = lsmkit(["create", "--db", db_str]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("created an empty lsmkit database"));
    assert!(db.join("CURRENT").is_file());
    assert_eq!(stdout(&lsmkit(["dump", "--db", db_str])), "");

    assert_eq!(
        lsmkit(["put", "--db", db_str, "k", "v"]).status.code(),
        Some(0)
    );
    assert_eq!(stdout(&lsmkit(["get", "--db", db_str, "k"])), "'v'\n");
}

#[test]
fn create_in_an_empty_existing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let output = lsmkit(["create", "--db", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(dir.path().join("CURRENT").is_file());
}

#[test]
fn create_twice_fails_and_leaves_the_database_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let db_str = db.to_str().unwrap();
    assert_eq!(lsmkit(["create", "--db", db_str]).status.code(), Some(0));
    assert_eq!(
        lsmkit(["put", "--db", db_str, "k", "v"]).status.code(),
        Some(0)
    );

    let again = lsmkit(["create", "--db", db_str]);
    assert_fails_naming(&again, &db);
    assert!(
        stderr(&again).contains("already an lsmkit database"),
        "{}",
        stderr(&again)
    );
    assert_eq!(stdout(&lsmkit(["get", "--db", db_str, "k"])), "'v'\n");
}

#[test]
fn a_directory_holding_other_files_is_not_made_a_database() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let db = dir.path();
    let db_str = db.to_str().unwrap();
    for output in [
        lsmkit(["create", "--db", db_str]),
        lsmkit(["put", "--db", db_str, "--create-if-missing", "k", "v"]),
        lsmkit_with_stdin(["load", "--db", db_str, "--create-if-missing"], b"k\tv\n"),
    ] {
        assert_fails_naming(&output, db);
        assert!(stderr(&output).contains("not empty"), "{}", stderr(&output));
    }
    assert_eq!(fs::read_dir(db).unwrap().count(), 1, "files were added");
}

#[test]
fn put_on_a_fresh_directory_fails_and_names_the_fixes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let db_str = db.to_str().unwrap();
    for output in [
        lsmkit(["put", "--db", db_str, "k", "v"]),
        lsmkit(["delete", "--db", db_str, "k"]),
        lsmkit_with_stdin(["load", "--db", db_str], b"k\tv\n"),
    ] {
        assert_fails_naming(&output, &db);
        let message = stderr(&output);
        assert!(message.contains("not an lsmkit database"), "{message}");
        assert!(message.contains("lsmkit create --db"), "{message}");
        assert!(message.contains("--create-if-missing"), "{message}");
    }
    assert!(
        !db.exists(),
        "a command without the flag created the database"
    );
}

#[test]
fn put_and_delete_with_create_if_missing_make_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let db_str = db.to_str().unwrap();
    let output = lsmkit(["put", "--db", db_str, "--create-if-missing", "k", "v"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&lsmkit(["get", "--db", db_str, "k"])), "'v'\n");
    // On an existing database the flag changes nothing.
    let output = lsmkit(["put", "--db", db_str, "--create-if-missing", "k2", "v2"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&lsmkit(["dump", "--db", db_str])), "k\tv\nk2\tv2\n");

    let other = dir.path().join("other");
    let other_str = other.to_str().unwrap();
    let output = lsmkit(["delete", "--db", other_str, "--create-if-missing", "k"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(other.join("CURRENT").is_file());
    assert_eq!(stdout(&lsmkit(["dump", "--db", other_str])), "");
}
