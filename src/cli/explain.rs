//! `churncal explain`: why every account's score moved between two snapshot dates, split
//! exactly by metric, and the worklist of accounts to call (CSV, Parquet, .xlsx).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use polars::prelude::*;

use churncal::data::{parse, MetricColumn, OutcomeNeed, Snapshots};
use churncal::explain::{why, Change, ExplainParams, Explanation};
use churncal::output;
use churncal::profile;
use churncal::score::table::{write_table, TableFormat};

use super::{Input, Ui};

/// Arguments of `churncal explain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: Input,
    /// The earlier snapshot date [default: the one before --to].
    #[arg(long, value_name = "YYYY-MM-DD")]
    from: Option<String>,
    /// The later snapshot date [default: the last].
    #[arg(long, value_name = "YYYY-MM-DD")]
    to: Option<String>,
    /// The profile in use before (a recalibration): the change splits into the profile's
    /// part and the data's part, each by metric.
    #[arg(long, value_name = "PROFILE")]
    previous_profile: Option<String>,
    /// On the worklist: accounts whose score dropped by at least POINTS.
    #[arg(long, value_name = "POINTS", default_value_t = 10.0)]
    drop: f64,
    /// On the worklist: accounts whose P(churn) rose by at least this much (calibrated
    /// profiles), e.g. 0.05 for five percentage points.
    #[arg(long, value_name = "P", default_value_t = 0.05)]
    rise: f64,
    /// Output folder [default: reports/explain-<profile>-<later date>].
    #[arg(short, long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Replace the files of an earlier run.
    #[arg(long)]
    force: bool,
}

/// Files written, in the output folder.
const FILES: [&str; 6] = [
    "summary.md",
    "waterfall.svg",
    "changes.csv",
    "worklist.csv",
    "worklist.parquet",
    "worklist.xlsx",
];

