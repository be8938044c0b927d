//! A project from an export: the column roles and candidate metrics guessed from a file's
//! values ([`guess`]), written as a commented project file and a starter profile.
//!
//! Nothing is asked and nothing is hidden: every guess carries the reason it was made
//! (a name, the values, the churn rates), printed by `churncal init` and written beside
//! the guess in the files, for the user to correct.

use crate::data::dates::{self, DateFormat, Detected};
use crate::data::numbers::{self, NumberStyle, Read};
use crate::data::parse;
use crate::stats;

/// A guess and why it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    /// The column.
    pub column: String,
    /// Why this column.
    pub why: String,
}

/// How a guessed metric becomes a sub-score.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Linear between the 5th and 95th percentiles.
    Linear {
        /// Lower end.
        lo: f64,
        /// Upper end.
        hi: f64,
    },
    /// Logarithmic between the percentiles: for skewed, non-negative counts and amounts.
    Log {
        /// Lower end.
        lo: f64,
        /// Upper end.
        hi: f64,
    },
    /// Two values: yes/no, 1/0.
    Boolean,
    /// A few labels, each with points from its churn rate (lowest rate 100, highest 0).
    Categories(Vec<(String, f64)>),
}

/// Which way a metric points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Higher values are healthier.
    HigherIsBetter,
    /// Lower values are healthier.
    LowerIsBetter,
}

/// A candidate metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricGuess {
    /// The column.
    pub column: String,
    /// Its transform.
    pub shape: Shape,
    /// Its direction.
    pub direction: Direction,
    /// Why this transform and direction.
    pub why: String,
}

/// What [`guess`] made of a file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Guess {
    /// Account id.
    pub id: Option<Pick>,
    /// Snapshot date.
    pub date: Option<Pick>,
    /// Outcome.
    pub outcome: Option<Pick>,
    /// The outcome's churned label, when it is not one churncal knows.
    pub churned_value: Option<String>,
    /// Start of the relationship.
    pub customer_since: Option<Pick>,
    /// Churn date.
    pub churn_date: Option<Pick>,
    /// Revenue.
    pub arr: Option<Pick>,
    /// Segments.
    pub segments: Vec<Pick>,
    /// Candidate metrics.
    pub metrics: Vec<MetricGuess>,
    /// Columns left out, and why.
    pub skipped: Vec<Pick>,
    /// Numbers need the lenient reading (percent signs, currencies, thousands separators).
    pub lenient_numbers: bool,
    /// Numbers use a decimal comma.
    pub decimal_comma: bool,
    /// A date column whose format must be named (it reads both ways), if any.
    pub ambiguous_dates: Option<(String, DateFormat, DateFormat)>,
}

/// What a column holds, from its values.
struct Profiled<'a> {
    name: &'a str,
    words: Vec<String>,
    filled: usize,
    distinct: Vec<&'a str>,
    /// Too many distinct values to list (more than [`MAX_DISTINCT`]).
    many: bool,
    numbers: Option<Vec<f64>>,
    /// Some number needed the lenient reading.
    lenient: bool,
    date: Option<DateFormat>,
}

const MAX_DISTINCT: usize = 5000;

/// Lower-case words of a column name: `customerID` → customer, id; `days_past_due` → days,
/// past, due.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn has_word(p: &Profiled, list: &[&str]) -> Option<String> {
    p.words
        .iter()
        .find(|w| {
            list.iter()
                .any(|l| w.as_str() == *l || (l.len() > 4 && w.starts_with(l)))
        })
        .cloned()
}

fn profile<'a>(name: &'a str, values: &'a [Option<String>], style: NumberStyle) -> Profiled<'a> {
    let mut distinct: Vec<&str> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut many = false;
    let mut filled = 0;
    let mut nums = Vec::new();
    let (mut numeric, mut lenient) = (true, false);
    for v in values.iter().flatten() {
        let t = v.trim();
        if t.is_empty() {
            continue;
        }
        filled += 1;
        if !many && seen.insert(t) {
            distinct.push(t);
            many = distinct.len() > MAX_DISTINCT;
        }
        if numeric {
            let lenient_style = NumberStyle {
                lenient: true,
                ..style
            };
            match numbers::read(t, lenient_style) {
                Ok(Read::Plain(x)) => nums.push(x),
                Ok(Read::Stripped(x)) => {
                    lenient = true;
                    nums.push(x);
                }
                _ => numeric = false,
            }
        }
    }
    let date = if numeric || filled == 0 || many {
        None
    } else {
        match dates::detect(distinct.iter().copied(), false) {
            Detected::Format(f) => Some(f),
            Detected::Ambiguous { month_first, .. } => Some(month_first),
            Detected::Unknown { .. } => None,
        }
    };
    Profiled {
        name,
        words: words(name),
        filled,
        distinct,
        many,
        numbers: (numeric && filled > 0).then_some(nums),
        lenient: numeric && lenient,
        date,
    }
}

