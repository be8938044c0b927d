//! The data-quality audit that runs before every fit, after the practitioner guide's five
//! criteria: **access** (the columns are there and read as the profile needs), **accuracy**
//! (ranges, duplicates, constants, future dates), **currency** (how old the data is, accounts
//! that stopped appearing, feeds that never change), **impact** (each metric's univariate
//! AUC and information value against churn, and its direction), **integration** (missing
//! values, gaps, redundancy), plus **outcome** sanity (labels cut off at the end of the
//! window, leakage, events per parameter).
//!
//! Every finding has a severity: `error` (the fit should not run), `warn`, `info`.

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::data::{parse, Day, MetricColumn, Snapshots, NO_DAY};
use crate::profile::{Profile, Transform};
use crate::score::SubScores;
use crate::stats;
use crate::stats::association::{information_value_ci, pearson};
use crate::stats::linalg::invert;

mod accuracy;
mod currency;
mod impact;
mod integration;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The fit should not run on this data.
    Error,
    /// Worth a look before trusting the results.
    Warn,
    /// For the record.
    Info,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// access, accuracy, currency, impact, integration or outcome.
    pub criterion: &'static str,
    /// Severity.
    pub severity: Severity,
    /// Short name of the check.
    pub check: &'static str,
    /// The column, metric or pair concerned (empty for the whole file).
    pub subject: String,
    /// What was found (worded by the report).
    #[serde(skip)]
    pub issue: Issue,
}

/// What a finding found, as numbers; `report::audit::message` words it.
#[derive(Debug, Clone, PartialEq)]
pub enum Issue {
    /// Every present value is the same.
    Constant {
        /// The value.
        value: f64,
    },
    /// Values outside −100…100 in an NPS column.
    ImpossibleNps {
        /// How many.
        count: usize,
        /// The smallest present value.
        min: f64,
        /// The largest present value.
        max: f64,
    },
    /// Values above 100 in a percentage column.
    PercentAbove100 {
        /// How many.
        count: usize,
        /// The largest present value.
        max: f64,
    },
    /// Negative values in a metric whose transform starts at `lo` ≥ 0.
    Negative {
        /// How many.
        count: usize,
        /// The transform's lower end.
        lo: f64,
    },
    /// Values outside the transform's range (clipped when scored).
    OutsideTransform {
        /// How many.
        count: usize,
        /// Their share of the present values.
        share: f64,
        /// The transform's `[lo, hi]`.
        range: [f64; 2],
        /// The observed `[min, max]`.
        observed: [f64; 2],
    },
    /// Rows that repeat an earlier row in every column read.
    DuplicateRows {
        /// How many.
        count: usize,
    },
    /// Snapshot dates after the audit's today.
    FutureSnapshots {
        /// How many.
        count: usize,
        /// The audit's today.
        today: Day,
    },
    /// Churn dates after the audit's today.
    FutureChurnDates {
        /// How many.
        count: usize,
        /// The audit's today.
        today: Day,
    },
    /// The latest snapshot is older than the staleness threshold.
    DataAge {
        /// The latest snapshot date.
        latest: Day,
        /// Days between it and today.
        days: i32,
        /// The audit's today.
        today: Day,
    },
    /// Accounts with no recent snapshot and no churn.
    StaleAccounts {
        /// How many.
        count: usize,
        /// The staleness threshold in days.
        days: i32,
    },
    /// Accounts that miss snapshot dates between their first and last.
    Gaps {
        /// How many.
        accounts: usize,
    },
    /// Accounts whose metric never changes across their snapshots.
    Frozen {
        /// Accounts with the same value in every snapshot.
        frozen: usize,
        /// Accounts with enough snapshots to judge.
        eligible: usize,
        /// The snapshots needed to judge.
        snapshots: usize,
    },
    /// A signal strong enough to suggest the column is recorded after the outcome.
    Leakage {
        /// Its AUC.
        auc: f64,
        /// Its information value.
        iv: f64,
        /// Its distinct values (up to 1000).
        levels: usize,
    },
    /// Churners look healthier on the metric (AUC below 0.5 with confidence).
    AgainstDirection {
        /// Its AUC in the profile's direction.
        auc: f64,
        /// The AUC's 95 % interval.
        ci: [f64; 2],
    },
    /// No evidence the metric separates churners.
    NoSignal {
        /// Its AUC in the profile's direction.
        auc: f64,
        /// The AUC's 95 % interval.
        ci: [f64; 2],
    },
    /// Few churn events per weight.
    FewEvents {
        /// Churn events.
        events: usize,
        /// Weights.
        weights: usize,
        /// Events per weight.
        per_weight: f64,
    },
    /// The last dates churn far less than earlier ones: outcomes not known yet.
    LabelsCutOff {
        /// The dates, `YYYY-MM-DD`, earliest first.
        dates: Vec<String>,
        /// The earlier dates' median churn rate.
        median_rate: f64,
    },
    /// Snapshots dated on or after their account's churn date (with a given outcome).
    AfterChurn {
        /// How many.
        count: usize,
    },
    /// Numbers read by stripping a percent sign, a currency or thousands separators.
    NumbersStripped {
        /// How many values.
        count: usize,
    },
    /// Numbers read with a decimal comma.
    DecimalComma {
        /// Whether it was detected rather than given.
        detected: bool,
    },
    /// A date column read in a format other than ISO.
    DatesReadAs {
        /// The format, as a user writes it (`DD/MM/YYYY`).
        format: String,
        /// Whether it was detected rather than given.
        detected: bool,
    },
    /// Snapshots on or after the churn date dropped while deriving labels.
    DroppedAfterChurn {
        /// How many.
        count: usize,
    },
    /// Missing values in a metric column.
    Missing {
        /// How many.
        count: usize,
        /// Their share of the rows.
        share: f64,
        /// The metric's missing-value policy.
        policy: crate::profile::Missing,
    },
    /// A segment label where the column is missing far more often than overall.
    MissingBySegment {
        /// The share missing under the label.
        share: f64,
        /// The segment column.
        segment: String,
        /// The label.
        label: String,
        /// The share missing overall.
        overall: f64,
    },
    /// Two metrics correlated beyond 0.9.
    Redundant {
        /// Their correlation.
        r: f64,
    },
    /// The numeric metrics' correlation matrix is singular.
    Singular,
    /// A metric the others predict almost entirely.
    Collinear {
        /// Its variance inflation factor.
        vif: f64,
    },
}

