//! Stage timings on standard error, for finding where a long run spends its time: set
//! `CHURNCAL_TIMINGS=1` and every stage prints the seconds since the process started and
//! how many passes over the fit data the solver has made so far, and (on Linux) the
//! process's resident memory now and at its peak so far.
//!
//! ```text
//! CHURNCAL_TIMINGS=1 churncal calibrate --data big.parquet -B 0
//! [timing]   4.49 s  loaded (passes: 0 gradient, 0 with curvature; memory 1.31 GB (0.01 GB mapped files), peak 2.70 GB)
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

static START: OnceLock<Instant> = OnceLock::new();
static ON: OnceLock<bool> = OnceLock::new();
static PASSES: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

fn on() -> bool {
    *ON.get_or_init(|| std::env::var_os("CHURNCAL_TIMINGS").is_some_and(|v| v != "0"))
}

/// Start the clock (called first thing by the binary; otherwise at the first mark).
pub fn start() {
    START.get_or_init(Instant::now);
}

/// Count one pass of the fit's objective over the data (`curvature`: with the information).
#[inline]
pub fn count_pass(curvature: bool) {
    PASSES[curvature as usize].fetch_add(1, Ordering::Relaxed);
}

/// Print `stage` with the time since the start, when timings are on.
pub fn mark(stage: &str) {
    if !on() {
        return;
    }
    let t = START.get_or_init(Instant::now).elapsed().as_secs_f64();
    eprintln!(
        "[timing] {t:7.2} s  {stage} (passes: {} gradient, {} with curvature{}{})",
        PASSES[0].load(Ordering::Relaxed),
        PASSES[1].load(Ordering::Relaxed),
        cpu(),
        memory()
    );
}

/// `; cpu X s`: the processor time of all the process's threads so far (user and system),
/// which against the wall time shows how many cores a stage kept busy.
#[cfg(unix)]
fn cpu() -> String {
    // SAFETY: getrusage writes the struct it is given; zeroes are a valid `rusage`.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) } != 0 {
        return String::new();
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    format!("; cpu {:.2} s", secs(r.ru_utime) + secs(r.ru_stime))
}

#[cfg(not(unix))]
fn cpu() -> String {
    String::new()
}

/// `; memory X GB, peak Y GB` from `/proc/self/status` (empty where there is none).
fn memory() -> String {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return String::new();
    };
    let gb = |key: &str| {
        let line = status.lines().find(|l| l.starts_with(key))?;
        let kb: f64 = line[key.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb / 1e6)
    };
    // Pages of memory-mapped files (polars maps a CSV file) count in the resident memory
    // but are the page cache's, not allocations: shown apart.
    match (gb("VmRSS:"), gb("VmHWM:"), gb("RssFile:")) {
        (Some(now), Some(peak), Some(file)) => {
            format!("; memory {now:.2} GB ({file:.2} GB mapped files), peak {peak:.2} GB")
        }
        _ => String::new(),
    }
}
