//! The case-control draw shared by `calibrate --sample-controls` and `churncal sql
//! sample`: every churned snapshot, and the retained snapshots of the accounts whose hash
//! of seed and id falls below the rate. Whole accounts stay together (the grouped
//! cross-validation and the bootstrap need them so), the draw is the same on every SQL
//! engine, and drawing again from a sample keeps all of it.

use sha2::{Digest, Sha256};

/// Hex digits of the SHA-256 compared with the rate (52 bits: a rate's resolution of
/// 2e-16, and an exact double).
pub const SAMPLE_HEX: usize = 13;

/// The text hashed for an account: `"<seed>:<account id>"`.
pub fn sample_key(seed: u64, account: &str) -> String {
    format!("{seed}:{account}")
}

/// The rate as the integer a 52-bit hash prefix must fall below; `None` keeps every
/// account (rate 1).
fn threshold_bits(rate: f64) -> Option<u64> {
    (rate < 1.0).then(|| (rate * (1u64 << (4 * SAMPLE_HEX)) as f64).floor() as u64)
}

/// The rate as the 13-hex-digit threshold a hash prefix must fall below (what the SQL
/// compares as text); `None` keeps every account (rate 1).
pub fn threshold(rate: f64) -> Option<String> {
    threshold_bits(rate).map(|t| format!("{t:0width$x}", width = SAMPLE_HEX))
}

/// Whether `account`'s retained snapshots are kept in a case-control sample at `rate`
/// with `seed`: the first 13 hex digits of SHA-256(`"<seed>:<account>"`) below
/// `rate × 16^13`, compared here as the number they spell.
pub fn controls_kept(seed: u64, account: &str, rate: f64) -> bool {
    let Some(t) = threshold_bits(rate) else {
        return true;
    };
    let digest = Sha256::digest(sample_key(seed, account).as_bytes());
    let first: [u8; 8] = digest[..8].try_into().expect("a SHA-256 has 32 bytes");
    (u64::from_be_bytes(first) >> (64 - 4 * SAMPLE_HEX)) < t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_keeps_about_the_rate_and_is_idempotent() {
        let kept = (0..20_000)
            .filter(|i| controls_kept(7, &format!("acct-{i}"), 0.25))
            .count();
        // 5000 expected; sd ≈ 61.
        assert!((4700..5300).contains(&kept), "{kept}");
        assert!(controls_kept(7, "x", 1.0));
        assert_eq!(threshold(0.5).unwrap(), "8000000000000");
        // `printf 7:acct-1 | sha256sum` starts 45cb692c41321…: 0x45cb692c41321 / 16^13
        // = 0.27263…, so the account is kept at rate 0.28 and not at 0.27.
        assert!(controls_kept(7, "acct-1", 0.28));
        assert!(!controls_kept(7, "acct-1", 0.27));
    }
}
