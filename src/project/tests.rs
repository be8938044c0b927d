use super::*;

fn col(name: &str, v: &[&str]) -> (String, Vec<Option<String>>) {
    (
        name.into(),
        v.iter()
            .map(|s| (!s.is_empty()).then(|| s.to_string()))
            .collect(),
    )
}

#[test]
fn names_split_into_words() {
    assert_eq!(words("customerID"), ["customer", "id"]);
    assert_eq!(words("days_past_due"), ["days", "past", "due"]);
    assert_eq!(words("Total Charges"), ["total", "charges"]);
    assert_eq!(words("Charge  Amount"), ["charge", "amount"]);
}

#[test]
fn roles_and_metrics_are_guessed_with_their_reasons() {
    let n = 400;
    let ids: Vec<String> = (0..n).map(|i| format!("C-{i:03}")).collect();
    let status: Vec<&str> = (0..n)
        .map(|i| {
            if i % 4 == 0 {
                "Attrited Customer"
            } else {
                "Existing Customer"
            }
        })
        .collect();
    let logins: Vec<String> = (0..n)
        .map(|i| {
            if i % 4 == 0 {
                "2".into()
            } else {
                format!("{}", 10 + i)
            }
        })
        .collect();
    let tickets: Vec<String> = (0..n)
        .map(|i| if i % 4 == 0 { "9".into() } else { "1".into() })
        .collect();
    let plan: Vec<&str> = (0..n)
        .map(|i| if i % 2 == 0 { "Pro" } else { "Basic" })
        .collect();
    let when: Vec<&str> = (0..n)
        .map(|i| {
            if i % 2 == 0 {
                "31/03/2025"
            } else {
                "30/06/2025"
            }
        })
        .collect();
    let revenue: Vec<String> = (0..n).map(|i| format!("${},000", 1 + i)).collect();
    fn r(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let g = guess(
        &[
            col("Customer ID", &r(&ids)),
            col("Attrition_Flag", &status),
            col("Snapshot Month", &when),
            col("Logins", &r(&logins)),
            col("SupportTickets", &r(&tickets)),
            col("Plan", &plan),
            col("ARR", &r(&revenue)),
            col("Notes", &vec![""; n]),
        ],
        false,
    );
    assert_eq!(g.id.unwrap().column, "Customer ID");
    let o = g.outcome.unwrap();
    assert_eq!(o.column, "Attrition_Flag");
    assert_eq!(g.churned_value.as_deref(), Some("Attrited Customer"));
    assert_eq!(g.date.unwrap().why, "values read as dates (DD/MM/YYYY)");
    assert_eq!(g.arr.unwrap().column, "ARR");
    assert!(g.lenient_numbers || g.metrics.iter().all(|m| m.column != "ARR"));
    assert_eq!(g.segments[0].column, "Plan");
    let m = |c: &str| g.metrics.iter().find(|m| m.column == c).unwrap();
    assert_eq!(m("Logins").direction, Direction::HigherIsBetter);
    assert_eq!(m("SupportTickets").direction, Direction::LowerIsBetter);
    assert!(
        m("SupportTickets")
            .why
            .contains("churned accounts average 9"),
        "{}",
        m("SupportTickets").why
    );
    assert_eq!(g.skipped[0].column, "Notes");
}

#[test]
fn the_written_files_parse() {
    let g = guess(
        &[
            col("id", &["a", "b", "c", "d"]),
            col("churned", &["0", "1", "0", "0"]),
            col("usage", &["1", "5", "7", "30"]),
            col("paid", &["1", "0", "1", "1"]),
            col("region", &["EU", "US", "EU", "US"]),
        ],
        false,
    );
    let p = profile_toml(&g, "guessed", "x.csv");
    let profile: crate::profile::Profile = toml::from_str(&p).unwrap();
    profile.check().unwrap();
    // One churn event: one metric kept, the strongest, the other listed.
    assert_eq!(profile.metrics.len(), 1, "{p}");
    assert!(g
        .skipped
        .iter()
        .any(|s| s.why.contains("1 churn events allow about 1 metrics")));
    let project = project_toml(&g, "x.csv", None, "guessed.toml");
    let v: toml::Table = toml::from_str(&project).unwrap();
    assert_eq!(v["id-col"].as_str(), Some("id"));
    assert_eq!(v["segment"].as_array().unwrap().len(), 1);
}