/// Guess the roles and metrics of a table given as its columns' text values (the first
/// rows of a file), its numbers written with a decimal comma when `decimal_comma`.
pub fn guess(columns: &[(String, Vec<Option<String>>)], decimal_comma: bool) -> Guess {
    let style = NumberStyle {
        decimal_comma,
        lenient: false,
    };
    let rows = columns.first().map_or(0, |(_, v)| v.len());
    let cols: Vec<Profiled> = columns.iter().map(|(n, v)| profile(n, v, style)).collect();
    let mut g = Guess {
        decimal_comma,
        ..Guess::default()
    };
    let mut taken: Vec<&str> = Vec::new();
    let free = |taken: &[&str], c: &Profiled| !taken.contains(&c.name);

    // The outcome: two values, and a name or labels that say churn.
    const CHURN_WORDS: [&str; 14] = [
        "churn",
        "churned",
        "attrition",
        "attrited",
        "exited",
        "exit",
        "cancelled",
        "canceled",
        "cancel",
        "lost",
        "left",
        "outcome",
        "status",
        "renewed",
    ];
    let outcome = cols
        .iter()
        .filter(|c| c.distinct.len() == 2 && !c.many)
        .filter_map(|c| {
            let by_name = has_word(c, &CHURN_WORDS);
            let by_label = c
                .distinct
                .iter()
                .find(|v| churn_label(v))
                .map(|v| v.to_string());
            match (by_name, by_label) {
                (Some(w), _) => Some((
                    2,
                    c,
                    format!(
                        "two values ({}) and the name says '{w}'",
                        listed(&c.distinct)
                    ),
                )),
                (None, Some(l)) => Some((1, c, format!("two values, one of them '{l}'"))),
                _ => None,
            }
        })
        .max_by_key(|(rank, c, _)| (*rank, std::cmp::Reverse(c.name.len())));
    let mut churned: Option<Vec<bool>> = None;
    if let Some((_, c, why)) = outcome {
        let known = c.distinct.iter().all(|v| parse::outcome(v).is_ok());
        let label = if known {
            None
        } else {
            Some(
                c.distinct
                    .iter()
                    .find(|v| churn_label(v))
                    .map(|v| (v.to_string(), "its wording"))
                    .unwrap_or_else(|| {
                        // The rarer value: churn is the minority outcome.
                        let count = |l: &str| {
                            columns
                                .iter()
                                .find(|(n, _)| n == c.name)
                                .map_or(0, |(_, v)| {
                                    v.iter().flatten().filter(|x| x.trim() == l).count()
                                })
                        };
                        let rarer = if count(c.distinct[0]) <= count(c.distinct[1]) {
                            0
                        } else {
                            1
                        };
                        (c.distinct[rarer].to_string(), "the rarer value")
                    }),
            )
        };
        let values = &columns
            .iter()
            .find(|(n, _)| n == c.name)
            .expect("a column")
            .1;
        churned = Some(
            values
                .iter()
                .map(|v| {
                    let t = v.as_deref().unwrap_or("").trim();
                    match &label {
                        Some((l, _)) => t.eq_ignore_ascii_case(l),
                        None => parse::outcome(t) == Ok(Some(1)),
                    }
                })
                .collect(),
        );
        let why = match &label {
            Some((l, how)) => format!("{why}; '{l}' means churned ({how})"),
            None => why,
        };
        g.churned_value = label.map(|(l, _)| l);
        g.outcome = Some(Pick {
            column: c.name.into(),
            why,
        });
        taken.push(c.name);
    }

    // The account id: an id-like name, and (nearly) one value per row or per snapshot.
    const ID_WORDS: [&str; 7] = ["id", "key", "uuid", "guid", "code", "number", "no"];
    const WHO_WORDS: [&str; 6] = [
        "account",
        "customer",
        "client",
        "company",
        "user",
        "subscriber",
    ];
    if let Some(c) = cols
        .iter()
        .filter(|c| free(&taken, c) && c.date.is_none() && c.filled > 0)
        .filter(|c| {
            has_word(c, &ID_WORDS).is_some()
                || (has_word(c, &WHO_WORDS).is_some() && c.numbers.is_none())
        })
        .filter(|c| c.many || c.distinct.len() * 20 >= c.filled.max(1))
        .max_by_key(|c| {
            (
                has_word(c, &ID_WORDS).is_some(),
                has_word(c, &WHO_WORDS).is_some(),
            )
        })
    {
        g.id = Some(Pick {
            column: c.name.into(),
            why: format!(
                "the name, and {} distinct values in {} rows",
                if c.many {
                    format!("over {MAX_DISTINCT}")
                } else {
                    c.distinct.len().to_string()
                },
                c.filled
            ),
        });
        taken.push(c.name);
    }

    // Dates: churn and start dates by name; the snapshot date is the remaining one.
    for c in cols.iter().filter(|c| c.date.is_some()) {
        let f = c.date.clone().expect("a date");
        let why = format!("values read as dates ({})", f.describe());
        if let Detected::Ambiguous {
            month_first,
            day_first,
            ..
        } = dates::detect(c.distinct.iter().copied(), false)
        {
            g.ambiguous_dates = Some((c.name.into(), month_first, day_first));
        }
        let pick = Some(Pick {
            column: c.name.into(),
            why: why.clone(),
        });
        if has_word(
            c,
            &[
                "churn",
                "churned",
                "cancel",
                "cancelled",
                "canceled",
                "end",
                "termination",
                "lost",
            ],
        )
        .is_some()
        {
            g.churn_date = g.churn_date.take().or(pick);
        } else if has_word(
            c,
            &[
                "since",
                "start",
                "signup",
                "created",
                "onboarded",
                "joined",
                "acquired",
            ],
        )
        .is_some()
        {
            g.customer_since = g.customer_since.take().or(pick);
        } else if g.date.is_none() {
            g.date = pick;
        } else {
            g.skipped.push(Pick {
                column: c.name.into(),
                why: format!("another date column ({why})"),
            });
        }
        taken.push(c.name);
    }

    // Revenue.
    const REVENUE: [(&str, u8); 9] = [
        ("arr", 9),
        ("acv", 8),
        ("revenue", 7),
        ("mrr", 6),
        ("contract", 1),
        ("amount", 4),
        ("value", 3),
        ("charges", 5),
        ("billing", 2),
    ];
    if let Some((c, w)) = cols
        .iter()
        .filter(|c| free(&taken, c) && c.numbers.is_some() && c.distinct.len() > 2)
        .filter_map(|c| {
            let best = c
                .words
                .iter()
                .filter_map(|w| {
                    REVENUE
                        .iter()
                        .find(|(r, _)| w == r)
                        .map(|(r, rank)| (*rank, *r))
                })
                .max()?;
            (best.0 >= 3).then_some((c, best))
        })
        .max_by_key(|(c, (rank, _))| (*rank, c.words.contains(&"total".to_string())))
    {
        g.arr = Some(Pick {
            column: c.name.into(),
            why: format!("a number named '{}'", w.1),
        });
        taken.push(c.name);
    }

    // Segments: few labels and a name that says segment.
    const SEGMENT_WORDS: [&str; 14] = [
        "segment", "plan", "tier", "size", "industry", "region", "country", "vertical", "market",
        "sector", "band", "geo", "edition", "package",
    ];
    for c in cols.iter().filter(|c| {
        free(&taken, c) && c.numbers.is_none() && !c.many && (2..=12).contains(&c.distinct.len())
    }) {
        if g.segments.len() < 3 {
            if let Some(w) = has_word(c, &SEGMENT_WORDS) {
                g.segments.push(Pick {
                    column: c.name.into(),
                    why: format!("{} labels and the name says '{w}'", c.distinct.len()),
                });
            }
        }
    }

    const PERSON_WORDS: [&str; 7] = ["csm", "owner", "manager", "rep", "agent", "am", "ae"];
    // Personal attributes of a customer are no measure of an account's health, and a
    // score that weighs them treats people by who they are.
    const PERSONAL: [&str; 10] = [
        "gender",
        "sex",
        "age",
        "senior",
        "citizen",
        "race",
        "ethnicity",
        "religion",
        "marital",
        "nationality",
    ];
    // Metrics: the other numeric columns, and labels with few values when churn is known.
    for (c, (_, values)) in cols.iter().zip(columns) {
        if !free(&taken, c) {
            continue;
        }
        let skip = |why: String| Pick {
            column: c.name.into(),
            why,
        };
        if c.filled * 2 < rows {
            g.skipped.push(skip(format!(
                "{} of {rows} values missing",
                rows - c.filled
            )));
            continue;
        }
        if c.distinct.len() < 2 {
            g.skipped.push(skip("one value only".into()));
            continue;
        }
        if let Some(w) = has_word(c, &PERSONAL) {
            g.skipped.push(skip(format!(
                "the name says '{w}': a personal attribute, not the account's health"
            )));
            continue;
        }
        if let Some(x) = &c.numbers {
            g.lenient_numbers |= c.lenient;
            let integral = x.iter().all(|v| v.fract() == 0.0);
            if integral
                && (c.many || c.distinct.len() * 20 >= c.filled)
                && has_word(c, &ID_WORDS).is_some()
            {
                g.skipped.push(skip(
                    "an identifier (a different number on nearly every row)".into(),
                ));
                continue;
            }
            g.metrics
                .push(numeric_metric(c, x, values, churned.as_deref(), style));
        } else if let Some(churned) = &churned {
            if c.many || c.distinct.len() > 12 {
                g.skipped.push(skip(format!(
                    "text with {} distinct values",
                    if c.many {
                        format!("over {MAX_DISTINCT}")
                    } else {
                        c.distinct.len().to_string()
                    }
                )));
            } else if g.segments.iter().any(|s| s.column == c.name) {
                continue;
            } else if let Some(w) = has_word(c, &SEGMENT_WORDS) {
                g.skipped.push(skip(format!(
                    "labels that say '{w}': a segment (add it to segment) rather than a health metric"
                )));
            } else if let (Some(w), true) = (has_word(c, &PERSON_WORDS), c.distinct.len() > 6) {
                g.skipped.push(skip(format!(
                    "labels that say '{w}': who looks after the account, not its health"
                )));
            } else if c.distinct.len() > 6 {
                g.skipped.push(skip(format!(
                    "{} labels: too many to give each points from the churn rates",
                    c.distinct.len()
                )));
            } else {
                g.metrics.push(label_metric(c, values, churned));
            }
        } else {
            g.skipped.push(skip(
                "text: with no outcome, its labels cannot be given points".into(),
            ));
        }
    }
    if let Some(churned) = &churned {
        keep_the_strongest(&mut g, columns, churned, style);
    }
    g
}

