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
    /// Smallest share of the validation accounts in every tier.
    pub min_tier_share: f64,
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
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            min_delta_auc: -0.01,
            slope: [0.8, 1.2],
            observed_expected: [0.8, 1.25],
            min_tier_share: 0.05,
            psi_fail: 0.25,
            psi_warn: 0.10,
            min_events_per_parameter: 10.0,
            segment_auc_floor: 0.6,
            segment_min_events: 30,
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
}

pub(super) fn f3(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "–".into()
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn gate_checks(
    g: &Gate,
    c: &ModelEval,
    d: &vs::DeLong,
    dll: PairedDelta,
    dbr: PairedDelta,
    psi: Option<f64>,
    epv: f64,
    segments: &[SegmentEval],
) -> Vec<Check> {
    let mut out = Vec::new();
    let status = |ok: bool| if ok { Status::Pass } else { Status::Fail };
    out.push(Check {
        check: "ΔAUC (candidate − incumbent), non-inferiority".into(),
        value: format!(
            "{:+.4} (95 % CI {:+.4} to {:+.4})",
            d.delta, d.ci_delta[0], d.ci_delta[1]
        ),
        threshold: format!("≥ {:+.3}", g.min_delta_auc),
        status: if d.delta < g.min_delta_auc {
            Status::Fail
        } else if d.ci_delta[0] < g.min_delta_auc {
            Status::Warn
        } else {
            Status::Pass
        },
    });
    for (name, pd) in [("Δ log-loss", dll), ("Δ Brier", dbr)] {
        out.push(Check {
            check: format!("{name} (candidate − incumbent), not worse beyond its interval"),
            value: format!(
                "{:+.5} (95 % CI {:+.5} to {:+.5})",
                pd.delta, pd.ci[0], pd.ci[1]
            ),
            threshold: "interval not wholly above 0".into(),
            status: if pd.ci[0] > 0.0 {
                Status::Fail
            } else if pd.delta > 0.0 {
                Status::Warn
            } else {
                Status::Pass
            },
        });
    }
    let cal = &c.calibration;
    out.push(Check {
        check: "calibration slope".into(),
        value: f3(cal.slope),
        threshold: format!("{} – {}", g.slope[0], g.slope[1]),
        status: status(cal.slope >= g.slope[0] && cal.slope <= g.slope[1]),
    });
    out.push(Check {
        check: "observed / expected churn".into(),
        value: f3(cal.observed_expected),
        threshold: format!("{} – {}", g.observed_expected[0], g.observed_expected[1]),
        status: status(
            cal.observed_expected >= g.observed_expected[0]
                && cal.observed_expected <= g.observed_expected[1],
        ),
    });
    let bad: Vec<String> = c
        .tier_check
        .steps
        .iter()
        .filter(|s| !s.increases)
        .map(|s| format!("{} → {}", s.better, s.worse))
        .collect();
    out.push(Check {
        check: "tier churn strictly monotone".into(),
        value: if bad.is_empty() {
            "yes".into()
        } else {
            format!("no: {}", bad.join(", "))
        },
        threshold: "each worse tier churns more".into(),
        status: status(bad.is_empty()),
    });
    let min_share = c
        .tier_shares
        .iter()
        .map(|t| t.1)
        .fold(f64::INFINITY, f64::min);
    let smallest = c
        .tier_shares
        .iter()
        .find(|t| t.1 == min_share)
        .map_or(String::new(), |t| t.0.clone());
    out.push(Check {
        check: "smallest tier share".into(),
        value: format!("{:.1} % ({smallest})", 100.0 * min_share),
        threshold: format!("≥ {:.0} %", 100.0 * g.min_tier_share),
        status: status(min_share >= g.min_tier_share),
    });
    out.push(match psi {
        Some(p) => Check {
            check: "score PSI, development → validation".into(),
            value: f3(p),
            threshold: format!("< {} (warn from {})", g.psi_fail, g.psi_warn),
            status: if p >= g.psi_fail {
                Status::Fail
            } else if p >= g.psi_warn {
                Status::Warn
            } else {
                Status::Pass
            },
        },
        None => Check {
            check: "score PSI, development → validation".into(),
            value: "not measured: no out-of-time split".into(),
            threshold: format!("< {}", g.psi_fail),
            status: Status::Warn,
        },
    });
    out.push(Check {
        check: "events per parameter (development data)".into(),
        value: format!("{epv:.1}"),
        threshold: format!("≥ {}", g.min_events_per_parameter),
        status: status(epv >= g.min_events_per_parameter),
    });
    let judged: Vec<&SegmentEval> = segments
        .iter()
        .filter(|s| s.events >= g.segment_min_events)
        .collect();
    if !segments.is_empty() {
        let low: Vec<String> = judged
            .iter()
            // NaN (one class only) counts as below the floor
            .filter(|s| s.auc_candidate.is_nan() || s.auc_candidate < g.segment_auc_floor)
            .map(|s| format!("{}={} ({})", s.column, s.label, f3(s.auc_candidate)))
            .collect();
        out.push(Check {
            check: "segment AUC floor".into(),
            value: if low.is_empty() {
                format!("{} segments judged, none below", judged.len())
            } else {
                low.join(", ")
            },
            threshold: format!(
                "≥ {} where ≥ {} events",
                g.segment_auc_floor, g.segment_min_events
            ),
            status: status(low.is_empty()),
        });
    }
    out
}
