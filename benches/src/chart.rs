//! The comparison's outputs: markdown tables and an SVG bar chart of ops/s
//! per workload per engine.
//!
//! The SVG is written by hand rather than with plotters: a grouped bar
//! chart on a log scale is a hundred lines of plain SVG, deterministic to
//! the byte, while plotters brings its own font and layout stack for the
//! labels even with only its SVG backend.

use std::fmt::Write as _;

use lsmkit_cli::bench::{Report, size};

/// Every workload that any report measured, in first-seen order.
fn workloads(reports: &[Report]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for report in reports {
        for m in &report.measurements {
            if !names.contains(&m.workload) {
                names.push(m.workload.clone());
            }
        }
    }
    names
}

fn ops_per_sec(report: &Report, workload: &str) -> Option<f64> {
    report
        .measurements
        .iter()
        .find(|m| m.workload == workload)
        .map(|m| m.ops_per_sec)
}

/// Markdown: ops/s per workload (rows) per engine (columns), the best of
/// each row in bold; then p99 latencies; then write amplification, disk
/// usage and peak memory per engine.
pub fn markdown(reports: &[Report]) -> String {
    let mut out = String::new();
    let names = workloads(reports);
    let header = |out: &mut String, first: &str| {
        let _ = write!(out, "| {first} |");
        for r in reports {
            let _ = write!(out, " {} |", r.engine);
        }
        out.push_str("\n|---|");
        out.push_str(&"---:|".repeat(reports.len()));
        out.push('\n');
    };

    header(&mut out, "ops/s");
    for name in &names {
        let values: Vec<Option<f64>> = reports.iter().map(|r| ops_per_sec(r, name)).collect();
        let best = values.iter().flatten().copied().fold(f64::MIN, f64::max);
        let _ = write!(out, "| {name} |");
        for v in values {
            match v {
                Some(v) if v == best && reports.len() > 1 => {
                    let _ = write!(out, " **{}** |", thousands(v));
                }
                Some(v) => {
                    let _ = write!(out, " {} |", thousands(v));
                }
                None => out.push_str(" - |"),
            }
        }
        out.push('\n');
    }

    out.push('\n');
    header(&mut out, "p99 µs");
    for name in &names {
        let _ = write!(out, "| {name} |");
        for r in reports {
            match r.measurements.iter().find(|m| &m.workload == name) {
                Some(m) => {
                    let _ = write!(out, " {:.1} |", m.micros_p99);
                }
                None => out.push_str(" - |"),
            }
        }
        out.push('\n');
    }

    out.push('\n');
    header(&mut out, "");
    let row = |out: &mut String, label: &str, cell: &dyn Fn(&Report) -> String| {
        let _ = write!(out, "| {label} |");
        for r in reports {
            let _ = write!(out, " {} |", cell(r));
        }
        out.push('\n');
    };
    for workload in ["fillrandom", "overwrite"] {
        row(
            &mut out,
            &format!("write amplification, {workload}"),
            &|r| {
                r.measurements
                    .iter()
                    .find(|m| m.workload == workload)
                    .and_then(|m| m.write_amplification)
                    .map_or_else(|| "-".to_string(), |w| format!("{w:.2}"))
            },
        );
    }
    // The worst write beside the CPU time the hypervisor took during the
    // workload (all CPUs): on a shared virtual machine a write can wait
    // out the host, whatever the engine; with no steal, it did not.
    for workload in ["fillrandom", "overwrite"] {
        row(
            &mut out,
            &format!("worst write, {workload} (CPU steal in the workload)"),
            &|r| {
                r.measurements
                    .iter()
                    .find(|m| m.workload == workload)
                    .map_or_else(
                        || "-".to_string(),
                        |m| {
                            let steal = m.steal_micros.map_or_else(String::new, |us| {
                                format!(" ({:.0} ms)", us as f64 / 1e3)
                            });
                            format!("{:.1} ms{steal}", m.micros_max / 1e3)
                        },
                    )
            },
        );
    }
    row(&mut out, "disk after overwrite", &|r| {
        r.measurements
            .iter()
            .find(|m| m.workload == "overwrite")
            .and_then(|m| m.disk_bytes)
            .map_or_else(|| "-".to_string(), size)
    });
    row(&mut out, "peak memory, heap (any workload)", &|r| {
        r.measurements
            .iter()
            .filter_map(|m| m.peak_memory_bytes)
            .max()
            .map_or_else(|| "-".to_string(), size)
    });
    row(&mut out, "peak resident set (any workload)", &|r| {
        r.measurements
            .iter()
            .filter_map(|m| m.peak_rss_bytes)
            .max()
            .map_or_else(|| "-".to_string(), size)
    });
    out
}

/// `n` rounded, with thin separators: `1 234 567`.
fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// Bar colours, one per engine in order.
const COLORS: [&str; 4] = ["#d1495b", "#00798c", "#edae49", "#66a182"];