/// Each metric's AUC alone (its guessed direction) added to its reason; with fewer than
/// ten churn events per metric, only the strongest are kept (a fit of more is refused or
/// noisy), the others listed as left out.
fn keep_the_strongest(
    g: &mut Guess,
    columns: &[(String, Vec<Option<String>>)],
    churned: &[bool],
    style: NumberStyle,
) {
    let events = churned.iter().filter(|c| **c).count();
    let mut strength: Vec<f64> = Vec::with_capacity(g.metrics.len());
    for m in &mut g.metrics {
        let values = &columns
            .iter()
            .find(|(n, _)| *n == m.column)
            .expect("a column")
            .1;
        let (mut risk, mut y) = (Vec::new(), Vec::new());
        for (v, &c) in values.iter().zip(churned) {
            let Some(t) = v.as_deref() else { continue };
            let x = match &m.shape {
                Shape::Categories(map) => map.iter().find(|(l, _)| l == t.trim()).map(|(_, p)| *p),
                _ => match numbers::read(
                    t,
                    NumberStyle {
                        lenient: true,
                        ..style
                    },
                ) {
                    Ok(Read::Plain(x) | Read::Stripped(x)) => Some(x),
                    _ => None,
                },
            };
            if let Some(x) = x {
                // Risk rises as the sub-score falls.
                risk.push(match (&m.shape, m.direction) {
                    (Shape::Categories(_), _) | (_, Direction::HigherIsBetter) => -x,
                    (_, Direction::LowerIsBetter) => x,
                });
                y.push(u8::from(c));
            }
        }
        let auc = stats::auc(&risk, &y);
        if auc.is_finite() {
            m.why.push_str(&format!("; AUC {auc:.2} alone"));
        }
        strength.push(if auc.is_finite() { auc } else { 0.0 });
    }
    let allowed = (events / 10).max(1);
    if g.metrics.len() <= allowed {
        return;
    }
    let mut order: Vec<usize> = (0..g.metrics.len()).collect();
    order.sort_by(|&a, &b| strength[b].total_cmp(&strength[a]).then(a.cmp(&b)));
    let keep: Vec<usize> = order[..allowed].to_vec();
    let metrics = std::mem::take(&mut g.metrics);
    for (i, m) in metrics.into_iter().enumerate() {
        if keep.contains(&i) {
            g.metrics.push(m);
        } else {
            g.skipped.push(Pick {
                column: m.column,
                why: format!(
                    "{events} churn events allow about {allowed} metrics at 10 events each: \
                     kept the strongest, not this one (AUC {:.2} alone)",
                    strength[i]
                ),
            });
        }
    }
}

