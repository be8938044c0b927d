//! A profile set: one profile per value of a segment column, and a default for every other
//! value. On disk, an index file (`profiles.toml`) beside the profiles it names:
//!
//! ```toml
//! profile_set = 1                 # the set format's version; marks the file as a set
//! segment = "size_band"           # the column whose value picks a row's profile
//! default = "sample-calibrated.toml"
//!
//! [profiles]
//! SMB = "sample-calibrated.toml"
//! Enterprise = "sample-enterprise.toml"
//! ```
//!
//! Paths are relative to the index. The profiles of a set score the same metrics (by name,
//! in the same order) in the same groups into the same tiers, so that their scores, sub-scores and tiers are
//! one table; weights, transforms, missing policies and calibration may differ.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{io, Profile, ProfileError};

/// The set format version this build reads and writes.
pub const SET_FORMAT_VERSION: u32 = 1;

/// The index file of a profile set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetIndex {
    /// The set format's version ([`SET_FORMAT_VERSION`]).
    pub profile_set: u32,
    /// The segment column whose value picks each row's profile.
    pub segment: String,
    /// The profile of a row whose value the set does not map.
    pub default: String,
    /// Segment value → profile file.
    #[serde(default)]
    pub profiles: BTreeMap<String, String>,
}

impl SetIndex {
    /// The index as TOML, with a comment saying what it is.
    pub fn to_toml(&self) -> String {
        format!(
            "# A churncal profile set: each row is scored by the profile of its '{}' value;\n\
             # a value not listed here gets the default.\n{}",
            self.segment.replace('\n', " "),
            toml::to_string(self).expect("the index serialises")
        )
    }
}

/// Profiles chosen per row by a segment column's value.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileSet {
    /// The segment column.
    pub segment: String,
    /// The default profile.
    pub default: Profile,
    /// Segment value → profile, in the index's order.
    pub profiles: Vec<(String, Profile)>,
}

impl ProfileSet {
    /// The profile of segment value `label` (the default when the set does not map it), and
    /// whether the set maps it.
    pub fn profile_of(&self, label: &str) -> (&Profile, bool) {
        match self.profiles.iter().find(|(l, _)| l == label) {
            Some((_, p)) => (p, true),
            None => (&self.default, false),
        }
    }

    /// Refuse profiles that do not score the same metrics into the same tiers as the default.
    pub fn check(&self, index: &Path) -> Result<(), ProfileError> {
        let names = |p: &Profile| p.metrics.iter().map(|m| m.name.clone()).collect::<Vec<_>>();
        let want = names(&self.default);
        if self.default.tiers_by_quantile.is_some() {
            return Err(ProfileError::Set {
                path: index.to_path_buf(),
                message: format!(
                    "profile '{}' cuts its tiers at quantiles; a set's profiles need fixed tiers, shared by all",
                    self.default.name
                ),
            });
        }
        for (label, p) in &self.profiles {
            if names(p) != want {
                return Err(ProfileError::Set {
                    path: index.to_path_buf(),
                    message: format!(
                        "the profile of '{label}' ('{}') scores the metrics [{}], the default ('{}') [{}]; a set's profiles score the same metrics in the same order",
                        p.name,
                        names(p).join(", "),
                        self.default.name,
                        want.join(", ")
                    ),
                });
            }
            let groups = |p: &Profile| p.groups.iter().map(|g| g.name.clone()).collect::<Vec<_>>();
            if groups(p) != groups(&self.default) {
                return Err(ProfileError::Set {
                    path: index.to_path_buf(),
                    message: format!(
                        "the profile of '{label}' ('{}') has the groups [{}], the default ('{}') [{}]; a set's profiles share their groups",
                        p.name,
                        groups(p).join(", "),
                        self.default.name,
                        groups(&self.default).join(", ")
                    ),
                });
            }
            if p.tiers != self.default.tiers || p.tiers_by_quantile.is_some() {
                return Err(ProfileError::Set {
                    path: index.to_path_buf(),
                    message: format!(
                        "the profile of '{label}' ('{}') has other tiers than the default ('{}'); a set's profiles share fixed tiers",
                        p.name, self.default.name
                    ),
                });
            }
        }
        Ok(())
    }
}

/// Whether `text` is a profile set's index rather than a profile.
pub fn is_set_index(text: &str) -> bool {
    toml::from_str::<toml::Table>(text).is_ok_and(|t| t.contains_key("profile_set"))
}

/// Read a profile set from its index file.
pub fn read_set(index: &Path) -> Result<ProfileSet, ProfileError> {
    let text = std::fs::read_to_string(index).map_err(|source| ProfileError::Io {
        path: index.to_path_buf(),
        source,
    })?;
    let ix: SetIndex = toml::from_str(&text).map_err(|e| ProfileError::Parse {
        path: index.to_path_buf(),
        message: e.to_string().trim().to_string(),
    })?;
    if ix.profile_set != SET_FORMAT_VERSION {
        return Err(ProfileError::Set {
            path: index.to_path_buf(),
            message: format!(
                "profile_set = {}; this version of churncal reads profile_set = {SET_FORMAT_VERSION}",
                ix.profile_set
            ),
        });
    }
    let dir = index.parent().unwrap_or(Path::new("."));
    let load = |file: &str| -> Result<Profile, ProfileError> {
        let p: PathBuf = dir.join(file);
        io::read_profile(&p.to_string_lossy())
    };
    let set = ProfileSet {
        segment: ix.segment.clone(),
        default: load(&ix.default)?,
        profiles: ix
            .profiles
            .iter()
            .map(|(label, file)| Ok((label.clone(), load(file)?)))
            .collect::<Result<_, ProfileError>>()?,
    };
    set.check(index)?;
    Ok(set)
}

/// A profile, or a set of them: what `--profile` names.
#[derive(Debug, Clone, PartialEq)]
pub enum Profiles {
    /// One profile for every row.
    One(Profile),
    /// A profile per segment value.
    Set(ProfileSet),
}

impl Profiles {
    /// Read a profile (a file or a preset's name) or a profile set's index.
    pub fn read(spec: &str) -> Result<Profiles, ProfileError> {
        let path = Path::new(spec);
        if path.is_file() {
            if let Ok(text) = std::fs::read_to_string(path) {
                if is_set_index(&text) {
                    return read_set(path).map(Profiles::Set);
                }
            }
        }
        io::read_profile(spec).map(Profiles::One)
    }

    /// The profile that names the run and its tiers: the only one, or the set's default.
    pub fn main(&self) -> &Profile {
        match self {
            Profiles::One(p) => p,
            Profiles::Set(s) => &s.default,
        }
    }

    /// Every profile, the main one first.
    pub fn all(&self) -> Vec<&Profile> {
        match self {
            Profiles::One(p) => vec![p],
            Profiles::Set(s) => std::iter::once(&s.default)
                .chain(s.profiles.iter().map(|(_, p)| p))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips_and_is_recognised() {
        let ix = SetIndex {
            profile_set: 1,
            segment: "size band".into(),
            default: "pooled.toml".into(),
            profiles: [("Mid \"Market\"".to_string(), "mid.toml".to_string())]
                .into_iter()
                .collect(),
        };
        let text = ix.to_toml();
        assert!(is_set_index(&text));
        assert_eq!(toml::from_str::<SetIndex>(&text).unwrap(), ix);
        assert!(!is_set_index("name = \"x\"\nformat = 1\n"));
    }
}
