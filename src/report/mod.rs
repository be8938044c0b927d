//! Renderers: results to Markdown, CSV, JSON and SVG text. Pure functions; writing files
//! happens at the edge ([`crate::output`]).

pub mod analysis;
pub mod audit;
pub mod calibration;
pub mod chart;
pub mod churn_charts;
pub mod explain;
pub mod html;
pub mod learned;
pub mod pack;
pub mod pack_charts;
pub mod risk;
pub mod segments;
pub mod validate;

/// A number with `d` decimals, or `–` when it is not finite: the one number format of the
/// Markdown tables.
pub(crate) fn fixed(v: f64, d: usize) -> String {
    if v.is_finite() {
        format!("{v:.d$}")
    } else {
        "–".into()
    }
}
