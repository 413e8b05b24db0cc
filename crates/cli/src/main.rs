//! `lsmkit`: benchmark lsmkit, and look inside its files.
//!
//! Exit status: 0 on success, 1 when a command fails (one line on stderr
//! naming the file and the problem), 2 on a usage error.
#![forbid(unsafe_code)]

mod bytes;
mod commands;
mod failure;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use commands::bench::BenchArgs;
use commands::sst::SstCommand;
use commands::wal::WalCommand;
use failure::{Failure, one_line};

/// lsmkit's tool: db_bench-style benchmarks, and sst_dump and ldb for
/// lsmkit's files.
///
/// Commands that only read (sst, wal) open their inputs read-only and never
/// change them. Exit status: 0 ok, 1 the command failed (one line on
/// stderr), 2 usage error.
#[derive(Debug, Parser)]
#[command(name = "lsmkit", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run db_bench-style workloads and print a table of the results.
    Bench(BenchArgs),
    /// Look inside an SSTable file (read-only).
    Sst {
        #[command(subcommand)]
        command: SstCommand,
    },
    /// Look inside a write-ahead log (read-only).
    Wal {
        #[command(subcommand)]
        command: WalCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = run(&cli.command, &mut out).and_then(|()| out.flush().map_err(Failure::from));
    match result {
        Ok(()) | Err(Failure::BrokenPipe) => ExitCode::SUCCESS,
        Err(Failure::Message(message)) => {
            // Whatever was printed before the failure goes out first.
            let _ = out.flush();
            eprintln!("lsmkit: {}", one_line(&message));
            ExitCode::FAILURE
        }
    }
}

fn run(command: &Command, out: &mut dyn Write) -> Result<(), Failure> {
    match command {
        Command::Bench(args) => commands::bench::run(args, out),
        Command::Sst { command } => commands::sst::run(command, out),
        Command::Wal { command } => commands::wal::run(command, out),
    }
}
