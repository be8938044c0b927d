//! The memory a run will need, estimated before the data is read, so that an export too
//! large for the machine stops at once with the figure instead of dying half-way (or
//! making the machine swap).
//!
//! Rows come from the file: a Parquet file's metadata gives them exactly; a CSV file's size
//! divided by the mean length of its first lines estimates them. The bytes per row are a
//! model of each command's buffers, checked against measured peaks (`docs/performance.md`):
//! every loaded metric costs its 8-byte value column, its 8-byte sub-score column, and for
//! a fit an 8-byte copy in the fit's row-major matrix (the fits turn values into sub-scores
//! in place and build the matrix while the sub-scores are freed, so the three are not all
//! whole at once); every row costs ids, dates, outcome,
//! segments and the per-row vectors of scores, weights and predictions. Polars' own buffers
//! while reading are in the per-row figure.

use std::io::Read;

use polars::prelude::*;

/// What a command does with the rows, for the per-row cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Score or count (score, cohorts, audit).
    Score,
    /// Score while loading, keeping one batch of metric values (tiers).
    Stream,
    /// Fit the weights (calibrate, validate, report).
    Fit,
    /// Fit with learned transforms (every fold and replicate re-learns them on a copy of
    /// its rows, beside the whole data).
    FitLearned,
    /// Fit one profile per segment value (`calibrate --by`, `report --calibrate-by`): the
    /// segments' fits and the set's scores come on top of the pooled fit's buffers.
    FitSegments,
}

/// An estimate of a run's peak memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Rows in the file (estimated for CSV).
    pub rows: u64,
    /// Whether `rows` is exact (Parquet metadata) or estimated (CSV size).
    pub exact: bool,
    /// Peak bytes.
    pub bytes: u64,
}

/// Bytes per loaded metric column and row.
fn per_metric(job: Job) -> u64 {
    match job {
        Job::Score => 24,
        Job::Stream => 0,
        Job::Fit => 16,
        Job::FitLearned => 96,
        Job::FitSegments => 40,
    }
}

/// Bytes per row besides the metrics. CSV and Parquet cost alike: a CSV file is read in
/// batches of 32 MB, each parsed and converted before the next.
///
/// Checked against peaks measured on synth data with 13 metrics (`docs/performance.md`, "Peak memory"):
/// at 9.7 M rows `score` 1.8 GB, `tiers` 0.86 GB (scoring while it loads); at 10.0 M rows
/// `audit` 1.86 GB (the heaviest of the scoring jobs; estimate 4.0 GB) and, with their
/// defaults, `calibrate` 1.9 GB, `validate` and `report` 1.97 GB (estimate 3.2 GB: the
/// fitting jobs share the heaviest one's figure; at 0.97 M rows `report` peaks at 359 MB,
/// estimate 376 MB). With learned transforms `calibrate` and `report` peak at 1.53 and
/// 1.59 GB at 0.97 M rows (estimate 1.67 GB), and `report --calibrate-by` at 0.66 GB
/// (estimate 0.75 GB).
fn per_row(job: Job) -> u64 {
    match job {
        Job::Score => 80,
        // (The ids, dates, outcomes and scores kept, the hash tables of the ids, and the
        // metric values of one batch of at most a million rows.)
        Job::Stream => 96,
        Job::Fit => 110,
        Job::FitLearned => 400,
        Job::FitSegments => 180,
    }
}

/// Peak bytes of `job` on `rows` rows with `metrics` loaded metric columns.
pub fn bytes_needed(job: Job, rows: u64, metrics: usize) -> u64 {
    // Fixed: the binary, polars' thread pools, the profile and report buffers.
    const FIXED: u64 = 64 << 20;
    FIXED + rows * (per_row(job) + per_metric(job) * metrics as u64)
}

/// Hand the allocator's free memory back to the system. Buffers freed by the reader's and
/// the sub-scores' worker threads stay in those threads' heaps otherwise (a third of a
/// gigabyte after reading 10M rows), counted in the process's memory for the rest of the
/// run. A no-op where the C library is not glibc.
pub fn release_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's own heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Estimate the peak memory of `job` reading `metrics` metric columns from `path`; `None`
/// for standard input or a file whose size cannot be read.
pub fn estimate(path: &str, job: Job, metrics: usize) -> Option<Estimate> {
    if path == "-" {
        return None;
    }
    let lower = path.to_ascii_lowercase();
    let parquet = lower.ends_with(".parquet") || lower.ends_with(".pq");
    let (rows, exact) = if parquet {
        (parquet_rows(path)?, true)
    } else {
        (csv_rows(path)?, false)
    };
    Some(Estimate {
        rows,
        exact,
        bytes: bytes_needed(job, rows, metrics),
    })
}

/// Rows of a Parquet file, from its metadata.
fn parquet_rows(path: &str) -> Option<u64> {
    let df = LazyFrame::scan_parquet(PlRefPath::new(path), ScanArgsParquet::default())
        .ok()?
        .select([len()])
        .collect()
        .ok()?;
    let n = df.column("len").ok()?.u32().ok()?.get(0)?;
    Some(n as u64)
}

