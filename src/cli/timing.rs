//! The stage timings' subscriber: with `-v` or `CHURNCAL_TIMINGS=1`, every stage span the
//! library opens prints on standard error, when it closes, the seconds since the process
//! started, the stage's own seconds, the fit's passes over the data so far, the processor
//! time of all threads and (on Linux) the resident memory now and at its peak.
//!
//! ```text
//! CHURNCAL_TIMINGS=1 churncal calibrate --data big.parquet -B 0
//! [timing]   4.49 s  load (4.21 s; passes: 0 gradient, 0 with curvature; cpu 7.90 s; memory 1.31 GB (0.01 GB mapped files), peak 2.70 GB)
//! ```

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::Instant;

use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

static START: OnceLock<Instant> = OnceLock::new();

/// Start the clock (first thing the binary does).
pub fn start() {
    START.get_or_init(Instant::now);
}

/// Whether the environment asks for timings (`CHURNCAL_TIMINGS` set and not `0`).
pub fn from_env() -> bool {
    std::env::var_os("CHURNCAL_TIMINGS").is_some_and(|v| v != "0")
}

/// Install the subscriber that prints stage timings (a no-op when `on` is false: the
/// library's spans then cost next to nothing).
pub fn install(on: bool) {
    if !on {
        return;
    }
    let subscriber = tracing_subscriber::registry().with(Timings);
    // Only the binary installs one; a second call would be a bug, not a user error.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// When a span was entered first.
struct Opened(Instant);

/// The layer: records each span's opening and prints a line when it closes.
struct Timings;

impl<S> Layer<S> for Timings
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, _attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Opened(Instant::now()));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let own = span
            .extensions()
            .get::<Opened>()
            .map_or(0.0, |o| o.0.elapsed().as_secs_f64());
        line(span.name(), &format!("{own:.2} s; "));
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        line(&message.0, "");
    }
}

/// An event's fields as `message, key=value…`.
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if !self.0.is_empty() {
            self.0.push_str(", ");
        }
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, "{}={value:?}", field.name());
        }
    }
}

fn line(what: &str, own: &str) {
    let t = START.get_or_init(Instant::now).elapsed().as_secs_f64();
    let [gradient, curvature] = churncal::calibrate::solver_passes();
    eprintln!(
        "[timing] {t:7.2} s  {what} ({own}passes: {gradient} gradient, {curvature} with curvature{}{})",
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
