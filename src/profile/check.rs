//! Checks that make a profile safe to score with, each failure a precise [`ProfileError`].

use std::collections::BTreeSet;
use std::path::PathBuf;

use thiserror::Error;

use super::{Missing, Profile, QuantileCut, Transform, FORMAT_VERSION};

/// Everything that can be wrong with a profile.
#[derive(Debug, Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read profile {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid UTF-8 text.
    #[error("profile {path} is not UTF-8 text (invalid byte at offset {offset})")]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// TOML or JSON syntax, an unknown key, or a value of the wrong type.
    #[error("profile {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column and the key where known.
        message: String,
    },
    /// A profile set's index or its profiles do not fit together.
    #[error("profile set {path}: {message}")]
    Set {
        /// The index file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No preset of that name.
    #[error("no preset named '{name}'; presets: {}", .known.join(", "))]
    UnknownPreset {
        /// The name asked for.
        name: String,
        /// The presets there are.
        known: Vec<String>,
    },
    /// The format version is not one this build knows.
    #[error("profile '{profile}' has format = {found}; this version of churncal reads format = {FORMAT_VERSION}")]
    UnsupportedFormat {
        /// Profile name.
        profile: String,
        /// The version in the file.
        found: u32,
    },
    /// The profile lists no metrics.
    #[error("profile '{profile}' has no [[metrics]]")]
    NoMetrics {
        /// Profile name.
        profile: String,
    },
    /// Two metrics, groups or tiers share a name.
    #[error("profile '{profile}': {what} name '{name}' is used twice")]
    DuplicateName {
        /// Profile name.
        profile: String,
        /// `metric`, `group` or `tier`.
        what: &'static str,
        /// The repeated name.
        name: String,
    },
    /// A metric names a group that is not declared.
    #[error("metric '{metric}' is in group '{group}', which is not one of the [[groups]]: {}", .known.join(", "))]
    UnknownGroup {
        /// The metric.
        metric: String,
        /// The group it names.
        group: String,
        /// The declared groups.
        known: Vec<String>,
    },
    /// The profile has groups and a metric names none.
    #[error("metric '{metric}' has no group, but the profile declares [[groups]]: {}", .known.join(", "))]
    MissingGroup {
        /// The metric.
        metric: String,
        /// The declared groups.
        known: Vec<String>,
    },
    /// A weight is negative or not finite.
    #[error("{what} '{name}' has weight {value}; weights must be finite and >= 0")]
    BadWeight {
        /// `metric` or `group`.
        what: &'static str,
        /// Its name.
        name: String,
        /// The weight.
        value: f64,
    },
    /// Weights so large that their sum overflows.
    #[error("profile '{profile}': the {what} weights sum to more than the largest number ({sum}); scale them down (any positive scale works: they are normalised to 100)")]
    WeightsOverflow {
        /// Profile name.
        profile: String,
        /// `metric` or `group`.
        what: &'static str,
        /// The sum.
        sum: f64,
    },
    /// Every weight is zero, so there is no score.
    #[error("profile '{profile}': all {what} weights are zero")]
    AllZeroWeights {
        /// Profile name.
        profile: String,
        /// `metric` or `group`.
        what: &'static str,
    },
    /// A group with weight has only zero-weight metrics (its share would vanish).
    #[error(
        "group '{group}' has weight {weight} but all its metrics have weight 0 (or it has none)"
    )]
    EmptyGroup {
        /// The group.
        group: String,
        /// Its weight.
        weight: f64,
    },
    /// A transform's parameters are inconsistent.
    #[error("metric '{metric}': {message}")]
    BadTransform {
        /// The metric.
        metric: String,
        /// What is wrong.
        message: String,
    },
    /// Tier definitions are inconsistent.
    #[error("profile '{profile}': {message}")]
    BadTiers {
        /// Profile name.
        profile: String,
        /// What is wrong.
        message: String,
    },
    /// The calibration block holds a non-finite number.
    #[error("profile '{profile}': calibration {field} = {value} is not a finite number")]
    BadCalibration {
        /// Profile name.
        profile: String,
        /// `intercept` or `slope`.
        field: &'static str,
        /// The value.
        value: f64,
    },
}