pub fn run(mut a: Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let day = |flag: &str, s: &Option<String>| -> anyhow::Result<Option<i32>> {
        match s {
            None => Ok(None),
            Some(v) => match parse::date(v) {
                Ok(Some(d)) => Ok(Some(d)),
                _ => anyhow::bail!("{flag} '{v}' is not a date as YYYY-MM-DD"),
            },
        }
    };
    let params = ExplainParams {
        from: day("--from", &a.from)?,
        to: day("--to", &a.to)?,
        drop: a.drop,
        rise: a.rise,
    };
    params.check()?;
    let set = a.input.profiles()?;
    let profile = set.main().clone();
    let previous = a
        .previous_profile
        .as_deref()
        .map(profile::read_profile)
        .transpose()?;
    if let Some(dir) = &a.out {
        for f in FILES {
            super::check_output(&dir.join(f), a.force)?;
        }
    }
    let profiles: Vec<&profile::Profile> = set.all().into_iter().chain(previous.as_ref()).collect();
    let data = a.input.data.load_for(
        &profiles,
        OutcomeNeed::Optional,
        churncal::data::memory::Job::Score,
        ui,
    )?;
    let stage = tracing::info_span!("explain: score and attribute").entered();
    let ex = params.run_sets(&set, previous.as_ref(), &data)?;
    drop(stage);
    let stage = tracing::info_span!("explain: tables").entered();
    let dir = a.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "reports/explain-{}-{}",
            super::safe_file_name(&profile.name),
            parse::format_day(ex.to)
        ))
    });
    if a.out.is_none() {
        for f in FILES {
            super::check_output(&dir.join(f), a.force)?;
        }
    }

    let mut changes = changes_frame(&ex, &data, &profile)?;
    let mut list = worklist_frame(&ex, &data, &profile)?;
    let mut csv = Vec::new();
    write_table(&mut changes, TableFormat::Csv, &mut csv)?;
    let mut list_csv = Vec::new();
    write_table(&mut list, TableFormat::Csv, &mut list_csv)?;
    let mut list_parquet = Vec::new();
    write_table(&mut list, TableFormat::Parquet, &mut list_parquet)?;
    drop(stage);
    let stage = tracing::info_span!("explain: workbook").entered();
    let book = workbook(&ex, &list, &profile)?;
    drop(stage);
    let _stage = tracing::info_span!("explain: write").entered();
    let summary = churncal::report::explain::summary_md(&ex, &data).into_bytes();
    let waterfall = churncal::report::explain::waterfall_svg(&ex).into_bytes();
    for (name, bytes) in [
        ("summary.md", &summary),
        ("waterfall.svg", &waterfall),
        ("changes.csv", &csv),
        ("worklist.csv", &list_csv),
        ("worklist.parquet", &list_parquet),
        ("worklist.xlsx", &book),
    ] {
        let p = dir.join(name);
        output::write_atomic(&p, bytes, a.force)
            .with_context(|| format!("writing {}", p.display()))?;
    }

    let count = |flag: u8| {
        ex.worklist
            .iter()
            .filter(|&&i| ex.changes[i].flags & flag != 0)
            .count()
    };
    let mut movers: Vec<(usize, f64)> = ex.mean_by_metric.iter().copied().enumerate().collect();
    movers.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    let top: Vec<String> = movers
        .iter()
        .take(3)
        .filter(|(_, v)| v.abs() >= 0.005)
        .map(|(k, v)| format!("{} {v:+.2}", ex.metrics[*k]))
        .collect();
    // One line for a scheduled job, even with --quiet.
    eprintln!(
        "explain {} → {}: {} accounts, mean score {:+.2} ({}); worklist {} ({} worse tier, {} dropped ≥ {}{}); wrote {}",
        parse::format_day(ex.from),
        parse::format_day(ex.to),
        ex.changes.len(),
        ex.mean_change,
        if top.is_empty() { "no metric moved it".to_string() } else { top.join(", ") },
        ex.worklist.len(),
        count(why::WORSE_TIER),
        count(why::DROPPED),
        a.drop,
        if profile.calibration.is_some() {
            format!(", {} P(churn) +{:.0} pp", count(why::RISK_ROSE), 100.0 * a.rise)
        } else {
            String::new()
        },
        dir.display()
    );
    if let Some(s) = &ex.split {
        let n = s.profile_part.len().max(1) as f64;
        ui.note(format!(
            "of the mean change, the profile ('{}' → '{}') accounts for {:+.2} and the data for {:+.2}",
            s.previous,
            profile.name,
            s.profile_part.iter().filter(|v| v.is_finite()).sum::<f64>() / n,
            s.data_part.iter().filter(|v| v.is_finite()).sum::<f64>() / n,
        ));
    }
    if ex.unexplained > 0 {
        ui.note(format!(
            "{} accounts have no score at one of the dates (no metric present): their change is not split",
            ex.unexplained
        ));
    }
    // Exit 1 when the worklist has accounts: a verdict a scheduled job can act on.
    Ok(if ex.worklist.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A metric's raw value in a row, as text; `(missing)` when it is, so that a metric that
/// appeared or disappeared reads as such.
fn raw(data: &Snapshots, column: &str, row: usize) -> String {
    match data.metric(column) {
        Some(MetricColumn::Numeric(v)) if !v[row].is_nan() => format!("{}", v[row]),
        Some(MetricColumn::Text { codes, labels }) if codes[row] != MetricColumn::MISSING_CODE => {
            labels[codes[row] as usize].clone()
        }
        _ => "(missing)".to_string(),
    }
}

fn tier_name(ex: &Explanation, t: u8) -> String {
    ex.tiers.get(t as usize).cloned().unwrap_or_default()
}

/// Every account's change with each metric's points (and the profile/data split).
fn changes_frame(
    ex: &Explanation,
    data: &Snapshots,
    profile: &profile::Profile,
) -> anyhow::Result<DataFrame> {
    let n = ex.metrics.len();
    let mut cols: Vec<Column> = vec![
        Column::new(
            data.id_column.as_str().into(),
            ex.changes
                .iter()
                .map(|c| data.account_name(c.account).into_owned())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "score_from".into(),
            ex.changes.iter().map(|c| c.score[0]).collect::<Vec<_>>(),
        ),
        Column::new(
            "score_to".into(),
            ex.changes.iter().map(|c| c.score[1]).collect::<Vec<_>>(),
        ),
        Column::new(
            "change".into(),
            ex.changes
                .iter()
                .map(|c| c.score[1] - c.score[0])
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "tier_from".into(),
            ex.changes
                .iter()
                .map(|c| tier_name(ex, c.tier[0]))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "tier_to".into(),
            ex.changes
                .iter()
                .map(|c| tier_name(ex, c.tier[1]))
                .collect::<Vec<_>>(),
        ),
    ];
    if profile.calibration.is_some() {
        cols.push(Column::new(
            "p_from".into(),
            ex.changes
                .iter()
                .map(|c| c.probability[0])
                .collect::<Vec<_>>(),
        ));
        cols.push(Column::new(
            "p_to".into(),
            ex.changes
                .iter()
                .map(|c| c.probability[1])
                .collect::<Vec<_>>(),
        ));
    }
    use churncal::explain::attribution::Method;
    cols.push(Column::new(
        "split".into(),
        ex.changes
            .iter()
            .map(|c| match c.method {
                Method::Linear => "linear",
                Method::Shapley { .. } => "shapley",
                Method::Undefined => "undefined",
                Method::Unscored => "unscored",
                Method::ProfileChanged => "profile of the set changed",
                Method::TooManyChanged { .. } => "too many metrics appeared or disappeared",
            })
            .collect::<Vec<&str>>(),
    ));
    cols.push(Column::new(
        "metrics_appeared_or_gone".into(),
        ex.changes
            .iter()
            .map(|c| match c.method {
                Method::Shapley { changed } => changed as u32,
                _ => 0,
            })
            .collect::<Vec<u32>>(),
    ));
    for (k, name) in ex.metrics.iter().enumerate() {
        cols.push(Column::new(
            format!("points_{name}").as_str().into(),
            (0..ex.changes.len())
                .map(|i| ex.contributions[i * n + k])
                .collect::<Vec<_>>(),
        ));
    }
    if let Some(s) = &ex.split {
        // The change an account owner sees at rollout: the old profile's score then, the
        // new one's now; the profile's and the data's parts sum to it.
        cols.push(Column::new(
            "change_with_new_profile".into(),
            s.profile_part
                .iter()
                .zip(&s.data_part)
                .map(|(p, d)| p + d)
                .collect::<Vec<_>>(),
        ));
        cols.push(Column::new("profile_part".into(), s.profile_part.clone()));
        cols.push(Column::new("data_part".into(), s.data_part.clone()));
        for (k, name) in ex.metrics.iter().enumerate() {
            cols.push(Column::new(
                format!("profile_points_{name}").as_str().into(),
                (0..ex.changes.len())
                    .map(|i| s.profile_contributions[i * n + k])
                    .collect::<Vec<_>>(),
            ));
        }
        for (k, name) in ex.metrics.iter().enumerate() {
            cols.push(Column::new(
                format!("data_points_{name}").as_str().into(),
                (0..ex.changes.len())
                    .map(|i| s.data_contributions[i * n + k])
                    .collect::<Vec<_>>(),
            ));
        }
    }
    Ok(DataFrame::new_infer_height(cols)?)
}

/// The metrics that moved an account most: (metric, points), largest first.
fn movers(ex: &Explanation, i: usize, k: usize) -> Vec<(usize, f64)> {
    let n = ex.metrics.len();
    let mut m: Vec<(usize, f64)> = (0..n)
        .map(|j| (j, ex.contributions[i * n + j]))
        .filter(|(_, v)| v.is_finite() && v.abs() >= 0.005)
        .collect();
    m.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
    m.truncate(k);
    m
}

/// Why an account is on the worklist, in words.
fn reasons(c: &Change, ex: &Explanation) -> String {
    let mut r = Vec::new();
    if c.flags & why::WORSE_TIER != 0 {
        r.push(format!(
            "{} → {}",
            tier_name(ex, c.tier[0]),
            tier_name(ex, c.tier[1])
        ));
    }
    if c.flags & why::DROPPED != 0 {
        r.push(format!("dropped {:.1} points", c.score[0] - c.score[1]));
    }
    if c.flags & why::RISK_ROSE != 0 {
        r.push(format!(
            "P(churn) {:.1} % → {:.1} %",
            100.0 * c.probability[0],
            100.0 * c.probability[1]
        ));
    }
    r.join("; ")
}

/// The worklist: one row per flagged account, with the three metrics that moved it and
/// their values then and now.
fn worklist_frame(
    ex: &Explanation,
    data: &Snapshots,
    profile: &profile::Profile,
) -> anyhow::Result<DataFrame> {
    let rows = &ex.worklist;
    let pick = |f: &dyn Fn(&Change) -> f64| {
        rows.iter()
            .map(|&i| f(&ex.changes[i]))
            .collect::<Vec<f64>>()
    };
    let mut cols: Vec<Column> = vec![
        Column::new(
            data.id_column.as_str().into(),
            rows.iter()
                .map(|&i| data.account_name(ex.changes[i].account).into_owned())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "why".into(),
            rows.iter()
                .map(|&i| reasons(&ex.changes[i], ex))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "tier_from".into(),
            rows.iter()
                .map(|&i| tier_name(ex, ex.changes[i].tier[0]))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "tier_to".into(),
            rows.iter()
                .map(|&i| tier_name(ex, ex.changes[i].tier[1]))
                .collect::<Vec<_>>(),
        ),
        Column::new("score_from".into(), pick(&|c| c.score[0])),
        Column::new("score_to".into(), pick(&|c| c.score[1])),
        Column::new("change".into(), pick(&|c| c.score[1] - c.score[0])),
    ];
    if profile.calibration.is_some() {
        cols.push(Column::new("p_from".into(), pick(&|c| c.probability[0])));
        cols.push(Column::new("p_to".into(), pick(&|c| c.probability[1])));
    }
    if let Some(arr) = &data.arr {
        cols.push(Column::new("arr".into(), pick(&|c| arr[c.rows[1]])));
    }
    // Each account's three largest movers, found once for the three column groups.
    let top: Vec<Vec<(usize, f64)>> = rows.iter().map(|&i| movers(ex, i, 3)).collect();
    for k in 0..3 {
        let (mut name, mut pts, mut then, mut now) = (vec![], vec![], vec![], vec![]);
        for (&i, m) in rows.iter().zip(&top) {
            match m.get(k) {
                Some(&(j, p)) => {
                    let col = &profile.metrics[j].column;
                    let c = &ex.changes[i];
                    name.push(ex.metrics[j].clone());
                    pts.push(p);
                    then.push(raw(data, col, c.rows[0]));
                    now.push(raw(data, col, c.rows[1]));
                }
                None => {
                    name.push(String::new());
                    pts.push(f64::NAN);
                    then.push(String::new());
                    now.push(String::new());
                }
            }
        }
        let r = k + 1;
        cols.push(Column::new(format!("metric_{r}").as_str().into(), name));
        cols.push(Column::new(
            format!("metric_{r}_points").as_str().into(),
            pts,
        ));
        cols.push(Column::new(
            format!("metric_{r}_then").as_str().into(),
            then,
        ));
        cols.push(Column::new(format!("metric_{r}_now").as_str().into(), now));
    }
    Ok(DataFrame::new_infer_height(cols)?)
}

/// The worklist as a workbook: one sheet per list (worse tier, dropped, P(churn) rose),
/// frozen header, number formats, the tiers in their colours. Sheets are written row by row
/// in constant memory (a temporary file per sheet), each column read once as its type.
fn workbook(
    ex: &Explanation,
    list: &DataFrame,
    profile: &profile::Profile,
) -> anyhow::Result<Vec<u8>> {
    use rust_xlsxwriter::{Color, Format, FormatBorder, Workbook};
    enum Cells<'a> {
        Numbers(&'a Float64Chunked, Format),
        Tiers(&'a StringChunked),
        Text(&'a StringChunked),
    }
    let header = Format::new()
        .set_bold()
        .set_border_bottom(FormatBorder::Thin);
    let names: Vec<String> = list
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut columns = Vec::with_capacity(names.len());
    for n in &names {
        let c = list.column(n)?;
        columns.push(match c.dtype() {
            DataType::Float64 => {
                let f = if n.starts_with("p_") {
                    Format::new().set_num_format("0.0%")
                } else if n == "arr" {
                    Format::new().set_num_format("#,##0")
                } else {
                    Format::new().set_num_format("0.0")
                };
                Cells::Numbers(c.f64()?, f)
            }
            _ if n.starts_with("tier_") => Cells::Tiers(c.str()?),
            _ => Cells::Text(c.str()?),
        });
    }
    // One format per tier, in its colour.
    let tier_formats: Vec<Format> = profile
        .tier_colors()
        .iter()
        .map(|c| {
            let hex = u32::from_str_radix(c.trim_start_matches('#'), 16).unwrap_or(0x808080);
            Format::new()
                .set_background_color(Color::RGB(hex))
                .set_font_color(Color::White)
        })
        .collect();
    let mut lists: Vec<(&str, u8)> =
        vec![("Worse tier", why::WORSE_TIER), ("Dropped", why::DROPPED)];
    if profile.calibration.is_some() {
        lists.push(("P(churn) rose", why::RISK_ROSE));
    }
    let mut book = Workbook::new();
    for (title, flag) in lists {
        let ws = book.add_worksheet_with_constant_memory()?;
        ws.set_name(title)?;
        for (j, n) in names.iter().enumerate() {
            ws.set_column_width(j as u16, (n.len().max(10) + 2) as f64)?;
            ws.write_with_format(0, j as u16, n.as_str(), &header)?;
        }
        ws.set_freeze_panes(1, 0)?;
        let mut r = 1u32;
        for (pos, &i) in ex.worklist.iter().enumerate() {
            if ex.changes[i].flags & flag == 0 {
                continue;
            }
            for (j, cells) in columns.iter().enumerate() {
                let c = j as u16;
                match cells {
                    Cells::Numbers(ca, f) => {
                        if let Some(x) = ca.get(pos).filter(|x| x.is_finite()) {
                            ws.write_number_with_format(r, c, x, f)?;
                        }
                    }
                    Cells::Tiers(ca) => {
                        if let Some(t) = ca.get(pos) {
                            match ex.tiers.iter().position(|n| n == t) {
                                Some(k) if k < tier_formats.len() => {
                                    ws.write_string_with_format(r, c, t, &tier_formats[k])?;
                                }
                                _ => {
                                    ws.write_string(r, c, t)?;
                                }
                            }
                        }
                    }
                    Cells::Text(ca) => {
                        if let Some(t) = ca.get(pos).filter(|t| !t.is_empty()) {
                            ws.write_string(r, c, t)?;
                        }
                    }
                }
            }
            r += 1;
        }
        if r > 1 {
            ws.autofilter(0, 0, r - 1, (names.len() - 1) as u16)?;
        }
    }
    Ok(book.save_to_buffer()?)
}
