//! The results of a run: one [`Measurement`] per workload, gathered in a
//! [`Report`] that prints as a table or serializes as JSON.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// What one workload measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// The workload as given (`fillsync:4`).
    pub workload: String,
    /// Threads that ran it.
    pub threads: usize,
    /// Operations run, over all threads.
    pub ops: u64,
    /// Wall-clock seconds from the first operation to the last.
    pub seconds: f64,
    /// Operations per second of wall-clock time.
    pub ops_per_sec: f64,
    /// Mean latency of one operation, in microseconds.
    pub micros_mean: f64,
    /// Median latency, in microseconds.
    pub micros_p50: f64,
    /// 99th percentile latency, in microseconds.
    pub micros_p99: f64,
    /// 99.9th percentile latency, in microseconds.
    pub micros_p999: f64,
    /// Megabytes (10^6 bytes) of keys and values moved per second.
    pub mb_per_sec: f64,
    /// For writing workloads: bytes of file pages the process dirtied
    /// (every thread, by write calls or through memory maps, including the
    /// flush after the workload) per byte of keys and values written.
    pub write_amplification: Option<f64>,
    /// Bytes of the database's files after the workload.
    pub disk_bytes: Option<u64>,
    /// Peak anonymous resident memory (heap, stacks) of the process during
    /// the workload and its flush, sampled every 5 ms: what the engine
    /// holds, without the file pages it maps (the OS page cache, which
    /// every engine uses whether it maps files or reads them).
    pub peak_memory_bytes: Option<u64>,
    /// Peak resident set of the process during the workload (`VmHWM`),
    /// mapped file pages included.
    pub peak_rss_bytes: Option<u64>,
    /// For reading workloads: how many keys were found.
    pub found: Option<u64>,
    /// The slowest single operation, in microseconds: for a writing
    /// workload, its worst write stall as a writer saw it.
    #[serde(default)]
    pub micros_max: f64,
    /// Sorted runs in the engine when the workload started (what each read
    /// had to consult), where the engine tells ([`Store::state`]).
    ///
    /// [`Store::state`]: super::Store::state
    #[serde(default)]
    pub sorted_runs: Option<usize>,
    /// Table files in the engine when the workload started.
    #[serde(default)]
    pub tables: Option<usize>,
    /// Compactions that finished during the workload and its flush: a
    /// read workload that shows none ran against still files.
    #[serde(default)]
    pub compactions: Option<u64>,
    /// Time the engine held writers back (backpressure) during the
    /// workload, in microseconds.
    #[serde(default)]
    pub stall_micros: Option<u64>,
    /// CPU time the machine's hypervisor took from its CPUs during the
    /// workload and its flush, all CPUs summed, in microseconds (Linux
    /// guests only): time no engine had. It is the workload's total, not
    /// the steal during its slowest operation, but a slow operation in a
    /// workload with none was not the host's.
    #[serde(default)]
    pub steal_micros: Option<u64>,
}

/// A whole run: how it was configured and what each workload measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The engine's name.
    pub engine: String,
    /// The engine's configuration, in a line.
    pub engine_config: String,
    /// Keys per workload.
    pub num: u64,
    /// Bytes per key.
    pub key_size: usize,
    /// Bytes per value.
    pub value_size: usize,
    /// The data generator's seed.
    pub seed: u64,
    /// One per workload, in the order they ran.
    pub measurements: Vec<Measurement>,
}

