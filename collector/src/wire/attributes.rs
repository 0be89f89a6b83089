//! `KeyValue` attributes: twenty of them make up most of an Envoy span's bytes, so this is the
//! hot part of the walk.
//!
//! Two shortcuts, each falling back to the general field loop on anything unusual so that
//! errors and odd encodings are handled in one place:
//! - attributes encoded as every SDK and Envoy writes them (key, then value, then nothing)
//!   are split without a field loop, and string values likewise;
//! - an attribute whose bytes are those of the one at the same position of the span before,
//!   or a value whose bytes are those the same key had before in this request, is not
//!   decoded (nor its UTF-8 checked) again: Envoy repeats most tags span after span.

use super::reader::{Reader, WireError, WireType, utf8};
use crate::normalize::{AttrKey, AttrValue, RBAC_DENIED_PREFIX, ResourceBuilder, SpanBuilder};

/// The two builders attributes feed.
pub(super) trait Attributes<'a> {
    fn known(&mut self, key: AttrKey, value: AttrValue<'a>);
    fn named(&mut self, key: &'a str, value: AttrValue<'a>);
}

impl<'a> Attributes<'a> for ResourceBuilder<'a> {
    fn known(&mut self, key: AttrKey, value: AttrValue<'a>) {
        self.attr_known(key, value);
    }
    fn named(&mut self, key: &'a str, value: AttrValue<'a>) {
        self.attr(key, value);
    }
}

impl<'a> Attributes<'a> for SpanBuilder<'a, '_> {
    fn known(&mut self, key: AttrKey, value: AttrValue<'a>) {
        self.attr_known(key, value);
    }
    fn named(&mut self, key: &'a str, value: AttrValue<'a>) {
        self.attr(key, value);
    }
}

/// What one `KeyValue` tells a builder: a pure function of its bytes (and of the request's
/// multiplier key), so equal bytes may reuse it.
#[derive(Debug, Clone, Copy)]
enum Outcome<'a> {
    Ignored,
    Known(AttrKey, AttrValue<'a>),
    Named(&'a str, AttrValue<'a>),
}

impl<'a> Outcome<'a> {
    fn apply(self, attrs: &mut impl Attributes<'a>) {
        match self {
            Self::Ignored => {}
            Self::Known(key, value) => attrs.known(key, value),
            Self::Named(key, value) => attrs.named(key, value),
        }
    }
}

/// Span attributes remembered by position: an Envoy span sends the same tags in the same
/// order as the one before it, most with the same values.
const POSITIONS: usize = 32;

/// What one request's attributes decoded to so far, to reuse for equal bytes.
#[derive(Debug)]
pub(super) struct Seen<'a> {
    /// The `KeyValue` last seen at each position of a span's attributes, and its outcome.
    positions: [(&'a [u8], Outcome<'a>); POSITIONS],
    /// The last value each known key had: its `AnyValue` bytes and what they decoded to.
    values: [(&'a [u8], AttrValue<'a>); AttrKey::COUNT],
    /// The last span name, already checked for UTF-8.
    pub(super) name: &'a str,
}

impl<'a> Seen<'a> {
    pub(super) fn new() -> Self {
        // Empty bytes do decode to these: the initial entries are true ones.
        Self {
            positions: [(&[], Outcome::Ignored); POSITIONS],
            values: [(&[], AttrValue::Other); AttrKey::COUNT],
            name: "",
        }
    }
}

/// Feeds the `index`-th attribute of a span to its builder.
pub(super) fn span_attribute<'a>(
    kv: Reader<'a>,
    index: usize,
    attrs: &mut impl Attributes<'a>,
    seen: &mut Seen<'a>,
    multiplier_key: Option<&str>,
) -> Result<(), WireError> {
    let bytes = kv.rest();
    let outcome = match seen.positions.get(index) {
        Some(&(before, outcome)) if before == bytes => outcome,
        _ => {
            let outcome = outcome(kv, &mut seen.values, multiplier_key)?;
            if let Some(slot) = seen.positions.get_mut(index) {
                *slot = (bytes, outcome);
            }
            outcome
        }
    };
    outcome.apply(attrs);
    Ok(())
}