/// An SVG grouped bar chart of ops/s (log scale), one group per workload,
/// one bar per engine; `title` on top.
pub fn svg(reports: &[Report], title: &str) -> String {
    let names = workloads(reports);
    let (left, right, top, bottom) = (70.0, 20.0, 60.0, 60.0);
    let group = 90.0;
    let plot_h = 320.0;
    let width = left + right + group * names.len().max(1) as f64;
    let height = top + plot_h + bottom;
    let values = || {
        reports
            .iter()
            .flat_map(|r| r.measurements.iter().map(|m| m.ops_per_sec.max(1.0)))
    };
    // The axis spans whole decades around the values.
    let lo = values()
        .fold(f64::MAX, f64::min)
        .log10()
        .floor()
        .clamp(0.0, 12.0);
    let hi = values().fold(1.0, f64::max).log10().ceil().max(lo + 1.0);
    let y = |v: f64| top + plot_h - plot_h * ((v.max(1.0).log10() - lo) / (hi - lo)).max(0.0);

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect width="{width}" height="{height}" fill="white"/><text x="{left}" y="22" font-size="15" font-weight="bold">{}</text>"#,
        escape(title)
    );
    for d in lo as i32..=hi as i32 {
        let v = 10f64.powi(d);
        let yy = y(v);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            width - right,
            left - 6.0,
            yy + 4.0,
            thousands(v)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="16" y="{:.1}" transform="rotate(-90 16 {:.1})" text-anchor="middle">ops/s (log scale)</text>"#,
        top + plot_h / 2.0,
        top + plot_h / 2.0
    );
    let bar = (group - 20.0) / reports.len().max(1) as f64;
    for (g, name) in names.iter().enumerate() {
        let x0 = left + group * g as f64 + 10.0;
        for (e, report) in reports.iter().enumerate() {
            let Some(v) = ops_per_sec(report, name) else {
                continue;
            };
            let yy = y(v);
            let _ = writeln!(
                s,
                r#"<rect x="{:.1}" y="{yy:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {} ops/s</title></rect>"#,
                x0 + bar * e as f64,
                bar - 2.0,
                top + plot_h - yy,
                COLORS[e % COLORS.len()],
                escape(&report.engine),
                thousands(v)
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x0 + (group - 20.0) / 2.0,
            top + plot_h + 18.0,
            escape(name)
        );
    }
    for (e, report) in reports.iter().enumerate() {
        let x = left + 110.0 * e as f64;
        let yy = top + plot_h + 42.0;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{}" y="{yy:.1}">{}</text>"#,
            yy - 10.0,
            COLORS[e % COLORS.len()],
            x + 16.0,
            escape(&report.engine)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsmkit_cli::bench::Measurement;

    fn report(engine: &str, fill: f64, read: f64) -> Report {
        let m = |workload: &str, ops_per_sec: f64| Measurement {
            workload: workload.to_string(),
            threads: 1,
            ops: 100,
            seconds: 1.0,
            ops_per_sec,
            micros_mean: 1.0,
            micros_p50: 1.0,
            micros_p99: 2.5,
            micros_p999: 3.0,
            mb_per_sec: 1.0,
            write_amplification: Some(2.0),
            disk_bytes: Some(2048),
            peak_memory_bytes: Some(1 << 20),
            peak_rss_bytes: Some(2 << 20),
            found: None,
            micros_max: 4.0,
            sorted_runs: None,
            tables: None,
            compactions: None,
            stall_micros: None,
            steal_micros: Some(3_000),
        };
        Report {
            engine: engine.to_string(),
            engine_config: String::new(),
            num: 100,
            key_size: 16,
            value_size: 100,
            seed: 1,
            measurements: vec![m("fillrandom", fill), m("readrandom", read)],
        }
    }

    #[test]
    fn the_table_bolds_the_best_engine_per_workload() {
        let md = markdown(&[report("a", 1000.0, 5.0), report("b", 2000.0, 1.0)]);
        assert!(
            md.contains("| fillrandom | 1\u{202f}000 | **2\u{202f}000** |"),
            "{md}"
        );
        assert!(md.contains("| readrandom | **5** | 1 |"), "{md}");
        assert!(
            md.contains("| write amplification, fillrandom | 2.00 | 2.00 |"),
            "{md}"
        );
        assert!(
            md.contains("| worst write, fillrandom (CPU steal in the workload) | 0.0 ms (3 ms) |"),
            "{md}"
        );
        assert!(
            md.contains("| worst write, overwrite (CPU steal in the workload) | - | - |"),
            "{md}"
        );
        assert!(
            md.contains("| peak memory, heap (any workload) | 1.0 MiB | 1.0 MiB |"),
            "{md}"
        );
    }

    #[test]
    fn the_chart_has_a_bar_per_engine_and_workload() {
        let svg = svg(&[report("a", 1000.0, 5.0), report("b<c", 2000.0, 1.0)], "t");
        assert_eq!(svg.matches("<rect x=").count(), 4 + 2);
        assert!(svg.contains("b&lt;c"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    }
}
