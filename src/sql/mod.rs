//! Profiles compiled to SQL, for data that lives in a warehouse or a lakehouse.
//!
//! [`SqlParams`] names the dialect, the table and its column roles; [`SqlParams::compile`]
//! turns a [`Profile`] into one query per [`Job`]:
//!
//! - [`Job::Score`]: per snapshot the score, group scores, tier, P(churn) and the reason
//!   codes, with the definitions of [`crate::score`] operation for operation (the same
//!   additions in the same order, the same constants to the last bit), so that an engine's
//!   doubles are churncal's;
//! - [`Job::Tiers`]: churn counts per tier and score band (per segment too), which
//!   `churncal tiers --counts` turns into the tier report;
//! - [`Job::Sample`]: the case-control sample `calibrate --sample-controls` fits, drawn by
//!   the same hash of seed and account ([`crate::data::controls`]);
//! - [`Job::Snapshots`]: the snapshot table built from raw accounts, events, invoices,
//!   surveys and churns tables.
//!
//! What a dialect cannot express is refused with [`SqlError`], never approximated.

mod dialect;
mod sample;
mod score;
mod snapshots;
mod tiers;

use thiserror::Error;

pub use crate::data::controls::{controls_kept, sample_key, SAMPLE_HEX};
pub use dialect::Dialect;
pub use snapshots::SnapshotSpec;
pub use tiers::COUNT_COLUMNS;

use crate::profile::set::Profiles;
use crate::profile::Profile;

/// Problems compiling a profile to SQL.
#[derive(Debug, Error, PartialEq)]
pub enum SqlError {
    /// A parameter is out of range.
    #[error("{param}: {message}")]
    BadParam {
        /// The parameter.
        param: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The profile uses something the dialect cannot express exactly.
    #[error("metric '{metric}': {message} in {dialect}")]
    Unsupported {
        /// The metric.
        metric: String,
        /// What cannot be expressed.
        message: String,
        /// The dialect.
        dialect: &'static str,
    },
}

/// Which query to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// Score, group scores, tier, P(churn), reason codes and a refusal note per row.
    Score,
    /// Counts of snapshots and churned snapshots per tier and score band.
    Tiers {
        /// Score band cut points, ascending (those of `churncal tiers --bands`).
        bands: Vec<f64>,
        /// What a counted row is.
        unit: crate::analysis::Unit,
    },
    /// Every churned snapshot and the retained snapshots of a hashed share of accounts.
    Sample {
        /// Share of accounts whose retained snapshots are kept, in (0, 1].
        rate: f64,
        /// The seed mixed into the hash.
        seed: u64,
    },
    /// The snapshot table from raw tables.
    Snapshots(SnapshotSpec),
}

impl Job {
    /// The job's name on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Job::Score => "score",
            Job::Tiers { .. } => "tiers",
            Job::Sample { .. } => "sample",
            Job::Snapshots(_) => "snapshots",
        }
    }
}

/// The columns of the table that play a role besides the profile's metrics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Columns {
    /// Account id column (needed by `sample`).
    pub account: Option<String>,
    /// Snapshot date column.
    pub date: Option<String>,
    /// Outcome column, 0/1 or boolean (needed by `tiers` and `sample`).
    pub outcome: Option<String>,
    /// Segment columns, carried through the score table.
    pub segments: Vec<String>,
    /// Revenue (ARR) column, summed by the tiers job.
    pub arr: Option<String>,
}

/// What to compile: dialect, source table, column roles and the job.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlParams {
    /// The SQL dialect.
    pub dialect: Dialect,
    /// The table or view holding the snapshots (`schema.table` allowed).
    pub table: String,
    /// Column roles.
    pub columns: Columns,
    /// The query to write.
    pub job: Job,
}

impl SqlParams {
    /// Parameters for `job` over `table` in `dialect`, with the default roles
    /// (`account_id`, `snapshot_date`, `churned`).
    pub fn new(dialect: Dialect, table: &str, job: Job) -> Self {
        SqlParams {
            dialect,
            table: table.to_string(),
            columns: Columns {
                account: Some("account_id".into()),
                date: Some("snapshot_date".into()),
                outcome: Some("churned".into()),
                segments: Vec::new(),
                arr: None,
            },
            job,
        }
    }

    /// Check the parameters.
    pub fn check(&self) -> Result<(), SqlError> {
        if self.table.trim().is_empty() && !matches!(self.job, Job::Snapshots(_)) {
            return Err(bad(
                "table",
                "name the table or view that holds the snapshots",
            ));
        }
        match &self.job {
            Job::Tiers { bands, .. } => {
                crate::analysis::tiers::check_bands(bands).map_err(|m| bad("bands", &m))?;
                if self.columns.outcome.is_none() {
                    return Err(bad(
                        "outcome",
                        "the tiers job counts churn: name the outcome column",
                    ));
                }
            }
            Job::Sample { rate, .. } => {
                if !(*rate > 0.0 && *rate <= 1.0) {
                    return Err(bad("rate", &format!("must lie in (0, 1], got {rate}")));
                }
                if self.columns.account.is_none() || self.columns.outcome.is_none() {
                    return Err(bad(
                        "columns",
                        "the sample keeps whole accounts by outcome: name the account and outcome columns",
                    ));
                }
            }
            Job::Snapshots(spec) => spec.check()?,
            Job::Score => {}
        }
        Ok(())
    }

    /// The query for `profile` (checked); a job that needs no profile ignores it.
    pub fn compile(&self, profile: &Profile) -> Result<String, SqlError> {
        self.compile_for(&Profiles::One(profile.clone()))
    }

    /// The query for a profile or a profile set (each row scored by its segment value's
    /// profile); a job that needs no profile ignores it.
    pub fn compile_for(&self, profiles: &Profiles) -> Result<String, SqlError> {
        self.check()?;
        let profile = profiles.main();
        let d = self.dialect;
        let head = format!(
            "-- churncal {}: {} job for profile '{}', {} dialect.\n",
            env!("CARGO_PKG_VERSION"),
            self.job.name(),
            profile.name.replace('\n', " "),
            d.name()
        );
        let body = match &self.job {
            Job::Score => score::query_for(profiles, self, score::Ending::Table)?,
            Job::Tiers { bands, unit } => tiers::query(profiles, self, bands, *unit)?,
            Job::Sample { rate, seed } => sample::query(self, *rate, *seed),
            Job::Snapshots(spec) => snapshots::query(spec, d),
        };
        Ok(format!("{head}{body}"))
    }
}

fn bad(param: &'static str, message: &str) -> SqlError {
    SqlError::BadParam {
        param,
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests;
