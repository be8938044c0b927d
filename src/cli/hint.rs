//! Flag hints: the library reports errors in its own terms (a column's role, a parameter,
//! a side of the split); the command line adds the flag that resolves them.

use churncal::analysis::stage::AnalysisError;
use churncal::calibrate::CalibrateError;
use churncal::data::{ColumnRole, DataError, LoadWarning};
use churncal::pack::PackError;
use churncal::validate::{SplitPart, ValidateError};

/// The flag that names a column of `role`, if a flag does.
fn role_flag(role: &ColumnRole) -> Option<&'static str> {
    Some(match role {
        ColumnRole::AccountId => "--id-col",
        ColumnRole::SnapshotDate => "--date-col",
        ColumnRole::Outcome => "--outcome-col",
        ColumnRole::ChurnDate => "--churn-date-col",
        ColumnRole::CustomerSince => "--customer-since-col",
        ColumnRole::Revenue => "--arr-col",
        ColumnRole::Segment => "--segment",
        ColumnRole::Metric(_) => return None,
        ColumnRole::ForHorizon(inner) => return role_flag(inner),
    })
}

fn data(e: &DataError) -> Option<String> {
    match e {
        DataError::MissingColumn { role, .. } => {
            role_flag(role).map(|f| format!("name the {role} column with {f}"))
        }
        DataError::NoOutcome {
            has_churn_date: true,
            ..
        } => Some(
            "pass --horizon (like 90d or 12m) to derive the outcome from the churn date".into(),
        ),
        DataError::NoOutcome { .. } => Some("name the outcome column with --outcome-col".into()),
        DataError::Encoding { .. } => {
            Some("pass --encoding latin1 for a Latin-1 or Windows-1252 export".into())
        }
        DataError::UnknownOutcome { labels: None, .. } => Some(
            "name the label that means churned with --churned-value LABEL (the others count as retained unless --retained-value names them)".into(),
        ),
        DataError::UnknownOutcome { .. } => {
            Some("add the label to --churned-value or --retained-value".into())
        }
        DataError::AmbiguousDates {
            month_first,
            day_first,
            ..
        } => Some(format!(
            "pass --date-format {} or --date-format {}",
            month_first.pattern(),
            day_first.pattern()
        )),
        DataError::NoSheet { .. } => Some("name one of them with --sheet".into()),
        DataError::BadValue { expected, .. } => value_hint(expected),
        _ => None,
    }
}

/// The flag that reads a value the loader refused, by what it expected.
fn value_hint(expected: &str) -> Option<String> {
    use churncal::data::numbers;
    Some(match expected {
        numbers::NEEDS_LENIENT => {
            "pass --lenient-numbers to strip percent signs, currencies and thousands separators"
                .into()
        }
        numbers::NEEDS_DECIMAL_COMMA => "pass --decimal-comma to read 45,5 as 45.5".into(),
        numbers::NEEDS_EITHER => {
            "pass --decimal-comma if the comma is the decimal mark, or --lenient-numbers if it separates thousands".into()
        }
        numbers::NEEDS_COMMA => {
            "the file's numbers were read with a decimal comma: pass --decimal-point if it uses points, or --lenient-numbers to read points as thousands separators".into()
        }
        e if e.starts_with("a date") => {
            "name the column's format with --date-format, a strftime pattern like %d/%m/%Y, %m/%d/%Y or %d-%b-%Y".into()
        }
        _ => return None,
    })
}

fn calibrate(e: &CalibrateError) -> Option<String> {
    match e {
        CalibrateError::TooFewEvents { .. } => Some("pass --force to fit anyway".into()),
        CalibrateError::BadParam { param, .. } => {
            Some(format!("set by --{}", param.replace('_', "-")))
        }
        _ => None,
    }
}

fn validate(e: &ValidateError) -> Option<String> {
    match e {
        ValidateError::OneClass {
            part: SplitPart::Validation,
            ..
        } => Some("pass an earlier --holdout-from".into()),
        ValidateError::OneClass {
            part: SplitPart::Development,
            ..
        } => Some("pass a later --holdout-from".into()),
        _ => None,
    }
}

