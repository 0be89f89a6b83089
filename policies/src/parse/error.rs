//! The one error type of reading policies and manifests. Every variant names the file; all but
//! I/O failures also name the line and column, so an editor or CI annotation can jump there.

use std::path::{Path, PathBuf};

use crate::model::Location;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The file or directory could not be read (missing, unreadable, not UTF-8). No position:
    /// nothing of the file was seen.
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    /// The file is not YAML (or nests deeper than meshlens accepts). The whole file is unusable:
    /// once the parser loses its place, no later document can be trusted.
    #[error("{location}: invalid YAML: {message}")]
    Syntax { location: Location, message: String },
    /// A document is YAML but not an object the API server would accept: unknown field, wrong
    /// type, a value Istio's validation rejects. Other documents of the file are unaffected.
    #[error("{location}: {message}")]
    Invalid { location: Location, message: String },
}

impl ParseError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::Io { path, .. } => path,
            Self::Syntax { location, .. } | Self::Invalid { location, .. } => &location.file,
        }
    }

    /// Where in the file; `None` for I/O errors.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::Io { .. } => None,
            Self::Syntax { location, .. } | Self::Invalid { location, .. } => Some(location),
        }
    }

    /// The message without the position prefix.
    pub fn message(&self) -> &str {
        match self {
            Self::Io { message, .. }
            | Self::Syntax { message, .. }
            | Self::Invalid { message, .. } => message,
        }
    }

    /// True when the error made the whole file unusable (I/O or YAML syntax), as opposed to one
    /// invalid document.
    pub fn is_file_level(&self) -> bool {
        !matches!(self, Self::Invalid { .. })
    }

    pub(crate) fn io(path: &Path, error: &std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn display_is_path_line_column_message() {
        let error = ParseError::Invalid {
            location: Location {
                file: Arc::new(PathBuf::from("policies/deny.yaml")),
                line: 12,
                column: 9,
            },
            message: "unknown field \"method\" in operation (did you mean \"methods\"?)".into(),
        };
        assert_eq!(
            error.to_string(),
            "policies/deny.yaml:12:9: unknown field \"method\" in operation (did you mean \"methods\"?)"
        );
        assert!(!error.is_file_level());
        assert_eq!(error.path(), Path::new("policies/deny.yaml"));
    }

    #[test]
    fn io_errors_have_no_position() {
        let error = ParseError::io(
            Path::new("missing.yaml"),
            &std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory"),
        );
        assert_eq!(error.to_string(), "missing.yaml: No such file or directory");
        assert!(error.location().is_none());
        assert!(error.is_file_level());
    }
}
