//! The gate's thresholds (a gate file overrides any of them) and the checks that compare
//! the candidate's figures with them.

use super::*;

/// Thresholds of the gate. Every field can be set in a TOML gate file; missing fields keep
/// the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Gate {
    /// Smallest acceptable ΔAUC (candidate − incumbent).
    pub min_delta_auc: f64,
    /// Calibration slope range.
    pub slope: [f64; 2],
    /// Observed / expected range.
    pub observed_expected: [f64; 2],
    /// Smallest share of the validation accounts in every tier of the candidate (an
    /// absolute floor; 0, the default, sets none).
    pub min_tier_share: f64,
    /// A tier the incumbent populates must keep at least this fraction of its share
    /// under the candidate.
    pub min_share_of_incumbent: f64,
    /// Widest acceptable 95 % interval of a candidate tier's churn rate (0.25 = 25
    /// percentage points): a tier with too few accounts or churn events to estimate its
    /// rate.
    pub max_tier_interval: f64,
    /// PSI from which the score has shifted (fail).
    pub psi_fail: f64,
    /// PSI from which to investigate (warn).
    pub psi_warn: f64,
    /// Smallest events per parameter in the development data.
    pub min_events_per_parameter: f64,
    /// Smallest AUC of a named segment...
    pub segment_auc_floor: f64,
    /// ...that has at least this many churn events.
    pub segment_min_events: usize,
    /// Business rules that fail the gate instead of warning: any of `tier-shares`,
    /// `events-per-parameter`, `segment-auc`.
    pub fail_on: Vec<BusinessRule>,
}

/// A check that is a business rule: it warns by default, and fails only when the gate
/// file lists it under `fail_on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BusinessRule {
    /// Every tier keeps enough accounts, and enough churn events to estimate its rate.
    TierShares,
    /// Enough churn events per fitted weight.
    EventsPerParameter,
    /// No named segment ranks its accounts below the floor.
    SegmentAuc,
}

/// What a check protects against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// A model defect: the candidate ranks, predicts or separates worse. Fails by default.
    Defect,
    /// A business rule: how the tiers and the data look. Warns unless the gate file says
    /// otherwise.
    BusinessRule,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            min_delta_auc: -0.01,
            slope: [0.8, 1.2],
            observed_expected: [0.8, 1.25],
            min_tier_share: 0.0,
            min_share_of_incumbent: 0.5,
            max_tier_interval: 0.25,
            psi_fail: 0.25,
            psi_warn: 0.10,
            min_events_per_parameter: 10.0,
            segment_auc_floor: 0.6,
            segment_min_events: 30,
            fail_on: Vec::new(),
        }
    }
}

impl Gate {
    /// Parse a gate file.
    pub fn from_toml(text: &str) -> Result<Gate, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Passed.
    Pass,
    /// Passed, with something to look at.
    Warn,
    /// Failed: the candidate should not replace the incumbent.
    Fail,
}

impl Status {
    /// `pass`, `warn` or `FAIL`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

/// One row of the verdict table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// What is checked.
    pub check: String,
    /// The measured value.
    pub value: String,
    /// The threshold.
    pub threshold: String,
    /// Pass, warn or fail.
    pub status: Status,
    /// A model defect or a business rule.
    pub kind: CheckKind,
}

pub(super) fn f3(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "–".into()
    }
}

/// What a gate check is given: the two profiles on the validation rows and the paired
/// and stability figures.
pub(super) struct GateInput<'a> {
    pub(super) candidate: &'a ModelEval,
    pub(super) incumbent: &'a ModelEval,
    pub(super) delong: &'a vs::DeLong,
    pub(super) delta_log_loss: PairedDelta,
    pub(super) delta_brier: PairedDelta,
    pub(super) psi: Option<f64>,
    pub(super) events_per_parameter: f64,
    pub(super) segments: &'a [SegmentEval],
}

