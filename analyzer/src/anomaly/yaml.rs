//! YAML → typed config through saphyr's marked tree: the tree becomes a JSON value (keeping
//! every key's position), serde deserializes it, and an error is located by the path of the
//! key serde failed on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};
use serde_path_to_error::Segment;

use super::config::ConfigError;

/// Nesting accepted in a config file (configs are a few levels deep).
const MAX_DEPTH: usize = 32;

/// Where a configuration comes from: a file, or YAML text.
#[derive(Debug, Clone, Copy)]
pub enum YamlInput<'a> {
    File(&'a Path),
    Text(&'a str),
}

impl<'a> From<&'a Path> for YamlInput<'a> {
    fn from(path: &'a Path) -> Self {
        Self::File(path)
    }
}

impl<'a> From<&'a PathBuf> for YamlInput<'a> {
    fn from(path: &'a PathBuf) -> Self {
        Self::File(path)
    }
}

impl<'a> From<&'a str> for YamlInput<'a> {
    fn from(text: &'a str) -> Self {
        Self::Text(text)
    }
}

/// Positions (1-based line, 1-based column) of keys, by dotted path (`a.b[2].c`).
#[derive(Debug, Default)]
pub(crate) struct Positions(HashMap<String, (usize, usize)>);

impl Positions {
    pub(crate) fn get(&self, path: &str) -> Option<(usize, usize)> {
        self.0.get(path).copied()
    }

    /// The position of `path`, or of its nearest ancestor that has one.
    fn nearest(&self, path: &str) -> (usize, usize) {
        let mut p = path;
        loop {
            if let Some(pos) = self.get(p) {
                return pos;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return self.get("").unwrap_or((0, 0)),
            }
        }
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

struct Converter<'o> {
    origin: &'o str,
    positions: Positions,
}

impl Converter<'_> {
    fn error(&self, node: &MarkedYaml<'_>, path: &str, message: String) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin.to_owned(),
            line: node.span.start.line(),
            column: node.span.start.col() + 1,
            key: (!path.is_empty()).then(|| path.to_owned()),
            message,
        }
    }

    fn convert(
        &mut self,
        node: &MarkedYaml<'_>,
        path: &str,
        depth: usize,
    ) -> Result<Value, ConfigError> {
        if depth > MAX_DEPTH {
            return Err(self.error(node, path, format!("nested more than {MAX_DEPTH} levels")));
        }
        match &node.data {
            YamlData::Value(scalar) => Ok(scalar_value(scalar)),
            YamlData::Representation(text, _, _) => Ok(Value::String(text.to_string())),
            YamlData::Tagged(_, inner) => self.convert(inner, path, depth + 1),
            YamlData::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    self.positions.0.insert(
                        item_path.clone(),
                        (item.span.start.line(), item.span.start.col() + 1),
                    );
                    out.push(self.convert(item, &item_path, depth + 1)?);
                }
                Ok(Value::Array(out))
            }
            YamlData::Mapping(map) => {
                let mut out = Map::new();
                for (key, value) in map {
                    let name = match &key.data {
                        YamlData::Value(Scalar::String(s)) => s.to_string(),
                        YamlData::Value(s @ (Scalar::Integer(_) | Scalar::Boolean(_))) => {
                            scalar_value(s).to_string()
                        }
                        _ => {
                            return Err(self.error(key, path, "keys must be strings".to_owned()));
                        }
                    };
                    let key_path = join(path, &name);
                    if out.contains_key(&name) {
                        return Err(self.error(
                            key,
                            &key_path,
                            format!("duplicate key `{key_path}`"),
                        ));
                    }
                    self.positions.0.insert(
                        key_path.clone(),
                        (key.span.start.line(), key.span.start.col() + 1),
                    );
                    let v = self.convert(value, &key_path, depth + 1)?;
                    out.insert(name, v);
                }
                Ok(Value::Object(out))
            }
            YamlData::Alias(_) => {
                Err(self.error(node, path, "aliases are not supported".to_owned()))
            }
            YamlData::BadValue => Err(self.error(node, path, "invalid value".to_owned())),
        }
    }
}

fn scalar_value(scalar: &Scalar<'_>) -> Value {
    match scalar {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::Number((*i).into()),
        // JSON has no infinities or NaN: keep them as text so serde reports a wrong type
        // instead of reading a null (which would disable an optional threshold).
        Scalar::FloatingPoint(f) => Number::from_f64(f.into_inner())
            .map_or_else(|| Value::String(f.into_inner().to_string()), Value::Number),
        Scalar::String(s) => Value::String(s.to_string()),
    }
}

/// The dotted path of serde_path_to_error's path, in the same spelling as [`Positions`].
fn path_string(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Map { key } => out = join(&out, key),
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Enum { .. } => {}
            Segment::Unknown => break,
        }
    }
    out
}

/// Rewrites serde's "unknown field `x`, expected one of …" in config words.
fn unknown_key(message: &str) -> Option<(String, String)> {
    let rest = message.strip_prefix("unknown field `")?;
    let end = rest.find('`')?;
    let key = rest[..end].to_owned();
    let expected = rest[end + 1..]
        .trim_start_matches(", ")
        .replace("expected one of", "expected one of:")
        .replace("expected", "known keys are");
    Some((key, expected))
}

/// Parses `text` (the first YAML document; an empty file is all defaults) into `T`.
pub(crate) fn parse<T: DeserializeOwned + Default>(
    origin: &str,
    text: &str,
) -> Result<(T, Positions), ConfigError> {
    let docs = MarkedYaml::load_from_str(text).map_err(|e| {
        let marker = e.marker();
        ConfigError::Invalid {
            origin: origin.to_owned(),
            line: marker.line().max(1),
            column: marker.col() + 1,
            key: None,
            message: e.info().to_string(),
        }
    })?;
    let mut conv = Converter {
        origin,
        positions: Positions::default(),
    };
    let Some(doc) = docs.first() else {
        return Ok((T::default(), conv.positions));
    };
    conv.positions.0.insert(
        String::new(),
        (doc.span.start.line(), doc.span.start.col() + 1),
    );
    let value = match conv.convert(doc, "", 0)? {
        Value::Null => return Ok((T::default(), conv.positions)),
        v @ Value::Object(_) => v,
        _ => return Err(conv.error(doc, "", "expected a mapping of settings".to_owned())),
    };
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(config) => Ok((config, conv.positions)),
        Err(err) => {
            let path = path_string(err.path());
            let inner = err.into_inner().to_string();
            let (key, message) = match unknown_key(&inner) {
                Some((name, expected)) => {
                    // The path may or may not already end at the unknown key.
                    let full = if path == name || path.ends_with(&format!(".{name}")) {
                        path
                    } else {
                        join(&path, &name)
                    };
                    let message = format!("unknown key `{full}` ({expected})");
                    (full, message)
                }
                None if path.is_empty() => (path, inner),
                None => {
                    let message = format!("`{path}`: {inner}");
                    (path, message)
                }
            };
            let (line, column) = conv.positions.nearest(&key);
            Err(ConfigError::Invalid {
                origin: origin.to_owned(),
                line,
                column,
                key: (!key.is_empty()).then_some(key),
                message,
            })
        }
    }
}