impl Report {
    /// The results as an aligned text table, with a heading line.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {} keys of {} bytes, values of {} bytes, seed {}",
            self.engine, self.num, self.key_size, self.value_size, self.seed
        );
        let _ = writeln!(out, "{}\n", self.engine_config);
        let header = [
            "workload",
            "ops/s",
            "µs/op",
            "p50",
            "p99",
            "p99.9",
            "max",
            "MB/s",
            "w-amp",
            "disk",
            "peak mem",
            "runs",
            "tables",
            "compactions",
            "stall ms",
            "steal ms",
        ];
        let optional = |n: Option<u64>| n.map_or_else(|| "-".to_string(), |n| n.to_string());
        let millis = |us: Option<u64>| {
            us.map_or_else(|| "-".to_string(), |us| format!("{:.1}", us as f64 / 1e3))
        };
        let rows: Vec<[String; 16]> = self
            .measurements
            .iter()
            .map(|m| {
                [
                    m.workload.clone(),
                    format!("{:.0}", m.ops_per_sec),
                    format!("{:.2}", m.micros_mean),
                    format!("{:.1}", m.micros_p50),
                    format!("{:.1}", m.micros_p99),
                    format!("{:.1}", m.micros_p999),
                    format!("{:.0}", m.micros_max),
                    format!("{:.1}", m.mb_per_sec),
                    m.write_amplification
                        .map_or_else(|| "-".to_string(), |w| format!("{w:.2}")),
                    m.disk_bytes.map_or_else(|| "n/a".to_string(), size),
                    m.peak_memory_bytes.map_or_else(|| "n/a".to_string(), size),
                    optional(m.sorted_runs.map(|n| n as u64)),
                    optional(m.tables.map(|n| n as u64)),
                    optional(m.compactions),
                    millis(m.stall_micros),
                    millis(m.steal_micros),
                ]
            })
            .collect();
        let mut widths = header.map(|h| h.chars().count());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut line = |cells: Vec<&str>| {
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                let pad = w - cell.chars().count();
                if i == 0 {
                    let _ = write!(out, "{cell}{}", " ".repeat(pad));
                } else {
                    let _ = write!(out, "  {}{cell}", " ".repeat(pad));
                }
            }
            out.push('\n');
        };
        line(header.to_vec());
        for row in &rows {
            line(row.iter().map(String::as_str).collect());
        }
        out
    }
}

/// A byte count in binary units, to one decimal: `12.3 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measurement(workload: &str) -> Measurement {
        Measurement {
            workload: workload.to_string(),
            threads: 1,
            ops: 1000,
            seconds: 0.5,
            ops_per_sec: 2000.0,
            micros_mean: 500.0,
            micros_p50: 400.0,
            micros_p99: 900.0,
            micros_p999: 1200.0,
            mb_per_sec: 0.2,
            write_amplification: Some(1.5),
            disk_bytes: Some(3 << 20),
            peak_memory_bytes: None,
            peak_rss_bytes: None,
            found: None,
            micros_max: 2500.0,
            sorted_runs: Some(4),
            tables: Some(6),
            compactions: Some(1),
            stall_micros: Some(1500),
            steal_micros: Some(20_000),
        }
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 << 20), "3.0 MiB");
    }

    #[test]
    fn table_aligns_columns_and_json_has_every_field() {
        let report = Report {
            engine: "memory".to_string(),
            engine_config: "a map".to_string(),
            num: 1000,
            key_size: 16,
            value_size: 100,
            seed: 1,
            measurements: vec![measurement("fillseq"), measurement("fillsync:4")],
        };
        let table = report.table();
        let lines: Vec<&str> = table.lines().skip(3).collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("workload  "));
        assert!(lines[2].starts_with("fillsync:4"));
        let widths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
        assert!(widths.iter().all(|&w| w == widths[0]), "{table}");
        assert!(
            lines[1].contains("3.0 MiB       n/a     4       6  "),
            "{table}"
        );
        assert!(lines[1].ends_with("  1       1.5      20.0"), "{table}");

        let json: serde_json::Value = serde_json::to_value(&report).unwrap();
        assert_eq!(json["measurements"][1]["workload"], "fillsync:4");
        assert_eq!(json["measurements"][0]["write_amplification"], 1.5);
        assert!(json["measurements"][0]["peak_memory_bytes"].is_null());
        assert_eq!(json["measurements"][0]["sorted_runs"], 4);
        assert_eq!(json["measurements"][0]["stall_micros"], 1500);
        assert_eq!(json["measurements"][0]["steal_micros"], 20_000);

        // Results saved before the state columns existed still load.
        let mut old = json;
        for field in [
            "micros_max",
            "sorted_runs",
            "tables",
            "compactions",
            "stall_micros",
            "steal_micros",
        ] {
            old["measurements"][0]
                .as_object_mut()
                .unwrap()
                .remove(field);
        }
        let loaded: Report = serde_json::from_value(old).unwrap();
        assert_eq!(loaded.measurements[0].sorted_runs, None);
    }
}
