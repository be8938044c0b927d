//! The sample-data generator: realistic account snapshots whose churn is driven by a known
//! health score, so that calibration can be watched recovering it.
//!
//! # The generative model
//!
//! 1. **Accounts.** Each account gets segments (industry, size band, plan, region, CSM), a
//!    start date (`customer_since`, up to five years before the first snapshot), a base ARR
//!    (log-normal by size band), a contract term (1, 12, 24 or 36 months) and a long-run
//!    health level `μ` (normal, shifted by size band and industry).
//! 2. **Latent health drifts** quarter to quarter as an AR(1) process around `μ`:
//!    `h_t = 0.7 h_{t−1} + 0.3 μ + ε_t`, `ε_t ~ N(0, 0.45²)`.
//! 3. **Metrics** are noisy, skewed views of `h_t`: usage ratios and adoption through a
//!    logistic link, counts (logins, tickets, errors, meetings) log-normal or Poisson, NPS
//!    answered by 40 % of accounts in a quarter and CSAT by 50 %, payments late with a
//!    probability that rises as health falls, a CSM assessment read off health with noise, and
//!    occasional missing usage (a 2 % feed outage), goals (8 %) and ecosystem share (10 %).
//!    Some metrics drive churn; others only correlate with health, as in real data.
//! 4. **Churn.** The truth profile ([`truth_profile`], written beside the data as
//!    `sample_truth.toml`) scores every snapshot from its observed metrics, with its own
//!    transforms and missing policies. The snapshot is labelled churned (within the next
//!    quarter) with probability `σ(α + slope × score / 100)`; `slope` is fixed and `α` is
//!    found by bisection so that the expected number of churned accounts is the target. A
//!    churned account's churn date falls 1–90 days after that snapshot and it has no later
//!    snapshots.
//!
//! Every account draws from its own ChaCha stream of the seed, so the output is identical
//! for a seed whatever the thread count.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Normal, Poisson};
use rayon::prelude::*;

use crate::data::{parse, Day, LoadNotes, MetricColumn, Snapshots};
use crate::profile::io::{parse_profile, ProfileFormat};
use crate::profile::{Calibration, Profile};
use crate::score::SubScores;
use crate::stats::sigmoid;

/// Parameters of a synthetic data set.
#[derive(Debug, Clone)]
pub struct SynthParams {
    /// Number of accounts. Default 2,000 (the HBR BigCommerce study's scale).
    pub accounts: usize,
    /// Quarterly snapshots per account. Default 8 (24 months).
    pub quarters: usize,
    /// Date of the first snapshot. Default 2024-03-31.
    pub first: Day,
    /// Expected number of churned accounts. Default 130.
    pub target_churned: f64,
    /// Change of churn log-odds per 100 truth-score points. Default −7.
    pub slope: f64,
    /// Random seed. Default 42.
    pub seed: u64,
    /// Mid-Market and Enterprise accounts churn by other weights than SMB ones
    /// ([`upmarket_truth`]): a world where segments truly need their own profiles. Default
    /// false (one truth for all).
    pub weights_by_size: bool,
}

impl Default for SynthParams {
    fn default() -> Self {
        SynthParams {
            accounts: 2000,
            quarters: 8,
            first: parse::date("2024-03-31").expect("valid").expect("present"),
            target_churned: 130.0,
            slope: -7.0,
            seed: 42,
            weights_by_size: false,
        }
    }
}

/// The truth profile's source.
const TRUTH: &str = include_str!("truth.toml");

/// The generating model as a profile over the sample's own columns (without its
/// calibration block, which depends on the parameters).
pub fn truth_profile() -> Profile {
    parse_profile(TRUTH, ProfileFormat::Toml).expect("the built-in truth profile parses")
}