/// Feeds one resource attribute to its builder.
pub(super) fn resource_attribute<'a>(
    kv: Reader<'a>,
    attrs: &mut impl Attributes<'a>,
    seen: &mut Seen<'a>,
    multiplier_key: Option<&str>,
) -> Result<(), WireError> {
    outcome(kv, &mut seen.values, multiplier_key)?.apply(attrs);
    Ok(())
}

/// What a `KeyValue` tells a builder. Most of an Envoy span's tags are of no interest to
/// normalisation: their values are neither decoded nor UTF-8 checked, only skipped.
fn outcome<'a>(
    kv: Reader<'a>,
    values: &mut [(&'a [u8], AttrValue<'a>); AttrKey::COUNT],
    multiplier_key: Option<&str>,
) -> Result<Outcome<'a>, WireError> {
    let end = kv.offset() + kv.remaining();
    let (key, value) = key_value(kv)?;
    let Some(value) = value else {
        // A key without a value is a value of no kind, as on the owned path: it still
        // overrides (`error` with no value clears an earlier `error=true`).
        return Ok(match AttrKey::classify(key) {
            Some(known) => Outcome::Known(known, AttrValue::Other),
            None => Outcome::Ignored,
        });
    };
    let known = match AttrKey::classify(key) {
        Some(known) => known,
        None if multiplier_key.is_some_and(|m| m.as_bytes() == key) => AttrKey::SamplingMultiplier,
        // Any tag may carry Envoy's response code details with an RBAC denial.
        None if starts_with_string(value.clone(), RBAC_DENIED_PREFIX.as_bytes())? => {
            // An error points past the whole `KeyValue`, where its fields were all read.
            return Ok(Outcome::Named(
                utf8(key, end)?,
                any_value(value, usize::MAX)?,
            ));
        }
        None => return Ok(Outcome::Ignored),
    };
    let bytes = value.rest();
    let Some(seen) = values.get_mut(known as usize) else {
        return Ok(Outcome::Known(
            known,
            any_value(value, known.max_value_len())?,
        ));
    };
    if seen.0 != bytes {
        *seen = (bytes, any_value(value, known.max_value_len())?);
    }
    Ok(Outcome::Known(known, seen.1))
}

/// A `KeyValue`'s key and value (`None` when it has no value).
#[inline]
fn key_value(mut kv: Reader<'_>) -> Result<(&[u8], Option<Reader<'_>>), WireError> {
    if let Some((key, value)) = plain_key_value(&kv) {
        return Ok((key, Some(value)));
    }
    let mut key: &[u8] = &[];
    let mut value = None;
    while let Some((field, wire)) = kv.key()? {
        match (field, wire) {
            (1, WireType::Len) => key = kv.bytes()?,
            (2, WireType::Len) => value = Some(kv.sub()?),
            _ => kv.skip(wire)?,
        }
    }
    Ok((key, value))
}

/// [`key_value`] of a `KeyValue` holding a key (field 1) and then a value (field 2), nothing
/// else; `None` for any other encoding.
fn plain_key_value<'a>(kv: &Reader<'a>) -> Option<(&'a [u8], Reader<'a>)> {
    let bytes = kv.rest();
    let [0x0a, rest @ ..] = bytes else {
        return None;
    };
    let (key, rest) = split_len(rest)?;
    let [0x12, rest @ ..] = rest else {
        return None;
    };
    let (value, []) = split_len(rest)? else {
        return None;
    };
    let value_offset = kv.offset() + (bytes.len() - value.len());
    Some((key, Reader::nested(value, value_offset)))
}

