//! The files `churncal init` writes: the starter profile and the commented project file.

use super::*;

/// A TOML string literal.
pub fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The starter profile: every candidate metric at equal weight, the usual tiers.
pub fn profile_toml(g: &Guess, name: &str, source: &str) -> String {
    let mut t = String::new();
    t.push_str(&format!(
        "# A starter profile guessed by `churncal init` from {source}.\n\
         # Every candidate metric starts at an equal weight: `churncal calibrate` fits them.\n\
         # Read each metric's reason, fix what the guess got wrong, and remove what does not\n\
         # belong in a health score (docs/profile-format.md explains every field).\n"
    ));
    t.push_str(&format!("name = {}\n", toml_str(name)));
    t.push_str(&format!(
        "description = {}\nformat = 1\n",
        toml_str(&format!(
            "Guessed from {source}; equal weights until calibrated"
        ))
    ));
    for (tier, min, color) in [
        ("healthy", 70, "#2e7d32"),
        ("needs-attention", 51, "#f9a825"),
        ("at-risk", 30, "#ef6c00"),
        ("critical", 0, "#c62828"),
    ] {
        t.push_str(&format!(
            "\n[[tiers]]\nname = \"{tier}\"\nmin = {min}\ncolor = \"{color}\"\n"
        ));
    }
    for m in &g.metrics {
        t.push_str(&format!("\n# {}\n[[metrics]]\n", m.why));
        t.push_str(&format!(
            "name = {}\ncolumn = {}\nweight = 1\n",
            toml_str(&m.column),
            toml_str(&m.column)
        ));
        t.push_str(&format!(
            "direction = \"{}\"\n",
            match m.direction {
                Direction::HigherIsBetter => "higher-is-better",
                Direction::LowerIsBetter => "lower-is-better",
            }
        ));
        // (The profile format's own serialisation, as an inline table.)
        let transform = crate::profile::io::transform_inline(&m.transform);
        t.push_str(&format!(
            "transform = {transform}\nmissing = \"redistribute\"\n"
        ));
    }
    t
}

/// The project file: the data, its roles and formats, the profile, and per-command
/// defaults, each guess commented with its reason.
pub fn project_toml(g: &Guess, data: &str, sheet: Option<&str>, profile: &str) -> String {
    let mut t = String::from(
        "# churncal project file, written by `churncal init`: every command run in this folder\n\
         # reads its settings from here (or from the file given by --config), and a flag on the\n\
         # command line overrides the setting. Top-level keys are flags every command that\n\
         # reads data shares; a [command] table holds that command's own flags. Keys are the\n\
         # flags' long names without the dashes. Paths are relative to this file.\n\n",
    );
    t.push_str(&format!("data = {}\n", toml_str(data)));
    if let Some(s) = sheet {
        t.push_str(&format!("sheet = {}\n", toml_str(s)));
    }
    t.push_str(&format!("profile = {}\n", toml_str(profile)));
    let role = |t: &mut String, key: &str, p: &Option<Pick>, absent: &str| match p {
        Some(p) => t.push_str(&format!("{key} = {}   # {}\n", toml_str(&p.column), p.why)),
        None => t.push_str(&format!("# {key} = \"...\"   # none found: {absent}\n")),
    };
    t.push('\n');
    role(&mut t, "id-col", &g.id, "each row is its own account");
    role(&mut t, "date-col", &g.date, "one snapshot per account");
    role(
        &mut t,
        "outcome-col",
        &g.outcome,
        "name it, or derive it from a churn date with horizon",
    );
    if let Some(l) = &g.churned_value {
        t.push_str(&format!("churned-value = [{}]\n", toml_str(l)));
    }
    role(
        &mut t,
        "churn-date-col",
        &g.churn_date,
        "not needed with an outcome column",
    );
    role(
        &mut t,
        "customer-since-col",
        &g.customer_since,
        "tenure is then unknown",
    );
    role(
        &mut t,
        "arr-col",
        &g.arr,
        "revenue figures are left out of the reports",
    );
    if g.segments.is_empty() {
        t.push_str("# segment = [\"...\"]   # none found: cohorts need one\n");
    } else {
        let list: Vec<String> = g.segments.iter().map(|s| toml_str(&s.column)).collect();
        let why: Vec<String> = g
            .segments
            .iter()
            .map(|s| format!("{}: {}", s.column, s.why))
            .collect();
        t.push_str(&format!(
            "segment = [{}]   # {}\n",
            list.join(", "),
            why.join("; ")
        ));
    }
    if g.decimal_comma {
        t.push_str("decimal-comma = true   # numbers like 45,5\n");
    }
    if g.lenient_numbers {
        t.push_str("lenient-numbers = true   # numbers with %, currency or thousands separators\n");
    }
    if let Some((c, m, d)) = &g.ambiguous_dates {
        t.push_str(&format!(
            "# date-format = \"{}\"   # '{c}' reads both as {} and as {}: name it (or \"{}\")\n",
            m.pattern(),
            m.describe(),
            d.describe(),
            d.pattern()
        ));
    }
    if !g.skipped.is_empty() {
        t.push_str("\n# Columns left out:\n");
        for s in &g.skipped {
            t.push_str(&format!("#   {}: {}\n", s.column, s.why));
        }
    }
    t.push_str(
        "\n[report]\n# out = \"reports/quarterly\"   # default: a folder named by profile and last date\n\
         \n[calibrate]\n# bootstrap = 200\n",
    );
    t
}