/// The generating model of Mid-Market and Enterprise accounts when
/// [`SynthParams::weights_by_size`] is set: the truth profile with its weights in reverse
/// order, so that relationship and value drive their churn where payment and usage drive
/// SMB's (days past due 6 instead of 18, goals met 18 instead of 6).
pub fn upmarket_truth() -> Profile {
    let mut p = truth_profile();
    let w: Vec<f64> = p.metrics.iter().rev().map(|m| m.weight).collect();
    for (m, w) in p.metrics.iter_mut().zip(w) {
        m.weight = w;
    }
    p.name = "sample-truth-upmarket".into();
    p.description =
        "The generating model of the Mid-Market and Enterprise accounts (weights sum to 100)"
            .into();
    p
}

/// A generated data set.
#[derive(Debug, Clone)]
pub struct Synth {
    /// The snapshots, with outcome, churn date, segments, ARR and every metric.
    pub snapshots: Snapshots,
    /// The generating model, with its calibration block (intercept and slope); with
    /// [`SynthParams::weights_by_size`], SMB accounts'.
    pub truth: Profile,
    /// With [`SynthParams::weights_by_size`], the Mid-Market and Enterprise accounts'
    /// generating model, with the same calibration block.
    pub upmarket_truth: Option<Profile>,
    /// Which numeric metric columns hold whole numbers (written without decimals).
    pub integer_columns: Vec<String>,
}

/// Metric columns in output order, with whether they are whole numbers.
const NUMERIC: &[(&str, bool)] = &[
    ("active_user_ratio", false),
    ("logins_per_user_30d", false),
    ("feature_adoption_pct", false),
    ("csm_meetings_90d", true),
    ("email_response_rate", false),
    ("nps", true),
    ("csat", false),
    ("support_tickets_90d", true),
    ("onboarding_completion_pct", false),
    ("days_past_due", true),
    ("contract_term_months", true),
    ("platform_errors_30d", true),
    ("ecosystem_share_pct", false),
    ("revenue_growth_pct", false),
    ("goals_met_pct", false),
];
const TEXT: &[&str] = &[
    "csm_assessment",
    "exec_sponsor",
    "referenceable",
    "growth_potential",
];
const SEGMENTS: &[(&str, &[(&str, f64)])] = &[
    (
        "industry",
        &[
            ("Retail", 0.24),
            ("Software", 0.22),
            ("Manufacturing", 0.16),
            ("Healthcare", 0.14),
            ("Financial Services", 0.14),
            ("Education", 0.10),
        ],
    ),
    (
        "size_band",
        &[("SMB", 0.55), ("Mid-Market", 0.30), ("Enterprise", 0.15)],
    ),
    (
        "region",
        &[
            ("North America", 0.45),
            ("EMEA", 0.30),
            ("APAC", 0.15),
            ("LATAM", 0.10),
        ],
    ),
];
const INDUSTRY_EFFECT: [f64; 6] = [-0.05, 0.15, 0.0, 0.05, 0.1, -0.3];
const SIZE_EFFECT: [f64; 3] = [-0.25, 0.05, 0.35];
const PLANS: [&str; 4] = ["Starter", "Growth", "Pro", "Enterprise"];
const CSMS: [&str; 12] = [
    "Avery Chen",
    "Blake Okafor",
    "Carmen Ruiz",
    "Dev Patel",
    "Elin Larsen",
    "Farah Haddad",
    "Gus Moreau",
    "Hana Sato",
    "Ivan Petrov",
    "Jade Nguyen",
    "Kofi Mensah",
    "Lucia Rossi",
];

/// One account's rows before churn is drawn (the full panel).
#[derive(Default)]
struct Panel {
    account: Vec<u32>,
    quarter: Vec<u8>,
    numeric: Vec<Vec<f64>>,
    text: Vec<Vec<u8>>, // codes into per-column label lists; u8::MAX = missing
    segments: Vec<Vec<u8>>,
    plan: Vec<u8>,
    csm: Vec<u8>,
    since: Vec<Day>,
    arr: Vec<f64>,
    churn_draw: Vec<f64>,
    churn_day: Vec<i32>,
}

