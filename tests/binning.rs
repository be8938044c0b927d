//! Known answers for the optimal binning: split points and per-bin event and non-event
//! counts equal to optbinning's `OptimalBinning` (quantile pre-binning, 20 pre-bins, CP
//! solver) on every numeric column of the two public data sets, under each event-rate
//! trend and two sets of constraints. The answers are in `tests/learn/optbinning.json`,
//! written by `tests/learn/optbinning_reference.py`.

use churncal::learn::binning::{optimal_binning, Constraints, Sorted, Trend};

fn column(path: &str, name: &str, outcome: &str, positive: &str) -> (Vec<f64>, Vec<u8>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let c = header.iter().position(|h| *h == name).unwrap();
    let o = header.iter().position(|h| *h == outcome).unwrap();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        x.push(f[c].trim().parse::<f64>().unwrap_or(f64::NAN));
        y.push((f[o].trim() == positive) as u8);
    }
    (x, y)
}

#[test]
fn splits_and_counts_equal_optbinning() {
    let text = std::fs::read_to_string("tests/learn/optbinning.json").unwrap();
    let known: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = known["cases"].as_array().unwrap();
    assert!(cases.len() >= 100);
    let mut differ = Vec::new();
    let mut split_cases = 0;
    for case in cases {
        let s = |k: &str| case[k].as_str().unwrap().to_string();
        let f = |k: &str| case[k].as_f64().unwrap();
        let v = |k: &str| -> Vec<f64> {
            case[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        };
        let (x, y) = column(&s("file"), &s("column"), &s("outcome"), &s("positive"));
        let rows = x.len() as f64;
        let mut pairs: Vec<(f64, u8)> = x
            .iter()
            .zip(&y)
            .filter(|(v, _)| !v.is_nan())
            .map(|(&v, &o)| (v, o))
            .collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let sorted = Sorted {
            x: pairs.iter().map(|p| p.0).collect(),
            ev: pairs.iter().map(|p| p.1 as f64).collect(),
            ne: pairs.iter().map(|p| 1.0 - p.1 as f64).collect(),
        };
        let trend = match s("trend").as_str() {
            "ascending" => Trend::Ascending,
            "descending" => Trend::Descending,
            "peak" => Trend::Peak,
            _ => Trend::Valley,
        };
        let c = Constraints {
            max_bins: f("max_n_bins") as usize,
            min_bin_size: (f("min_bin_size") * rows).ceil(),
            min_bin_events: f("min_bin_n_event"),
            max_pvalue: None,
        };
        let bins = optimal_binning(&sorted, 20, trend, &c);
        let expected_splits = v("splits");
        if !expected_splits.is_empty() {
            split_cases += 1;
        }
        if bins.splits != expected_splits
            || bins.events != v("events")
            || bins.nonevents != v("nonevents")
        {
            differ.push(format!(
                "{} {} {} (max {} bins, min size {}): optbinning {:?} {:?}, churncal {:?} {:?}",
                s("file"),
                s("column"),
                s("trend"),
                f("max_n_bins"),
                f("min_bin_size"),
                expected_splits,
                v("events"),
                bins.splits,
                bins.events
            ));
        }
    }
    assert!(split_cases > 50, "most cases split: {split_cases}");
    assert!(
        differ.is_empty(),
        "{} of {} differ:\n{}",
        differ.len(),
        cases.len(),
        differ.join("\n")
    );
}
