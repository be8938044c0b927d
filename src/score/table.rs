//! The per-snapshot score table `score` writes, as a polars frame and as CSV or Parquet.

use std::io::Write;

use polars::prelude::*;

use super::Scored;
use crate::data::Snapshots;

/// Output file formats of tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// Comma-separated text.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl TableFormat {
    /// `.parquet` / `.pq` is Parquet, anything else (and `-`) CSV.
    pub fn from_path(path: &str) -> Self {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".parquet") || lower.ends_with(".pq") {
            TableFormat::Parquet
        } else {
            TableFormat::Csv
        }
    }
}

/// One row per snapshot: id, date, score, group scores, tier, probability, reasons.
pub fn score_frame(data: &Snapshots, s: &Scored) -> PolarsResult<DataFrame> {
    let n = data.rows;
    let mut cols: Vec<Column> = Vec::new();
    let ids: StringChunked = match &data.account_names {
        Some(names) => StringChunked::from_iter_values(
            data.id_column.as_str().into(),
            data.account.iter().map(|&a| names[a as usize].as_str()),
        ),
        None => StringChunked::from_iter_values(
            "row".into(),
            data.source_row.iter().map(|r| r.to_string()),
        ),
    };
    cols.push(ids.into_series().into());
    if let (Some(d), Some(name)) = (&data.date, &data.date_column) {
        let days = Int32Chunked::from_vec(name.as_str().into(), d.clone());
        cols.push(days.into_series().cast(&DataType::Date)?.into());
    }
    cols.push(Column::new("score".into(), round(&s.score, 2)));
    for (label, g) in s.group_labels.iter().zip(&s.group_scores) {
        cols.push(Column::new(format!("group_{label}").into(), round(g, 2)));
    }
    let tiers = StringChunked::from_iter_options(
        "tier".into(),
        s.tier
            .iter()
            .map(|&t| s.tier_names.get(t as usize).map(String::as_str)),
    );
    cols.push(tiers.into_series().into());
    if let Some(p) = &s.probability {
        cols.push(Column::new("p_churn".into(), round(p, 6)));
    }
    for r in 0..s.reasons_per_row {
        let names = StringChunked::from_iter_options(
            format!("reason_{}", r + 1).into(),
            (0..n).map(|i| {
                s.metric_names
                    .get(s.reasons[i * s.reasons_per_row + r] as usize)
                    .map(String::as_str)
            }),
        );
        cols.push(names.into_series().into());
        let pts: Vec<Option<f64>> = (0..n)
            .map(|i| {
                let j = i * s.reasons_per_row + r;
                (s.reasons[j] != u16::MAX)
                    .then(|| (s.reason_points[j] as f64 * 100.0).round() / 100.0)
            })
            .collect();
        cols.push(Column::new(format!("reason_{}_points", r + 1).into(), pts));
    }
    DataFrame::new(n, cols)
}

fn round(v: &[f64], digits: i32) -> Vec<Option<f64>> {
    let f = 10f64.powi(digits);
    v.iter()
        .map(|&x| (!x.is_nan()).then(|| (x * f).round() / f))
        .collect()
}

/// Write a frame in the given format.
pub fn write_table(df: &mut DataFrame, format: TableFormat, w: &mut dyn Write) -> PolarsResult<()> {
    match format {
        TableFormat::Csv => CsvWriter::new(w).include_header(true).finish(df),
        TableFormat::Parquet => ParquetWriter::new(w).finish(df).map(|_| ()),
    }
}