const TEXT_LABELS: [&[&str]; 4] = [
    &["committed", "neutral", "wavering"],
    &["yes", "no"],
    &["true", "false"],
    &["high", "medium", "low"],
];

impl Panel {
    fn new() -> Self {
        Panel {
            numeric: vec![Vec::new(); NUMERIC.len()],
            text: vec![Vec::new(); TEXT.len()],
            segments: vec![Vec::new(); SEGMENTS.len()],
            ..Default::default()
        }
    }

    fn append(&mut self, mut o: Panel) {
        self.account.append(&mut o.account);
        self.quarter.append(&mut o.quarter);
        for (a, b) in self.numeric.iter_mut().zip(o.numeric.iter_mut()) {
            a.append(b);
        }
        for (a, b) in self.text.iter_mut().zip(o.text.iter_mut()) {
            a.append(b);
        }
        for (a, b) in self.segments.iter_mut().zip(o.segments.iter_mut()) {
            a.append(b);
        }
        self.plan.append(&mut o.plan);
        self.csm.append(&mut o.csm);
        self.since.append(&mut o.since);
        self.arr.append(&mut o.arr);
        self.churn_draw.append(&mut o.churn_draw);
        self.churn_day.append(&mut o.churn_day);
    }
}

fn pick(rng: &mut ChaCha8Rng, weights: &[(&str, f64)]) -> u8 {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (i, (_, w)) in weights.iter().enumerate() {
        acc += w;
        if u < acc {
            return i as u8;
        }
    }
    (weights.len() - 1) as u8
}

fn normal(rng: &mut ChaCha8Rng, sd: f64) -> f64 {
    Normal::new(0.0, sd).expect("sd > 0").sample(rng)
}

fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> f64 {
    Poisson::new(lambda.max(1e-6))
        .expect("lambda > 0")
        .sample(rng)
}

