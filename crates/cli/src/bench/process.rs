//! What the operating system says about this process and a directory:
//! bytes written, peak memory, disk usage. Engine-neutral by design: the
//! same counters measure lsmkit and every engine it is compared with.
//!
//! The process figures come from Linux's `/proc/self`; elsewhere they are
//! `None` and the results say "n/a".

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Bytes of file pages this process has dirtied so far, to be written to
/// storage (`write_bytes` of `/proc/self/io`), counting every thread,
/// foreground and background.
///
/// Counted when a page turns dirty, whether by a `write`-family system
/// call or through a shared memory map: an engine that writes its log
/// through a map (lsmkit on Linux) is measured as one that writes it with
/// system calls. (`wchar`, the bytes passed to system calls, would miss the
/// mapped writes.) Page-granular: appends to a page that is still dirty
/// count once, and a page written back by a sync and dirtied again counts
/// again, so workloads that sync after every small write count more than
/// their bytes. Files on filesystems without writeback (tmpfs) count
/// nothing.
pub fn bytes_written() -> Option<u64> {
    let io = fs::read_to_string("/proc/self/io").ok()?;
    field(&io, "write_bytes:")
}

/// The peak resident set size of this process since it started or since
/// the last [`reset_peak_memory`] (`VmHWM` of `/proc/self/status`), in
/// bytes. Memory-mapped file pages that were touched count, as for any
/// engine.
pub fn peak_memory() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    field(&status, "VmHWM:").map(|kib| kib * 1024)
}

/// Sets the peak resident set size back to the current one, so that the
/// next [`peak_memory`] is the peak of what runs in between. Returns
/// whether the system allowed it (Linux 4.0 and later do).
pub fn reset_peak_memory() -> bool {
    fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// CPU time the hypervisor gave to other guests while this machine's
/// virtual CPUs wanted to run (`steal` of `/proc/stat`, summed over every
/// CPU), in microseconds since boot. Nothing in this process runs in that
/// time: on a shared virtual machine a single write can take as long as
/// the longest steal, whatever the engine does.
pub fn cpu_steal_micros() -> Option<u64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    steal_ticks(&stat).map(|ticks| ticks.saturating_mul(1_000_000 / USER_HZ))
}

/// The unit of `/proc/stat`'s times: Linux reports them in USER_HZ, 100
/// per second whatever the kernel's own tick rate.
const USER_HZ: u64 = 100;

/// The `steal` column (the eighth number) of `/proc/stat`'s `cpu` line.
fn steal_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    line.split_whitespace().nth(8)?.parse().ok()
}

/// The anonymous resident memory of this process (`RssAnon` of
/// `/proc/self/status`), in bytes: heap, stacks, anonymous maps. Unlike
/// [`peak_memory`] it leaves out file pages mapped into the process, which
/// are the OS page cache that every engine reads through, mapped or not.
pub fn anonymous_memory() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    field(&status, "RssAnon:").map(|kib| kib * 1024)
}

/// Samples [`anonymous_memory`] every few milliseconds on a thread of its
/// own, keeping the largest, until [`stop`](PeakSampler::stop).
#[derive(Debug)]
pub struct PeakSampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Option<u64>>>,
}

impl PeakSampler {
    /// How often memory is sampled.
    const PERIOD: Duration = Duration::from_millis(5);

    /// Starts sampling.
    pub fn start() -> PeakSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut peak = anonymous_memory();
            while !flag.load(Ordering::Relaxed) {
                thread::sleep(PeakSampler::PERIOD);
                peak = peak.max(anonymous_memory());
            }
            peak.max(anonymous_memory())
        });
        PeakSampler {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops sampling and returns the largest sample (`None` where the
    /// system does not say).
    pub fn stop(mut self) -> Option<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take()?.join().ok().flatten()
    }
}

impl Drop for PeakSampler {
    /// A sampler dropped without [`stop`](PeakSampler::stop) (a run that
    /// failed) ends its thread too.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The first number after `label` in a `/proc` text file.
fn field(text: &str, label: &str) -> Option<u64> {
    let line = text.lines().find(|line| line.starts_with(label))?;
    line[label.len()..].split_whitespace().next()?.parse().ok()
}

/// Calls `visit` with every regular file under `dir`, recursively
/// (symbolic links are not followed). An error of kind `NotFound` from
/// `visit` skips the file: a background thread removed it since the
/// listing.
fn each_file(dir: &Path, visit: &mut dyn FnMut(&fs::DirEntry) -> io::Result<()>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            each_file(&entry.path(), visit)?;
        } else if kind.is_file() {
            match visit(&entry) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

/// The total size of the files under `dir`, recursively (symbolic links
/// are not followed).
pub fn disk_usage(dir: &Path) -> io::Result<u64> {
    let mut total = 0;
    each_file(dir, &mut |entry| {
        total += entry.metadata()?.len();
        Ok(())
    })?;
    Ok(total)
}

/// Asks the kernel to drop the cached pages of every file under `dir`
/// (`posix_fadvise(POSIX_FADV_DONTNEED)`, after syncing each file, since
/// dirty pages stay), so that the next reads come from the disk. Returns
/// the number of files; an error where the OS has no such call (only
/// Linux is supported).
pub fn drop_page_cache(dir: &Path) -> io::Result<u64> {
    let mut files = 0;
    each_file(dir, &mut |entry| {
        let file = fs::File::open(entry.path())?;
        file.sync_data()?;
        drop_cached_pages(&file)?;
        files += 1;
        Ok(())
    })?;
    Ok(files)
}

#[cfg(target_os = "linux")]
fn drop_cached_pages(file: &fs::File) -> io::Result<()> {
    rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed).map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn drop_cached_pages(_file: &fs::File) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "dropping a file's cached pages is supported on Linux only",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_parse_from_proc_text() {
        let status = "Name:\tx\nVmPeak:\t  100 kB\nVmHWM:\t    2048 kB\n";
        assert_eq!(field(status, "VmHWM:"), Some(2048));
        assert_eq!(field("rchar: 5\nwchar: 77\n", "wchar:"), Some(77));
        assert_eq!(field("wchar:\n", "wchar:"), None);
        assert_eq!(field("", "wchar:"), None);
    }

    #[test]
    fn steal_is_the_eighth_time_of_the_cpu_line() {
        let stat = "cpu  467020 145855 149090 767351 13920 0 4964 1190 0 0\n\
                    cpu0 1 2 3 4 5 6 7 8 9 10\n";
        assert_eq!(steal_ticks(stat), Some(1190));
        assert_eq!(steal_ticks("cpu  1 2 3 4 5 6 7\n"), None);
        assert_eq!(steal_ticks("cpu0 1 2 3 4 5 6 7 8\n"), None);
    }

    #[test]
    fn disk_usage_counts_nested_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a"), [0u8; 10]).unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/b"), [0u8; 5]).unwrap();
        assert_eq!(disk_usage(dir.path()).unwrap(), 15);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_reports_writes_and_memory() {
        let before = bytes_written().unwrap();
        // Beside the sources rather than in a temporary directory, which
        // may be a tmpfs, whose pages are never written back.
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        fs::write(dir.path().join("f"), vec![1u8; 4096]).unwrap();
        assert!(bytes_written().unwrap() >= before + 4096);
        assert!(peak_memory().unwrap() > 0);
        let sampler = PeakSampler::start();
        let big = vec![1u8; 8 << 20];
        std::thread::sleep(Duration::from_millis(20));
        let peak = sampler.stop().unwrap();
        assert!(peak >= 8 << 20, "{peak}");
        drop(big);
    }
}