/// Whether a label says churned.
fn churn_label(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    [
        "churn",
        "attrit",
        "exited",
        "cancel",
        "lost",
        "closed",
        "left",
        "terminated",
    ]
    .iter()
    .any(|w| l.contains(w))
}

fn listed(v: &[&str]) -> String {
    v.iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A value rounded to two significant digits, as a reader would write a threshold.
fn round2(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return 0.0;
    }
    // Through the decimal text, so that 4.8 stays 4.8 (not 4.800000000000001).
    format!("{v:.1e}").parse().unwrap_or(v)
}

fn numeric_metric(
    c: &Profiled,
    x: &[f64],
    values: &[Option<String>],
    churned: Option<&[bool]>,
    style: NumberStyle,
) -> MetricGuess {
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let q = |p: f64| stats::quantile_sorted(&sorted, p);
    let (p5, p50, p95) = (q(0.05), q(0.5), q(0.95));
    let (lo, hi) = (round2(p5), round2(p95));
    let two = c.distinct.len() == 2 && sorted.iter().all(|v| *v == 0.0 || *v == 1.0);
    let skewed = p5 >= 0.0
        && p95 > 0.0
        && (p95 > 4.0 * p50.max(f64::MIN_POSITIVE) || *sorted.last().unwrap_or(&0.0) > 10.0 * p95);
    let (shape, shape_why) = if two {
        (Shape::Boolean, "two values, 0 and 1".to_string())
    } else if lo >= hi {
        (
            Shape::Linear {
                lo: sorted[0],
                hi: *sorted.last().unwrap_or(&1.0),
            },
            format!(
                "linear over its range {}–{}",
                sorted[0],
                sorted.last().unwrap_or(&1.0)
            ),
        )
    } else if skewed {
        (
            Shape::Log { lo, hi },
            format!(
                "skewed (median {}, 95th percentile {}): log between {lo} and {hi}",
                round2(p50),
                round2(p95)
            ),
        )
    } else {
        (
            Shape::Linear { lo, hi },
            format!("linear between its 5th and 95th percentiles, {lo} and {hi}"),
        )
    };
    let (direction, dir_why) = match churned {
        Some(ch) => {
            let (mut s1, mut n1, mut s0, mut n0) = (0.0, 0usize, 0.0, 0usize);
            for (v, &y) in values.iter().zip(ch) {
                let Some(Ok(Read::Plain(v) | Read::Stripped(v))) = v.as_deref().map(|t| {
                    numbers::read(
                        t,
                        NumberStyle {
                            lenient: true,
                            ..style
                        },
                    )
                }) else {
                    continue;
                };
                if y {
                    s1 += v;
                    n1 += 1;
                } else {
                    s0 += v;
                    n0 += 1;
                }
            }
            let (m1, m0) = (s1 / n1.max(1) as f64, s0 / n0.max(1) as f64);
            let d = if m1 <= m0 {
                Direction::HigherIsBetter
            } else {
                Direction::LowerIsBetter
            };
            (
                d,
                format!(
                    "churned accounts average {} against {} for retained",
                    sig(m1),
                    sig(m0)
                ),
            )
        }
        None => {
            let bad = [
                "tickets",
                "errors",
                "error",
                "complaints",
                "due",
                "overdue",
                "late",
                "days",
                "incidents",
                "bugs",
                "escalations",
                "churn",
            ];
            match has_word(c, &bad) {
                Some(w) => (
                    Direction::LowerIsBetter,
                    format!("no outcome to tell: the name says '{w}'"),
                ),
                None => (
                    Direction::HigherIsBetter,
                    "no outcome to tell: assumed".to_string(),
                ),
            }
        }
    };
    MetricGuess {
        column: c.name.into(),
        shape,
        direction,
        why: format!("{shape_why}; {dir_why}"),
    }
}

