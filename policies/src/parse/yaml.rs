//! Access to saphyr's marked YAML tree: loading with bounded nesting, positions as
//! [`Location`]s, and typed reads of fields that report wrong types instead of panicking.
//!
//! Conversions read the tree through [`Fields`] and the typed getters here, which record every
//! problem in [`Diagnostics`] and return `None`, so one bad field never hides the next one.

use std::path::PathBuf;
use std::sync::Arc;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, ScanError, YamlData};
use saphyr_parser::{Event, Parser, Span};

use super::error::ParseError;
use super::suggest;
use crate::model::{Located, Location};

pub(crate) type Node<'input> = MarkedYaml<'input>;

/// Deepest nesting accepted. Kubernetes manifests stay far below it (a Deployment is about 12
/// deep); the bound keeps hostile input from overflowing the stack when the tree is built,
/// compared or dropped, all of which recurse.
pub(crate) const MAX_DEPTH: usize = 100;

/// Parses every document of `text`, refusing input nested deeper than [`MAX_DEPTH`] (aliases
/// count with the depth of what they expand to).
pub(crate) fn load<'input>(
    file: &Arc<PathBuf>,
    text: &'input str,
) -> Result<Vec<Node<'input>>, ParseError> {
    check_depth(file, text)?;
    MarkedYaml::load_from_str(text).map_err(|e| syntax_error(file, &e))
}

fn syntax_error(file: &Arc<PathBuf>, error: &ScanError) -> ParseError {
    let marker = error.marker();
    ParseError::Syntax {
        location: Location {
            file: Arc::clone(file),
            // The scanner reports line 0 for errors at the very start of the stream.
            line: marker.line().max(1),
            column: marker.col() + 1,
        },
        message: error.info().to_string(),
    }
}

/// One open collection during [`check_depth`].
struct Open {
    anchor: usize,
    depth: usize,
    deepest: usize,
}

/// A pass over the parser's events, which needs no recursion, before the tree is built.
fn check_depth(file: &Arc<PathBuf>, text: &str) -> Result<(), ParseError> {
    // Height of the tree under each anchor, so that an alias counts as deep as its expansion:
    // chained anchors could otherwise build an arbitrarily deep tree from shallow text.
    let mut anchor_height: Vec<(usize, usize)> = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    let too_deep = |span: Span| ParseError::Syntax {
        location: Location {
            file: Arc::clone(file),
            line: span.start.line().max(1),
            column: span.start.col() + 1,
        },
        message: format!("nested more than {MAX_DEPTH} levels deep"),
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| syntax_error(file, &e))?;
        let depth = open.last().map_or(0, |o| o.depth) + 1;
        let leaf_height = match event {
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if depth > MAX_DEPTH {
                    return Err(too_deep(span));
                }
                open.push(Open {
                    anchor,
                    depth,
                    deepest: depth,
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(closed) = open.pop() else { continue };
                if closed.anchor != 0 {
                    anchor_height.push((closed.anchor, closed.deepest - closed.depth + 1));
                }
                if let Some(parent) = open.last_mut() {
                    parent.deepest = parent.deepest.max(closed.deepest);
                }
                continue;
            }
            Event::Scalar(_, _, anchor, _) => {
                if anchor != 0 {
                    anchor_height.push((anchor, 1));
                }
                1
            }
            Event::Alias(anchor) => anchor_height
                .iter()
                .rev()
                .find(|(a, _)| *a == anchor)
                .map_or(1, |(_, h)| *h),
            _ => continue,
        };
        let reached = depth + leaf_height - 1;
        if reached > MAX_DEPTH {
            return Err(too_deep(span));
        }
        if let Some(parent) = open.last_mut() {
            parent.deepest = parent.deepest.max(reached);
        }
    }
    Ok(())
}

/// Collects the errors of one file, each with its position.
#[derive(Debug)]
pub(crate) struct Diagnostics {
    file: Arc<PathBuf>,
    errors: Vec<ParseError>,
}

impl Diagnostics {
    pub(crate) fn new(file: Arc<PathBuf>) -> Self {
        Self {
            file,
            errors: Vec::new(),
        }
    }

    /// Where `node` starts, 1-based.
    pub(crate) fn at(&self, node: &Node<'_>) -> Location {
        Location {
            file: Arc::clone(&self.file),
            line: node.span.start.line().max(1),
            column: node.span.start.col() + 1,
        }
    }

