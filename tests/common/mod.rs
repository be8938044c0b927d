//! Helpers shared by the end-to-end test files (each uses some of them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file below `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The `churncal` binary, run in `dir`, with a fixed creation date.
pub fn churncal(dir: &Path) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("churncal").unwrap();
    c.current_dir(dir).env("SOURCE_DATE_EPOCH", "1790000000");
    c
}

/// A file of `notebooks-data/real`, as a path string.
pub fn real(name: &str) -> String {
    root()
        .join("notebooks-data/real")
        .join(name)
        .to_string_lossy()
        .into_owned()
}