/// A number with four significant digits, for reasons.
fn sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
    format!("{v:.digits$}")
}

fn label_metric(c: &Profiled, values: &[Option<String>], churned: &[bool]) -> MetricGuess {
    let mut rates: Vec<(String, f64, usize)> = c
        .distinct
        .iter()
        .map(|l| {
            let (mut n, mut k) = (0usize, 0usize);
            for (v, &y) in values.iter().zip(churned) {
                if v.as_deref().map(str::trim) == Some(l) {
                    n += 1;
                    k += y as usize;
                }
            }
            (l.to_string(), k as f64 / n.max(1) as f64, n)
        })
        .collect();
    rates.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let (best, worst) = (rates[0].1, rates[rates.len() - 1].1);
    let points: Vec<(String, f64)> = rates
        .iter()
        .map(|(l, r, _)| {
            let p = if worst > best {
                100.0 * (worst - r) / (worst - best)
            } else {
                50.0
            };
            (l.clone(), (p / 5.0).round() * 5.0)
        })
        .collect();
    let why = format!(
        "{} labels, points from their churn rates ({})",
        rates.len(),
        rates
            .iter()
            .map(|(l, r, _)| format!("'{l}' {:.1} %", 100.0 * r))
            .collect::<Vec<_>>()
            .join(", ")
    );
    MetricGuess {
        column: c.name.into(),
        shape: Shape::Categories(points),
        direction: Direction::HigherIsBetter,
        why,
    }
}