    pub(crate) fn error(&mut self, location: Location, message: impl Into<String>) {
        self.errors.push(ParseError::Invalid {
            location,
            message: message.into(),
        });
    }

    pub(crate) fn error_at(&mut self, node: &Node<'_>, message: impl Into<String>) {
        let location = self.at(node);
        self.error(location, message);
    }

    pub(crate) fn count(&self) -> usize {
        self.errors.len()
    }

    pub(crate) fn into_errors(self) -> Vec<ParseError> {
        self.errors
    }
}

/// The node under any tags (`!!str`, custom tags): Kubernetes ignores tags, and so do we.
/// Tagged nodes carry no span of their own, so positions come from the outer node.
pub(crate) fn untagged<'n, 'input>(node: &'n Node<'input>) -> &'n Node<'input> {
    let mut node = node;
    while let YamlData::Tagged(_, inner) = &node.data {
        node = inner;
    }
    node
}

/// "a list", "a number", … for messages that say what was found instead.
pub(crate) fn describe(node: &Node<'_>) -> &'static str {
    match &untagged(node).data {
        YamlData::Value(Scalar::Null) => "null",
        YamlData::Value(Scalar::Boolean(_)) => "a boolean",
        YamlData::Value(Scalar::Integer(_) | Scalar::FloatingPoint(_)) => "a number",
        YamlData::Value(Scalar::String(_)) | YamlData::Representation(..) => "a string",
        YamlData::Sequence(_) => "a list",
        YamlData::Mapping(_) => "a mapping",
        YamlData::Alias(_) => "an alias",
        YamlData::BadValue | YamlData::Tagged(..) => "an invalid value",
    }
}

pub(crate) fn is_null(node: &Node<'_>) -> bool {
    matches!(untagged(node).data, YamlData::Value(Scalar::Null))
}

/// The text of a string scalar (only strings: `80` or `true` are not strings to Kubernetes).
pub(crate) fn as_str<'n>(node: &'n Node<'_>) -> Option<&'n str> {
    match &untagged(node).data {
        YamlData::Value(Scalar::String(s)) => Some(s),
        YamlData::Representation(s, ..) => Some(s),
        _ => None,
    }
}

/// The items of a sequence.
pub(crate) fn as_list<'n, 'input>(node: &'n Node<'input>) -> Option<&'n [Node<'input>]> {
    match &untagged(node).data {
        YamlData::Sequence(items) => Some(items),
        _ => None,
    }
}

/// One `name: value` entry of a mapping.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'n, 'input> {
    pub(crate) name: &'n str,
    pub(crate) key: &'n Node<'input>,
    pub(crate) value: &'n Node<'input>,
}

/// The fields of one mapping, by name, in document order.
#[derive(Debug)]
pub(crate) struct Fields<'n, 'input> {
    entries: Vec<Field<'n, 'input>>,
}

impl<'n, 'input> Fields<'n, 'input> {
    /// Reads an object of a known schema: anything but a mapping and every field not in
    /// `known` is an error (`what` names the object in messages: "unknown field … in what").
    /// `elsewhere` lists other objects of the schema (where, fields): a field written one level
    /// off (`principals` directly in a rule) is then told where it belongs.
    pub(crate) fn strict(
        diagnostics: &mut Diagnostics,
        node: &'n Node<'input>,
        what: &str,
        known: &[&str],
        elsewhere: &[(&str, &[&str])],
    ) -> Option<Self> {
        let fields = Self::lenient(diagnostics, node, what)?;
        for field in &fields.entries {
            if known.contains(&field.name) {
                continue;
            }
            let mut hint = suggest::did_you_mean(field.name, known);
            if hint.is_empty()
                && let Some((place, _)) = elsewhere
                    .iter()
                    .find(|(_, fields)| *fields != known && fields.contains(&field.name))
            {
                hint = format!(" (\"{}\" belongs in {place})", field.name);
            }
            diagnostics.error_at(
                field.key,
                format!("unknown field \"{}\" in {what}{hint}", field.name),
            );
        }
        Some(fields)
    }

    /// Reads an object whose other fields do not concern us (Kubernetes manifests).
    pub(crate) fn lenient(
        diagnostics: &mut Diagnostics,
        node: &'n Node<'input>,
        what: &str,
    ) -> Option<Self> {
        let YamlData::Mapping(map) = &untagged(node).data else {
            diagnostics.error_at(
                node,
                format!("{what} must be a mapping, found {}", describe(node)),
            );
            return None;
        };
        let mut entries = Vec::with_capacity(map.len());
        for (key, value) in map {
            match as_str(key) {
                Some(name) => entries.push(Field { name, key, value }),
                None => diagnostics.error_at(
                    key,
                    format!(
                        "field names in {what} must be strings, found {}",
                        describe(key)
                    ),
                ),
            }
        }
        Some(Self { entries })
    }

