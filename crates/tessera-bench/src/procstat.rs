//! A process's memory and CPU from `/proc` (Linux), and the machine's load average.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Resident memory of `pid` in bytes (`VmRSS`).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    status_kb(pid, "VmRSS:").map(|kb| kb * 1024)
}

fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// User plus system CPU time of `pid` (`utime + stime` of `/proc/PID/stat`), or of this
/// process with `"self"`.
pub fn cpu_time(pid: &str) -> Option<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it follow its `)`.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the whole line are 12 and 13 here (0-based, after pid and comm).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = if ticks > 0 { ticks as u64 } else { 100 };
    Some(Duration::from_nanos(
        (utime + stime) * 1_000_000_000 / ticks,
    ))
}

/// The size of a file in bytes; 0 when it is not there.
pub fn file_size(path: Option<&Path>) -> u64 {
    path.and_then(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len())
}

/// The 1-, 5- and 15-minute load averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// What a process used while a phase ran.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// Highest resident memory seen (sampled every 100 ms, and at the end).
    pub peak_rss: u64,
    /// CPU time over wall time, in percent of one core (200% = both cores of two).
    pub server_cpu_pct: f64,
    /// The load generator's own CPU, likewise.
    pub client_cpu_pct: f64,
    /// The largest size seen of the file watched (the database's write-ahead log).
    pub peak_file: u64,
}

/// Samples the server's processes (one, or each node of several) while a phase runs:
/// their memory and CPU added up.
pub struct Sampler {
    pids: Vec<u32>,
    start: Instant,
    cpu0: Duration,
    self0: Duration,
    peak: Arc<AtomicU64>,
    peak_file: Arc<AtomicU64>,
    file: Option<PathBuf>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    /// Samples processes `pids`, and the size of `file` when given.
    pub fn start(pids: Vec<u32>, file: Option<PathBuf>) -> Sampler {
        let peak = Arc::new(AtomicU64::new(rss_sum(&pids).unwrap_or(0)));
        let peak_file = Arc::new(AtomicU64::new(file_size(file.as_deref())));
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let (peak, peak_file, stop, file, pids) = (
                peak.clone(),
                peak_file.clone(),
                stop.clone(),
                file.clone(),
                pids.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = rss_sum(&pids) {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    peak_file.fetch_max(file_size(file.as_deref()), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        Sampler {
            start: Instant::now(),
            cpu0: cpu_sum(&pids).unwrap_or_default(),
            pids,
            self0: cpu_time("self").unwrap_or_default(),
            peak,
            peak_file,
            file,
            stop,
            task,
        }
    }

    pub async fn finish(self) -> Usage {
        let wall = self.start.elapsed().as_secs_f64().max(1e-9);
        let cpu = cpu_sum(&self.pids).unwrap_or(self.cpu0);
        let me = cpu_time("self").unwrap_or(self.self0);
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        if let Some(rss) = rss_sum(&self.pids) {
            self.peak.fetch_max(rss, Ordering::Relaxed);
        }
        self.peak_file
            .fetch_max(file_size(self.file.as_deref()), Ordering::Relaxed);
        Usage {
            peak_file: self.peak_file.load(Ordering::Relaxed),
            peak_rss: self.peak.load(Ordering::Relaxed),
            server_cpu_pct: (cpu.saturating_sub(self.cpu0)).as_secs_f64() / wall * 100.0,
            client_cpu_pct: (me.saturating_sub(self.self0)).as_secs_f64() / wall * 100.0,
        }
    }
}

/// The resident memory of `pids` added up; none when one of them is gone.
fn rss_sum(pids: &[u32]) -> Option<u64> {
    pids.iter().map(|p| rss_bytes(*p)).sum()
}

/// The CPU time of `pids` added up; none when one of them is gone.
fn cpu_sum(pids: &[u32]) -> Option<Duration> {
    pids.iter().map(|p| cpu_time(&p.to_string())).sum()
}
