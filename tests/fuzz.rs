//! Property-based fuzzing (proptest; `cargo fuzz` needs a nightly toolchain this project
//! does not use): the profile parser and validator, the CSV loading path, and the transforms
//! on arbitrary values. Case counts default to a few hundred so that `cargo test` stays
//! quick; `CHURNCAL_FUZZ_CASES=1000000 cargo test --release --test fuzz` is the long run.

use churncal::data::{load, OutcomeNeed};
use churncal::profile::io::{parse_profile, to_toml, ProfileFormat};
use churncal::profile::transform::numeric;
use churncal::profile::{presets, Transform};
use proptest::prelude::*;

fn cases(default: u32) -> ProptestConfig {
    let n = std::env::var("CHURNCAL_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// `text` with `edits` applied: (position, kind, byte) — delete, insert or replace.
fn mutate(text: &str, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut b = text.as_bytes().to_vec();
    for &(pos, kind, byte) in edits {
        if b.is_empty() {
            b.push(byte);
            continue;
        }
        let at = pos % b.len();
        match kind % 3 {
            0 => {
                b.remove(at);
            }
            1 => b.insert(at, byte),
            _ => b[at] = byte,
        }
    }
    b
}

/// Bytes that matter to TOML, CSV and numbers, more often than chance would pick them.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(b"=[]{}\",.-+0123456789eE\n\r#'\\ <>&;\tinfNa".to_vec()),
        1 => any::<u8>(),
    ]
}

proptest! {
    #![proptest_config(cases(512))]

    /// Any text: parsing and validating a profile returns Ok or Err, never panics, and a
    /// profile that validates renders to TOML that parses back to the same profile.
    #[test]
    fn profile_parser_and_validator_never_panic(
        preset in prop::sample::select(vec!["three-dimensions", "eight-pillars", "bigcommerce-ten", "quartiles"]),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), interesting_byte()), 0..12),
    ) {
        let text = to_toml(&presets::preset(preset).unwrap());
        let bytes = mutate(&text, &edits);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            if let Ok(p) = parse_profile(s, ProfileFormat::Toml) {
                if p.validate().is_ok() {
                    let again = parse_profile(&to_toml(&p), ProfileFormat::Toml);
                    prop_assert!(again.is_ok());
                    prop_assert_eq!(again.unwrap(), p);
                }
            }
            let _ = parse_profile(s, ProfileFormat::Json);
        }
    }

    /// Every numeric transform that validates maps every finite value into [0, 100].
    #[test]
    fn transforms_map_finite_values_into_0_100(
        a in prop::num::f64::NORMAL | prop::num::f64::ZERO,
        b in prop::num::f64::NORMAL | prop::num::f64::ZERO,
        x in prop::num::f64::NORMAL | prop::num::f64::ZERO | prop::num::f64::SUBNORMAL,
        kind in 0u8..3,
        breaks in prop::collection::vec(prop::num::f64::NORMAL, 1..6),
    ) {
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        let t = match kind {
            0 => Transform::Linear { lo, hi },
            1 => Transform::Log { lo, hi },
            _ => {
                let mut br = breaks.clone();
                br.sort_by(f64::total_cmp);
                br.dedup();
                Transform::Percentile { breaks: br }
            }
        };
        if churncal::profile::validate::check_transform("m", &t).is_ok() {
            let s = numeric(&t, x).unwrap();
            prop_assert!((0.0..=100.0).contains(&s), "{:?} at {} gave {}", t, x, s);
        }
    }
}

proptest! {
    #![proptest_config(cases(64))]

    /// Any mutation of a valid CSV export loads or is refused with an error; never a panic.
    #[test]
    fn csv_loading_never_panics(
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), interesting_byte()), 0..16),
    ) {
        let csv = "account_id,snapshot_date,churned,nps,days_past_due,csm_assessment\n\
                   a,2024-03-31,0,10,0,happy\n\
                   a,2024-06-30,1,-20,30,wavering\n\
                   b,2024-03-31,0,,5,neutral\n\
                   \"c,d\",2024-03-31,1,40,0,happy\n";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        std::fs::write(&path, mutate(csv, &edits)).unwrap();
        let profile = presets::preset("eight-pillars").unwrap();
        let mut req = churncal::data::LoadRequest::for_profile(&profile);
        req.metrics.retain(|m| ["nps", "days_past_due", "csm_assessment"].contains(&m.0.as_str()));
        req.outcome = OutcomeNeed::Optional;
        let _ = load(path.to_str().unwrap(), &req);
    }
}
