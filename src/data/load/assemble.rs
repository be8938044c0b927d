//! Assembly of the converted columns into [`Snapshots`]: targets per role, the checks on
//! the whole table (duplicates, two outcome classes), outcomes derived from churn dates.

use super::*;

/// Where a column's values go in [`Snapshots`].
#[derive(Clone, Copy)]
pub(super) enum Role {
    Metric(usize),
    Segment(usize),
    Accounts,
    Dates,
    Outcome,
    Since,
    ChurnDate,
    Arr,
}

/// A column's values converted so far.
pub(super) enum Sink {
    Numbers {
        values: Vec<f64>,
        boolean: bool,
        style: NumberStyle,
        /// Values read by stripping a percent sign, a currency or thousands separators.
        stripped: usize,
    },
    Codes {
        codes: Vec<u32>,
        interner: Interner,
        missing_label: Option<&'static str>,
        /// Why a missing value is an error, when it is.
        required: Option<&'static str>,
    },
    Days {
        days: Vec<Day>,
        required: Option<&'static str>,
        format: DateFormat,
        /// Whether the format was detected (then a value it does not read is reported
        /// with the formats churncal knows and the flag).
        detected: bool,
    },
    Outcome(Vec<u8>, Option<OutcomeLabels>),
}

/// One column being read, batch after batch.
pub(super) struct Target<'a> {
    pub(super) column: &'a str,
    pub(super) role: Role,
    pub(super) sink: Sink,
    /// Whether the values are passed on after each batch (a streaming load's metrics):
    /// then the target holds one batch, not the file.
    pub(super) batch_only: bool,
}

impl Target<'_> {
    /// Room for `rows` values in all: a column that grows by copying touches its memory
    /// twice, and room never written to is not resident.
    pub(super) fn reserve(&mut self, rows: usize) {
        if self.batch_only {
            return;
        }
        fn room<T>(v: &mut Vec<T>, rows: usize) {
            v.reserve_exact(rows.saturating_sub(v.len()));
        }
        match &mut self.sink {
            Sink::Numbers { values, .. } => room(values, rows),
            Sink::Codes { codes, .. } => room(codes, rows),
            Sink::Days { days, .. } => room(days, rows),
            Sink::Outcome(outcomes, _) => room(outcomes, rows),
        }
    }

    pub(super) fn append(&mut self, s: &Series, ctx: Ctx) -> Result<(), DataError> {
        match &mut self.sink {
            Sink::Numbers {
                values,
                boolean,
                style,
                stripped,
            } => {
                if *boolean {
                    to_bool(s, ctx, values)
                } else {
                    *stripped += to_f64(s, ctx, *style, values)?;
                    Ok(())
                }
            }
            Sink::Codes {
                codes,
                interner,
                missing_label,
                required,
            } => {
                let start = codes.len();
                interner.push(s, ctx, *missing_label, codes)?;
                match required {
                    Some(why) => match codes[start..]
                        .iter()
                        .position(|&c| c == MetricColumn::MISSING_CODE)
                    {
                        Some(i) => Err(ctx.missing(i, why)),
                        None => Ok(()),
                    },
                    None => Ok(()),
                }
            }
            Sink::Days {
                days,
                required,
                format,
                detected,
            } => to_days(s, ctx, *required, (format, *detected), days),
            Sink::Outcome(out, labels) => to_outcome(s, ctx, labels.as_ref(), out),
        }
    }
}

