//! Prints what the tiered strategy costs for a few ingest patterns.
use lsmkit_compaction::{Simulation, TieredOptions, Workload, simulate};

fn main() -> Result<(), lsmkit_compaction::Error> {
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
    println!("workload      flushes  write-amp  max-space-amp  max-runs  compactions");
    for (name, workload) in workloads {
        for flushes in [100, 1000] {
            let report = simulate(&Simulation {
                workload,
                flushes,
                flush_bytes: 1000 * 100,
                entry_bytes: 100,
                seed: 7,
                options: TieredOptions::default(),
            })?;
            println!(
                "{name:<13} {flushes:>7}  {:>9.2}  {:>13.2}  {:>8}  {:>11}",
                report.write_amplification,
                report.max_space_amplification,
                report.max_runs,
                report.compactions
            );
        }
    }
    Ok(())
}
