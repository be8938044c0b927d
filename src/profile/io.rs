//! Reading and writing profiles as TOML (native) or JSON (the same structure).

use std::path::Path;

use super::{presets, Profile, ProfileError};

/// The serialisation of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileFormat {
    /// TOML, the native, diffable form.
    Toml,
    /// JSON with the same structure.
    Json,
}

impl ProfileFormat {
    /// The format a file name implies: `.json` is JSON, anything else TOML.
    pub fn from_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => ProfileFormat::Json,
            _ => ProfileFormat::Toml,
        }
    }
}

/// Read a profile file, or a built-in preset when `spec` names one and no such file exists.
/// The profile is validated.
pub fn read_profile(spec: &str) -> Result<Profile, ProfileError> {
    let path = Path::new(spec);
    if !path.exists() && presets::names().contains(&spec) {
        return presets::preset(spec);
    }
    let bytes = std::fs::read(path).map_err(|source| ProfileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| ProfileError::NotUtf8 {
        path: path.to_path_buf(),
        offset: e.valid_up_to(),
    })?;
    let format = if text.trim_start().starts_with('{') {
        ProfileFormat::Json
    } else {
        ProfileFormat::from_path(path)
    };
    let profile = parse_profile(text, format).map_err(|message| ProfileError::Parse {
        path: path.to_path_buf(),
        message,
    })?;
    profile.check()?;
    Ok(profile)
}

/// Parse profile text (not validated). The error is the parser's message, with the line,
/// column and key where the parser knows them.
pub fn parse_profile(text: &str, format: ProfileFormat) -> Result<Profile, String> {
    match format {
        ProfileFormat::Toml => toml::from_str(text).map_err(|e| e.to_string().trim().to_string()),
        ProfileFormat::Json => serde_json::from_str(text).map_err(|e| e.to_string()),
    }
}

/// Render a profile as TOML, with transforms and small provenance tables written inline so
/// that one metric reads as one block.
pub fn to_toml(profile: &Profile) -> String {
    let plain = toml::to_string(profile).expect("a profile always serialises to TOML");
    let mut doc: toml_edit::DocumentMut = plain
        .parse()
        .expect("TOML written by the toml crate parses back");
    if let Some(metrics) = doc
        .get_mut("metrics")
        .and_then(|m| m.as_array_of_tables_mut())
    {
        for m in metrics.iter_mut() {
            inline(m, "transform");
            if let Some(c) = m.get_mut("calibration").and_then(|c| c.as_table_mut()) {
                inline(c, "weight_ci");
                inline(c, "coefficient_ci");
            }
            // The order a reader expects: what, where, how much, which way, how, if missing.
            const ORDER: [&str; 9] = [
                "name",
                "column",
                "group",
                "weight",
                "direction",
                "transform",
                "missing",
                "calibration",
                "",
            ];
            let rank = |k: &str| ORDER.iter().position(|o| *o == k).unwrap_or(ORDER.len());
            m.sort_values_by(|a, _, b, _| rank(a.get()).cmp(&rank(b.get())));
        }
    }
    if let Some(c) = doc.get_mut("calibration").and_then(|c| c.as_table_mut()) {
        inline(c, "data");
        inline(c, "validation");
    }
    integral_floats(doc.as_item_mut());
    doc.to_string()
}

/// A transform as the inline table [`to_toml`] writes it (`{ kind = "linear", lo = 0,
/// hi = 72 }`), for a file that writes its metrics itself.
pub fn transform_inline(transform: &super::Transform) -> String {
    #[derive(serde::Serialize)]
    struct One<'a> {
        transform: &'a super::Transform,
    }
    let plain = toml::to_string(&One { transform }).expect("a transform serialises to TOML");
    let mut doc: toml_edit::DocumentMut = plain
        .parse()
        .expect("TOML written by the toml crate parses back");
    inline(doc.as_table_mut(), "transform");
    integral_floats(doc.as_item_mut());
    doc.get("transform")
        .and_then(|i| i.as_value())
        .map_or_else(String::new, |v| v.to_string().trim().to_string())
}

/// Write floats with no fractional part as integers (`min = 70`, not `min = 70.0`); they
/// read back as the same f64.
fn integral_floats(item: &mut toml_edit::Item) {
    match item {
        toml_edit::Item::Value(v) => integral_value(v),
        toml_edit::Item::Table(t) => t.iter_mut().for_each(|(_, i)| integral_floats(i)),
        toml_edit::Item::ArrayOfTables(a) => a
            .iter_mut()
            .for_each(|t| t.iter_mut().for_each(|(_, i)| integral_floats(i))),
        toml_edit::Item::None => {}
    }
}