/// The columns to read, in the order their errors are reported.
pub(super) fn targets<'a>(cols: &'a Columns, decided: &formats::Decided) -> Vec<Target<'a>> {
    let numbers = |boolean| Sink::Numbers {
        values: Vec::new(),
        boolean,
        style: decided.numbers,
        stripped: 0,
    };
    let codes = |missing_label, required| Sink::Codes {
        codes: Vec::new(),
        interner: Interner::default(),
        missing_label,
        required,
    };
    let days = |column: &str, required| {
        let (format, origin) = decided.date_format(column);
        Sink::Days {
            days: Vec::new(),
            required,
            format,
            detected: origin == Some(Origin::Detected),
        }
    };
    let mut t = Vec::new();
    let mut push = |column: &'a str, role, sink| {
        t.push(Target {
            column,
            role,
            sink,
            batch_only: false,
        });
    };
    if let Some(c) = &cols.id {
        push(
            c,
            Role::Accounts,
            codes(None, Some("every snapshot needs an account id")),
        );
    }
    if let Some(c) = &cols.date {
        push(c, Role::Dates, days(c, Some("every snapshot needs a date")));
    }
    if let Some(c) = &cols.outcome {
        push(
            c,
            Role::Outcome,
            Sink::Outcome(Vec::new(), cols.outcome_labels.clone()),
        );
    }
    for (i, (c, k)) in cols.metrics.iter().enumerate() {
        let sink = match k {
            InputKind::Numeric => numbers(false),
            InputKind::Boolean => numbers(true),
            InputKind::Text => codes(None, None),
        };
        push(c, Role::Metric(i), sink);
    }
    for (i, c) in cols.segments.iter().enumerate() {
        push(c, Role::Segment(i), codes(Some("(missing)"), None));
    }
    if let Some(c) = &cols.customer_since {
        push(c, Role::Since, days(c, None));
    }
    if let Some(c) = &cols.churn_date {
        push(c, Role::ChurnDate, days(c, None));
    }
    if let Some(c) = &cols.arr {
        push(c, Role::Arr, numbers(false));
    }
    t
}

/// Appends a frame's rows (the file's rows from `first_row`, 0-based) to the targets.
pub(super) fn append_frame(
    path: &str,
    targets: &mut [Target],
    df: DataFrame,
    first_row: usize,
) -> Result<(), DataError> {
    // Each target takes its column (a reference-counted handle) and the frame goes: a
    // column's memory is freed as soon as its conversion is done.
    let columns: Vec<Column> = targets
        .iter()
        .map(|t| {
            df.column(t.column)
                .expect("resolved columns are selected")
                .clone()
        })
        .collect();
    drop(df);
    // Every column converts independently: in parallel, with the first error in column
    // order reported, so that the message is deterministic.
    let results: Vec<Result<(), DataError>> = targets
        .par_iter_mut()
        .zip(columns)
        .map(|(t, column)| {
            let ctx = Ctx {
                path,
                column: t.column,
                first_row,
            };
            t.append(column.as_materialized_series(), ctx)
        })
        .collect();
    results.into_iter().collect()
}

/// The snapshots from the converted columns.
pub(super) fn assemble(
    path: &str,
    req: &LoadRequest,
    cols: &Columns,
    targets: Vec<Target>,
    n: usize,
) -> Result<Snapshots, DataError> {
    let mut notes = LoadNotes::default();
    let mut snap = Snapshots {
        source: path.to_string(),
        rows: n,
        account: Vec::new(),
        account_names: None,
        n_accounts: n,
        id_column: cols.id.clone().unwrap_or_else(|| "row".into()),
        date: None,
        date_column: cols.date.clone(),
        outcome: None,
        outcome_source: cols.outcome.clone(),
        metrics: cols
            .metrics
            .iter()
            .map(|(c, _)| (c.clone(), MetricColumn::Numeric(Vec::new())))
            .collect(),
        segments: cols
            .segments
            .iter()
            .map(|c| Segment {
                name: c.clone(),
                codes: Vec::new(),
                labels: Vec::new(),
            })
            .collect(),
        customer_since: None,
        churn_date: None,
        arr: None,
        arr_column: cols.arr.clone(),
        source_row: (1..=n as u32).into_par_iter().collect(),
        notes: LoadNotes::default(),
    };
    for t in &targets {
        if let Sink::Numbers { stripped, .. } = &t.sink {
            if *stripped > 0 {
                notes
                    .formats
                    .stripped
                    .push((t.column.to_string(), *stripped));
            }
        }
    }
    for Target {
        role,
        sink,
        batch_only,
        ..
    } in targets
    {
        match (role, sink) {
            (Role::Metric(i), Sink::Numbers { values, .. }) => {
                snap.metrics[i].1 = MetricColumn::Numeric(values);
            }
            (
                Role::Metric(i),
                Sink::Codes {
                    codes, interner, ..
                },
            ) => {
                let labels = interner.into_labels();
                snap.metrics[i].1 = MetricColumn::Text { codes, labels };
            }
            (
                Role::Segment(i),
                Sink::Codes {
                    codes, interner, ..
                },
            ) => {
                snap.segments[i].codes = codes;
                snap.segments[i].labels = interner.into_labels();
            }
            (
                Role::Accounts,
                Sink::Codes {
                    codes, interner, ..
                },
            ) => {
                let names = interner.into_labels();
                snap.n_accounts = names.len();
                snap.account = codes;
                snap.account_names = Some(names);
            }
            (Role::Dates, Sink::Days { days, .. }) => snap.date = Some(days),
            (Role::Outcome, Sink::Outcome(o, _)) => snap.outcome = Some(o),
            (Role::Since | Role::ChurnDate, _) if batch_only => {}
            (Role::Since, Sink::Days { days, .. }) => snap.customer_since = Some(days),
            (Role::ChurnDate, Sink::Days { days, .. }) => snap.churn_date = Some(days),
            (Role::Arr, Sink::Numbers { values, .. }) => snap.arr = Some(values),
            _ => unreachable!("each role is given its kind of sink by `targets`"),
        }
    }
    if cols.id.is_none() {
        snap.account = (0..n as u32).collect();
        notes.warnings.push(LoadWarning::NoAccountId {
            path: path.to_string(),
            column: req
                .roles
                .id
                .as_deref()
                .unwrap_or(Roles::DEFAULT_ID)
                .to_string(),
        });
    }
    check_duplicates(&snap)?;
    if let Some(h) = req.horizon {
        let name = cols
            .churn_date
            .as_deref()
            .unwrap_or(Roles::DEFAULT_CHURN_DATE);
        derive_outcome(&mut snap, h, req.as_of, name, &mut notes);
    }
    snap.notes = notes;
    if req.outcome == OutcomeNeed::Required {
        check_two_classes(&snap)?;
    }
    Ok(snap)
}