    /// The field, unless absent or null (the API server drops null fields before validating).
    pub(crate) fn get(&self, name: &str) -> Option<Field<'n, 'input>> {
        self.entries
            .iter()
            .find(|f| f.name == name && !is_null(f.value))
            .copied()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Field<'n, 'input>> {
        self.entries.iter()
    }
}

/// A list field's items; anything else is an error naming the field.
pub(crate) fn list<'n, 'input>(
    diagnostics: &mut Diagnostics,
    field: Field<'n, 'input>,
) -> Option<&'n [Node<'input>]> {
    let items = as_list(field.value);
    if items.is_none() {
        diagnostics.error_at(
            field.value,
            format!(
                "\"{}\" must be a list, found {}",
                field.name,
                describe(field.value)
            ),
        );
    }
    items
}

/// A string field.
pub(crate) fn string(
    diagnostics: &mut Diagnostics,
    field: Field<'_, '_>,
) -> Option<Located<String>> {
    match as_str(field.value) {
        Some(s) => Some(Located {
            value: s.to_string(),
            location: diagnostics.at(field.value),
        }),
        None => {
            diagnostics.error_at(
                field.value,
                format!(
                    "\"{}\" must be a string, found {}",
                    field.name,
                    describe(field.value)
                ),
            );
            None
        }
    }
}

/// A list of strings; a wrong item is reported at the item and left out.
pub(crate) fn string_list(
    diagnostics: &mut Diagnostics,
    field: Field<'_, '_>,
) -> Option<Vec<Located<String>>> {
    let Some(items) = as_list(field.value) else {
        let hint = if as_str(field.value).is_some() {
            format!(" (write {}: [\"…\"])", field.name)
        } else {
            String::new()
        };
        diagnostics.error_at(
            field.value,
            format!(
                "\"{}\" must be a list of strings, found {}{hint}",
                field.name,
                describe(field.value)
            ),
        );
        return None;
    };
    let mut values = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match as_str(item) {
            Some(s) => values.push(Located {
                value: s.to_string(),
                location: diagnostics.at(item),
            }),
            None => {
                // Numbers are the usual culprit (`ports: [80]`): the API wants strings.
                let hint = if matches!(untagged(item).data, YamlData::Value(Scalar::Integer(_))) {
                    " (quote it)"
                } else {
                    ""
                };
                diagnostics.error_at(
                    item,
                    format!(
                        "{}[{i}] must be a string, found {}{hint}",
                        field.name,
                        describe(item)
                    ),
                );
            }
        }
    }
    Some(values)
}

/// A `string: string` mapping (labels, annotations, selectors), in document order.
pub(crate) fn string_map(
    diagnostics: &mut Diagnostics,
    field: Field<'_, '_>,
) -> Option<Vec<(Located<String>, Located<String>)>> {
    let fields = Fields::lenient(diagnostics, field.value, &format!("\"{}\"", field.name))?;
    let mut pairs = Vec::new();
    for entry in fields.iter() {
        match as_str(entry.value) {
            Some(value) => pairs.push((
                Located {
                    value: entry.name.to_string(),
                    location: diagnostics.at(entry.key),
                },
                Located {
                    value: value.to_string(),
                    location: diagnostics.at(entry.value),
                },
            )),
            None => diagnostics.error_at(
                entry.value,
                format!(
                    "{}[\"{}\"] must be a string, found {} (quote it)",
                    field.name,
                    entry.name,
                    describe(entry.value)
                ),
            ),
        }
    }
    Some(pairs)
}