fn integral_value(v: &mut toml_edit::Value) {
    match v {
        toml_edit::Value::Float(f) => {
            let x = *f.value();
            if x.fract() == 0.0 && x.abs() < 1e15 {
                let decor = f.decor().clone();
                let mut n = toml_edit::Formatted::new(x as i64);
                *n.decor_mut() = decor;
                *v = toml_edit::Value::Integer(n);
            }
        }
        toml_edit::Value::Array(a) => a.iter_mut().for_each(integral_value),
        toml_edit::Value::InlineTable(t) => t.iter_mut().for_each(|(_, v)| integral_value(v)),
        _ => {}
    }
}

fn inline(table: &mut toml_edit::Table, key: &str) {
    if let Some(item) = table.get_mut(key) {
        if let Some(t) = item.as_table() {
            let mut it = t.clone().into_inline_table();
            it.fmt();
            *item = toml_edit::Item::Value(toml_edit::Value::InlineTable(it));
        }
    }
    if let Some(mut k) = table.key_mut(key) {
        k.leaf_decor_mut().set_suffix(" ");
    }
}

/// Render a profile as pretty JSON.
pub fn to_json(profile: &Profile) -> String {
    let mut s = serde_json::to_string_pretty(profile).expect("a profile always serialises");
    s.push('\n');
    s
}

/// Render in the given format.
pub fn render(profile: &Profile, format: ProfileFormat) -> String {
    match format {
        ProfileFormat::Toml => to_toml(profile),
        ProfileFormat::Json => to_json(profile),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_round_trips_toml_json_toml() {
        for name in presets::names() {
            let p = presets::preset(name).unwrap();
            let t1 = to_toml(&p);
            let back = parse_profile(&t1, ProfileFormat::Toml).unwrap();
            assert_eq!(back, p, "{name} TOML");
            let j = to_json(&back);
            let from_json = parse_profile(&j, ProfileFormat::Json).unwrap();
            assert_eq!(from_json, p, "{name} JSON");
            assert_eq!(to_toml(&from_json), t1, "{name} TOML text");
        }
    }

    #[test]
    fn transform_is_written_inline() {
        let t = to_toml(&presets::preset("three-dimensions").unwrap());
        assert!(t.contains("transform = { kind = \"linear\""), "{t}");
    }

    #[test]
    fn unknown_key_is_named() {
        let mut t = to_toml(&presets::preset("three-dimensions").unwrap());
        t = t.replacen("weight = 25", "weight = 25\nwieght = 3", 1);
        let e = parse_profile(&t, ProfileFormat::Toml).unwrap_err();
        assert!(e.contains("wieght"), "{e}");
    }

    #[test]
    fn syntax_error_gives_line() {
        let e = parse_profile("name = \"x\"\nformat = = 1\n", ProfileFormat::Toml).unwrap_err();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn wrong_type_is_named() {
        let t = to_toml(&presets::preset("three-dimensions").unwrap()).replacen(
            "weight = 25",
            "weight = \"heavy\"",
            1,
        );
        let e = parse_profile(&t, ProfileFormat::Toml).unwrap_err();
        assert!(e.contains("weight") || e.contains("heavy"), "{e}");
    }

    #[test]
    fn unknown_transform_kind_is_named() {
        let t = to_toml(&presets::preset("three-dimensions").unwrap()).replacen(
            "kind = \"linear\"",
            "kind = \"sigmoid\"",
            1,
        );
        let e = parse_profile(&t, ProfileFormat::Toml).unwrap_err();
        assert!(e.contains("sigmoid"), "{e}");
    }

    #[test]
    fn missing_file_is_io_error() {
        assert!(matches!(
            read_profile("/nonexistent/profile.toml"),
            Err(ProfileError::Io { .. })
        ));
    }

    #[test]
    fn non_utf8_file_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(&p, b"name = \"caf\xe9\"\n").unwrap();
        assert!(matches!(
            read_profile(p.to_str().unwrap()),
            Err(ProfileError::NotUtf8 { offset: 11, .. })
        ));
    }

    #[test]
    fn preset_name_resolves() {
        assert_eq!(read_profile("quartiles").unwrap().name, "quartiles");
    }
}