/// The gate's checks: the model defects first (they fail), then the business rules (they
/// warn unless the gate file lists them under `fail_on`).
pub(super) fn gate_checks(g: &Gate, x: &GateInput<'_>) -> Vec<Check> {
    let mut out = defect_checks(g, x);
    out.extend(business_checks(g, x));
    out
}

fn defect(check: impl Into<String>, value: String, threshold: String, status: Status) -> Check {
    Check {
        check: check.into(),
        value,
        threshold,
        status,
        kind: CheckKind::Defect,
    }
}

fn pass_or_fail(ok: bool) -> Status {
    if ok {
        Status::Pass
    } else {
        Status::Fail
    }
}

fn defect_checks(g: &Gate, x: &GateInput<'_>) -> Vec<Check> {
    let (c, d) = (x.candidate, x.delong);
    let mut out = vec![defect(
        "ΔAUC (candidate − incumbent), non-inferiority",
        format!(
            "{:+.4} (95 % CI {:+.4} to {:+.4})",
            d.delta, d.ci_delta[0], d.ci_delta[1]
        ),
        format!("≥ {:+.3}", g.min_delta_auc),
        if d.delta < g.min_delta_auc {
            Status::Fail
        } else if d.ci_delta[0] < g.min_delta_auc {
            Status::Warn
        } else {
            Status::Pass
        },
    )];
    for (name, pd) in [("Δ log-loss", x.delta_log_loss), ("Δ Brier", x.delta_brier)] {
        out.push(defect(
            format!("{name} (candidate − incumbent), not worse beyond its interval"),
            format!(
                "{:+.5} (95 % CI {:+.5} to {:+.5})",
                pd.delta, pd.ci[0], pd.ci[1]
            ),
            "interval not wholly above 0".into(),
            if pd.ci[0] > 0.0 {
                Status::Fail
            } else if pd.delta > 0.0 {
                Status::Warn
            } else {
                Status::Pass
            },
        ));
    }
    let cal = &c.calibration;
    out.push(defect(
        "calibration slope",
        f3(cal.slope),
        format!("{} – {}", g.slope[0], g.slope[1]),
        pass_or_fail(cal.slope >= g.slope[0] && cal.slope <= g.slope[1]),
    ));
    out.push(defect(
        "observed / expected churn",
        f3(cal.observed_expected),
        format!("{} – {}", g.observed_expected[0], g.observed_expected[1]),
        pass_or_fail(
            cal.observed_expected >= g.observed_expected[0]
                && cal.observed_expected <= g.observed_expected[1],
        ),
    ));
    // A higher score must mean less churn: the refitted slope below 0, and its interval too.
    out.push(defect(
        "score direction: a higher score means less churn",
        format!(
            "{:+.2} log-odds per 100 points (95 % CI {:+.2} to {:+.2})",
            c.score_slope, c.score_slope_ci[0], c.score_slope_ci[1]
        ),
        "slope below 0".into(),
        if c.score_slope.is_nan() || c.score_slope >= 0.0 {
            Status::Fail
        } else if c.score_slope_ci[1].is_nan() || c.score_slope_ci[1] >= 0.0 {
            Status::Warn
        } else {
            Status::Pass
        },
    ));
    let bad: Vec<String> = c
        .tier_check
        .steps
        .iter()
        .filter(|s| !s.increases)
        .map(|s| format!("{} → {}", s.better, s.worse))
        .collect();
    out.push(defect(
        "tier churn strictly monotone",
        if bad.is_empty() {
            "yes".into()
        } else {
            format!("no: {}", bad.join(", "))
        },
        "each worse tier churns more".into(),
        pass_or_fail(bad.is_empty()),
    ));
    out.push(match x.psi {
        Some(p) => defect(
            "score PSI, development → validation",
            f3(p),
            format!("< {} (warn from {})", g.psi_fail, g.psi_warn),
            if p >= g.psi_fail {
                Status::Fail
            } else if p >= g.psi_warn {
                Status::Warn
            } else {
                Status::Pass
            },
        ),
        None => defect(
            "score PSI, development → validation",
            "not measured: no out-of-time split".into(),
            format!("< {}", g.psi_fail),
            Status::Warn,
        ),
    });
    out
}

