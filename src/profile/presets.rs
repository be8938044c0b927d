//! Built-in profiles from the practitioner literature.
//!
//! Each preset is a commented TOML file compiled into the binary, so `profile show NAME`
//! prints the documented source and `profile init NAME` writes a file to start from. Their
//! columns are those of the bundled sample (`notebooks-data/sample_snapshots.csv`).

use super::io::{parse_profile, ProfileFormat};
use super::{Profile, ProfileError};

/// The preset used when no profile is given.
pub const DEFAULT_PRESET: &str = "three-dimensions";

const PRESETS: &[(&str, &str)] = &[
    (
        "three-dimensions",
        include_str!("presets/three-dimensions.toml"),
    ),
    ("eight-pillars", include_str!("presets/eight-pillars.toml")),
    (
        "bigcommerce-ten",
        include_str!("presets/bigcommerce-ten.toml"),
    ),
    ("quartiles", include_str!("presets/quartiles.toml")),
];

/// Names of the built-in presets, the default first.
pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|(n, _)| *n).collect()
}

/// The commented TOML source of a preset.
pub fn source(name: &str) -> Result<&'static str, ProfileError> {
    PRESETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        .ok_or_else(|| ProfileError::UnknownPreset {
            name: name.to_string(),
            known: names().iter().map(|s| s.to_string()).collect(),
        })
}

/// A preset, parsed and validated.
pub fn preset(name: &str) -> Result<Profile, ProfileError> {
    let text = source(name)?;
    let p = parse_profile(text, ProfileFormat::Toml).map_err(|message| ProfileError::Parse {
        path: format!("<preset {name}>").into(),
        message,
    })?;
    p.check()?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn effective_weights_match_the_literature() {
        let p = preset("bigcommerce-ten").unwrap();
        let w = p.effective_weights();
        assert_relative_eq!(w[0], 600.0 / 17.0, epsilon = 1e-9); // 35.29 %
        assert_relative_eq!(w[1], 200.0 / 17.0, epsilon = 1e-9); // 11.76 %
        assert_relative_eq!(w[3], 100.0 / 17.0, epsilon = 1e-9); // 5.88 %
        let p = preset("three-dimensions").unwrap();
        let w = p.effective_weights();
        // relationship 25 over three equal metrics
        assert_relative_eq!(w[0], 25.0 / 3.0, epsilon = 1e-9);
        // value 50: goals met has weight 2 of 5
        assert_relative_eq!(w[6], 20.0, epsilon = 1e-9);
        for name in names() {
            let s: f64 = preset(name).unwrap().effective_weights().iter().sum();
            assert_relative_eq!(s, 100.0, epsilon = 1e-9);
        }
    }

    #[test]
    fn unknown_preset_lists_the_known_ones() {
        let e = preset("nine-pillars").unwrap_err();
        assert!(e.to_string().contains("eight-pillars"));
    }
}
