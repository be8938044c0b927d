//! A project from an export: the column roles and candidate metrics guessed from a file's
//! values ([`guess`]), written as a commented project file and a starter profile.
//!
//! Nothing is asked and nothing is hidden: every guess carries the reason it was made
//! (a name, the values, the churn rates), printed by `churncal init` and written beside
//! the guess in the files, for the user to correct.

use crate::data::dates::{self, DateFormat, Detected};
use crate::data::numbers::{self, NumberStyle, Read};
use crate::data::parse;
use crate::profile::{Direction, Transform};
use crate::stats;

mod files;
mod metrics;
pub use files::{profile_toml, project_toml, toml_str};
use metrics::{keep_the_strongest, label_metric, numeric_metric};

/// A guess and why it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    /// The column.
    pub column: String,
    /// Why this column.
    pub why: String,
}

/// A candidate metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricGuess {
    /// The column.
    pub column: String,
    /// Its transform (`linear` or `log` between rounded percentiles, `boolean`, or
    /// `categories` with points from the labels' churn rates).
    pub transform: Transform,
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

#[cfg(test)]
mod tests;
