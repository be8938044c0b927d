//! The tiers query: the counts behind churncal's tier report, computed where the data is.
//!
//! One long table, a row per (kind, label, period): `overall` (the population), `tier`
//! and `band` (each score group over the counted rows, the unit's), and `trend` (each
//! snapshot date × tier over every scored snapshot). `churncal tiers --counts FILE` reads
//! it back ([`crate::analysis::tiers::from_counts`]) into the same report, intervals and
//! charts as from the data itself.

use std::fmt::Write;

use super::score::{self, Ending};
use super::{SqlError, SqlParams};
use crate::analysis::tiers::band_bounds;
use crate::analysis::Unit;
use crate::profile::set::Profiles;

/// The columns of the counts table, in order.
pub const COUNT_COLUMNS: [&str; 15] = [
    "kind",
    "label",
    "period",
    "tier_min",
    "units",
    "accounts",
    "churned",
    "snapshots",
    "score_sum",
    "score_sum_churned",
    "p_sum",
    "arr",
    "arr_churned",
    "unscored",
    "refused",
];

pub(super) fn query(
    profiles: &Profiles,
    p: &SqlParams,
    bands: &[f64],
    unit: Unit,
) -> Result<String, SqlError> {
    let profile = profiles.main();
    let d = p.dialect;
    let mut q = score::query_for(profiles, p, Ending::Cte)?;
    let (yes, no) = super::score::outcome_labels(d);
    let y = format!(
        "CASE WHEN LOWER({o}) IN ({yes}) THEN 1 WHEN LOWER({o}) IN ({no}) THEN 0 END",
        o = d.trimmed_text("cc_outcome")
    );
    // The outcome read; a label that is neither is a refusal, a missing one leaves the row
    // out as churncal's loader does (a snapshot with no outcome yet is right-censored).
    let _ = write!(
        q,
        ",\ncc_y AS (\n  SELECT cc_out.*, {y} AS cc_y FROM cc_out WHERE cc_outcome IS NOT NULL\n),\n"
    );
    let key = match (&p.columns.account, &p.columns.date) {
        (Some(a), Some(t)) if unit == Unit::Account => Some((d.ident(a), d.ident(t))),
        _ => None,
    };
    // The counted rows: every snapshot, or per account its last snapshot before each
    // renewal decision (the last one, and a churned one followed by a retained one).
    let unit_expr = match &key {
        None => "1".to_string(),
        Some((a, t)) => format!(
            "CASE WHEN LEAD(1) OVER (PARTITION BY {a} ORDER BY {t}) IS NULL THEN 1 \
             WHEN cc_y = 1 AND LEAD(cc_y) OVER (PARTITION BY {a} ORDER BY {t}) = 0 THEN 1 ELSE 0 END"
        ),
    };
    let _ = write!(
        q,
        "cc_k AS (\n  SELECT cc_y.*, {unit_expr} AS cc_unit FROM cc_y WHERE cc_y IS NOT NULL AND refused IS NULL\n),\n"
    );
    let bb = band_bounds(bands);
    let m = bands.len();
    let mut band = String::from("CASE");
    // Best first in the labels; from the bottom: ≤ c1, then each c_{i-1}–c_i, then ≥ c_m.
    let _ = write!(
        band,
        " WHEN score <= {} THEN {}",
        d.num(bands[0]),
        d.string(&bb[m].0)
    );
    for i in 1..m {
        let _ = write!(
            band,
            " WHEN score < {} THEN {}",
            d.num(bands[i]),
            d.string(&bb[m - i].0)
        );
    }
    let _ = write!(band, " ELSE {} END", d.string(&bb[0].0));
    let _ = write!(
        q,
        "cc_b AS (\n  SELECT cc_k.*, {band} AS cc_band FROM cc_k WHERE score IS NOT NULL\n)\n"
    );

    let acc = match &p.columns.account {
        Some(a) => format!(
            "COUNT(DISTINCT CASE WHEN cc_unit = 1 THEN {} END)",
            d.ident(a)
        ),
        None => "SUM(cc_unit)".into(),
    };
    let nd = format!("CAST(NULL AS {})", d.double());
    let nt = format!("CAST(NULL AS {})", d.text());
    let arr = match &p.columns.arr {
        Some(_) => {
            let a = format!("CAST(cc_arr AS {})", d.double());
            (
                format!("SUM(CASE WHEN cc_unit = 1 THEN {a} END)"),
                format!("SUM(CASE WHEN cc_unit = 1 AND cc_y = 1 THEN {a} END)"),
            )
        }
        None => (nd.clone(), nd.clone()),
    };
    let p_sum = if profile.calibration.is_some() {
        "SUM(CASE WHEN cc_unit = 1 THEN p_churn END)".to_string()
    } else {
        nd.clone()
    };
    // A score group's row: counted rows, their accounts and churn, every scored snapshot.
    let group = |kind: &str, label: &str, min: &str| {
        format!(
            "SELECT {kind} AS kind, {label} AS label, {nt} AS period, {min} AS tier_min, \
             SUM(cc_unit) AS units, {acc} AS accounts, SUM(cc_unit * cc_y) AS churned, \
             COUNT(*) AS snapshots, SUM(CASE WHEN cc_unit = 1 THEN score END) AS score_sum, \
             SUM(CASE WHEN cc_unit = 1 AND cc_y = 1 THEN score END) AS score_sum_churned, \
             {p_sum} AS p_sum, {a} AS arr, {ac} AS arr_churned, 0 AS unscored, 0 AS refused",
            kind = d.string(kind),
            a = arr.0,
            ac = arr.1,
        )
    };
    let min_of = if profile.tiers_by_quantile.is_some() {
        let names = profile.tier_names();
        let mut e = String::from("CASE tier");
        for (i, n) in names.iter().enumerate() {
            let _ = write!(e, " WHEN {} THEN MIN(cc_min{i})", d.string(n));
        }
        e + " END"
    } else {
        let mut e = String::from("CASE tier");
        for t in &profile.tiers {
            let _ = write!(e, " WHEN {} THEN {}", d.string(&t.name), d.num(t.min));
        }
        e + " END"
    };
    let cuts_join = if profile.tiers_by_quantile.is_some() {
        " CROSS JOIN cc_cuts"
    } else {
        ""
    };
    let parts = [
        // The whole population: unscored and refused rows are counted here only.
        format!(
            "SELECT {} AS kind, {nt} AS label, {nt} AS period, {nd} AS tier_min, \
             SUM(CASE WHEN score IS NOT NULL THEN cc_unit ELSE 0 END) AS units, \
             {acc_scored} AS accounts, \
             SUM(CASE WHEN score IS NOT NULL THEN cc_unit * cc_y ELSE 0 END) AS churned, \
             SUM(CASE WHEN score IS NOT NULL THEN 1 ELSE 0 END) AS snapshots, \
             {nd} AS score_sum, {nd} AS score_sum_churned, {nd} AS p_sum, {nd} AS arr, {nd} AS arr_churned, \
             SUM(CASE WHEN score IS NULL THEN cc_unit ELSE 0 END) AS unscored, \
             (SELECT COUNT(*) FROM cc_y WHERE cc_y IS NULL OR refused IS NOT NULL) AS refused \
             FROM cc_k",
            d.string("overall"),
            acc_scored = match &p.columns.account {
                Some(a) => format!(
                    "COUNT(DISTINCT CASE WHEN cc_unit = 1 AND score IS NOT NULL THEN {} END)",
                    d.ident(a)
                ),
                None => "SUM(CASE WHEN score IS NOT NULL THEN cc_unit ELSE 0 END)".into(),
            },
        ),
        format!(
            "{} FROM cc_b{cuts_join} GROUP BY tier",
            group("tier", "tier", &min_of)
        ),
        format!("{} FROM cc_b GROUP BY cc_band", group("band", "cc_band", &nd)),
    ];
    let mut parts = parts.to_vec();
    if let Some(t) = &p.columns.date {
        let t = d.ident(t);
        parts.push(format!(
            "SELECT {} AS kind, tier AS label, CAST({t} AS {text}) AS period, {nd} AS tier_min, \
             0 AS units, 0 AS accounts, SUM(cc_y) AS churned, COUNT(*) AS snapshots, \
             SUM(score) AS score_sum, {nd} AS score_sum_churned, {nd} AS p_sum, {nd} AS arr, \
             {nd} AS arr_churned, 0 AS unscored, 0 AS refused FROM cc_b GROUP BY tier, {t}",
            d.string("trend"),
            text = d.text()
        ));
    }
    let _ = write!(
        q,
        "{}\nORDER BY kind, label, period;\n",
        parts.join("\nUNION ALL\n")
    );
    Ok(q)
}