/// A metric's signal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impact {
    /// Metric name (or column, for scanned extra columns).
    pub metric: String,
    /// Column.
    pub column: String,
    /// AUC of the metric as a churn signal: for profile metrics, of its sub-score in the
    /// profile's direction (above 0.5: the direction holds); for extra columns, the larger
    /// of the two orientations.
    pub auc: f64,
    /// DeLong 95 % interval.
    pub auc_ci: [f64; 2],
    /// Information value over deciles (missing values in a bin of their own).
    pub iv: f64,
    /// 95 % bootstrap interval of the information value.
    pub iv_ci: [f64; 2],
    /// Share of rows where the value is missing.
    pub missing: f64,
    /// Whether this is a profile metric (else a scanned extra column).
    pub in_profile: bool,
    /// Distinct present values (counted up to 1000).
    pub levels: usize,
}

/// The audit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Audit {
    /// The file.
    pub source: String,
    /// Rows read.
    pub rows: usize,
    /// Accounts.
    pub accounts: usize,
    /// The date the audit treats as today.
    pub as_of: String,
    /// Findings, errors first.
    pub findings: Vec<Finding>,
    /// Each metric's signal.
    pub impact: Vec<Impact>,
    /// Churn rate per snapshot date: (date, rows, churned).
    pub churn_by_date: Vec<(String, usize, usize)>,
    /// Metric pairs with |r| > 0.9.
    pub correlated: Vec<(String, String, f64)>,
    /// Variance inflation factor per numeric metric.
    pub vif: Vec<(String, f64)>,
}

impl Audit {
    /// Number of findings at a severity.
    pub fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }

    /// The errors that stop a fit: every error but the events-per-parameter one, which the
    /// calibration guards itself (it knows the parameters it fits).
    pub fn blocking(&self) -> Vec<&Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error && f.check != "events per parameter")
            .collect()
    }
}

/// Why an audit cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuditError {
    /// The staleness thresholds are not positive.
    #[error("staleness thresholds must be positive, got {days} days and {snapshots} snapshots")]
    Staleness {
        /// Days after which data is stale.
        days: i32,
        /// Snapshots after which an unchanged value is frozen.
        snapshots: usize,
    },
}