/// A length-delimited run at the start of `bytes` (its length prefix included) and what
/// follows; `None` when the prefix takes more than two bytes or the run overruns `bytes`,
/// cases the shortcuts leave to the [`Reader`].
fn split_len(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = match *bytes {
        [low, ref rest @ ..] if low < 0x80 => (usize::from(low), rest),
        [low, high, ref rest @ ..] if high < 0x80 => {
            (usize::from(low & 0x7f) | usize::from(high) << 7, rest)
        }
        _ => return None,
    };
    rest.split_at_checked(len)
}

/// Whether an `AnyValue` is a string starting with `prefix`, or an array whose first string
/// does (the string normalisation reads from it), without decoding it.
fn starts_with_string(mut any: Reader<'_>, prefix: &[u8]) -> Result<bool, WireError> {
    // Most tag values are far shorter than the prefix (a tag byte and a length byte at least
    // come before the string): no need to look inside.
    if any.remaining() < prefix.len() + 2 {
        return Ok(false);
    }
    while let Some((field, wire)) = any.key()? {
        match (field, wire) {
            (1, WireType::Len) => return Ok(any.bytes()?.starts_with(prefix)),
            (5, WireType::Len) => {
                return Ok(matches!(
                    first_string(any.sub()?)?,
                    AttrValue::Str(s) if s.as_bytes().starts_with(prefix)
                ));
            }
            _ => any.skip(wire)?,
        }
    }
    Ok(false)
}

/// An `AnyValue` as normalisation reads it; a string longer than `max` reads as `<overflow>`
/// (see `normalize::MAX_VALUE_LEN`), capped here, once per distinct value.
fn any_value(mut any: Reader<'_>, max: usize) -> Result<AttrValue<'_>, WireError> {
    // A string and nothing else, as Envoy sends every tag.
    if let [0x0a, rest @ ..] = any.rest()
        && let Some((string, [])) = split_len(rest)
    {
        return utf8(string, any.offset() + 1).map(|s| AttrValue::Str(s).capped(max));
    }
    let mut value = AttrValue::Other;
    while let Some((field, wire)) = any.key()? {
        value = match (field, wire) {
            (1, WireType::Len) => AttrValue::Str(any.str()?),
            (2, WireType::Varint) => AttrValue::Bool(any.varint()? != 0),
            (3, WireType::Varint) => AttrValue::Int(any.varint()? as i64),
            (4, WireType::Fixed64) => AttrValue::Double(f64::from_bits(any.fixed64()?)),
            // Header attributes are string arrays in OTel semantic conventions: the first
            // string stands for the header, as on the owned path.
            (5, WireType::Len) => first_string(any.sub()?)?,
            (6, WireType::Len) => {
                super::check_message(any.sub()?)?;
                AttrValue::Other
            }
            _ => {
                any.skip(wire)?;
                AttrValue::Other
            }
        };
    }
    Ok(value.capped(max))
}

/// The first string element of an `ArrayValue`. Elements are read one level deep only: a
/// nested array is not a header value, and recursing would let a request of nested arrays
/// exhaust the stack.
fn first_string(mut array: Reader<'_>) -> Result<AttrValue<'_>, WireError> {
    let mut first = None;
    while let Some((field, wire)) = array.key()? {
        match (field, wire) {
            (1, WireType::Len) => {
                let element = array.sub()?;
                if first.is_none() {
                    first = string_value(element)?;
                }
            }
            _ => array.skip(wire)?,
        }
    }
    Ok(first.map_or(AttrValue::Other, AttrValue::Str))
}

/// An `AnyValue`'s string, if it holds one; other kinds are skipped unread.
fn string_value(mut any: Reader<'_>) -> Result<Option<&str>, WireError> {
    let mut value = None;
    while let Some((field, wire)) = any.key()? {
        match (field, wire) {
            (1, WireType::Len) => value = Some(any.str()?),
            _ => {
                any.skip(wire)?;
                value = None;
            }
        }
    }
    Ok(value)
}
