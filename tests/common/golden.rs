//! Golden files, shared by every crate's tests (`#[path]`-included from the crates' own test
//! folders): `testdata/golden/NAME` at the workspace root; `UPDATE_GOLDEN=1` rewrites them.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

/// `testdata/golden/NAME`, from the workspace root or a member crate.
pub fn golden_path(name: &str) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = if manifest.join("testdata/golden").is_dir() {
        manifest.to_path_buf()
    } else {
        manifest.join("..")
    };
    root.join("testdata/golden").join(name)
}

/// Compares `actual` with the golden file, or rewrites it under `UPDATE_GOLDEN=1`.
pub fn assert_golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    assert_eq!(actual, expected, "output differs from {}", path.display());
}