fn analysis(e: &AnalysisError) -> Option<String> {
    match e {
        AnalysisError::NeedsColumn { role, .. } => {
            role_flag(role).map(|f| format!("name the {role} column with {f}"))
        }
        _ => None,
    }
}

fn pack(e: &PackError) -> Option<String> {
    match e {
        PackError::Calibrate(c) => calibrate(c),
        PackError::Validate(v) => validate(v),
        PackError::Analysis(a) => analysis(a),
        PackError::Explain(x) => explain(x),
        _ => None,
    }
}

fn explain(e: &churncal::explain::ExplainError) -> Option<String> {
    use churncal::explain::ExplainError;
    match e {
        ExplainError::NoSuchDate { .. } => {
            Some("pass --from and --to with dates the data has".into())
        }
        ExplainError::BadParam { param, .. } => Some(format!("set by --{param}")),
        ExplainError::NeedsColumn(role) => {
            role_flag(role).map(|f| format!("name the {role} column with {f}"))
        }
        _ => None,
    }
}

/// What to add to an error so that the user knows which flag resolves it.
pub fn for_error(e: &anyhow::Error) -> Option<String> {
    e.chain().find_map(|cause| {
        if let Some(d) = cause.downcast_ref::<DataError>() {
            data(d)
        } else if let Some(c) = cause.downcast_ref::<CalibrateError>() {
            calibrate(c)
        } else if let Some(v) = cause.downcast_ref::<ValidateError>() {
            validate(v)
        } else if let Some(a) = cause.downcast_ref::<AnalysisError>() {
            analysis(a)
        } else if let Some(p) = cause.downcast_ref::<PackError>() {
            pack(p)
        } else if let Some(x) = cause.downcast_ref::<churncal::explain::ExplainError>() {
            explain(x)
        } else if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            (io.kind() == std::io::ErrorKind::AlreadyExists)
                .then(|| "pass --force to replace it, or --out another folder".to_string())
        } else {
            None
        }
    })
}

/// A load warning with the flag that addresses it.
pub fn for_warning(w: &LoadWarning) -> String {
    match w {
        LoadWarning::NoAccountId { .. } => format!("{w} (name one with --id-col)"),
        LoadWarning::RightCensored { .. } => {
            format!("{w} (pass --as-of to set the data's last date)")
        }
        LoadWarning::AfterChurn { .. } => w.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_role_but_a_metric_is_named_by_a_flag() {
        for role in [
            ColumnRole::AccountId,
            ColumnRole::SnapshotDate,
            ColumnRole::Outcome,
            ColumnRole::ChurnDate,
            ColumnRole::CustomerSince,
            ColumnRole::Revenue,
            ColumnRole::Segment,
            ColumnRole::ForHorizon(Box::new(ColumnRole::ChurnDate)),
        ] {
            assert!(role_flag(&role).is_some(), "{role}");
        }
        assert_eq!(role_flag(&ColumnRole::Metric("nps".into())), None);
    }

    #[test]
    fn an_error_under_context_still_gets_its_flag() {
        let e = anyhow::Error::new(DataError::NoOutcome {
            path: "x.csv".into(),
            column: "churned".into(),
            has_churn_date: true,
            closest: Vec::new(),
        })
        .context("loading x.csv");
        assert!(for_error(&e).unwrap().contains("--horizon"));
        let e = anyhow::Error::new(PackError::Calibrate(CalibrateError::TooFewEvents {
            events: 3,
            params: 4,
            epv: 0.75,
        }));
        assert!(for_error(&e).unwrap().contains("--force"));
        let e = anyhow::Error::new(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "out.toml exists",
        ));
        assert!(for_error(&e).unwrap().contains("--force"));
        assert!(for_error(&anyhow::anyhow!("something else")).is_none());
    }
}
