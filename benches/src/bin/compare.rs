//! The engine comparison: `lsmkit bench`'s workloads against lsmkit-engine
//! and, with the cargo features `rocksdb`, `fjall`, `sled`, those engines;
//! writes `comparison.md`, `comparison.svg` and `comparison.json` to the
//! output directory (default `benches/results`).
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-compare cargo run --release -p lsmkit-benches \
//!     --features rocksdb,fjall,sled --bin compare -- --num 1000000
//! ```
//!
//! Each engine runs in its own child process (this binary again, with
//! `--child`), so that its peak memory is its own and no engine inherits
//! another's heap or page-cache state in its process.
#![deny(unsafe_code)]

use std::fs;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use clap::Parser;
use lsmkit_benches::engines::Compression;
use lsmkit_benches::{chart, engines};
use lsmkit_cli::bench::{BenchConfig, Progress, Report, WorkloadSpec};

/// Every engine's child process allocates through jemalloc, as the
/// `lsmkit` binary does (see its `main.rs`); RocksDB's C++ allocates
/// through the system's malloc whatever Rust's global allocator is.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, the `lsmkit` binary's (see its `main.rs`): freed
/// pages go back to the system within a second, from a background thread.
/// fjall's child and lsmkit's run with them alike.
#[cfg(not(target_env = "msvc"))]
#[allow(unsafe_code, non_upper_case_globals)]
// SAFETY: jemalloc reads this symbol once, at its initialization, as a
// `const char *` (tikv-jemalloc-sys declares it so, `_rjem_` being the
// prefix of its symbols): a thin pointer to a NUL-terminated string, as a
// reference to this static byte array is. Nothing writes it, and only
// jemalloc and this definition name it.
#[unsafe(export_name = "_rjem_malloc_conf")]
static malloc_conf: &[u8; 60] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

/// Runs the comparison.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// Keys per workload.
    #[arg(long, default_value_t = 1_000_000)]
    num: u64,
    /// Workloads, comma-separated (see `lsmkit bench --help`).
    #[arg(long, value_delimiter = ',', default_values_t = WorkloadSpec::defaults())]
    workloads: Vec<WorkloadSpec>,
    /// Engines to run, comma-separated; default every engine this build
    /// has.
    #[arg(long, value_delimiter = ',')]
    engines: Vec<String>,
    /// The codec of every engine's data blocks: none, lz4 or zstd (each
    /// engine's configuration line says what it could do).
    #[arg(long, default_value = "none", value_parser = parse_codec)]
    compression: Compression,
    /// Every engine's block (or page) cache, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = (engines::CACHE_BYTES >> 20) as u64)]
    cache_mib: u64,
    /// Operations of each read workload (as `lsmkit bench --reads`); by
    /// default --num.
    #[arg(long, value_name = "N")]
    reads: Option<u64>,
    /// Start each read workload cold (as `lsmkit bench --cold`): the
    /// engine is closed, its files' page cache dropped, and it is opened
    /// again.
    #[arg(long)]
    cold: bool,
    /// Where the results go.
    #[arg(long, default_value = "benches/results")]
    out: PathBuf,
    /// Run one engine in this process and write its report as JSON to
    /// --json-out (used by the parent process).
    #[arg(long, hide = true)]
    child: Option<String>,
    #[arg(long, hide = true)]
    json_out: Option<PathBuf>,
    /// Run nothing: write the table and chart again from a
    /// `comparison.json` an earlier run wrote.
    #[arg(long, value_name = "JSON")]
    render: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match (&args.child, &args.render) {
        (Some(engine), _) => child(&args, engine),
        (None, Some(json)) => fs::read_to_string(json)
            .map_err(|e| format!("{}: {e}", json.display()))
            .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
            .and_then(|reports: Vec<Report>| write_results(&args, &reports)),
        (None, None) => parent(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("compare: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_codec(name: &str) -> Result<Compression, String> {
    Compression::from_name(name.as_bytes()).ok_or_else(|| format!("unknown codec {name:?}"))
}

fn config(args: &Args) -> BenchConfig {
    BenchConfig {
        num: args.num,
        workloads: args.workloads.clone(),
        reads: args.reads,
        cold: args.cold,
        ..BenchConfig::default()
    }
}

fn child(args: &Args, engine: &str) -> Result<(), String> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("compare-{engine}-"))
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?;
    let report = engines::run(
        engine,
        dir.path(),
        &config(args),
        Progress::auto(),
        args.compression,
        (args.cache_mib << 20) as usize,
    )
    .ok_or_else(|| format!("this build has no engine {engine:?}"))?
    .map_err(|e| format!("{engine}: {e}"))?;
    let out = args.json_out.as_ref().ok_or("--child needs --json-out")?;
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    fs::write(out, json).map_err(|e| format!("{}: {e}", out.display()))
}

