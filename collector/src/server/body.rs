//! Reading an HTTP request body within the size limit, before and after decompression: a
//! gzip bomb is cut off at the limit, never expanded into memory
//! ([`crate::formats::compression`]).

use axum::body::Body;
use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::formats::compression::{self, Compression, DecompressError};

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
    let compression = match encoding {
        Encoding::Identity => return Ok(raw),
        Encoding::Gzip => Compression::Gzip,
        Encoding::Deflate => Compression::Deflate,
    };
    match compression::decompress(compression, &raw, limit) {
        Ok(out) => Ok(out.into()),
        Err(DecompressError::TooLarge { limit }) => Err(BodyError::DecompressedTooLarge { limit }),
        Err(DecompressError::Corrupt { encoding, error }) => Err(BodyError::Corrupt {
            encoding: encoding.name(),
            error,
        }),
    }
}
