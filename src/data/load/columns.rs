//! The request's roles resolved against the file's columns: which column plays each role,
//! with the closest names when one is missing.

use super::*;

/// Column names resolved against the file.
pub(super) struct Columns {
    pub(super) id: Option<String>,
    pub(super) date: Option<String>,
    pub(super) outcome: Option<String>,
    pub(super) metrics: Vec<(String, InputKind)>,
    pub(super) segments: Vec<String>,
    pub(super) customer_since: Option<String>,
    pub(super) churn_date: Option<String>,
    pub(super) arr: Option<String>,
    /// The outcome's own labels, when given.
    pub(super) outcome_labels: Option<OutcomeLabels>,
}

impl Columns {
    pub(super) fn all(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        let mut push = |c: &String| {
            if !v.contains(c) {
                v.push(c.clone());
            }
        };
        for c in [&self.id, &self.date, &self.outcome].into_iter().flatten() {
            push(c);
        }
        for (c, _) in &self.metrics {
            push(c);
        }
        for c in &self.segments {
            push(c);
        }
        for c in [&self.customer_since, &self.churn_date, &self.arr]
            .into_iter()
            .flatten()
        {
            push(c);
        }
        v
    }
}

pub(super) fn resolve(
    path: &str,
    req: &LoadRequest,
    available: &[String],
) -> Result<Columns, DataError> {
    let missing = |role: ColumnRole, column: &str| DataError::MissingColumn {
        path: path.into(),
        role,
        column: column.into(),
        closest: closest_names(column, available),
        available: available.to_vec(),
    };
    let has = |c: &str| available.iter().any(|a| a == c);
    // An explicitly named role column must exist; a default one is used when present.
    let role = |given: &Option<String>,
                default: &str,
                what: ColumnRole|
     -> Result<Option<String>, DataError> {
        match given {
            Some(c) if has(c) => Ok(Some(c.clone())),
            Some(c) => Err(missing(what, c)),
            None if has(default) => Ok(Some(default.to_string())),
            None => Ok(None),
        }
    };
    let r = &req.roles;
    let id = role(&r.id, Roles::DEFAULT_ID, ColumnRole::AccountId)?;
    let date = role(&r.date, Roles::DEFAULT_DATE, ColumnRole::SnapshotDate)?;
    let churn_date = role(
        &r.churn_date,
        Roles::DEFAULT_CHURN_DATE,
        ColumnRole::ChurnDate,
    )?;
    let outcome = if req.horizon.is_some() {
        None
    } else {
        match role(&r.outcome, Roles::DEFAULT_OUTCOME, ColumnRole::Outcome) {
            Ok(o) => o,
            Err(e) if req.outcome == OutcomeNeed::Required => return Err(e),
            Err(_) => None,
        }
    };
    if req.outcome == OutcomeNeed::Required && outcome.is_none() && req.horizon.is_none() {
        let column = r.outcome.clone().unwrap_or(Roles::DEFAULT_OUTCOME.into());
        let closest = closest_names(&column, available);
        return Err(DataError::NoOutcome {
            path: path.into(),
            column,
            has_churn_date: churn_date.is_some(),
            closest,
        });
    }
    if req.horizon.is_some() {
        if churn_date.is_none() {
            return Err(missing(
                ColumnRole::ForHorizon(Box::new(ColumnRole::ChurnDate)),
                r.churn_date.as_deref().unwrap_or(Roles::DEFAULT_CHURN_DATE),
            ));
        }
        if date.is_none() {
            return Err(missing(
                ColumnRole::ForHorizon(Box::new(ColumnRole::SnapshotDate)),
                r.date.as_deref().unwrap_or(Roles::DEFAULT_DATE),
            ));
        }
    }
    let mut metrics = Vec::new();
    for (c, k) in &req.metrics {
        if !has(c) {
            return Err(missing(ColumnRole::Metric(c.clone()), c));
        }
        metrics.push((c.clone(), *k));
    }
    let mut segments = Vec::new();
    for s in &r.segments {
        if !has(s) {
            return Err(missing(ColumnRole::Segment, s));
        }
        segments.push(s.clone());
    }
    Ok(Columns {
        id,
        date,
        outcome,
        metrics,
        segments,
        customer_since: role(
            &r.customer_since,
            Roles::DEFAULT_CUSTOMER_SINCE,
            ColumnRole::CustomerSince,
        )?,
        churn_date,
        arr: role(&r.arr, Roles::DEFAULT_ARR, ColumnRole::Revenue)?,
        outcome_labels: req.outcome_labels.clone(),
    })
}
