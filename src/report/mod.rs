//! Renderers: results to Markdown, CSV, JSON and SVG text. Pure functions; writing files
//! happens at the edge ([`crate::output`]).

pub mod analysis;
pub mod audit;
pub mod calibration;
pub mod chart;
pub mod churn_charts;
pub mod validation;
