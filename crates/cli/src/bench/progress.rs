//! How a run shows its progress: a bar per workload on a terminal, a plain
//! line per workload otherwise, or nothing. Progress goes to stderr, so
//! that stdout carries only the results (a table, or JSON).

use std::io::{self, IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};

/// How a run reports progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar per workload (indicatif), on stderr.
    Bar,
    /// A line on stderr as each workload starts and ends.
    Lines,
    /// Nothing.
    Quiet,
}

impl Progress {
    /// [`Progress::Bar`] when stderr is a terminal, [`Progress::Lines`]
    /// otherwise.
    pub fn auto() -> Progress {
        if io::stderr().is_terminal() {
            Progress::Bar
        } else {
            Progress::Lines
        }
    }

    /// A line between phases, unless quiet.
    pub(crate) fn note(self, text: &str) {
        if self != Progress::Quiet {
            line(format_args!("{text}"));
        }
    }

    /// Starts reporting a phase of `total` operations.
    pub(crate) fn start(self, label: &str, total: u64) -> Ticker {
        let bar = match self {
            Progress::Bar => {
                let style = ProgressStyle::with_template(
                    "{prefix:>14} [{bar:30}] {human_pos}/{human_len} ops, eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
                Some(
                    ProgressBar::new(total)
                        .with_style(style)
                        .with_prefix(label.to_string()),
                )
            }
            Progress::Lines => {
                line(format_args!("{label}: {total} operations"));
                None
            }
            Progress::Quiet => None,
        };
        Ticker {
            bar,
            lines: self == Progress::Lines,
            label: label.to_string(),
        }
    }
}

/// The progress of one phase; shared by its threads.
#[derive(Debug)]
pub(crate) struct Ticker {
    bar: Option<ProgressBar>,
    lines: bool,
    label: String,
}

impl Ticker {
    /// How many operations a thread does between reports.
    pub(crate) const EVERY: u64 = 1024;

    /// Counts `n` more operations done.
    pub(crate) fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Ends the phase, with a summary for the plain-lines mode.
    pub(crate) fn finish(&self, summary: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.lines {
            line(format_args!("{}: {summary}", self.label));
        }
    }
}

fn line(args: std::fmt::Arguments<'_>) {
    // Progress is best effort: a closed stderr must not stop a run.
    let _ = writeln!(io::stderr().lock(), "{args}");
}
