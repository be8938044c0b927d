//! Renderers: results to Markdown, JSON and SVG text. Pure functions; writing files happens
//! at the edge ([`crate::output`]).

pub mod calibration;
pub mod chart;
