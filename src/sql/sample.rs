//! The case-control sample in SQL: the draw of [`crate::data::controls`], computed by
//! the engine (SHA-256 of `"<seed>:<account>"`, its first 13 hex digits compared as text).

use super::score::outcome_labels;
use super::SqlParams;
use crate::data::controls::{threshold, SAMPLE_HEX};

pub(super) fn query(p: &SqlParams, rate: f64, seed: u64) -> String {
    let d = p.dialect;
    let table = d.table(&p.table);
    let account = d.ident(p.columns.account.as_deref().unwrap_or_default());
    let outcome = d.ident(p.columns.outcome.as_deref().unwrap_or_default());
    let (yes, _) = outcome_labels(d);
    let churned = format!("LOWER({}) IN ({yes})", d.trimmed_text(&outcome));
    let Some(t) = threshold(rate) else {
        return format!("SELECT * FROM {table};\n");
    };
    let key = d.concat(&[
        d.string(&format!("{seed}:")),
        format!("CAST({account} AS {})", d.text()),
    ]);
    let prefix = format!("SUBSTR({}, 1, {SAMPLE_HEX})", d.sha256_hex(&key));
    format!(
        "-- Every churned snapshot, and the retained snapshots of the accounts whose\n\
         -- SHA-256 of '{seed}:<account>' starts below {t} (rate {rate}).\n\
         SELECT *\nFROM {table}\nWHERE {churned}\n   OR {};\n",
        d.bytes_less(&prefix, &d.string(&t))
    )
}
