//! # churncal
//!
//! Turn a customer-success health score from an educated guess into a model calibrated
//! against real churn.
//!
//! The library is the whole tool; the `churncal` command is a thin layer over it. Its
//! modules, from the bottom layer up (each uses only those listed before it):
//!
//! - [`stats`]: AUC, DeLong, proper scores, calibration, intervals, PSI, quantiles,
//!   binning, association, small linear algebra; slices in, numbers out.
//! - [`profile`]: the weight-profile file: metrics, transforms, weights, missing-value
//!   policies, tiers, presets, checks, TOML and JSON.
//! - [`data`]: the snapshot table: CSV or Parquet into contiguous column buffers, with
//!   errors naming file, row, column and value.
//! - [`score`]: sub-scores, scores, group scores, tiers, P(churn), reason codes.
//! - [`analysis`]: churn by tier, score band, cohort and metric decile; retention curves.
//! - [`audit`]: data-quality checks before a fit, one file per criterion.
//! - [`calibrate`]: the weights fitted against churn, with cross-validation, holdout and
//!   bootstrap.
//! - [`synth`]: the sample-data generator.
//! - [`sql`]: profiles compiled to SQL for Spark, DuckDB, PostgreSQL, BigQuery and
//!   Snowflake: the score table, the tier counts, the case-control sample, the snapshots.
//! - [`validate`]: the pre-rollout gate and quarter-by-quarter monitoring.
//! - [`pack`]: the quarterly pack, composing the stages above.
//! - [`report`]: results as Markdown, CSV, JSON, HTML and SVG (pure renderers).
//! - [`output`]: atomic file writes at the edge.
//!
//! Every stage has one shape: a `…Params` struct with its defaults, `check()`, then `run`
//! (`fit` for [`calibrate::CalibrateParams`]) on the loaded [`data::Snapshots`] and a
//! [`profile::Profile`], returning numbers that [`report`] words and draws. The library
//! never prints: stage timings are `tracing` spans for the caller's subscriber.
//!
//! ```no_run
//! use churncal::{data, profile, score};
//!
//! let profile = profile::presets::preset("three-dimensions")?;
//! let request = data::LoadRequest::for_profile(&profile);
//! let snapshots = data::load("notebooks-data/sample_snapshots.csv", &request)?;
//! let subs = score::SubScores::compute(&profile, &snapshots)?;
//! let scored = score::score(&profile, &subs, score::Extent::Full);
//! println!("{} snapshots scored", scored.score.len() - scored.unscored);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod analysis;
pub mod audit;
pub mod calibrate;
pub mod data;
pub mod explain;
pub mod learn;
pub mod output;
pub mod pack;
pub mod profile;
pub mod project;
pub mod report;
pub mod score;
pub mod sql;
pub mod stats;
pub mod synth;
pub mod validate;

/// The tool's name and version, as written into calibrated profiles.
pub const TOOL: &str = concat!("churncal ", env!("CARGO_PKG_VERSION"));
