//! Kubernetes objects in YAML documents: `apiVersion` and `kind` of each document, with `List`
//! documents (what `kubectl get -o yaml` prints) expanded into their items. Shared by policies
//! and the inventory.

use super::yaml::{self, Diagnostics, Node};
use crate::model::Location;

/// One object: a document, or an item of a `List`.
#[derive(Debug)]
pub(crate) struct Object<'n, 'input> {
    /// Empty when the document has none (or not a string).
    pub(crate) api_version: &'n str,
    pub(crate) kind: &'n str,
    pub(crate) node: &'n Node<'input>,
    pub(crate) location: Location,
}

impl Object<'_, '_> {
    /// The API group of `apiVersion` (`apps` for `apps/v1`, empty for the core `v1`).
    pub(crate) fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }
}

/// The objects of the documents, in order. Empty documents (`---` alone, comments) are left
/// out; documents that are not mappings become objects without kind, for the caller to skip.
pub(crate) fn objects<'n, 'input>(
    diagnostics: &Diagnostics,
    documents: &'n [Node<'input>],
) -> Vec<Object<'n, 'input>> {
    let mut objects = Vec::new();
    for document in documents {
        if yaml::is_null(document) {
            continue;
        }
        let object = object(diagnostics, document);
        // Only one level: a List of Lists is not something Kubernetes produces.
        if object.kind == "List"
            && let Some(items) = field(document, "items").and_then(yaml::as_list)
        {
            objects.extend(items.iter().map(|item| self::object(diagnostics, item)));
            continue;
        }
        objects.push(object);
    }
    objects
}

fn object<'n, 'input>(diagnostics: &Diagnostics, node: &'n Node<'input>) -> Object<'n, 'input> {
    let text = |name| field(node, name).and_then(yaml::as_str).unwrap_or("");
    Object {
        api_version: text("apiVersion"),
        kind: text("kind"),
        node,
        location: diagnostics.at(node),
    }
}

/// A field of a mapping node, without reporting anything (for peeking at the header).
fn field<'n, 'input>(node: &'n Node<'input>, name: &str) -> Option<&'n Node<'input>> {
    match &yaml::untagged(node).data {
        saphyr::YamlData::Mapping(map) => map
            .iter()
            .find(|(key, _)| yaml::as_str(key) == Some(name))
            .map(|(_, value)| value),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;

    #[test]
    fn expands_lists_and_skips_empty_documents() {
        let file = Arc::new(PathBuf::from("t.yaml"));
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n- kind: Service\n---\n---\n- a\n---\nkind: 3\n";
        let docs = yaml::load(&file, text).unwrap();
        let d = Diagnostics::new(file);
        let objects = objects(&d, &docs);
        let kinds: Vec<(&str, &str)> = objects.iter().map(|o| (o.api_version, o.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("apps/v1", "Deployment"),
                ("", "Service"),
                ("", ""),
                ("", "")
            ]
        );
        assert_eq!(objects[0].group(), "apps");
        assert_eq!(objects[1].group(), "");
        assert_eq!(
            (objects[0].location.line, objects[0].location.column),
            (4, 3)
        );
    }
}