/// Options of the audit.
#[derive(Debug, Clone)]
pub struct AuditParams {
    /// Today, for currency and future dates.
    pub as_of: Day,
    /// Data older than this many days is stale.
    pub stale_days: i32,
    /// Accounts with at least this many snapshots are checked for metrics that never change.
    pub stale_snapshots: usize,
    /// Measure each metric's impact (AUC with its interval, information value with a
    /// bootstrap interval) and flag suspected leakage. These checks only warn, and they are
    /// the audit's most expensive part on large data: the check before a fit skips them.
    pub impact: bool,
}

impl AuditParams {
    /// The defaults, with `as_of` the day taken for today: stale after 120 days or 4
    /// unchanged snapshots, impact measured.
    pub fn new(as_of: Day) -> Self {
        AuditParams {
            as_of,
            stale_days: 120,
            stale_snapshots: 4,
            impact: true,
        }
    }

    /// Check the parameters: the staleness thresholds must be positive.
    pub fn check(&self) -> Result<(), AuditError> {
        if self.stale_days <= 0 || self.stale_snapshots == 0 {
            return Err(AuditError::Staleness {
                days: self.stale_days,
                snapshots: self.stale_snapshots,
            });
        }
        Ok(())
    }

    /// Every check on `data` for `profile`; `extra` are columns outside the profile
    /// scanned for leakage (numeric values, NaN missing).
    pub fn run(&self, profile: &Profile, data: &Snapshots, extra: &[(String, Vec<f64>)]) -> Audit {
        audit(profile, data, extra, self)
    }
}

/// Run every check on loaded `data`. `extra` are columns outside the profile scanned for
/// leakage (numeric values, NaN missing).
pub fn audit(
    profile: &Profile,
    data: &Snapshots,
    extra: &[(String, Vec<f64>)],
    params: &AuditParams,
) -> Audit {
    let x = Input {
        profile,
        data,
        extra,
        params,
        y: data.outcome.as_deref(),
        last_date: data.date_range().map(|d| d.1),
    };
    // The checks are independent: four groups side by side, each with findings of its
    // own, joined in the order the checks are listed (the sort below is stable, so the
    // findings' order is the same as one after the other). Each check in its own span
    // (`CHURNCAL_TIMINGS` reports them).
    let accuracy = || {
        let mut f = Findings::default();
        let s = tracing::info_span!("audit: ranges").entered();
        accuracy::ranges(&x, &mut f);
        drop(s);
        let s = tracing::info_span!("audit: duplicates").entered();
        accuracy::duplicates(&x, &mut f);
        drop(s);
        f
    };
    let currency = || {
        let mut f = Findings::default();
        let s = tracing::info_span!("audit: future dates, currency").entered();
        accuracy::future_dates(&x, &mut f);
        currency::currency(&x, &mut f);
        drop(s);
        f
    };
    let impact = || {
        let mut f = Findings::default();
        let s = tracing::info_span!("audit: impact, outcome").entered();
        let measured = match x.y {
            Some(o) => (
                impact::measure(&x, &mut f, o),
                impact::outcome(&x, &mut f, o),
            ),
            None => (Vec::new(), Vec::new()),
        };
        drop(s);
        let s = tracing::info_span!("audit: after churn, formats, missing").entered();
        impact::after_churn(&x, &mut f);
        impact::read_formats(&x, &mut f);
        integration::missing(&x, &mut f);
        drop(s);
        (f, measured)
    };
    let redundancy = || {
        let mut f = Findings::default();
        let s = tracing::info_span!("audit: redundancy").entered();
        let found = integration::redundancy(&x, &mut f);
        drop(s);
        (f, found)
    };
    let ((a, c), ((i, (impact, churn_by_date)), (r, (correlated, vif)))) = rayon::join(
        || rayon::join(accuracy, currency),
        || rayon::join(impact, redundancy),
    );
    let mut f = [a.0, c.0, i.0, r.0].concat();
    f.sort_by_key(|x| (x.severity, x.criterion));
    Audit {
        source: data.source.clone(),
        rows: data.rows,
        accounts: data.n_accounts,
        as_of: parse::format_day(params.as_of),
        findings: f,
        impact,
        churn_by_date,
        correlated,
        vif,
    }
}

/// What every check reads.
#[derive(Clone, Copy)]
struct Input<'a> {
    profile: &'a Profile,
    data: &'a Snapshots,
    /// Columns outside the profile scanned for leakage.
    extra: &'a [(String, Vec<f64>)],
    params: &'a AuditParams,
    /// The outcome, when the data has one.
    y: Option<&'a [u8]>,
    /// The last snapshot date.
    last_date: Option<Day>,
}

