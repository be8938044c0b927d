//! The score query: churncal's scoring written as SQL, operation for operation.
//!
//! The query is a chain of common table expressions, each adding columns to the one
//! before: the raw values (`cc_in`), each metric's sub-score and the row's refusal note
//! (`cc_sub`), the weighted sums (`cc_sum`), the score, group scores and points lost per
//! metric (`cc_scored`), the reason ranks (`cc_ranked`), and the quantile cut-offs when the
//! tiers are quantiles (`cc_cuts`). Sums run in profile order, nested to the left, with the
//! constants churncal computes, so an engine's doubles are churncal's bits wherever the
//! engine's `ln` and `exp` are correctly rounded.

use std::fmt::Write;

use super::dialect::sum;
use super::{Dialect, SqlError, SqlParams};
use crate::profile::set::Profiles;
use crate::profile::transform::directed;
use crate::profile::{CutStat, Direction, Metric, Missing, Profile, QuantileCut, Transform};
use crate::score::REASONS;

/// How the query ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ending {
    /// The score table itself, ordered as the table is read.
    Table,
    /// The score table as a last CTE named `cc_out` (with the outcome, for counting);
    /// the caller appends its own `SELECT`.
    Cte,
    /// One profile's part of a profile set's union: the rows its filter keeps, the table's
    /// `SELECT` without a `;`, with the outcome and ARR when `counting`, and a `p_churn`
    /// column when `p_churn` (every profile of the set is calibrated).
    Part {
        /// Condition on the source table's columns selecting the part's rows.
        filter: String,
        /// Carry the outcome and ARR, for counting.
        counting: bool,
        /// Write `p_churn`.
        p_churn: bool,
    },
}

impl Ending {
    /// Whether the outcome and ARR are carried, for counting.
    fn counting(&self) -> bool {
        matches!(self, Ending::Cte | Ending::Part { counting: true, .. })
    }
}