fn round_to(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// Generate one account's snapshots for every quarter.
fn account(a: u32, p: &SynthParams, out: &mut Panel) {
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    rng.set_stream(a as u64 + 1);
    let industry = pick(&mut rng, SEGMENTS[0].1);
    let size = pick(&mut rng, SEGMENTS[1].1);
    let region = pick(&mut rng, SEGMENTS[2].1);
    let plan =
        (size as i32 + rng.random_range(0..=1) + if size == 2 { 1 } else { 0 }).clamp(0, 3) as u8;
    let csm = (region as usize * 3 + rng.random_range(0..3)) as u8;
    let mu =
        SIZE_EFFECT[size as usize] + INDUSTRY_EFFECT[industry as usize] + normal(&mut rng, 0.75);
    let since = p.first - rng.random_range(30..5 * 365);
    let arr0 = match size {
        0 => 9.4,
        1 => 10.8,
        _ => 12.0,
    } + normal(&mut rng, 0.5);
    let arr0 = arr0.exp();
    let term = {
        let u: f64 = rng.random::<f64>() + 0.1 * mu + 0.15 * size as f64;
        if u < 0.25 {
            1.0
        } else if u < 0.7 {
            12.0
        } else if u < 0.92 {
            24.0
        } else {
            36.0
        }
    };
    let onboarding = round_to(100.0 * sigmoid(0.8 + 0.6 * mu + normal(&mut rng, 0.6)), 1);
    let growth_potential = {
        let g = mu + normal(&mut rng, 0.8);
        if g > 0.5 {
            0
        } else if g > -0.5 {
            1
        } else {
            2
        }
    };
    let sponsor_level = mu + 0.3 * size as f64 + normal(&mut rng, 0.6);
    let mut h = mu + normal(&mut rng, 0.5);
    let mut arr = arr0;
    for q in 0..p.quarters {
        if q > 0 {
            h = 0.7 * h + 0.3 * mu + normal(&mut rng, 0.45);
        }
        let usage_outage = rng.random_bool(0.02);
        let miss =
            |rng: &mut ChaCha8Rng, p: f64, v: f64| if rng.random_bool(p) { f64::NAN } else { v };
        let active = round_to(sigmoid(0.3 + 0.9 * h + normal(&mut rng, 0.6)), 3);
        let logins = round_to((2.3 + 0.55 * h + normal(&mut rng, 0.5)).exp(), 1);
        let adoption = round_to(100.0 * sigmoid(-0.2 + 0.8 * h + normal(&mut rng, 0.5)), 1);
        let meetings = poisson(&mut rng, (0.5 + 0.35 * h + 0.25 * size as f64).exp()).min(12.0);
        let email = round_to(sigmoid(-0.3 + 0.6 * h + normal(&mut rng, 0.7)), 3);
        let email = miss(&mut rng, 0.05, email);
        let nps = if rng.random_bool(0.4) {
            (100.0 * (2.0 * sigmoid(0.9 * h + normal(&mut rng, 0.7)) - 1.0)).round()
        } else {
            f64::NAN
        };
        let csat = if rng.random_bool(0.5) {
            round_to((3.3 + 0.7 * h + normal(&mut rng, 0.6)).clamp(1.0, 5.0), 1)
        } else {
            f64::NAN
        };
        let tickets = poisson(&mut rng, (1.2 - 0.45 * h + 0.3 * size as f64).exp());
        let late = rng.random_bool(sigmoid(-2.2 - 1.1 * h));
        let dpd = if late {
            let mean = 12.0 + 10.0 * (-h).max(0.0);
            1.0 + Exp::new(1.0 / mean)
                .expect("rate > 0")
                .sample(&mut rng)
                .round()
        } else {
            0.0
        };
        let errors = poisson(&mut rng, (2.0 - 0.3 * h).exp());
        let ecosystem = round_to(100.0 * sigmoid(-0.5 + 0.5 * h + normal(&mut rng, 0.8)), 1);
        let ecosystem = miss(&mut rng, 0.10, ecosystem);
        let growth = round_to(8.0 + 12.0 * h + normal(&mut rng, 15.0), 1);
        let goals = round_to(100.0 * sigmoid(0.2 + 0.7 * h + normal(&mut rng, 0.6)), 1);
        let goals = miss(&mut rng, 0.08, goals);
        let assessment = {
            let v = h + normal(&mut rng, 0.8);
            if rng.random_bool(0.03) {
                u8::MAX
            } else if v > 0.5 {
                0
            } else if v > -0.6 {
                1
            } else {
                2
            }
        };
        let sponsor = if sponsor_level + 0.4 * h + normal(&mut rng, 0.3) > 0.2 {
            0
        } else {
            1
        };
        let reference = if h + normal(&mut rng, 0.7) > 0.9 {
            0
        } else {
            1
        };
        let (active, logins) = if usage_outage {
            (f64::NAN, f64::NAN)
        } else {
            (active, logins)
        };
        let values = [
            active, logins, adoption, meetings, email, nps, csat, tickets, onboarding, dpd, term,
            errors, ecosystem, growth, goals,
        ];
        for (col, v) in out.numeric.iter_mut().zip(values) {
            col.push(v);
        }
        for (col, v) in out
            .text
            .iter_mut()
            .zip([assessment, sponsor, reference, growth_potential])
        {
            col.push(v);
        }
        out.account.push(a);
        out.quarter.push(q as u8);
        out.segments[0].push(industry);
        out.segments[1].push(size);
        out.segments[2].push(region);
        out.plan.push(plan);
        out.csm.push(csm);
        out.since.push(since);
        arr *= (0.012 * h + normal(&mut rng, 0.02)).exp();
        out.arr.push(arr.round());
        out.churn_draw.push(rng.random());
        out.churn_day.push(rng.random_range(1..=90));
    }
}

fn text_column(codes: &[u8], labels: &[&str]) -> MetricColumn {
    MetricColumn::Text {
        codes: codes
            .iter()
            .map(|&c| {
                if c == u8::MAX {
                    MetricColumn::MISSING_CODE
                } else {
                    c as u32
                }
            })
            .collect(),
        labels: labels.iter().map(|s| s.to_string()).collect(),
    }
}

/// Generate a data set.
pub fn generate(p: &SynthParams) -> Synth {
    const BLOCK: usize = 512;
    let blocks: Vec<Panel> = (0..p.accounts.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let mut panel = Panel::new();
            for a in b * BLOCK..((b + 1) * BLOCK).min(p.accounts) {
                account(a as u32, p, &mut panel);
            }
            panel
        })
        .collect();
    let mut panel = Panel::new();
    for b in blocks {
        panel.append(b);
    }
    let n = panel.account.len();
    let dates: Vec<Day> = (0..p.quarters)
        .map(|q| {
            let d = parse::to_naive(p.first);
            parse::from_naive(
                d.checked_add_months(chrono::Months::new(3 * q as u32))
                    .unwrap_or(d),
            )
        })
        .collect();
    let mut metrics: Vec<(String, MetricColumn)> = NUMERIC
        .iter()
        .zip(&panel.numeric)
        .map(|((name, _), v)| (name.to_string(), MetricColumn::Numeric(v.clone())))
        .collect();
    for ((name, codes), labels) in TEXT.iter().zip(&panel.text).zip(TEXT_LABELS) {
        metrics.push((name.to_string(), text_column(codes, labels)));
    }
    let mut full = Snapshots {
        source: "synth".into(),
        rows: n,
        account: panel.account.clone(),
        account_names: Some(
            (0..p.accounts)
                .map(|a| format!("ACC-{:05}", a + 1))
                .collect(),
        ),
        n_accounts: p.accounts,
        id_column: "account_id".into(),
        date: Some(panel.quarter.iter().map(|&q| dates[q as usize]).collect()),
        date_column: Some("snapshot_date".into()),
        outcome: None,
        outcome_source: Some("churned".into()),
        metrics,
        segments: Vec::new(),
        customer_since: Some(panel.since.clone()),
        churn_date: None,
        arr: Some(panel.arr.clone()),
        arr_column: Some("arr".into()),
        source_row: (1..=n as u32).collect(),
        notes: LoadNotes::default(),
    };
    full.segments = segments_of(&panel);

    // Churn: the truth profile's score of each snapshot, through σ(α + slope·score/100).
    let mut truth = truth_profile();
    let subs =
        SubScores::compute(&truth, &full).expect("the truth profile fits the generated columns");
    let mut scores = subs.scores(&truth.effective_weights());
    let mut upmarket = p.weights_by_size.then(upmarket_truth);
    if let Some(u) = &upmarket {
        let other = subs.scores(&u.effective_weights());
        for ((s, o), &size) in scores.iter_mut().zip(other).zip(&panel.segments[1]) {
            if size > 0 {
                *s = o;
            }
        }
    }
    let alpha = churn_intercept(&panel, &scores, p);
    let mut keep = Vec::with_capacity(n);
    let mut outcome = Vec::with_capacity(n);
    let mut churn_date = vec![parse::NO_DAY; n];
    let mut gone = false;
    let mut start = 0;
    for (i, (&q, &s)) in panel.quarter.iter().zip(&scores).enumerate() {
        if q == 0 {
            gone = false;
            start = i;
        }
        if gone {
            continue;
        }
        let s = if s.is_nan() { 50.0 } else { s };
        let churns = panel.churn_draw[i] < sigmoid(alpha + p.slope * s / 100.0);
        keep.push(i);
        outcome.push(churns as u8);
        if churns {
            gone = true;
            let day = full.date.as_ref().expect("dates")[i] + panel.churn_day[i];
            for c in churn_date.iter_mut().take(i + 1).skip(start) {
                *c = day;
            }
        }
    }
    full.churn_date = Some(churn_date);
    full.retain_rows(&keep);
    full.outcome = Some(outcome);
    full.source_row = (1..=full.rows as u32).collect();
    truth.calibration = Some(Calibration {
        method: format!(
            "generating model of churncal synth (seed {}, {} accounts, {} quarters, {} expected churned accounts{})",
            p.seed,
            p.accounts,
            p.quarters,
            p.target_churned,
            if p.weights_by_size { "; SMB accounts" } else { "" }
        ),
        tool: Some(crate::TOOL.into()),
        ..Calibration::new(round_to(alpha, 6), p.slope)
    });
    if let Some(u) = upmarket.as_mut() {
        u.calibration = truth.calibration.clone().map(|mut c| {
            c.method = c
                .method
                .replace("; SMB accounts", "; Mid-Market and Enterprise accounts");
            c
        });
    }
    Synth {
        snapshots: full,
        truth,
        upmarket_truth: upmarket,
        integer_columns: NUMERIC
            .iter()
            .filter(|(_, int)| *int)
            .map(|(n, _)| n.to_string())
            .collect(),
    }
}