fn is_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit())
}

impl Profile {
    /// Check the profile against the format's rules. Data-dependent checks (columns present,
    /// category labels known) happen when data is loaded and scored.
    pub fn check(&self) -> Result<(), ProfileError> {
        let profile = self.name.clone();
        if self.format != FORMAT_VERSION {
            return Err(ProfileError::UnsupportedFormat {
                profile,
                found: self.format,
            });
        }
        if self.metrics.is_empty() {
            return Err(ProfileError::NoMetrics { profile });
        }
        unique(&profile, "metric", self.metrics.iter().map(|m| &m.name))?;
        unique(&profile, "group", self.groups.iter().map(|g| &g.name))?;
        for g in &self.groups {
            check_weight("group", &g.name, g.weight)?;
        }
        for m in &self.metrics {
            check_weight("metric", &m.name, m.weight)?;
            check_transform(&m.name, &m.transform)?;
            if let Missing::Score(v) = m.missing {
                if !(0.0..=100.0).contains(&v) {
                    return Err(ProfileError::BadTransform {
                        metric: m.name.clone(),
                        message: format!(
                            "missing = {v}: a missing value's sub-score runs from 0 to 100"
                        ),
                    });
                }
            }
        }
        if self.metrics.iter().all(|m| m.weight == 0.0) {
            return Err(ProfileError::AllZeroWeights {
                profile,
                what: "metric",
            });
        }
        for (what, sum) in [
            ("metric", self.metrics.iter().map(|m| m.weight).sum::<f64>()),
            ("group", self.groups.iter().map(|g| g.weight).sum::<f64>()),
        ] {
            if !sum.is_finite() {
                return Err(ProfileError::WeightsOverflow { profile, what, sum });
            }
        }
        if !self.groups.is_empty() {
            let known: Vec<String> = self.groups.iter().map(|g| g.name.clone()).collect();
            for m in &self.metrics {
                match &m.group {
                    None => {
                        return Err(ProfileError::MissingGroup {
                            metric: m.name.clone(),
                            known,
                        })
                    }
                    Some(g) if !known.contains(g) => {
                        return Err(ProfileError::UnknownGroup {
                            metric: m.name.clone(),
                            group: g.clone(),
                            known,
                        })
                    }
                    _ => {}
                }
            }
            if self.groups.iter().all(|g| g.weight == 0.0) {
                return Err(ProfileError::AllZeroWeights {
                    profile,
                    what: "group",
                });
            }
            for g in &self.groups {
                let inside: f64 = self
                    .metrics
                    .iter()
                    .filter(|m| m.group.as_deref() == Some(g.name.as_str()))
                    .map(|m| m.weight)
                    .sum();
                if g.weight > 0.0 && inside == 0.0 {
                    return Err(ProfileError::EmptyGroup {
                        group: g.name.clone(),
                        weight: g.weight,
                    });
                }
            }
        }
        self.check_tiers()?;
        if let Some(c) = &self.calibration {
            for (field, value) in [("intercept", c.intercept), ("slope", c.slope)] {
                if !value.is_finite() {
                    return Err(ProfileError::BadCalibration {
                        profile,
                        field,
                        value,
                    });
                }
            }
        }
        Ok(())
    }