/// The score query of a profile or a profile set: a set's is the union of its profiles'
/// queries, each over the rows whose segment value it scores (a value the set does not map
/// goes to the default), in the shape `ending` asks for (`Table` or `Cte`).
pub(super) fn query_for(
    profiles: &Profiles,
    p: &SqlParams,
    ending: Ending,
) -> Result<String, SqlError> {
    let set = match profiles {
        Profiles::One(profile) => return query(profile, p, ending),
        Profiles::Set(s) => s,
    };
    let d = p.dialect;
    // The segment value as churncal reads it: trimmed text, `(missing)` when empty.
    let value = format!(
        "COALESCE({}, {})",
        d.trimmed_text(&d.ident(&set.segment)),
        d.string(MISSING_LABEL)
    );
    let list = |labels: &[&str]| -> String {
        labels
            .iter()
            .map(|l| d.string(l))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let p_churn = profiles.all().iter().all(|q| q.calibration.is_some());
    let counting = ending.counting();
    // One part per distinct profile with every value it scores; the default's part also
    // takes every value the set does not map.
    let others: Vec<&str> = set
        .profiles
        .iter()
        .filter(|(_, q)| *q != set.default)
        .map(|(l, _)| l.as_str())
        .collect();
    let mut parts: Vec<(String, &Profile)> = vec![(
        if others.is_empty() {
            "1 = 1".into()
        } else {
            format!("{value} NOT IN ({})", list(&others))
        },
        &set.default,
    )];
    for (_, profile) in &set.profiles {
        if parts.iter().any(|(_, q)| *q == profile) {
            continue;
        }
        let labels: Vec<&str> = set
            .profiles
            .iter()
            .filter(|(_, q)| q == profile)
            .map(|(l, _)| l.as_str())
            .collect();
        parts.push((format!("{value} IN ({})", list(&labels)), profile));
    }
    let mut union = Vec::new();
    for (i, (filter, profile)) in parts.into_iter().enumerate() {
        let q = query(
            profile,
            p,
            Ending::Part {
                filter,
                counting,
                p_churn,
            },
        )?;
        union.push(format!("SELECT * FROM (\n{q}) AS cc_part{i}"));
    }
    let union = union.join("\nUNION ALL\n");
    Ok(match ending {
        Ending::Cte => format!("WITH\ncc_out AS (\n{union}\n)\n"),
        _ => format!("{union};\n"),
    })
}

/// The label churncal gives an empty segment value.
const MISSING_LABEL: &str = "(missing)";

/// The name of metric `k`'s value column.
fn v(k: usize) -> String {
    format!("cc_v{k}")
}
/// The name of metric `k`'s sub-score column (NULL: the metric drops out).
fn s(k: usize) -> String {
    format!("cc_s{k}")
}

/// The score query for `profile` over `p.table`.
pub(super) fn query(profile: &Profile, p: &SqlParams, ending: Ending) -> Result<String, SqlError> {
    profile.check().map_err(|e| SqlError::BadParam {
        param: "profile",
        message: e.to_string(),
    })?;
    let d = p.dialect;
    let weights = profile.effective_weights();
    let (group_labels, group_of) = profile.group_labels();
    let mut q = String::from("WITH\n");
    // PostgreSQL inlines a CTE read once and does not share subexpressions, so the
    // points lost (read by every rank) would be recomputed from the raw values hundreds of
    // times a row: the sub-scores and losses are computed once instead.
    let m = if d == Dialect::Postgres {
        "MATERIALIZED "
    } else {
        ""
    };

    // 1. The values: role columns carried through, each metric's value typed.
    let carried = carried_columns(p, &ending);
    let mut cols: Vec<String> = carried
        .iter()
        .map(|(src, out)| format!("{} AS {}", d.ident(src), d.ident(out)))
        .collect();
    for (k, m) in profile.metrics.iter().enumerate() {
        let c = d.ident(&m.column);
        let e = match &m.transform {
            Transform::Categories { .. } => d.trimmed_text(&c),
            Transform::Boolean => format!("LOWER({})", d.trimmed_text(&c)),
            _ => format!("CAST({c} AS {})", d.double()),
        };
        cols.push(format!("{e} AS {}", v(k)));
    }
    let filter = match &ending {
        Ending::Part { filter, .. } => format!("\n  WHERE {filter}"),
        _ => String::new(),
    };
    let _ = write!(
        q,
        "cc_in AS (\n  SELECT\n    {}\n  FROM {}{filter}\n),\n",
        cols.join(",\n    "),
        d.table(&p.table)
    );

    // 2. Sub-scores, presence and refusals.
    let mut cols = Vec::new();
    for (k, m) in profile.metrics.iter().enumerate() {
        let fill = match m.missing {
            Missing::Redistribute | Missing::Error => "NULL".to_string(),
            Missing::Neutral => "50".into(),
            Missing::Worst => "0".into(),
            Missing::Score(v) => d.num(v),
        };
        let e = subscore(d, m, &v(k))?;
        // Typed as a double: PostgreSQL divides integers (a categories score) as integers.
        cols.push(format!(
            "-- {}\n    CAST(CASE WHEN {} IS NULL THEN {fill} ELSE {e} END AS {}) AS {}",
            comment(m),
            v(k),
            d.double(),
            s(k)
        ));
    }
    let present: Vec<String> = (0..profile.metrics.len())
        .map(|k| format!("CASE WHEN {} IS NULL THEN 0 ELSE 1 END", v(k)))
        .collect();
    cols.push(format!("{} AS cc_present", sum(&present)));
    cols.push(format!("{} AS refused", refusal(d, profile)));
    let _ = write!(
        q,
        "cc_sub AS {m}(\n  SELECT cc_in.*,\n    {}\n  FROM cc_in\n),\n",
        cols.join(",\n    ")
    );

    // 3. Weighted sums: the score's, then each group's (zero weights floored as churncal's
    // group means do, so a group of zero-weight metrics is their plain mean).
    let sums = |w: &dyn Fn(usize) -> Option<f64>| -> (String, String) {
        let mut num = Vec::new();
        let mut den = Vec::new();
        for k in 0..profile.metrics.len() {
            let Some(w) = w(k) else { continue };
            if w == 0.0 {
                continue;
            }
            num.push(format!("{} * COALESCE({}, 0)", d.num(w), s(k)));
            den.push(format!(
                "CASE WHEN {} IS NULL THEN 0 ELSE {} END",
                s(k),
                d.num(w)
            ));
        }
        (sum(&num), format!("CAST({} AS {})", sum(&den), d.double()))
    };
    let mut cols = Vec::new();
    let (num, den) = sums(&|k| Some(weights[k]));
    cols.push(format!("{num} AS cc_num"));
    cols.push(format!("{den} AS cc_den"));
    for g in 0..group_labels.len() {
        let (num, den) = sums(&|k| (group_of[k] == Some(g)).then(|| weights[k].max(1e-300)));
        cols.push(format!("{num} AS cc_gnum{g}"));
        cols.push(format!("{den} AS cc_gden{g}"));
    }
    let _ = write!(
        q,
        "cc_sum AS (\n  SELECT cc_sub.*,\n    {}\n  FROM cc_sub\n),\n",
        cols.join(",\n    ")
    );

    // 4. Score, group scores, and the points each metric costs.
    let ok = "refused IS NULL AND cc_present > 0";
    let ratio = |num: &str, den: &str| {
        format!("CASE WHEN {ok} AND {den} > 0 THEN LEAST(GREATEST({num} / {den}, 0), 100) END")
    };
    let mut cols = vec![format!("{} AS score", ratio("cc_num", "cc_den"))];
    for g in 0..group_labels.len() {
        cols.push(format!(
            "{} AS cc_g{g}",
            ratio(&format!("cc_gnum{g}"), &format!("cc_gden{g}"))
        ));
    }
    for (k, &w) in weights.iter().enumerate() {
        // churncal keeps a loss above 1e-9 points; 0 stands for none.
        let lost = format!("{} / cc_den * (100 - {})", d.num(w), s(k));
        cols.push(format!(
            "CASE WHEN {ok} AND cc_den > 0 AND {sk} IS NOT NULL AND {lost} > {eps} THEN {lost} ELSE 0 END AS cc_l{k}",
            sk = s(k),
            eps = d.num(1e-9)
        ));
    }
    let _ = write!(
        q,
        "cc_scored AS {m}(\n  SELECT cc_sum.*,\n    {}\n  FROM cc_sum\n),\n",
        cols.join(",\n    ")
    );

    // 5. Reason ranks: a metric's place among the losses, ties to the earlier metric. Spark
    // sorts the (loss, −index) pairs once a row (its plan would otherwise evaluate every
    // rank comparison on the full expression tree of the losses: two thirds of its time);
    // the others rank by counting, which every dialect has.
    let n = profile.metrics.len();
    let cols: Vec<String> = if d == Dialect::Spark {
        let pairs: Vec<String> = (0..n)
            .map(|k| format!("named_struct('l', cc_l{k}, 'k', -{k})"))
            .collect();
        vec![format!(
            "slice(sort_array(array({}), false), 1, {REASONS}) AS cc_top",
            pairs.join(", ")
        )]
    } else {
        (0..n)
            .map(|k| {
                let mut terms = vec!["1".to_string()];
                for j in 0..n {
                    if j == k {
                        continue;
                    }
                    let op = if j < k { ">=" } else { ">" };
                    terms.push(format!("CASE WHEN cc_l{j} {op} cc_l{k} THEN 1 ELSE 0 END"));
                }
                format!("{} AS cc_r{k}", sum(&terms))
            })
            .collect()
    };
    let _ = write!(
        q,
        "cc_ranked AS (\n  SELECT cc_scored.*,\n    {}\n  FROM cc_scored\n)",
        cols.join(",\n    ")
    );

    // 6. Tier cut-offs, then the table.
    let mins = tier_mins(d, profile, &mut q);
    let tier = {
        let names = profile.tier_names();
        let mut e = String::from("CASE WHEN score IS NULL THEN NULL");
        for (t, name) in names.iter().enumerate() {
            if t + 1 == names.len() {
                let _ = write!(e, " ELSE {} END", d.string(name));
            } else {
                let _ = write!(e, " WHEN score >= {} THEN {}", mins[t], d.string(name));
            }
        }
        e
    };
    let mut out: Vec<String> = carried.iter().map(|(_, c)| d.ident(c)).collect();
    out.push("score".into());
    for (g, label) in group_labels.iter().enumerate() {
        out.push(format!("cc_g{g} AS {}", d.ident(&format!("group_{label}"))));
    }
    out.push(format!("{tier} AS tier"));
    let p_churn = match &ending {
        Ending::Part { p_churn, .. } => *p_churn,
        _ => true,
    };
    if let Some(c) = profile.calibration.as_ref().filter(|_| p_churn) {
        let z = format!(
            "({} + {} * score / 100)",
            d.num(c.intercept),
            d.num(c.slope)
        );
        out.push(format!(
            "CASE WHEN score IS NULL THEN NULL WHEN {z} >= 0 THEN 1 / (1 + EXP(-{z})) ELSE EXP({z}) / (1 + EXP({z})) END AS p_churn"
        ));
    }
    let names: Vec<String> = profile.metrics.iter().map(|m| d.string(&m.name)).collect();
    for r in 1..=REASONS {
        if d == Dialect::Spark {
            let top = format!("cc_top[{}]", r - 1);
            out.push(format!(
                "CASE WHEN {top}.l > 0 THEN element_at(array({}), 1 - {top}.k) END AS reason_{r}",
                names.join(", ")
            ));
            out.push(format!(
                "CASE WHEN {top}.l > 0 THEN {top}.l END AS reason_{r}_points"
            ));
            continue;
        }
        let mut name = String::from("CASE");
        let mut pts = String::from("CASE");
        for (k, m) in profile.metrics.iter().enumerate() {
            let when = format!(" WHEN cc_r{k} = {r} AND cc_l{k} > 0 THEN");
            let _ = write!(name, "{when} {}", d.string(&m.name));
            let _ = write!(pts, "{when} cc_l{k}");
        }
        out.push(format!("{name} END AS reason_{r}"));
        out.push(format!("{pts} END AS reason_{r}_points"));
    }
    out.push("refused".into());
    let from = if profile.tiers_by_quantile.is_some() {
        "cc_ranked CROSS JOIN cc_cuts"
    } else {
        "cc_ranked"
    };
    match ending {
        Ending::Table => {
            let _ = write!(q, "\nSELECT\n  {}\nFROM {from};\n", out.join(",\n  "));
        }
        Ending::Part { .. } => {
            let _ = write!(q, "\nSELECT\n  {}\nFROM {from}\n", out.join(",\n  "));
        }
        Ending::Cte => {
            let _ = write!(
                q,
                ",\ncc_out AS (\n  SELECT\n  {}\n  FROM {from}\n)\n",
                out.join(",\n  ")
            );
        }
    }
    Ok(q)
}

/// The role columns the query carries through, as (source, output) names: the account,
/// the date and the segments, and for counting the outcome as `cc_outcome`.
fn carried_columns(p: &SqlParams, ending: &Ending) -> Vec<(String, String)> {
    let c = &p.columns;
    let mut out: Vec<(String, String)> = Vec::new();
    for name in c.account.iter().chain(&c.date).chain(&c.segments) {
        if !out.iter().any(|(s, _)| s == name) {
            out.push((name.clone(), name.clone()));
        }
    }
    if ending.counting() {
        if let Some(o) = &c.outcome {
            out.push((o.clone(), "cc_outcome".into()));
        }
        if let Some(a) = &c.arr {
            out.push((a.clone(), "cc_arr".into()));
        }
    }
    out
}

/// A one-line description of a metric for the query's comments.
fn comment(m: &Metric) -> String {
    format!(
        "{} ({}, {}, {}, missing {:?})",
        m.name,
        m.column,
        m.transform.kind_name(),
        match m.direction {
            Direction::HigherIsBetter => "higher is better",
            Direction::LowerIsBetter => "lower is better",
        },
        m.missing
    )
    .replace(['\n', '\r'], " ")
    .to_lowercase()
}

/// The sub-score of a present value `x` (a column name), direction applied.
fn subscore(d: Dialect, m: &Metric, x: &str) -> Result<String, SqlError> {
    let n = |v: f64| d.num(v);
    let clamp100 = |e: String| format!("LEAST(GREATEST({e}, 0), 100)");
    let e = match &m.transform {
        Transform::Linear { lo, hi } => {
            let w = format!("LEAST(GREATEST({x}, {}), {})", n(*lo), n(*hi));
            format!("100 * {}", fraction(d, &w, *lo, *hi))
        }
        Transform::Log { lo, hi } => {
            let (a, b) = (lo.ln_1p(), hi.ln_1p());
            let w = format!("LEAST(GREATEST({x}, {}), {})", n(*lo), n(*hi));
            clamp100(format!("100 * ({} - {}) / {}", d.ln_1p(&w), n(a), n(b - a)))
        }
        Transform::Points { map } => {
            let first = map[0];
            let last = map[map.len() - 1];
            let mut e = format!(
                "CASE WHEN {x} <= {} THEN {} WHEN {x} >= {} THEN {}",
                n(first[0]),
                n(first[1]),
                n(last[0]),
                n(last[1])
            );
            for w in map.windows(2) {
                let (p, q) = (w[0], w[1]);
                let _ = write!(
                    e,
                    " WHEN {x} < {} THEN {} + {} * {}",
                    n(q[0]),
                    n(p[1]),
                    n(q[1] - p[1]),
                    fraction(d, x, p[0], q[0])
                );
            }
            clamp100(format!("{e} END"))
        }
        Transform::Percentile { breaks } => {
            let k = breaks.len();
            let step = 100.0 / (k - 1) as f64;
            let mut e = format!(
                "CASE WHEN {x} < {} THEN 0 WHEN {x} > {} THEN 100",
                n(breaks[0]),
                n(breaks[k - 1])
            );
            // A value on a run of tied breaks gets the run's middle rank.
            let mut i = 0;
            while i < k {
                let mut j = i;
                while j + 1 < k && breaks[j + 1] == breaks[i] {
                    j += 1;
                }
                let rank = step * (i + j + 1 - 1) as f64 / 2.0;
                let _ = write!(e, " WHEN {x} = {} THEN {}", n(breaks[i]), n(rank));
                i = j + 1;
            }
            // Between the last break below and the first above.
            let mut i = 0;
            while i < k {
                let mut j = i;
                while j + 1 < k && breaks[j + 1] == breaks[i] {
                    j += 1;
                }
                if j + 1 < k {
                    let _ = write!(
                        e,
                        " WHEN {x} < {} THEN {} * ({} + {})",
                        n(breaks[j + 1]),
                        n(step),
                        n(j as f64),
                        fraction(d, x, breaks[j], breaks[j + 1])
                    );
                }
                i = j + 1;
            }
            clamp100(format!("{e} END"))
        }
        Transform::Categories { map } => {
            let mut e = format!("CASE {x}");
            for (label, sub) in map {
                let _ = write!(
                    e,
                    " WHEN {} THEN {}",
                    d.string(label),
                    n(directed(m.direction, *sub))
                );
            }
            return Ok(format!("{e} END"));
        }
        Transform::Boolean => {
            let (yes, no) = (directed(m.direction, 100.0), directed(m.direction, 0.0));
            return Ok(format!(
                "CASE WHEN {x} IN ({}) THEN {} WHEN {x} IN ({}) THEN {} END",
                BOOL_YES.map(|s| d.string(s)).join(", "),
                n(yes),
                BOOL_NO.map(|s| d.string(s)).join(", "),
                n(no)
            ));
        }
    };
    Ok(match m.direction {
        Direction::HigherIsBetter => e,
        Direction::LowerIsBetter => format!("100 - {e}"),
    })
}

/// The outcome labels that mean churned and retained, as SQL lists (lower case), as the
/// loader reads them.
pub(super) fn outcome_labels(d: Dialect) -> (String, String) {
    let list = |l: &[&str]| l.iter().map(|s| d.string(s)).collect::<Vec<_>>().join(", ");
    (
        list(&crate::data::parse::OUTCOME_YES),
        list(&crate::data::parse::OUTCOME_NO),
    )
}

use crate::data::parse::{BOOLEAN_NO as BOOL_NO, BOOLEAN_YES as BOOL_YES};

/// Where `x` (between `a < b`) lies from `a` to `b`, in [0, 1], as churncal computes it:
/// on halved values when `b − a` overflows.
fn fraction(d: Dialect, x: &str, a: f64, b: f64) -> String {
    let t = if (b - a).is_finite() {
        format!("({x} - {}) / {}", d.num(a), d.num(b - a))
    } else {
        format!(
            "(0.5 * {x} - {}) / {}",
            d.num(0.5 * a),
            d.num(0.5 * b - 0.5 * a)
        )
    };
    format!("LEAST(GREATEST({t}, 0), 1)")
}

/// The refusal note of a row: the first metric whose value churncal would refuse (missing
/// under policy `error`, a label a categories map or a boolean does not know).
fn refusal(d: Dialect, profile: &Profile) -> String {
    let mut e = String::from("CASE");
    let mut any = false;
    for (k, m) in profile.metrics.iter().enumerate() {
        let x = v(k);
        if m.missing == Missing::Error {
            any = true;
            let msg = format!(
                "column '{}': value is missing and metric '{}' has missing = \"error\"",
                m.column, m.name
            );
            let _ = write!(e, " WHEN {x} IS NULL THEN {}", d.string(&msg));
        }
        let known: Option<Vec<String>> = match &m.transform {
            Transform::Categories { map } => Some(map.keys().map(|l| d.string(l)).collect()),
            Transform::Boolean => Some(
                BOOL_YES
                    .iter()
                    .chain(&BOOL_NO)
                    .map(|l| d.string(l))
                    .collect(),
            ),
            _ => None,
        };
        if let Some(known) = known {
            any = true;
            let msg = d.concat(&[
                d.string(&format!("column '{}': category '", m.column)),
                x.clone(),
                d.string(&format!("' is not in the map of metric '{}'", m.name)),
            ]);
            let _ = write!(
                e,
                " WHEN {x} IS NOT NULL AND {x} NOT IN ({}) THEN {msg}",
                known.join(", ")
            );
        }
    }
    if !any {
        return format!("CAST(NULL AS {})", d.text());
    }
    e.push_str(" END");
    e
}

/// Appends the cut-offs CTE when the tiers are quantiles; returns each tier's lowest score
/// as an SQL expression (a literal for fixed tiers).
fn tier_mins(d: Dialect, profile: &Profile, q: &mut String) -> Vec<String> {
    let Some(qt) = &profile.tiers_by_quantile else {
        return profile.tiers.iter().map(|t| d.num(t.min)).collect();
    };
    let from = "cc_ranked";
    let n = qt.tiers.len();
    let mut exprs: Vec<String> = Vec::with_capacity(n);
    for (i, t) in qt.tiers.iter().enumerate() {
        let e = match t.from {
            QuantileCut::Quantile(p) => d.quantile("score", p.clamp(0.0, 1.0), from),
            QuantileCut::Stat(CutStat::Median) => d.quantile("score", 0.5, from),
            QuantileCut::Stat(CutStat::Mean) => format!("(SELECT AVG(score) FROM {from})"),
        };
        // churncal's cut-off of an empty population is 0; each cut at most the one above;
        // the last tier starts at 0.
        let e = match exprs.last() {
            _ if i + 1 == n => "0".to_string(),
            Some(above) => format!("LEAST(COALESCE({e}, 0), {above})"),
            None => format!("COALESCE({e}, 0)"),
        };
        exprs.push(e);
    }
    let cols: Vec<String> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{e} AS cc_min{i}"))
        .collect();
    let _ = write!(
        q,
        ",\ncc_cuts AS (\n  SELECT\n    {}\n)",
        cols.join(",\n    ")
    );
    (0..n).map(|i| format!("cc_min{i}")).collect()
}
