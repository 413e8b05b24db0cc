//! How a command fails: one line on stderr and exit status 1, or, when
//! the reader of our output went away (`lsmkit sst dump x | head`), a quiet
//! exit 0.

use std::fmt;
use std::io;

/// A command's failure.
#[derive(Debug)]
pub enum Failure {
    /// Something went wrong: the message names the file and the problem.
    Message(String),
    /// Stdout was closed by its reader; there is nobody left to tell.
    BrokenPipe,
}

impl Failure {
    /// A failure saying `message`.
    pub fn new(message: impl fmt::Display) -> Failure {
        Failure::Message(message.to_string())
    }
}

impl From<io::Error> for Failure {
    /// An error writing our output.
    fn from(error: io::Error) -> Failure {
        if error.kind() == io::ErrorKind::BrokenPipe {
            Failure::BrokenPipe
        } else {
            Failure::Message(format!("writing output: {error}"))
        }
    }
}

impl From<lsmkit_sstable::Error> for Failure {
    fn from(error: lsmkit_sstable::Error) -> Failure {
        Failure::new(error)
    }
}

impl From<lsmkit_wal::Error> for Failure {
    fn from(error: lsmkit_wal::Error) -> Failure {
        Failure::new(error)
    }
}

/// `message` on one line: line breaks of nested errors become "; ".
pub fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_fold_onto_one_line() {
        assert_eq!(one_line("a\n  b\n\nc"), "a; b; c");
        assert_eq!(one_line("plain"), "plain");
    }

    #[test]
    fn broken_pipes_are_not_failures_to_report() {
        let pipe = io::Error::new(io::ErrorKind::BrokenPipe, "gone");
        assert!(matches!(Failure::from(pipe), Failure::BrokenPipe));
        let full = io::Error::new(io::ErrorKind::StorageFull, "full");
        assert!(matches!(Failure::from(full), Failure::Message(m) if m.contains("full")));
    }
}
