//! Compaction for lsmkit (in progress).
#![forbid(unsafe_code)]

mod error;
mod fragments;
mod merge;
mod stream;

pub use error::Error;
pub use merge::MergingIterator;
pub use stream::{CompactionStream, StreamStats};
mod picker;
pub use picker::{CompactionReason, CompactionTask, RunInfo, TieredOptions, pick};
mod simulator;
pub use simulator::{Simulation, SimulationReport, Simulator, Workload, simulate};
mod executor;
pub use executor::{CompactionJob, CompactionOutcome, OutputTable, execute};