/// Rows of a CSV file: its size over the mean length of the lines in its first 256 KB.
fn csv_rows(path: &str) -> Option<u64> {
    let size = std::fs::metadata(path).ok()?.len();
    let mut head = Vec::with_capacity(1 << 18);
    std::fs::File::open(path)
        .ok()?
        .take(1 << 18)
        .read_to_end(&mut head)
        .ok()?;
    if head.len() as u64 >= size {
        // Header line left out.
        return Some((head.iter().filter(|&&b| b == b'\n').count() as u64).saturating_sub(1));
    }
    // Whole lines only, the header left out.
    let last = head.iter().rposition(|&b| b == b'\n')?;
    let first = head.iter().position(|&b| b == b'\n')?;
    let lines = head[first + 1..=last]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64;
    if lines == 0 {
        return Some(1);
    }
    let mean = (last - first) as f64 / lines as f64;
    Some(((size - first as u64 - 1) as f64 / mean).ceil() as u64)
}

/// Memory available to a new process now (Linux: `MemAvailable` of /proc/meminfo).
pub fn available() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Parse a size such as `800M`, `4G`, `4GB`, `1.5G` or a plain number of bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a size such as 800M or 4G"))?;
    let mult = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "K" | "KB" | "KIB" => 1024.0,
        "M" | "MB" | "MIB" => 1024.0 * 1024.0,
        "G" | "GB" | "GIB" => 1024.0 * 1024.0 * 1024.0,
        "T" | "TB" | "TIB" => 1024f64.powi(4),
        _ => return Err(format!("'{s}': unknown unit '{unit}' (use K, M, G or T)")),
    };
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("'{s}' is not a positive size"));
    }
    Ok((v * mult) as u64)
}

/// A byte count for people: 1.3 GB, 640 MB.
pub fn human(bytes: u64) -> String {
    let gb = bytes as f64 / (1u64 << 30) as f64;
    if gb >= 1.0 {
        format!("{gb:.1} GB")
    } else {
        format!("{:.0} MB", bytes as f64 / (1u64 << 20) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("800M").unwrap(), 800 << 20);
        assert_eq!(parse_size("4G").unwrap(), 4 << 30);
        assert_eq!(parse_size("4gb").unwrap(), 4 << 30);
        assert_eq!(parse_size("1.5G").unwrap(), 3 << 29);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("4Q").is_err());
        assert!(parse_size("-1G").is_err());
    }

    #[test]
    fn csv_rows_are_estimated_from_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.csv");
        let mut s = String::from("a,b\n");
        for i in 0..100_000 {
            s.push_str(&format!("{i},{}\n", i % 7));
        }
        std::fs::write(&p, &s).unwrap();
        let n = csv_rows(p.to_str().unwrap()).unwrap();
        assert!((95_000..=105_000).contains(&n), "{n}");
        let small = dir.path().join("s.csv");
        std::fs::write(&small, "a,b\n1,2\n3,4\n").unwrap();
        assert_eq!(csv_rows(small.to_str().unwrap()), Some(2));
    }

    #[test]
    fn a_fit_grows_with_rows_and_metrics_and_with_what_it_refits() {
        let f = bytes_needed(Job::Fit, 1_000_000, 13);
        let segments = bytes_needed(Job::FitSegments, 1_000_000, 13);
        let learned = bytes_needed(Job::FitLearned, 1_000_000, 13);
        assert!(f < segments && segments < learned);
        assert!(bytes_needed(Job::Fit, 10_000_000, 13) > 8 * f);
        assert!(bytes_needed(Job::Fit, 1_000_000, 40) > f);
    }

    /// The estimate stays above every peak measured (`docs/performance.md`, "Peak memory"
    /// and "The report under 2 GB"), so that a run that fits is never refused for want of
    /// it. Peaks are `/usr/bin/time`'s kibibytes.
    #[test]
    fn the_estimate_covers_the_measured_peaks() {
        let n = 9_716_499;
        let gb = |x: f64| (x * 1e9) as u64;
        let kib = |x: u64| x * 1024;
        assert!(bytes_needed(Job::Score, n, 13) > gb(1.79)); // score, Parquet in
        assert!(bytes_needed(Job::Stream, n, 13) > gb(0.86)); // tiers
        assert!(bytes_needed(Job::Stream, n, 13) < bytes_needed(Job::Score, n, 13));
        // At 9,999,545 rows, the commands with their defaults.
        let n10 = 9_999_545;
        assert!(bytes_needed(Job::Score, n10, 13) > kib(1_862_416)); // audit
        assert!(bytes_needed(Job::Score, n10, 13) > kib(1_817_936)); // score
        assert!(bytes_needed(Job::Fit, n10, 13) > kib(1_949_208)); // calibrate
        assert!(bytes_needed(Job::Fit, n10, 13) > kib(1_979_508)); // validate
        assert!(bytes_needed(Job::Fit, n10, 13) > kib(1_972_060)); // report
                                                                   // At 972,067 rows: the default report, and the fits that keep more.
        let n1 = 972_067;
        assert!(bytes_needed(Job::Fit, n1, 13) > kib(350_392)); // report
        assert!(bytes_needed(Job::FitLearned, n1, 13) > kib(1_549_652)); // report --learn-transforms
        assert!(bytes_needed(Job::FitSegments, n1, 13) > kib(645_476)); // report --calibrate-by
        assert!(bytes_needed(Job::Fit, n10, 13) < 4 << 30);

        // … and not wildly above them: a 10M-row `score` asks for < 4 GiB.
        assert!(bytes_needed(Job::Score, n, 13) < 4 << 30);
    }
}
