//! Serde helpers shared by the lenient JSON readers.
//!
//! Real exporters disagree on details the proto3 JSON mapping pins down (numbers as strings or
//! not, `null` for "unset"), so every field goes through one of these tolerant readers instead of
//! serde's strict defaults. Mirror types deserialize through serde derive and convert into the
//! prost types by moving fields, so decoding builds each value once.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Error as _, MapAccess, SeqAccess, Unexpected, Visitor,
};
use serde::{Deserialize, Deserializer};

/// A prost message that is read from JSON through a serde mirror type.
pub(crate) trait FromJson: Sized {
    type Json: DeserializeOwned + Into<Self>;
    /// The message's name in "invalid type" errors.
    const NAME: &'static str;
}

/// Reads a message from a JSON object only. Derived struct deserializers also accept arrays
/// (fields by position), which would turn nonsense such as `"resource": []` into data.
pub(crate) struct Object<T>(PhantomData<T>);

impl<T> Object<T> {
    pub(crate) fn new() -> Self {
        Self(PhantomData)
    }
}

impl<'de, T: FromJson> DeserializeSeed<'de> for Object<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: FromJson> Visitor<'de> for Object<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a JSON object ({})", T::NAME)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::Json::deserialize(MapAccessDeserializer::new(map)).map(Into::into)
    }
}

/// A JSON array of messages; `null` reads as empty (proto3 JSON: `null` means default).
pub(crate) fn seq<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromJson,
{
    struct SeqVisitor<T>(PhantomData<T>);

    impl<'de, T: FromJson> Visitor<'de> for SeqVisitor<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "an array of {} objects", T::NAME)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            // The hint comes from the input: cap it so a lying length cannot reserve gigabytes.
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(item) = seq.next_element_seed(Object::<T>::new())? {
                out.push(item);
            }
            Ok(out)
        }
    }

    d.deserialize_any(SeqVisitor(PhantomData))
}

/// An optional message; `null` reads as absent.
pub(crate) fn opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromJson,
{
    struct OptVisitor<T>(PhantomData<T>);

    impl<'de, T: FromJson> Visitor<'de> for OptVisitor<T> {
        type Value = Option<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a JSON object ({}) or null", T::NAME)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            Object::<T>::new().deserialize(d).map(Some)
        }
    }

    d.deserialize_option(OptVisitor(PhantomData))
}

/// A JSON array of strings; `null` reads as empty.
pub(crate) fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let value: Option<Vec<Option<String>>> = Deserialize::deserialize(d)?;
    Ok(value
        .unwrap_or_default()
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect())
}

/// A string; `null` reads as empty.
pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let value: Option<String> = Deserialize::deserialize(d)?;
    Ok(value.unwrap_or_default())
}

/// An integer written as a JSON number or a decimal string; `null` reads as zero.
pub(crate) fn int<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128> + Default,
{
    Ok(opt_int(d)?.unwrap_or_default())
}

/// Like [`int`], keeping `null` distinct from zero.
pub(crate) fn opt_int<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128>,
{
    match d.deserialize_any(IntVisitor)? {
        None => Ok(None),
        Some(v) => T::try_from(v)
            .map(Some)
            .map_err(|_| D::Error::custom(format_args!("integer {v} is out of range"))),
    }
}

struct IntVisitor;

impl Visitor<'_> for IntVisitor {
    type Value = Option<i128>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer or a decimal string")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.into()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        integral(v)
            .map(Some)
            .ok_or_else(|| E::invalid_value(Unexpected::Float(v), &self))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        let t = s.trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse::<i128>()
            .ok()
            .or_else(|| t.parse::<f64>().ok().and_then(integral))
            .map(Some)
            .ok_or_else(|| E::invalid_value(Unexpected::Str(s), &self))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// `1e3` and `5.0` are integers too; anything past i128 saturates and fails the range check.
fn integral(v: f64) -> Option<i128> {
    (v.is_finite() && v.fract() == 0.0).then_some(v as i128)
}

/// The bare message of a serde_json error, without the " at line L column C" suffix, so that
/// callers can place the position themselves.
pub(crate) fn split_error(err: &serde_json::Error) -> (usize, usize, String) {
    let (line, column) = (err.line(), err.column());
    let mut message = err.to_string();
    if line != 0 {
        let suffix = format!(" at line {line} column {column}");
        if message.ends_with(&suffix) {
            message.truncate(message.len() - suffix.len());
        }
    }
    (line, column, message)
}

/// "line L, column C: " before a message, or nothing when the position is unknown (line 0,
/// as for errors raised while converting an already-parsed `serde_json::Value`).
pub(crate) struct Position<'a>(pub &'a usize, pub &'a usize);

impl fmt::Display for Position<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self.0 == 0 {
            Ok(())
        } else {
            write!(f, "line {}, column {}: ", self.0, self.1)
        }
    }
}

/// A JSON document that is not the trace document expected (OTLP request, Zipkin span array),
/// with where in the text it went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", Position(.line, .column))]
pub struct JsonError {
    /// 1-based line of the error; 0 when unknown (decoding an already parsed value).
    pub line: usize,
    /// 1-based column of the error; 0 when unknown.
    pub column: usize,
    pub message: String,
}

impl From<serde_json::Error> for JsonError {
    fn from(err: serde_json::Error) -> Self {
        let (line, column, message) = split_error(&err);
        Self {
            line,
            column,
            message,
        }
    }
}
