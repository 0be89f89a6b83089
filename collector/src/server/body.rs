//! Reading an HTTP request body within the size limit, before and after decompression: a
//! gzip bomb is cut off at the limit, never expanded into memory.

use std::io::Read;

use axum::body::Body;
use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use http_body_util::{BodyExt, LengthLimitError, Limited};

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body exceeds the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("decompressed request body exceeds the limit of {limit} bytes")]
    DecompressedTooLarge { limit: usize },
    #[error("unsupported Content-Encoding {0:?} (supported: gzip, deflate, identity)")]
    UnsupportedEncoding(String),
    #[error("invalid {encoding} body: {error}")]
    Corrupt {
        encoding: &'static str,
        error: std::io::Error,
    },
    #[error("could not read the request body: {0}")]
    Read(String),
    #[error("the request body did not arrive within {0:?}")]
    TimedOut(std::time::Duration),
}

/// How long a client may take to send a request body: a slow trickle does not hold a worker.
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity,
    Gzip,
    Deflate,
}

fn encoding(headers: &HeaderMap) -> Result<Encoding, BodyError> {
    let Some(value) = headers.get(CONTENT_ENCODING) else {
        return Ok(Encoding::Identity);
    };
    let value = value.to_str().unwrap_or("").trim();
    match value.to_ascii_lowercase().as_str() {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        "deflate" => Ok(Encoding::Deflate),
        _ => Err(BodyError::UnsupportedEncoding(value.to_owned())),
    }
}

/// Reads and decompresses a body; both the wire size and the decompressed size are limited.
pub async fn read(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let encoding = encoding(headers)?;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let collected = tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, limit).collect())
        .await
        .map_err(|_| BodyError::TimedOut(BODY_READ_TIMEOUT))?;
    let raw = collected
        .map_err(|error| {
            if error.downcast_ref::<LengthLimitError>().is_some() {
                BodyError::TooLarge { limit }
            } else {
                BodyError::Read(error.to_string())
            }
        })?
        .to_bytes();
    match encoding {
        Encoding::Identity => Ok(raw),
        Encoding::Gzip => inflate(flate2::read::GzDecoder::new(&raw[..]), "gzip", limit),
        Encoding::Deflate => {
            // HTTP "deflate" is zlib-wrapped, but some clients send raw deflate: accept both.
            if raw.first().is_some_and(|b| b & 0x0f == 8) {
                inflate(flate2::read::ZlibDecoder::new(&raw[..]), "deflate", limit)
            } else {
                inflate(
                    flate2::read::DeflateDecoder::new(&raw[..]),
                    "deflate",
                    limit,
                )
            }
        }
    }
}

fn inflate(decoder: impl Read, encoding: &'static str, limit: usize) -> Result<Bytes, BodyError> {
    let mut out = Vec::new();
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|error| BodyError::Corrupt { encoding, error })?;
    if out.len() > limit {
        return Err(BodyError::DecompressedTooLarge { limit });
    }
    Ok(out.into())
}