/// Two rows with the same (account, date) are an error naming both rows.
pub(super) fn check_duplicates(s: &Snapshots) -> Result<(), DataError> {
    if s.account_names.is_none() {
        return Ok(()); // row-number ids are unique
    }
    let key = |i: u32| {
        (
            s.account[i as usize],
            s.date.as_ref().map_or(0, |d| d[i as usize]),
        )
    };
    // In (account, date) order equal keys are neighbours, the first in the file first.
    let order = crate::data::order::all_by_account_date(
        s.rows,
        &s.account,
        s.n_accounts,
        s.date.as_deref(),
    );
    let Some(w) = order.windows(2).find(|w| key(w[0]) == key(w[1])) else {
        return Ok(());
    };
    let (first, second) = (w[0] as usize, w[1] as usize);
    Err(DataError::DuplicateKey {
        path: s.source.clone(),
        first: s.source_row[first] as usize,
        second: s.source_row[second] as usize,
        account: s.account_name(s.account[first]).into_owned(),
        date: s.date.as_ref().map(|d| parse::format_day(d[first])),
    })
}

/// Label each snapshot from the churn date: churned = 1 when
/// `snapshot_date < churn_date <= snapshot_date + H`. Snapshots on or after the churn date
/// are dropped; snapshots whose horizon passes the data's last date without a churn are
/// right-censored (dropped). Both are counted.
pub(super) fn derive_outcome(
    s: &mut Snapshots,
    h: crate::data::Horizon,
    as_of: Option<Day>,
    churn_column: &str,
    notes: &mut LoadNotes,
) {
    let dates = s.date.as_ref().expect("checked: --horizon needs dates");
    let churn = s
        .churn_date
        .as_ref()
        .expect("checked: --horizon needs churn dates");
    let last = as_of.unwrap_or_else(|| {
        dates
            .iter()
            .chain(churn.iter().filter(|&&d| d != NO_DAY))
            .copied()
            .max()
            .unwrap_or(0)
    });
    let mut end_of: FxHashMap<Day, Day> = FxHashMap::default();
    let mut keep = Vec::with_capacity(s.rows);
    let mut outcome = Vec::with_capacity(s.rows);
    for i in 0..s.rows {
        let d = dates[i];
        let c = churn[i];
        let end = *end_of.entry(d).or_insert_with(|| h.add_to(d));
        if c != NO_DAY && c <= d {
            notes.after_churn += 1;
            continue;
        }
        if c != NO_DAY && c <= end && c <= last {
            keep.push(i);
            outcome.push(1u8);
        } else if end > last {
            notes.censored += 1;
        } else {
            keep.push(i);
            outcome.push(0u8);
        }
    }
    s.retain_rows(&keep);
    s.outcome = Some(outcome);
    s.outcome_source = Some(format!("{churn_column} within {h}"));
    if notes.censored > 0 {
        notes.warnings.push(LoadWarning::RightCensored {
            count: notes.censored,
            horizon: h,
            last,
        });
    }
    if notes.after_churn > 0 {
        notes.warnings.push(LoadWarning::AfterChurn {
            count: notes.after_churn,
        });
    }
}