/// The generated segment columns, `plan` third and `csm` last.
fn segments_of(panel: &Panel) -> Vec<crate::data::Segment> {
    let mut segs: Vec<crate::data::Segment> = SEGMENTS
        .iter()
        .zip(&panel.segments)
        .map(|((name, labels), codes)| crate::data::Segment {
            name: name.to_string(),
            codes: codes.iter().map(|&c| c as u32).collect(),
            labels: labels.iter().map(|(l, _)| l.to_string()).collect(),
        })
        .collect();
    segs.insert(
        2,
        crate::data::Segment {
            name: "plan".into(),
            codes: panel.plan.iter().map(|&c| c as u32).collect(),
            labels: PLANS.iter().map(|s| s.to_string()).collect(),
        },
    );
    segs.push(crate::data::Segment {
        name: "csm".into(),
        codes: panel.csm.iter().map(|&c| c as u32).collect(),
        labels: CSMS.iter().map(|s| s.to_string()).collect(),
    });
    segs
}

/// The intercept α at which the expected number of accounts churning by the last quarter
/// is the target, by bisection.
fn churn_intercept(panel: &Panel, scores: &[f64], p: &SynthParams) -> f64 {
    let expected = |alpha: f64| -> f64 {
        let mut total = 0.0;
        let mut survive = 1.0;
        for (&q, &s) in panel.quarter.iter().zip(scores) {
            if q == 0 {
                survive = 1.0;
            }
            let s = if s.is_nan() { 50.0 } else { s };
            survive *= 1.0 - sigmoid(alpha + p.slope * s / 100.0);
            if q as usize == p.quarters - 1 {
                total += 1.0 - survive;
            }
        }
        total
    };
    let (mut lo, mut hi) = (-30.0, 30.0);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if expected(mid) < p.target_churned {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

impl Synth {
    /// The data set as a polars frame in the data contract's layout: roles first, then
    /// segments, then metrics. Whole-number metrics are integer columns.
    pub fn to_frame(&self) -> polars::prelude::PolarsResult<polars::prelude::DataFrame> {
        use polars::prelude::*;
        let s = &self.snapshots;
        let names = s.account_names.as_ref().expect("synth names accounts");
        let date_col = |name: &str, v: &[Day]| -> PolarsResult<Column> {
            let ca: Int32Chunked = v
                .iter()
                .map(|&d| (d != parse::NO_DAY).then_some(d))
                .collect();
            Ok(ca
                .with_name(name.into())
                .into_series()
                .cast(&DataType::Date)?
                .into())
        };
        let mut cols: Vec<Column> = vec![
            StringChunked::from_iter_values(
                "account_id".into(),
                s.account.iter().map(|&a| names[a as usize].as_str()),
            )
            .into_series()
            .into(),
            date_col("snapshot_date", s.date.as_deref().expect("dates"))?,
            Column::new(
                "churned".into(),
                s.outcome
                    .as_ref()
                    .expect("outcome")
                    .iter()
                    .map(|&y| y as i32)
                    .collect::<Vec<i32>>(),
            ),
            date_col("churn_date", s.churn_date.as_deref().expect("churn dates"))?,
            date_col(
                "customer_since",
                s.customer_since.as_deref().expect("since"),
            )?,
            Column::new("arr".into(), s.arr.clone().expect("arr")),
        ];
        for seg in &s.segments {
            cols.push(
                StringChunked::from_iter_values(
                    seg.name.as_str().into(),
                    seg.codes.iter().map(|&c| seg.labels[c as usize].as_str()),
                )
                .into_series()
                .into(),
            );
        }
        for (name, m) in &s.metrics {
            let col: Column = match m {
                MetricColumn::Numeric(v) if self.integer_columns.contains(name) => Column::new(
                    name.as_str().into(),
                    v.iter()
                        .map(|x| (!x.is_nan()).then_some(*x as i64))
                        .collect::<Vec<Option<i64>>>(),
                ),
                MetricColumn::Numeric(v) => Column::new(
                    name.as_str().into(),
                    v.iter()
                        .map(|x| (!x.is_nan()).then_some(*x))
                        .collect::<Vec<Option<f64>>>(),
                ),
                MetricColumn::Text { codes, labels } => StringChunked::from_iter_options(
                    name.as_str().into(),
                    codes
                        .iter()
                        .map(|&c| labels.get(c as usize).map(String::as_str)),
                )
                .into_series()
                .into(),
            };
            cols.push(col);
        }
        DataFrame::new(s.rows, cols)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> SynthParams {
        SynthParams {
            accounts: 300,
            target_churned: 40.0,
            ..Default::default()
        }
    }

    #[test]
    fn same_seed_same_data() {
        let a = generate(&small());
        let b = generate(&small());
        // Debug text compares NaN (missing) equal to NaN.
        let text = |s: &Synth| format!("{:?}{:?}", s.snapshots.outcome, s.snapshots.metrics);
        assert!(text(&a) == text(&b), "same seed, different data");
        let c = generate(&SynthParams { seed: 7, ..small() });
        assert!(text(&a) != text(&c), "another seed, same data");
    }

    #[test]
    fn churned_accounts_stop_and_are_labelled_once() {
        let s = generate(&small()).snapshots;
        let o = s.outcome.as_ref().unwrap();
        let mut churned = std::collections::HashSet::new();
        for (i, (&a, &y)) in s.account.iter().zip(o).enumerate() {
            assert!(
                !churned.contains(&a),
                "account {a} has a row after churning"
            );
            if y == 1 {
                churned.insert(a);
                let cd = s.churn_date.as_ref().unwrap()[i];
                let d = s.date.as_ref().unwrap()[i];
                assert!(cd > d && cd <= d + 90);
            }
        }
        // the expected count is 40; a draw lands within a few standard deviations
        assert!((20..=65).contains(&churned.len()), "{}", churned.len());
    }

    #[test]
    fn truth_profile_is_valid_and_sums_to_100() {
        let t = truth_profile();
        t.check().unwrap();
        let s: f64 = t.metrics.iter().map(|m| m.weight).sum();
        assert!((s - 100.0).abs() < 1e-9);
    }

    #[test]
    fn every_preset_scores_the_generated_data() {
        let s = generate(&small()).snapshots;
        for name in crate::profile::presets::names() {
            let p = crate::profile::presets::preset(name).unwrap();
            let scored = crate::score::score(
                &p,
                &SubScores::compute(&p, &s).unwrap(),
                crate::score::Extent::Full,
            );
            assert_eq!(scored.unscored, 0, "{name}");
        }
    }
}