    fn check_tiers(&self) -> Result<(), ProfileError> {
        let bad = |message: String| ProfileError::BadTiers {
            profile: self.name.clone(),
            message,
        };
        match (&self.tiers_by_quantile, self.tiers.is_empty()) {
            (Some(_), false) => {
                return Err(bad(
                    "give either [[tiers]] or [tiers_by_quantile], not both".into(),
                ))
            }
            (None, true) => {
                return Err(bad(
                    "no tiers: give [[tiers]] (fixed cut-offs) or [tiers_by_quantile]".into(),
                ))
            }
            _ => {}
        }
        if let Some(q) = &self.tiers_by_quantile {
            if q.tiers.is_empty() {
                return Err(bad("[tiers_by_quantile] lists no tiers".into()));
            }
            unique(&self.name, "tier", q.tiers.iter().map(|t| &t.name))?;
            let mut prev: Option<f64> = None;
            for t in &q.tiers {
                check_color(&t.name, t.color.as_deref()).map_err(&bad)?;
                if let QuantileCut::Quantile(v) = t.from {
                    if !(0.0..=1.0).contains(&v) {
                        return Err(bad(format!(
                            "quantile tier '{}' starts at {v}; a quantile is in [0, 1]",
                            t.name
                        )));
                    }
                    if let Some(p) = prev {
                        if v >= p {
                            return Err(bad(format!(
                                "quantile tiers must be listed best first with descending quantiles: '{}' starts at {v} after {p}",
                                t.name
                            )));
                        }
                    }
                    prev = Some(v);
                }
            }
            let last = q.tiers.last().expect("non-empty");
            if last.from != QuantileCut::Quantile(0.0) {
                return Err(bad(format!(
                    "the last quantile tier ('{}') must start at quantile 0",
                    last.name
                )));
            }
            return Ok(());
        }
        unique(&self.name, "tier", self.tiers.iter().map(|t| &t.name))?;
        for w in self.tiers.windows(2) {
            if w[1].min >= w[0].min || w[1].min.is_nan() {
                return Err(bad(format!(
                    "tier minimums must descend, best tier first: '{}' (min {}) follows '{}' (min {})",
                    w[1].name, w[1].min, w[0].name, w[0].min
                )));
            }
        }
        for t in &self.tiers {
            if !(0.0..=100.0).contains(&t.min) {
                return Err(bad(format!(
                    "tier '{}' has min {}; scores run from 0 to 100",
                    t.name, t.min
                )));
            }
            check_color(&t.name, t.color.as_deref()).map_err(&bad)?;
        }
        let last = self.tiers.last().expect("non-empty");
        if last.min != 0.0 {
            return Err(bad(format!(
                "the last tier ('{}') must have min = 0 so that every score has a tier; it has {}",
                last.name, last.min
            )));
        }
        Ok(())
    }

    /// The names of the profile's metrics whose missing policy is `error`.
    pub fn strict_missing(&self) -> Vec<&str> {
        self.metrics
            .iter()
            .filter(|m| m.missing == Missing::Error)
            .map(|m| m.name.as_str())
            .collect()
    }
}

fn check_color(tier: &str, color: Option<&str>) -> Result<(), String> {
    match color {
        Some(c) if !is_color(c) => Err(format!(
            "tier '{tier}' has color '{c}'; write colours as #rrggbb"
        )),
        _ => Ok(()),
    }
}

fn unique<'a>(
    profile: &str,
    what: &'static str,
    names: impl Iterator<Item = &'a String>,
) -> Result<(), ProfileError> {
    let mut seen = BTreeSet::new();
    for n in names {
        if !seen.insert(n.as_str()) {
            return Err(ProfileError::DuplicateName {
                profile: profile.to_string(),
                what,
                name: n.clone(),
            });
        }
    }
    Ok(())
}

fn check_weight(what: &'static str, name: &str, value: f64) -> Result<(), ProfileError> {
    if !value.is_finite() || value < 0.0 {
        return Err(ProfileError::BadWeight {
            what,
            name: name.to_string(),
            value,
        });
    }
    Ok(())
}

