//! The flags of `--learn-transforms`, shared by `calibrate` and `report`.

use churncal::learn::{Form, LearnParams, PointsFrom, ShapeChoice};

/// Learning the transforms from the data.
#[derive(Debug, clap::Args)]
pub struct LearnArgs {
    /// Learn each numeric metric's transform as a few bins with points (optimal monotone
    /// binning) and categorical metrics' label points, then fit the weights on them; every
    /// fold, the holdout and every bootstrap replicate learn their own bins.
    #[arg(long)]
    pub learn_transforms: bool,
    /// With --learn-transforms: most bins per metric.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 5,
        requires = "learn_transforms"
    )]
    max_bins: usize,
    /// With --learn-transforms: quantile pre-bins per metric before the optimal merge.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 20,
        requires = "learn_transforms"
    )]
    prebins: usize,
    /// With --learn-transforms: neighbouring bins must differ in churn rate at this
    /// significance (two-proportion z-test), so noise is not cut into bins; 1 turns it off.
    #[arg(
        long,
        value_name = "P",
        default_value_t = 0.05,
        requires = "learn_transforms"
    )]
    max_pvalue: f64,
    /// With --learn-transforms: smallest bin, as a share of the rows.
    #[arg(
        long,
        value_name = "SHARE",
        default_value_t = 0.05,
        requires = "learn_transforms"
    )]
    min_bin_share: f64,
    /// With --learn-transforms: fewest churn events in a bin.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 5.0,
        requires = "learn_transforms"
    )]
    min_bin_events: f64,
    /// With --learn-transforms: `declared` keeps every sub-score monotone in its metric's
    /// declared direction; `auto` also allows peaked and valley shapes where the data
    /// supports them.
    #[arg(long, value_name = "SHAPE", default_value = "declared", value_parser = ["declared", "auto"], requires = "learn_transforms")]
    shape: String,
    /// With --learn-transforms: flip the direction of a metric whose data contradicts it
    /// (reported either way; never done without this flag).
    #[arg(long, requires = "learn_transforms")]
    flip_directions: bool,
    /// With --learn-transforms: shrink each bin's points toward the hand-written transform's
    /// mean on the bin, as if it were worth this many rows (0: none).
    #[arg(
        long,
        value_name = "ROWS",
        default_value_t = 0.0,
        requires = "learn_transforms"
    )]
    transform_prior: f64,
    /// With --learn-transforms: a bin's points from `joint` (one penalised logistic
    /// regression on every metric's bins: what the bin adds given the others) or `woe`
    /// (its weight of evidence alone, as a classic scorecard).
    #[arg(long, value_name = "FROM", default_value = "joint", value_parser = ["joint", "woe"], requires = "learn_transforms")]
    bin_points: String,
    /// With --learn-transforms: `ramps` puts a point at each bin's middle value with straight
    /// lines between (no cliff at an edge); `steps` keeps each bin flat and writes its edges.
    #[arg(long, value_name = "FORM", default_value = "ramps", value_parser = ["ramps", "steps"], requires = "learn_transforms")]
    bin_form: String,
}

impl LearnArgs {
    /// The learning's parameters, checked; `None` without `--learn-transforms`.
    pub fn params(&self) -> anyhow::Result<Option<LearnParams>> {
        if !self.learn_transforms {
            return Ok(None);
        }
        let lp = LearnParams::default()
            .max_bins(self.max_bins)
            .max_prebins(self.prebins)
            .max_pvalue((self.max_pvalue < 1.0).then_some(self.max_pvalue))
            .min_bin_share(self.min_bin_share)
            .min_bin_events(self.min_bin_events)
            .shape(if self.shape == "auto" {
                ShapeChoice::Auto
            } else {
                ShapeChoice::Declared
            })
            .flip(self.flip_directions)
            .prior_rows(self.transform_prior)
            .form(if self.bin_form == "steps" {
                Form::Steps
            } else {
                Form::Ramps
            })
            .points_from(if self.bin_points == "woe" {
                PointsFrom::Woe
            } else {
                PointsFrom::Joint
            });
        lp.check()?;
        Ok(Some(lp))
    }
}
