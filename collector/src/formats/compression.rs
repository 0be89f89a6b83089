//! Request body content encodings, decoded within a size limit: a gzip bomb (a few KiB that
//! inflate to gigabytes) is cut off one byte past the limit, never expanded into memory.

use std::io::Read;

/// A compressed body's encoding, as `Content-Encoding` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    /// HTTP `deflate`: zlib-wrapped, but some clients send raw deflate; both are accepted.
    Deflate,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Deflate => "deflate",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecompressError {
    #[error("decompressed request body exceeds the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("invalid {} body: {error}", .encoding.name())]
    Corrupt {
        encoding: Compression,
        error: std::io::Error,
    },
}

/// `raw` decompressed; never more than `limit` bytes are kept (reading stops one byte past
/// the limit), so the memory a body costs is bounded whatever it inflates to.
pub fn decompress(
    encoding: Compression,
    raw: &[u8],
    limit: usize,
) -> Result<Vec<u8>, DecompressError> {
    match encoding {
        Compression::Gzip => inflate(flate2::read::GzDecoder::new(raw), encoding, limit),
        // A zlib stream starts with CM = 8 (deflate) in the low nibble of its first byte.
        Compression::Deflate if raw.first().is_some_and(|b| b & 0x0f == 8) => {
            inflate(flate2::read::ZlibDecoder::new(raw), encoding, limit)
        }
        Compression::Deflate => inflate(flate2::read::DeflateDecoder::new(raw), encoding, limit),
    }
}

fn inflate(
    decoder: impl Read,
    encoding: Compression,
    limit: usize,
) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::new();
    decoder
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|error| DecompressError::Corrupt { encoding, error })?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge { limit });
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn a_bomb_is_cut_off_at_the_limit() {
        // 64 MiB of zeros compress to ~64 KiB.
        let bomb = gzip(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < 100 << 10);
        let err = decompress(Compression::Gzip, &bomb, 1 << 20).unwrap_err();
        assert!(matches!(err, DecompressError::TooLarge { limit } if limit == 1 << 20));
        assert_eq!(
            decompress(Compression::Gzip, &gzip(b"abc"), 3).unwrap(),
            b"abc"
        );
        assert!(decompress(Compression::Gzip, &gzip(b"abcd"), 3).is_err());
    }

    #[test]
    fn corrupt_bodies_are_errors() {
        let err = decompress(Compression::Gzip, b"not gzip", 100).unwrap_err();
        assert!(err.to_string().starts_with("invalid gzip body"), "{err}");
        let mut cut = gzip(b"hello world, hello world");
        cut.truncate(cut.len() - 6);
        assert!(decompress(Compression::Gzip, &cut, 100).is_err());
        assert!(decompress(Compression::Deflate, b"\x78\x9c\xff", 100).is_err());
    }
}
