//! Reading policies: multi-document YAML files and directories into the validated model, with file:line:column errors.
//!
//! Error policy, chosen for a CLI that lints a whole repository:
//! - [`parse_policies`] fails only when the file is not YAML (a syntax error leaves no document
//!   trustworthy). Otherwise it returns every valid policy *and* every error of every invalid
//!   document: a document with errors yields no policy (the API server would store none), but
//!   does not stop the next document.
//! - [`read_policies`] stops at the first file it cannot read or parse as YAML, and otherwise
//!   collects the per-document errors of all files. A caller that wants to go on past a broken
//!   file walks [`collect_yaml_files`] and calls [`parse_policies`] itself.
//!
//! Documents of other kinds are skipped and reported ([`SkippedDocument`]), so that policies can
//! live next to Deployments. So are objects of another group that happen to be called
//! `AuthorizationPolicy` (Linkerd's); `security.istio.io` with a version other than v1/v1beta1
//! is an error.

pub(crate) mod document;
mod error;
mod files;
mod policy;
mod rule;
mod suggest;
mod validate;
pub(crate) mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::ParseError;
pub use files::collect_yaml_files;

use document::{Object, objects};
use yaml::Diagnostics;

use crate::model::{AuthorizationPolicy, Location};

/// Everything found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFile {
    pub file: PathBuf,
    /// Valid policies, in document order.
    pub policies: Vec<AuthorizationPolicy>,
    /// Documents of other kinds.
    pub skipped: Vec<SkippedDocument>,
    /// Errors of invalid documents, in document order.
    pub errors: Vec<ParseError>,
}

/// Everything found in the files of `--policies PATH...`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyFiles {
    /// The files read, in the order read.
    pub files: Vec<PathBuf>,
    pub policies: Vec<AuthorizationPolicy>,
    pub skipped: Vec<SkippedDocument>,
    pub errors: Vec<ParseError>,
}

/// A document that is not an Istio AuthorizationPolicy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedDocument {
    /// As written; empty when the document has none.
    pub api_version: String,
    /// As written; empty when the document has none (or is not a mapping at all).
    pub kind: String,
    pub location: Location,
}

impl PolicyFiles {
    /// How many documents of each kind were skipped ("" for documents without a kind), for
    /// messages such as "skipped 3 Deployment".
    pub fn skipped_by_kind(&self) -> BTreeMap<&str, usize> {
        count_kinds(&self.skipped)
    }
}

impl ParsedFile {
    /// See [`PolicyFiles::skipped_by_kind`].
    pub fn skipped_by_kind(&self) -> BTreeMap<&str, usize> {
        count_kinds(&self.skipped)
    }
}

fn count_kinds(skipped: &[SkippedDocument]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for document in skipped {
        *counts.entry(document.kind.as_str()).or_insert(0) += 1;
    }
    counts
}

/// The policies of one file's text; `file` is only used in locations and errors.
///
/// # Errors
/// [`ParseError::Syntax`] when `text` is not YAML; invalid documents are in
/// [`ParsedFile::errors`] instead.
pub fn parse_policies(file: &Path, text: &str) -> Result<ParsedFile, ParseError> {
    let path = Arc::new(file.to_path_buf());
    let documents = yaml::load(&path, text)?;
    let mut diagnostics = Diagnostics::new(path);
    let mut policies = Vec::new();
    let mut skipped = Vec::new();
    for object in objects(&diagnostics, &documents) {
        let istio_group = object.group() == policy::GROUP;
        if object.kind == policy::KIND && istio_group {
            policies.extend(policy::convert(&mut diagnostics, &object));
        } else {
            skipped.push(SkippedDocument {
                api_version: object.api_version.to_string(),
                kind: object.kind.to_string(),
                location: object.location,
            });
        }
    }
    Ok(ParsedFile {
        file: file.to_path_buf(),
        policies,
        skipped,
        errors: diagnostics.into_errors(),
    })
}

/// The policies of files and directories (recursively `*.yaml`/`*.yml`, sorted).
///
/// # Errors
/// The first path or file that cannot be read, or is not YAML. Invalid documents are in
/// [`PolicyFiles::errors`].
pub fn read_policies(paths: &[PathBuf]) -> Result<PolicyFiles, ParseError> {
    let files = collect_yaml_files(paths)?;
    let mut all = PolicyFiles::default();
    for file in &files {
        let text = files::read(file)?;
        let parsed = parse_policies(file, &text)?;
        all.policies.extend(parsed.policies);
        all.skipped.extend(parsed.skipped);
        all.errors.extend(parsed.errors);
    }
    all.files = files;
    Ok(all)
}

/// The documents of one file as objects, for the inventory: the same loading, positions and
/// errors as policies.
pub(crate) fn load_objects<R>(
    file: &Path,
    text: &str,
    mut each: impl FnMut(&mut Diagnostics, &Object<'_, '_>) -> R,
) -> Result<(Vec<R>, Vec<ParseError>), ParseError> {
    let path = Arc::new(file.to_path_buf());
    let documents = yaml::load(&path, text)?;
    let mut diagnostics = Diagnostics::new(path);
    let results = objects(&diagnostics, &documents)
        .iter()
        .map(|object| each(&mut diagnostics, object))
        .collect();
    Ok((results, diagnostics.into_errors()))
}

/// Reads the files of `paths` in order, giving each one's text to `each`.
pub(crate) fn for_each_file(
    paths: &[PathBuf],
    mut each: impl FnMut(&Path, &str) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    for file in collect_yaml_files(paths)? {
        let text = files::read(&file)?;
        each(&file, &text)?;
    }
    Ok(())
}
