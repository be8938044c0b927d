//! # churncal
//!
//! Turn a customer-success health score from an educated guess into a model calibrated
//! against real churn.
//!
//! The library follows the pipeline a reader follows: [`data`] loads account snapshots
//! (CSV or Parquet) into column buffers, [`profile`] is the weight-profile file (metrics,
//! transforms, weights, missing policies, tiers, presets), [`score`] turns snapshots into
//! scores, tiers, probabilities and reason codes, and [`synth`] generates the sample data.
//! Outputs are written at the edge by [`output`]. The command-line tool `churncal` is a thin
//! layer over these modules.
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

pub mod alloc;
pub mod analysis;
pub mod audit;
pub mod calibrate;
pub mod data;
pub mod output;
pub mod pack;
pub mod profile;
pub mod report;
pub mod score;
pub mod stats;
pub mod synth;
pub mod validate;

/// The tool's name and version, as written into calibrated profiles.
pub const TOOL: &str = concat!("churncal ", env!("CARGO_PKG_VERSION"));
