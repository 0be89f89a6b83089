//! Which files `--policies PATH...` and `--inventory PATH...` mean: files as given, directories
//! searched recursively for `*.yaml`/`*.yml`, in a stable (sorted) order so that output and
//! error order do not depend on the file system.

use std::fs;
use std::path::{Path, PathBuf};

use super::error::ParseError;

/// The files to read for `paths`. A path given explicitly is read whatever its extension;
/// inside directories only `.yaml`/`.yml` files count, hidden entries (`.git`, `.github`) are
/// skipped, and symbolic links to directories are not followed (they could loop). A file named
/// twice is read once.
pub fn collect_yaml_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ParseError> {
    let mut files = Vec::new();
    for path in paths {
        let metadata = fs::metadata(path).map_err(|e| ParseError::io(path, &e))?;
        if metadata.is_dir() {
            walk(path, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.clone()));
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), ParseError> {
    let entries = fs::read_dir(dir).map_err(|e| ParseError::io(dir, &e))?;
    let mut children = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| ParseError::io(dir, &e))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let file_type = entry.file_type().map_err(|e| ParseError::io(&path, &e))?;
        let is_dir = file_type.is_dir();
        // A link counts as a file when it points at one; linked directories are not walked.
        let is_file = file_type.is_file()
            || (file_type.is_symlink() && fs::metadata(&path).is_ok_and(|m| m.is_file()));
        if is_dir || (is_file && has_yaml_extension(&path)) {
            children.push((path, is_dir));
        }
    }
    children.sort();
    for (path, is_dir) in children {
        if is_dir {
            walk(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

fn has_yaml_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// The text of a file; not UTF-8 is an I/O error like any other unreadable file.
pub(crate) fn read(path: &Path) -> Result<String, ParseError> {
    fs::read_to_string(path).map_err(|e| ParseError::io(path, &e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn walks_directories_sorted_and_filters_extensions() {
        let dir = std::env::temp_dir().join(format!("meshlens-files-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("b/nested")).unwrap();
        fs::create_dir_all(dir.join(".hidden")).unwrap();
        for name in [
            "z.yaml",
            "a.yml",
            "notes.txt",
            "b/nested/c.YAML",
            "b/x.yaml",
            ".hidden/h.yaml",
        ] {
            fs::write(dir.join(name), "").unwrap();
        }
        let given = dir.join("notes.txt");
        let files = collect_yaml_files(&[dir.clone(), given.clone(), dir.join("a.yml")]).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.strip_prefix(&dir).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "a.yml",
                "b/nested/c.YAML",
                "b/x.yaml",
                "z.yaml",
                "notes.txt"
            ]
        );
        let missing = collect_yaml_files(&[dir.join("missing")]).unwrap_err();
        assert!(missing.is_file_level());
        fs::remove_dir_all(&dir).unwrap();
    }
}
