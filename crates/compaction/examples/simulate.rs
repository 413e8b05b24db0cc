//! Prints what the tiered and the leveled strategies cost for a few ingest
//! patterns: write, read (most sorted runs a lookup consults) and space
//! amplification, on the same keys.
//!
//! Flushes are 1000 entries of 100 bytes; the options are the defaults,
//! with the leveled sizes scaled to the flush as the engine's defaults
//! relate to its 64 MiB write buffer (a table per flush, a base level of
//! four flushes).
use lsmkit_compaction::{LeveledOptions, Policy, Simulation, TieredOptions, Workload, simulate};

fn main() -> Result<(), lsmkit_compaction::Error> {
    const FLUSH_BYTES: u64 = 1000 * 100;
    let workloads = [
        ("sequential", Workload::Sequential),
        ("uniform", Workload::Uniform { key_space: 200_000 }),
        (
            "skewed 90/10",
            Workload::Skewed {
                key_space: 200_000,
                hot_keys_percent: 10,
                hot_writes_percent: 90,
            },
        ),
    ];
    let policies = [
        ("tiered", Policy::Tiered(TieredOptions::default())),
        (
            "leveled",
            Policy::Leveled(LeveledOptions {
                base_level_size: 4 * FLUSH_BYTES,
                target_file_size: FLUSH_BYTES,
                ..LeveledOptions::default()
            }),
        ),
    ];
    println!(
        "| workload | flushes | policy | write-amp | max space-amp | max runs | compactions |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|");
    for (name, workload) in workloads {
        for flushes in [100, 1000] {
            for (policy_name, policy) in &policies {
                let report = simulate(&Simulation {
                    workload,
                    flushes,
                    flush_bytes: FLUSH_BYTES,
                    entry_bytes: 100,
                    seed: 7,
                    policy: policy.clone(),
                })?;
                println!(
                    "| {name} | {flushes} | {policy_name} | {:.2} | {:.2} | {} | {} |",
                    report.write_amplification,
                    report.max_space_amplification,
                    report.max_runs,
                    report.compactions
                );
            }
        }
    }
    Ok(())
}