/// An integer field.
pub(crate) fn integer(diagnostics: &mut Diagnostics, field: Field<'_, '_>) -> Option<i64> {
    match &untagged(field.value).data {
        YamlData::Value(Scalar::Integer(n)) => Some(*n),
        _ => {
            diagnostics.error_at(
                field.value,
                format!(
                    "\"{}\" must be an integer, found {}",
                    field.name,
                    describe(field.value)
                ),
            );
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn file() -> Arc<PathBuf> {
        Arc::new(PathBuf::from("t.yaml"))
    }

    fn nested_block(depth: usize) -> String {
        let mut text = String::new();
        for i in 0..depth {
            text.push_str(&" ".repeat(i));
            text.push_str("-\n");
        }
        text.push_str(&" ".repeat(depth));
        text.push_str("x\n");
        text
    }

    #[test]
    fn loads_documents_with_positions() {
        let docs = load(&file(), "a: 1\n---\nb:\n  c: [x]\n").unwrap();
        assert_eq!(docs.len(), 2);
        let mut d = Diagnostics::new(file());
        let fields = Fields::strict(&mut d, &docs[1], "doc", &["b"], &[]).unwrap();
        let b = fields.get("b").unwrap();
        let inner = Fields::strict(&mut d, b.value, "b", &["c"], &[]).unwrap();
        let c = string_list(&mut d, inner.get("c").unwrap()).unwrap();
        assert_eq!(c[0].value, "x");
        assert_eq!((c[0].location.line, c[0].location.column), (4, 7));
        assert_eq!(d.count(), 0);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = load(&file(), "a: [1, 2\nb: c\n").unwrap_err();
        assert!(matches!(err, ParseError::Syntax { .. }), "{err}");
        assert!(err.location().unwrap().line >= 1);
        let dup = load(&file(), "a: 1\na: 2\n").unwrap_err();
        assert!(dup.message().contains("duplicate"), "{dup}");
    }

    #[test]
    fn duplicate_keys_are_syntax_errors_at_their_line() {
        let text = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: a\n  name: b\n";
        let err = super::super::parse_policies(&file(), text).unwrap_err();
        assert!(err.is_file_level(), "{err}");
        assert!(err.message().contains("duplicate"), "{err}");
        let location = err.location().unwrap();
        assert_eq!(location.line, 5, "{err}");
        assert!(err.to_string().starts_with("t.yaml:5:"), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        assert!(load(&file(), &nested_block(MAX_DEPTH - 1)).is_ok());
        let err = load(&file(), &nested_block(5000)).unwrap_err();
        assert!(err.message().contains("nested more than"), "{err}");
        let flow = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(load(&file(), &flow).is_err());
    }

    #[test]
    fn aliases_count_with_the_depth_they_expand_to() {
        // Each anchor nests the previous one 60 deep: shallow text, deep tree.
        let mut text = String::from("a0: &a0 x\n");
        for i in 1..5 {
            text.push_str(&format!(
                "a{i}: &a{i} {}*a{}{}\n",
                "[".repeat(60),
                i - 1,
                "]".repeat(60)
            ));
        }
        let err = load(&file(), &text).unwrap_err();
        assert!(err.message().contains("nested more than"), "{err}");
    }

    #[test]
    fn wrong_types_are_errors_not_panics() {
        let docs = load(&file(), "m: x\nl: [1, y, {a: b}]\ns: [a]\nk: {1: a}\n").unwrap();
        let mut d = Diagnostics::new(file());
        let fields = Fields::strict(&mut d, &docs[0], "doc", &["m", "l", "s", "k"], &[]).unwrap();
        assert!(string_list(&mut d, fields.get("m").unwrap()).is_none());
        assert_eq!(
            string_list(&mut d, fields.get("l").unwrap()).unwrap().len(),
            1
        );
        assert!(string(&mut d, fields.get("s").unwrap()).is_none());
        assert!(
            string_map(&mut d, fields.get("k").unwrap())
                .unwrap()
                .is_empty()
        );
        let messages: Vec<String> = d.into_errors().iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 5, "{messages:#?}");
        assert!(
            messages[0].starts_with("t.yaml:1:4: \"m\" must be a list of strings, found a string")
        );
        assert!(messages[1].contains("l[0] must be a string, found a number (quote it)"));
    }

    #[test]
    fn unknown_fields_are_reported_with_suggestions() {
        let docs = load(&file(), "method: [GET]\nprincipals: [a]\n").unwrap();
        let mut d = Diagnostics::new(file());
        let source: &[&str] = &["principals"];
        Fields::strict(
            &mut d,
            &docs[0],
            "operation",
            &["methods", "paths"],
            &[("source", source)],
        )
        .unwrap();
        let errors = d.into_errors();
        assert_eq!(
            errors[0].to_string(),
            "t.yaml:1:1: unknown field \"method\" in operation (did you mean \"methods\"?)"
        );
        assert_eq!(
            errors[1].to_string(),
            "t.yaml:2:1: unknown field \"principals\" in operation (\"principals\" belongs in source)"
        );
    }
}
