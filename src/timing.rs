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
        "[timing] {t:7.2} s  {stage} (passes: {} gradient, {} with curvature{})",
        PASSES[0].load(Ordering::Relaxed),
        PASSES[1].load(Ordering::Relaxed),
        memory()
    );
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