/// Check one transform's parameters (finite, ordered, non-empty), as profile validation does.
pub fn check_transform(metric: &str, t: &Transform) -> Result<(), ProfileError> {
    let bad = |message: String| ProfileError::BadTransform {
        metric: metric.to_string(),
        message,
    };
    let finite = |v: f64, what: &str| {
        if v.is_finite() {
            Ok(())
        } else {
            Err(bad(format!("{what} = {v} is not a finite number")))
        }
    };
    let in_range = |v: f64, what: &str| {
        if (0.0..=100.0).contains(&v) {
            Ok(())
        } else {
            Err(bad(format!("{what} = {v}; sub-scores run from 0 to 100")))
        }
    };
    match t {
        Transform::Linear { lo, hi } | Transform::Log { lo, hi } => {
            finite(*lo, "lo")?;
            finite(*hi, "hi")?;
            if lo >= hi {
                return Err(bad(format!(
                    "{} transform needs lo < hi, got lo = {lo}, hi = {hi}",
                    t.kind_name()
                )));
            }
            if matches!(t, Transform::Log { .. }) && *lo <= -1.0 {
                return Err(bad(format!(
                    "log transform scales ln(1 + x), so lo must exceed -1; got lo = {lo}"
                )));
            }
        }
        Transform::Points { map } => {
            if map.len() < 2 {
                return Err(bad("points transform needs at least two points".into()));
            }
            for p in map {
                finite(p[0], "a point's value")?;
                in_range(p[1], "a point's sub-score")?;
            }
            if let Some(w) = map.windows(2).find(|w| w[1][0] <= w[0][0]) {
                return Err(bad(format!(
                    "points must have strictly increasing values: {} follows {}",
                    w[1][0], w[0][0]
                )));
            }
        }
        Transform::Percentile { breaks } => {
            if breaks.len() < 2 {
                return Err(bad("percentile transform needs at least two breaks".into()));
            }
            for b in breaks {
                finite(*b, "a break")?;
            }
            if let Some(w) = breaks.windows(2).find(|w| w[1] < w[0]) {
                return Err(bad(format!(
                    "percentile breaks must not decrease: {} follows {}",
                    w[1], w[0]
                )));
            }
            if breaks[0] == breaks[breaks.len() - 1] {
                return Err(bad(
                    "percentile breaks are all equal: the metric has no spread".into(),
                ));
            }
        }
        Transform::Categories { map } => {
            if map.is_empty() {
                return Err(bad("categories transform has an empty map".into()));
            }
            for (label, s) in map {
                in_range(*s, &format!("category '{label}'"))?;
            }
        }
        Transform::Boolean => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::presets;

    fn base() -> Profile {
        presets::preset("three-dimensions").unwrap()
    }

    #[test]
    fn presets_are_valid() {
        for name in presets::names() {
            presets::preset(name).unwrap().check().unwrap();
        }
    }

    #[test]
    fn unknown_group_is_named() {
        let mut p = base();
        p.metrics[0].group = Some("vibes".into());
        let e = p.check().unwrap_err();
        assert!(matches!(&e, ProfileError::UnknownGroup { group, .. } if group == "vibes"));
        assert!(e.to_string().contains("relationship"));
    }

    #[test]
    fn missing_group_rejected_when_groups_exist() {
        let mut p = base();
        p.metrics[0].group = None;
        assert!(matches!(p.check(), Err(ProfileError::MissingGroup { .. })));
    }

    #[test]
    fn negative_weight_rejected() {
        let mut p = base();
        p.metrics[1].weight = -2.0;
        assert!(matches!(
            p.check(),
            Err(ProfileError::BadWeight { value, .. }) if value == -2.0
        ));
    }

    #[test]
    fn non_finite_weight_rejected() {
        let mut p = base();
        p.groups[0].weight = f64::INFINITY;
        assert!(matches!(
            p.check(),
            Err(ProfileError::BadWeight { what: "group", .. })
        ));
    }

    #[test]
    fn all_zero_metric_weights_rejected() {
        let mut p = base();
        for m in &mut p.metrics {
            m.weight = 0.0;
        }
        assert!(matches!(
            p.check(),
            Err(ProfileError::AllZeroWeights { what: "metric", .. })
        ));
    }

    #[test]
    fn all_zero_group_weights_rejected() {
        let mut p = base();
        for g in &mut p.groups {
            g.weight = 0.0;
        }
        assert!(matches!(
            p.check(),
            Err(ProfileError::AllZeroWeights { what: "group", .. })
        ));
    }

    #[test]
    fn group_without_weighted_metrics_rejected() {
        let mut p = base();
        let g = p.groups[0].name.clone();
        for m in p
            .metrics
            .iter_mut()
            .filter(|m| m.group.as_ref() == Some(&g))
        {
            m.weight = 0.0;
        }
        assert!(matches!(p.check(), Err(ProfileError::EmptyGroup { .. })));
    }

    #[test]
    fn tiers_must_descend() {
        let mut p = base();
        p.tiers[1].min = 80.0;
        let e = p.check().unwrap_err();
        assert!(matches!(e, ProfileError::BadTiers { .. }));
        assert!(e.to_string().contains("descend"));
    }

    #[test]
    fn last_tier_must_be_zero() {
        let mut p = base();
        p.tiers.last_mut().unwrap().min = 10.0;
        let e = p.check().unwrap_err();
        assert!(e.to_string().contains("min = 0"), "{e}");
    }

    #[test]
    fn lo_not_below_hi_rejected() {
        let mut p = base();
        p.metrics[0].transform = Transform::Linear { lo: 5.0, hi: 5.0 };
        let e = p.check().unwrap_err();
        assert!(matches!(e, ProfileError::BadTransform { .. }));
        assert!(e.to_string().contains("lo < hi"));
    }

    #[test]
    fn log_lo_at_minus_one_rejected() {
        let mut p = base();
        p.metrics[0].transform = Transform::Log { lo: -1.0, hi: 5.0 };
        assert!(p.check().unwrap_err().to_string().contains("exceed -1"));
    }

    #[test]
    fn points_must_increase() {
        let mut p = base();
        p.metrics[0].transform = Transform::Points {
            map: vec![[0.0, 0.0], [0.0, 100.0]],
        };
        assert!(p.check().unwrap_err().to_string().contains("increasing"));
    }

    #[test]
    fn points_subscores_in_range() {
        let mut p = base();
        p.metrics[0].transform = Transform::Points {
            map: vec![[0.0, 0.0], [1.0, 120.0]],
        };
        assert!(p.check().unwrap_err().to_string().contains("0 to 100"));
    }

    #[test]
    fn percentile_breaks_must_not_decrease() {
        let mut p = base();
        p.metrics[0].transform = Transform::Percentile {
            breaks: vec![0.0, 2.0, 1.0],
        };
        assert!(p.check().unwrap_err().to_string().contains("decrease"));
    }

    #[test]
    fn empty_category_map_rejected() {
        let mut p = base();
        p.metrics[0].transform = Transform::Categories {
            map: Default::default(),
        };
        assert!(p.check().unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn duplicate_metric_rejected() {
        let mut p = base();
        let m = p.metrics[0].clone();
        p.metrics.push(m);
        assert!(matches!(
            p.check(),
            Err(ProfileError::DuplicateName { what: "metric", .. })
        ));
    }

    #[test]
    fn wrong_format_rejected() {
        let mut p = base();
        p.format = 7;
        assert!(matches!(
            p.check(),
            Err(ProfileError::UnsupportedFormat { found: 7, .. })
        ));
    }

    #[test]
    fn no_tiers_rejected() {
        let mut p = base();
        p.tiers.clear();
        assert!(p.check().unwrap_err().to_string().contains("no tiers"));
    }

    #[test]
    fn bad_colour_rejected() {
        let mut p = base();
        p.tiers[0].color = Some("green".into());
        assert!(p.check().unwrap_err().to_string().contains("#rrggbb"));
    }

    #[test]
    fn quantile_tiers_must_end_at_zero() {
        let mut p = presets::preset("quartiles").unwrap();
        p.tiers_by_quantile.as_mut().unwrap().tiers.pop();
        assert!(p.check().unwrap_err().to_string().contains("quantile 0"));
    }

    #[test]
    fn no_metrics_rejected() {
        let mut p = base();
        p.metrics.clear();
        assert!(matches!(p.check(), Err(ProfileError::NoMetrics { .. })));
    }

    #[test]
    fn non_finite_calibration_rejected() {
        let mut p = base();
        p.calibration = Some(crate::profile::Calibration::new(f64::NAN, -3.0));
        assert!(matches!(
            p.check(),
            Err(ProfileError::BadCalibration { .. })
        ));
    }
}