/// The findings so far, in the order the checks raise them.
#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn add(
        &mut self,
        criterion: &'static str,
        severity: Severity,
        check: &'static str,
        subject: &str,
        issue: Issue,
    ) {
        self.0.push(Finding {
            criterion,
            severity,
            check,
            subject: subject.to_string(),
            issue,
        });
    }
}

/// Distinct present values, counted up to 1000.
fn levels(v: &[f64]) -> usize {
    let mut seen: rustc_hash::FxHashSet<u64> = rustc_hash::FxHashSet::default();
    for x in v.iter().filter(|x| !x.is_nan()) {
        seen.insert(x.to_bits());
        if seen.len() >= 1000 {
            break;
        }
    }
    seen.len()
}

/// Row indices in (account, date) order.
fn account_date_order(data: &Snapshots) -> Vec<u32> {
    crate::data::order::all_by_account_date(
        data.rows,
        &data.account,
        data.n_accounts,
        data.date.as_deref(),
    )
}

/// Runs of one account in an (account, date) order.
fn runs<'a>(order: &'a [u32], account: &'a [u32]) -> impl Iterator<Item = &'a [u32]> {
    order.chunk_by(move |&a, &b| account[a as usize] == account[b as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::analysis::testdata;
    use crate::data::{MetricColumn, Segment};
    use crate::profile::io::{parse_profile, ProfileFormat};

    fn profile(metrics: &[(&str, &str, &str)]) -> Profile {
        // (column, transform, missing)
        let mut t = String::from(
            "name = \"t\"\nformat = 1\n[[tiers]]\nname = \"good\"\nmin = 50\n[[tiers]]\nname = \"bad\"\nmin = 0\n",
        );
        for (c, tr, miss) in metrics {
            t.push_str(&format!(
                "[[metrics]]\nname = \"{c}\"\ncolumn = \"{c}\"\nweight = 1\ndirection = \"higher-is-better\"\ntransform = {tr}\nmissing = \"{miss}\"\n"
            ));
        }
        parse_profile(&t, ProfileFormat::Toml).unwrap()
    }

    const LIN: &str = "{ kind = \"linear\", lo = 0, hi = 100 }";

    /// 400 accounts × 4 quarterly dates; churn 10 % at every date, driven by `good`
    /// (healthier = higher), plus a noise metric. Clean: no warning or error.
    fn clean() -> (Profile, Snapshots) {
        let mut rows = Vec::new();
        let mut good = Vec::new();
        let mut noise = Vec::new();
        for a in 0..400u32 {
            for q in 0..4 {
                let g = ((a * 37 + q * 11) % 100) as f64;
                let churn = u8::from(g < 20.0 && (a + q) % 2 == 0);
                rows.push((a, 19_000 + 91 * q as i32, churn));
                good.push(g + 0.1 * q as f64);
                noise.push(((a * 53 + q * 7) % 97) as f64);
            }
        }
        let mut d = testdata::snapshots(&rows);
        d.metrics = vec![
            ("good".into(), MetricColumn::Numeric(good)),
            ("noise".into(), MetricColumn::Numeric(noise)),
        ];
        let p = profile(&[("good", LIN, "neutral"), ("noise", LIN, "neutral")]);
        (p, d)
    }

    fn params() -> AuditParams {
        AuditParams {
            impact: true,
            as_of: 19_000 + 91 * 3 + 30,
            stale_days: 120,
            stale_snapshots: 4,
        }
    }

    fn checks(a: &Audit, sev: Severity) -> Vec<&'static str> {
        a.findings
            .iter()
            .filter(|f| f.severity == sev)
            .map(|f| f.check)
            .collect()
    }

    fn numeric<'a>(d: &'a mut Snapshots, col: &str) -> &'a mut Vec<f64> {
        match d.metrics.iter_mut().find(|m| m.0 == col).map(|m| &mut m.1) {
            Some(MetricColumn::Numeric(v)) => v,
            _ => panic!("no numeric {col}"),
        }
    }

    #[test]
    fn clean_data_raises_nothing() {
        let (p, d) = clean();
        let a = audit(&p, &d, &[], &params());
        assert!(checks(&a, Severity::Error).is_empty(), "{:?}", a.findings);
        assert!(checks(&a, Severity::Warn).is_empty(), "{:?}", a.findings);
        assert_eq!(a.churn_by_date.len(), 4);
        // the metric that drives churn has signal; noise has none
        assert!(a.impact[0].auc > 0.8);
        assert!(checks(&a, Severity::Info).contains(&"no signal"));
    }

    #[test]
    fn accuracy_checks_fire() {
        let (_, mut d) = clean();
        let p = profile(&[
            ("good", LIN, "neutral"),
            ("noise", LIN, "neutral"),
            (
                "nps",
                "{ kind = \"linear\", lo = -100, hi = 100 }",
                "neutral",
            ),
            ("adoption_pct", LIN, "neutral"),
            ("flat", LIN, "neutral"),
        ]);
        let n = d.rows;
        let mut nps = vec![10.0; n];
        nps[0] = 150.0;
        let mut pct = vec![50.0; n];
        pct[1] = 130.0;
        pct[2] = -5.0;
        pct[3] = f64::NAN;
        d.metrics.push(("nps".into(), MetricColumn::Numeric(nps)));
        d.metrics
            .push(("adoption_pct".into(), MetricColumn::Numeric(pct)));
        d.metrics
            .push(("flat".into(), MetricColumn::Numeric(vec![7.0; n])));
        // a future date and a repeated row
        d.date.as_mut().unwrap()[5] = 30_000;
        let (g, q) = (numeric(&mut d, "good")[4], numeric(&mut d, "noise")[4]);
        numeric(&mut d, "good")[6] = g;
        numeric(&mut d, "noise")[6] = q;
        d.account[6] = d.account[4];
        d.date.as_mut().unwrap()[6] = d.date.as_ref().unwrap()[4];
        d.outcome.as_mut().unwrap()[6] = d.outcome.as_ref().unwrap()[4];
        let a = audit(&p, &d, &[], &params());
        let errors = checks(&a, Severity::Error);
        let warns = checks(&a, Severity::Warn);
        assert!(errors.contains(&"physical range"), "{errors:?}"); // NPS 150
        assert!(errors.contains(&"future dates"));
        assert!(warns.contains(&"constant column"));
        assert!(warns.contains(&"duplicate rows"), "{warns:?}");
        let pct_msgs: Vec<&Issue> = a
            .findings
            .iter()
            .filter(|f| f.subject == "adoption_pct")
            .map(|f| &f.issue)
            .collect();
        assert!(
            pct_msgs
                .iter()
                .any(|m| matches!(m, Issue::PercentAbove100 { .. })),
            "{pct_msgs:?}"
        );
        assert!(pct_msgs.iter().any(|m| matches!(m, Issue::Negative { .. })));
        assert!(checks(&a, Severity::Info).contains(&"transform range"));
    }

    #[test]
    fn currency_checks_fire() {
        let (p, mut d) = clean();
        // old data
        let mut old = params();
        old.as_of += 400;
        assert!(checks(&audit(&p, &d, &[], &old), Severity::Warn).contains(&"data age"));
        // account 0 stops after its first snapshot (no churn): stale, and frozen values
        // for `good` in every account
        for q in 1..4 {
            d.date.as_mut().unwrap()[q] = 19_000;
            d.account[q] = 0;
        }
        d.date.as_mut().unwrap()[1] = 18_000;
        d.date.as_mut().unwrap()[2] = 18_100;
        d.date.as_mut().unwrap()[3] = 18_200;
        for o in &mut d.outcome.as_mut().unwrap()[..4] {
            *o = 0;
        }
        let g = numeric(&mut d, "good");
        for a in 0..400 {
            let v = g[a * 4];
            for q in 0..4 {
                g[a * 4 + q] = v;
            }
        }
        let a = audit(&p, &d, &[], &params());
        let warns = checks(&a, Severity::Warn);
        assert!(warns.contains(&"stale accounts"), "{warns:?}");
        assert!(warns.contains(&"frozen values"));
    }

    #[test]
    fn impact_and_outcome_checks_fire() {
        let (p, mut d) = clean();
        // direction reversed: churners score higher on `noise`
        let y = d.outcome.clone().unwrap();
        let noise = numeric(&mut d, "noise");
        for (v, &yy) in noise.iter_mut().zip(&y) {
            *v += 60.0 * yy as f64;
        }
        // a leaked flag, and a copy of the outcome
        let flag: Vec<f64> = y
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                if i % 10 == 0 {
                    1.0 - v as f64
                } else {
                    v as f64
                }
            })
            .collect();
        let copy: Vec<f64> = y.iter().map(|&v| 3.0 * v as f64).collect();
        // labels cut off: the last date has no churn
        let dates = d.date.clone().unwrap();
        let last = *dates.iter().max().unwrap();
        for (o, &dd) in d.outcome.as_mut().unwrap().iter_mut().zip(&dates) {
            if dd == last {
                *o = 0;
            }
        }
        // a snapshot on its account's churn date
        let mut churn = vec![NO_DAY; d.rows];
        churn[8] = dates[8];
        d.churn_date = Some(churn);
        let a = audit(
            &p,
            &d,
            &[("status".into(), flag), ("copy".into(), copy)],
            &params(),
        );
        let warns = checks(&a, Severity::Warn);
        assert!(
            warns.contains(&"against the profile's direction"),
            "{warns:?}"
        );
        assert!(warns.contains(&"labels cut off"));
        let leaks: Vec<&str> = a
            .findings
            .iter()
            .filter(|f| f.check == "suspected leakage")
            .map(|f| f.subject.as_str())
            .collect();
        assert!(
            leaks.contains(&"status") && leaks.contains(&"copy"),
            "{leaks:?}"
        );
        assert!(checks(&a, Severity::Error).contains(&"snapshots after churn"));
        // events per parameter: three churn events for two metrics
        let (p2, mut d2) = clean();
        for (i, o) in d2.outcome.as_mut().unwrap().iter_mut().enumerate() {
            *o = u8::from(i < 3);
        }
        assert!(checks(&audit(&p2, &d2, &[], &params()), Severity::Error)
            .contains(&"events per parameter"));
    }

    #[test]
    fn integration_checks_fire() {
        let (_, mut d) = clean();
        let p = profile(&[
            ("good", LIN, "neutral"),
            ("noise", LIN, "neutral"),
            ("twin", LIN, "neutral"),
            ("sparse", LIN, "neutral"),
        ]);
        let twin: Vec<f64> = numeric(&mut d, "good")
            .iter()
            .map(|v| v * 2.0 + 1.0)
            .collect();
        let sparse: Vec<f64> = (0..d.rows)
            .map(|i| {
                if i % 10 < 7 {
                    f64::NAN
                } else {
                    5.0 + (i % 7) as f64
                }
            })
            .collect();
        d.metrics.push(("twin".into(), MetricColumn::Numeric(twin)));
        d.metrics
            .push(("sparse".into(), MetricColumn::Numeric(sparse)));
        // a segment where `noise` is mostly missing
        let codes: Vec<u32> = (0..d.rows).map(|i| u32::from(i % 4 == 0)).collect();
        for (i, v) in numeric(&mut d, "noise").iter_mut().enumerate() {
            if i % 4 == 0 && i % 8 != 0 {
                *v = f64::NAN;
            }
        }
        d.segments.push(Segment {
            name: "region".into(),
            codes,
            labels: vec!["EU".into(), "US".into()],
        });
        // a gap: account 1 misses its second date
        d.date.as_mut().unwrap()[5] = d.date.as_ref().unwrap()[6];
        d.date.as_mut().unwrap()[6] = d.date.as_ref().unwrap()[7] + 91;
        let a = audit(&p, &d, &[], &params());
        let warns = checks(&a, Severity::Warn);
        assert!(warns.contains(&"redundant metrics"), "{warns:?}");
        assert!(warns.contains(&"collinearity"));
        assert!(warns.contains(&"missing values")); // sparse: 70 % under "neutral"
        assert!(warns.contains(&"missing by segment"));
        assert!(checks(&a, Severity::Info).contains(&"gaps"));
        assert_eq!(a.correlated.len(), 1);
    }

    #[test]
    fn staleness_thresholds_must_be_positive() {
        let ok = AuditParams::new(20_000);
        assert_eq!(ok.check(), Ok(()));
        let days = AuditParams {
            stale_days: 0,
            ..ok.clone()
        };
        assert!(matches!(
            days.check(),
            Err(AuditError::Staleness { days: 0, .. })
        ));
        let snapshots = AuditParams {
            stale_snapshots: 0,
            ..ok
        };
        assert!(snapshots.check().is_err());
    }
}