pub(super) fn check_two_classes(s: &Snapshots) -> Result<(), DataError> {
    let o = s.outcome.as_ref().expect("required outcome is loaded");
    let churned = o.iter().filter(|&&y| y == 1).count();
    let column = s.outcome_source.clone().unwrap_or_default();
    if churned == 0 || churned == o.len() {
        return Err(DataError::OneClass {
            path: s.source.clone(),
            column,
            class: if churned == 0 { "retained" } else { "churned" },
            rows: o.len(),
        });
    }
    Ok(())
}

impl Snapshots {
    /// Keep only the rows at `keep` (ascending indices), in every column.
    pub fn retain_rows(&mut self, keep: &[usize]) {
        if keep.len() == self.rows {
            return;
        }
        *self = self.select_rows(keep);
    }

    /// A new set holding only the rows at `keep` (indices into this one), every column
    /// copied row by row; the rest is not cloned.
    pub fn select_rows(&self, keep: &[usize]) -> Snapshots {
        self.select(keep, true)
    }

    /// [`Snapshots::select_rows`] without the metric values (for what needs the rows'
    /// accounts, dates, outcomes and segments only).
    pub fn select_rows_without_metrics(&self, keep: &[usize]) -> Snapshots {
        self.select(keep, false)
    }

    /// [`Snapshots::select_rows`] for a caller done with the metric values: each metric
    /// column is taken out of this set as its rows are copied, so that the values of every
    /// row and of the selected ones are never all in memory together. This set is left
    /// without metric columns.
    pub fn select_rows_taking_metrics(&mut self, keep: &[usize]) -> Snapshots {
        let mut out = self.select(keep, false);
        out.metrics = std::mem::take(&mut self.metrics)
            .into_iter()
            .map(|(n, m)| {
                let m = match m {
                    MetricColumn::Numeric(v) => {
                        MetricColumn::Numeric(keep.iter().map(|&i| v[i]).collect())
                    }
                    MetricColumn::Text { codes, labels } => MetricColumn::Text {
                        codes: keep.iter().map(|&i| codes[i]).collect(),
                        labels,
                    },
                };
                (n, m)
            })
            .collect();
        out
    }

    pub(super) fn select(&self, keep: &[usize], metrics: bool) -> Snapshots {
        fn pick<T: Copy>(v: &[T], keep: &[usize]) -> Vec<T> {
            keep.iter().map(|&i| v[i]).collect()
        }
        Snapshots {
            source: self.source.clone(),
            rows: keep.len(),
            account: pick(&self.account, keep),
            account_names: self.account_names.clone(),
            n_accounts: self.n_accounts,
            id_column: self.id_column.clone(),
            date: self.date.as_ref().map(|d| pick(d, keep)),
            date_column: self.date_column.clone(),
            outcome: self.outcome.as_ref().map(|o| pick(o, keep)),
            outcome_source: self.outcome_source.clone(),
            metrics: self
                .metrics
                .iter()
                .filter(|_| metrics)
                .map(|(n, m)| {
                    let m = match m {
                        MetricColumn::Numeric(v) => MetricColumn::Numeric(pick(v, keep)),
                        MetricColumn::Text { codes, labels } => MetricColumn::Text {
                            codes: pick(codes, keep),
                            labels: labels.clone(),
                        },
                    };
                    (n.clone(), m)
                })
                .collect(),
            segments: self
                .segments
                .iter()
                .map(|s| super::Segment {
                    name: s.name.clone(),
                    codes: pick(&s.codes, keep),
                    labels: s.labels.clone(),
                })
                .collect(),
            customer_since: self.customer_since.as_ref().map(|v| pick(v, keep)),
            churn_date: self.churn_date.as_ref().map(|v| pick(v, keep)),
            arr: self.arr.as_ref().map(|v| pick(v, keep)),
            arr_column: self.arr_column.clone(),
            source_row: pick(&self.source_row, keep),
            notes: self.notes.clone(),
        }
    }
}