fn parent(args: &Args) -> Result<(), String> {
    let names: Vec<String> = if args.engines.is_empty() {
        engines::available().iter().map(|s| s.to_string()).collect()
    } else {
        args.engines.clone()
    };
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let scratch = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let workloads: Vec<String> = args.workloads.iter().map(|w| w.to_string()).collect();
    let mut reports: Vec<Report> = Vec::new();
    for name in &names {
        eprintln!("== {name}");
        let json = scratch.path().join(format!("{name}.json"));
        let status = Command::new(&exe)
            .args(["--child", name, "--num", &args.num.to_string()])
            .args(["--workloads", &workloads.join(",")])
            .args(["--compression", args.compression.name()])
            .args(["--cache-mib", &args.cache_mib.to_string()])
            .args(args.reads.map(|n| format!("--reads={n}")))
            .args(args.cold.then_some("--cold"))
            .arg("--json-out")
            .arg(&json)
            .status()
            .map_err(|e| format!("running {name}: {e}"))?;
        if !status.success() {
            return Err(format!("{name} failed ({status})"));
        }
        let text = fs::read_to_string(&json).map_err(|e| format!("{}: {e}", json.display()))?;
        let report: Report = serde_json::from_str(&text).map_err(|e| format!("{name}: {e}"))?;
        println!("{}", report.table());
        reports.push(report);
    }
    write_results(args, &reports)
}

/// Writes the markdown table, the chart and the JSON of `reports`.
fn write_results(args: &Args, reports: &[Report]) -> Result<(), String> {
    let num = reports.first().map_or(args.num, |r| r.num);
    let machine = machine();
    let date = today();
    // The command as this binary was built and run: its features and the
    // engines it ran.
    let features: Vec<&str> = [
        ("rocksdb", cfg!(feature = "rocksdb")),
        ("fjall", cfg!(feature = "fjall")),
        ("sled", cfg!(feature = "sled")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    let features = if features.is_empty() {
        String::new()
    } else {
        format!(" --features {}", features.join(","))
    };
    let engines: Vec<&str> = reports.iter().map(|r| r.engine.as_str()).collect();
    // The flags that change what runs, where they are not the defaults.
    let mut extra = String::new();
    if args.workloads != WorkloadSpec::defaults() {
        let names: Vec<String> = args.workloads.iter().map(|w| w.to_string()).collect();
        extra.push_str(&format!(" --workloads {}", names.join(",")));
    }
    if args.cache_mib != (engines::CACHE_BYTES >> 20) as u64 {
        extra.push_str(&format!(" --cache-mib {}", args.cache_mib));
    }
    if let Some(reads) = args.reads {
        extra.push_str(&format!(" --reads {reads}"));
    }
    if args.cold {
        extra.push_str(" --cold");
    }
    let command = format!(
        "CARGO_TARGET_DIR=/work/target-compare cargo run --release -p lsmkit-benches{features} --bin compare -- --num {} --compression {} --engines {}{extra}",
        num,
        args.compression.name(),
        engines.join(",")
    );
    let reads = match (args.reads, args.cold) {
        (None, false) => String::new(),
        (reads, cold) => format!(
            " Read workloads run {} operations{}.",
            reads.unwrap_or(num),
            if cold {
                ", each starting cold: the engine closed, its files' page cache dropped (posix_fadvise DONTNEED), and opened again"
            } else {
                ""
            }
        ),
    };
    let mut md = format!(
        "# Engine comparison\n\n{date}, {machine}.\n\n{num} keys of 16 bytes, values of 100 bytes (half compressible), one thread unless the workload says `:N`.{reads}\n\n```sh\n{command}\n```\n\n"
    );
    md.push_str(&chart::markdown(reports));
    md.push_str("\nConfigurations:\n\n");
    for r in reports {
        md.push_str(&format!("- **{}**: {}\n", r.engine, r.engine_config));
    }
    fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let title = format!("ops/s per workload, {num} keys ({date}, {machine})");
    let files = [
        ("comparison.md", md),
        ("comparison.svg", chart::svg(reports, &title)),
        (
            "comparison.json",
            serde_json::to_string_pretty(reports).map_err(|e| e.to_string())?,
        ),
    ];
    for (file, contents) in files {
        let path = args.out.join(file);
        fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// "2-core Intel(R) Xeon(R) ..., 23.5 GiB RAM, Linux", from /proc.
fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<u64>().ok())
        })
        .map_or_else(String::new, |kib| {
            format!(", {} RAM", lsmkit_cli::bench::size(kib * 1024))
        });
    format!("{cores}-core {cpu}{memory}, {}", std::env::consts::OS)
}

/// Today's UTC date, `YYYY-MM-DD`.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Howard Hinnant's civil_from_days.
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