fn business(
    g: &Gate,
    rule: BusinessRule,
    check: &str,
    value: String,
    threshold: String,
    ok: bool,
) -> Check {
    Check {
        check: check.into(),
        value,
        threshold,
        status: if ok {
            Status::Pass
        } else if g.fail_on.contains(&rule) {
            Status::Fail
        } else {
            Status::Warn
        },
        kind: CheckKind::BusinessRule,
    }
}

fn business_checks(g: &Gate, x: &GateInput<'_>) -> Vec<Check> {
    let c = x.candidate;
    // Tier shares: a tier the incumbent populates that the candidate (nearly) empties, a
    // tier under the absolute floor, or one too thin to estimate its churn rate.
    let mut thin: Vec<String> = Vec::new();
    for (k, (name, share)) in c.tier_shares.iter().enumerate() {
        // The incumbent's tier of the same name, else the one in the same place.
        let before = x
            .incumbent
            .tier_shares
            .iter()
            .find(|t| &t.0 == name)
            .or_else(|| x.incumbent.tier_shares.get(k))
            .map_or(0.0, |t| t.1);
        if before > 0.0 && *share < g.min_share_of_incumbent * before {
            thin.push(format!(
                "{name} {:.1} % (incumbent {:.1} %)",
                100.0 * share,
                100.0 * before
            ));
        } else if *share < g.min_tier_share {
            thin.push(format!("{name} {:.1} %", 100.0 * share));
        } else if let Some((_, ci)) = c.tier_intervals.get(k) {
            if *share > 0.0 && ci[1] - ci[0] > g.max_tier_interval {
                thin.push(format!(
                    "{name}: churn rate known only to {:.0}–{:.0} %",
                    100.0 * ci[0],
                    100.0 * ci[1]
                ));
            }
        }
    }
    let mut out = vec![business(
        g,
        BusinessRule::TierShares,
        "tier shares",
        if thin.is_empty() {
            "every tier populated".into()
        } else {
            thin.join("; ")
        },
        format!(
            "≥ {:.0} % of the incumbent's share{}; churn interval ≤ {:.0} points",
            100.0 * g.min_share_of_incumbent,
            if g.min_tier_share > 0.0 {
                format!(" and ≥ {:.0} %", 100.0 * g.min_tier_share)
            } else {
                String::new()
            },
            100.0 * g.max_tier_interval
        ),
        thin.is_empty(),
    )];
    let epv = x.events_per_parameter;
    out.push(business(
        g,
        BusinessRule::EventsPerParameter,
        "events per parameter (scored rows, as calibration counts them)",
        format!("{epv:.1}"),
        format!("≥ {}", g.min_events_per_parameter),
        epv >= g.min_events_per_parameter,
    ));
    let judged: Vec<&SegmentEval> = x
        .segments
        .iter()
        .filter(|s| s.events >= g.segment_min_events)
        .collect();
    if !x.segments.is_empty() {
        let low: Vec<String> = judged
            .iter()
            // NaN (one class only) counts as below the floor
            .filter(|s| s.auc_candidate.is_nan() || s.auc_candidate < g.segment_auc_floor)
            .map(|s| format!("{}={} ({})", s.column, s.label, f3(s.auc_candidate)))
            .collect();
        out.push(business(
            g,
            BusinessRule::SegmentAuc,
            "segment AUC floor",
            if low.is_empty() {
                format!("{} segments judged, none below", judged.len())
            } else {
                low.join(", ")
            },
            format!(
                "≥ {} where ≥ {} events",
                g.segment_auc_floor, g.segment_min_events
            ),
            low.is_empty(),
        ));
    }
    out
}