/// A TOML string literal.
pub fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn num(v: f64) -> String {
    let s = format!("{v}");
    if s.contains('e') {
        format!("{v:.6}")
    } else {
        s
    }
}

/// The starter profile: every candidate metric at equal weight, the usual tiers.
pub fn profile_toml(g: &Guess, name: &str, source: &str) -> String {
    let mut t = String::new();
    t.push_str(&format!(
        "# A starter profile guessed by `churncal init` from {source}.\n\
         # Every candidate metric starts at an equal weight: `churncal calibrate` fits them.\n\
         # Read each metric's reason, fix what the guess got wrong, and remove what does not\n\
         # belong in a health score (docs/profile-format.md explains every field).\n"
    ));
    t.push_str(&format!("name = {}\n", toml_str(name)));
    t.push_str(&format!(
        "description = {}\nformat = 1\n",
        toml_str(&format!(
            "Guessed from {source}; equal weights until calibrated"
        ))
    ));
    for (tier, min, color) in [
        ("healthy", 70, "#2e7d32"),
        ("needs-attention", 51, "#f9a825"),
        ("at-risk", 30, "#ef6c00"),
        ("critical", 0, "#c62828"),
    ] {
        t.push_str(&format!(
            "\n[[tiers]]\nname = \"{tier}\"\nmin = {min}\ncolor = \"{color}\"\n"
        ));
    }
    for m in &g.metrics {
        t.push_str(&format!("\n# {}\n[[metrics]]\n", m.why));
        t.push_str(&format!(
            "name = {}\ncolumn = {}\nweight = 1\n",
            toml_str(&m.column),
            toml_str(&m.column)
        ));
        t.push_str(&format!(
            "direction = \"{}\"\n",
            match m.direction {
                Direction::HigherIsBetter => "higher-is-better",
                Direction::LowerIsBetter => "lower-is-better",
            }
        ));
        let transform = match &m.shape {
            Shape::Linear { lo, hi } => format!(
                "{{ kind = \"linear\", lo = {}, hi = {} }}",
                num(*lo),
                num(*hi)
            ),
            Shape::Log { lo, hi } => {
                format!("{{ kind = \"log\", lo = {}, hi = {} }}", num(*lo), num(*hi))
            }
            Shape::Boolean => "{ kind = \"boolean\" }".into(),
            Shape::Categories(map) => format!(
                "{{ kind = \"categories\", map = {{ {} }} }}",
                map.iter()
                    .map(|(l, p)| format!("{} = {}", toml_str(l), num(*p)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        t.push_str(&format!(
            "transform = {transform}\nmissing = \"redistribute\"\n"
        ));
    }
    t
}

/// The project file: the data, its roles and formats, the profile, and per-command
/// defaults, each guess commented with its reason.
pub fn project_toml(g: &Guess, data: &str, sheet: Option<&str>, profile: &str) -> String {
    let mut t = String::from(
        "# churncal project file, written by `churncal init`: every command run in this folder\n\
         # reads its settings from here (or from the file given by --config), and a flag on the\n\
         # command line overrides the setting. Top-level keys are flags every command that\n\
         # reads data shares; a [command] table holds that command's own flags. Keys are the\n\
         # flags' long names without the dashes. Paths are relative to this file.\n\n",
    );
    t.push_str(&format!("data = {}\n", toml_str(data)));
    if let Some(s) = sheet {
        t.push_str(&format!("sheet = {}\n", toml_str(s)));
    }
    t.push_str(&format!("profile = {}\n", toml_str(profile)));
    let role = |t: &mut String, key: &str, p: &Option<Pick>, absent: &str| match p {
        Some(p) => t.push_str(&format!("{key} = {}   # {}\n", toml_str(&p.column), p.why)),
        None => t.push_str(&format!("# {key} = \"...\"   # none found: {absent}\n")),
    };
    t.push('\n');
    role(&mut t, "id-col", &g.id, "each row is its own account");
    role(&mut t, "date-col", &g.date, "one snapshot per account");
    role(
        &mut t,
        "outcome-col",
        &g.outcome,
        "name it, or derive it from a churn date with horizon",
    );
    if let Some(l) = &g.churned_value {
        t.push_str(&format!("churned-value = [{}]\n", toml_str(l)));
    }
    role(
        &mut t,
        "churn-date-col",
        &g.churn_date,
        "not needed with an outcome column",
    );
    role(
        &mut t,
        "customer-since-col",
        &g.customer_since,
        "tenure is then unknown",
    );
    role(
        &mut t,
        "arr-col",
        &g.arr,
        "revenue figures are left out of the reports",
    );
    if g.segments.is_empty() {
        t.push_str("# segment = [\"...\"]   # none found: cohorts need one\n");
    } else {
        let list: Vec<String> = g.segments.iter().map(|s| toml_str(&s.column)).collect();
        let why: Vec<String> = g
            .segments
            .iter()
            .map(|s| format!("{}: {}", s.column, s.why))
            .collect();
        t.push_str(&format!(
            "segment = [{}]   # {}\n",
            list.join(", "),
            why.join("; ")
        ));
    }
    if g.decimal_comma {
        t.push_str("decimal-comma = true   # numbers like 45,5\n");
    }
    if g.lenient_numbers {
        t.push_str("lenient-numbers = true   # numbers with %, currency or thousands separators\n");
    }
    if let Some((c, m, d)) = &g.ambiguous_dates {
        t.push_str(&format!(
            "# date-format = \"{}\"   # '{c}' reads both as {} and as {}: name it (or \"{}\")\n",
            m.pattern(),
            m.describe(),
            d.describe(),
            d.pattern()
        ));
    }
    if !g.skipped.is_empty() {
        t.push_str("\n# Columns left out:\n");
        for s in &g.skipped {
            t.push_str(&format!("#   {}: {}\n", s.column, s.why));
        }
    }
    t.push_str(
        "\n[report]\n# out = \"reports/quarterly\"   # default: a folder named by profile and last date\n\
         \n[calibrate]\n# bootstrap = 200\n",
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, v: &[&str]) -> (String, Vec<Option<String>>) {
        (
            name.into(),
            v.iter()
                .map(|s| (!s.is_empty()).then(|| s.to_string()))
                .collect(),
        )
    }

    #[test]
    fn names_split_into_words() {
        assert_eq!(words("customerID"), ["customer", "id"]);
        assert_eq!(words("days_past_due"), ["days", "past", "due"]);
        assert_eq!(words("Total Charges"), ["total", "charges"]);
        assert_eq!(words("Charge  Amount"), ["charge", "amount"]);
    }

    #[test]
    fn roles_and_metrics_are_guessed_with_their_reasons() {
        let n = 400;
        let ids: Vec<String> = (0..n).map(|i| format!("C-{i:03}")).collect();
        let status: Vec<&str> = (0..n)
            .map(|i| {
                if i % 4 == 0 {
                    "Attrited Customer"
                } else {
                    "Existing Customer"
                }
            })
            .collect();
        let logins: Vec<String> = (0..n)
            .map(|i| {
                if i % 4 == 0 {
                    "2".into()
                } else {
                    format!("{}", 10 + i)
                }
            })
            .collect();
        let tickets: Vec<String> = (0..n)
            .map(|i| if i % 4 == 0 { "9".into() } else { "1".into() })
            .collect();
        let plan: Vec<&str> = (0..n)
            .map(|i| if i % 2 == 0 { "Pro" } else { "Basic" })
            .collect();
        let when: Vec<&str> = (0..n)
            .map(|i| {
                if i % 2 == 0 {
                    "31/03/2025"
                } else {
                    "30/06/2025"
                }
            })
            .collect();
        let revenue: Vec<String> = (0..n).map(|i| format!("${},000", 1 + i)).collect();
        fn r(v: &[String]) -> Vec<&str> {
            v.iter().map(String::as_str).collect()
        }
        let g = guess(
            &[
                col("Customer ID", &r(&ids)),
                col("Attrition_Flag", &status),
                col("Snapshot Month", &when),
                col("Logins", &r(&logins)),
                col("SupportTickets", &r(&tickets)),
                col("Plan", &plan),
                col("ARR", &r(&revenue)),
                col("Notes", &vec![""; n]),
            ],
            false,
        );
        assert_eq!(g.id.unwrap().column, "Customer ID");
        let o = g.outcome.unwrap();
        assert_eq!(o.column, "Attrition_Flag");
        assert_eq!(g.churned_value.as_deref(), Some("Attrited Customer"));
        assert_eq!(g.date.unwrap().why, "values read as dates (DD/MM/YYYY)");
        assert_eq!(g.arr.unwrap().column, "ARR");
        assert!(g.lenient_numbers || g.metrics.iter().all(|m| m.column != "ARR"));
        assert_eq!(g.segments[0].column, "Plan");
        let m = |c: &str| g.metrics.iter().find(|m| m.column == c).unwrap();
        assert_eq!(m("Logins").direction, Direction::HigherIsBetter);
        assert_eq!(m("SupportTickets").direction, Direction::LowerIsBetter);
        assert!(
            m("SupportTickets")
                .why
                .contains("churned accounts average 9"),
            "{}",
            m("SupportTickets").why
        );
        assert_eq!(g.skipped[0].column, "Notes");
    }

    #[test]
    fn the_written_files_parse() {
        let g = guess(
            &[
                col("id", &["a", "b", "c", "d"]),
                col("churned", &["0", "1", "0", "0"]),
                col("usage", &["1", "5", "7", "30"]),
                col("paid", &["1", "0", "1", "1"]),
                col("region", &["EU", "US", "EU", "US"]),
            ],
            false,
        );
        let p = profile_toml(&g, "guessed", "x.csv");
        let profile: crate::profile::Profile = toml::from_str(&p).unwrap();
        profile.check().unwrap();
        // One churn event: one metric kept, the strongest, the other listed.
        assert_eq!(profile.metrics.len(), 1, "{p}");
        assert!(g
            .skipped
            .iter()
            .any(|s| s.why.contains("1 churn events allow about 1 metrics")));
        let project = project_toml(&g, "x.csv", None, "guessed.toml");
        let v: toml::Table = toml::from_str(&project).unwrap();
        assert_eq!(v["id-col"].as_str(), Some("id"));
        assert_eq!(v["segment"].as_array().unwrap().len(), 1);
    }
}
