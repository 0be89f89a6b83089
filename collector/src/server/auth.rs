//! The bearer token every listener asks for when `--auth-token-file` is given (as the
//! OpenTelemetry Collector's `bearertokenauth` extension does): `Authorization: Bearer <token>`
//! on every ingestion and API request, `GET /healthz` excepted so probes need no secret.
//!
//! The token is compared in constant time and never shown: its `Debug` prints `<redacted>`
//! and nothing here logs it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use subtle::ConstantTimeEq;

/// The value of `WWW-Authenticate` on a 401 (RFC 6750).
pub const CHALLENGE: &str = "Bearer realm=\"meshlens\"";

/// The shared secret clients present. Cheap to clone.
#[derive(Clone)]
pub struct BearerToken(Arc<str>);

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    // The cause is in the message, not a `source`: `{:#}` would print it twice.
    #[error("cannot read the token file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the token file {path} is empty")]
    Empty { path: PathBuf },
    // The token itself is not quoted: an error message may end up in a log.
    #[error(
        "the token file {path} holds more than one line or characters a header cannot carry: \
         one token of visible ASCII characters is expected"
    )]
    Invalid { path: PathBuf },
}

impl BearerToken {
    /// Reads a file holding one token; surrounding whitespace (a trailing newline) is ignored.
    pub fn from_file(path: &Path) -> Result<Self, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|error| TokenError::Read {
            path: path.to_owned(),
            error,
        })?;
        Self::parse(&text).map_err(|error| match error {
            ParseError::Empty => TokenError::Empty {
                path: path.to_owned(),
            },
            ParseError::Invalid => TokenError::Invalid {
                path: path.to_owned(),
            },
        })
    }

    fn parse(text: &str) -> Result<Self, ParseError> {
        let token = text.trim();
        if token.is_empty() {
            return Err(ParseError::Empty);
        }
        // Visible ASCII only: anything else cannot travel in a header value, and a space would
        // make `Bearer a b` ambiguous.
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ParseError::Invalid);
        }
        Ok(Self(Arc::from(token)))
    }

    /// The `Authorization` header a client sends, marked sensitive so that `Debug` of the
    /// headers (and HTTP/2's header compression) does not expose it.
    pub fn authorization(&self) -> HeaderValue {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.0))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        value.set_sensitive(true);
        value
    }

    /// The token the client sent, compared in constant time. A token of another length is
    /// refused at once: its length is all that timing could tell.
    pub fn matches(&self, presented: &[u8]) -> bool {
        bool::from(self.0.as_bytes().ct_eq(presented))
    }

    /// Whether `headers` carry `Authorization: Bearer <this token>` (the scheme is
    /// case-insensitive, RFC 7235).
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let mut values = headers.get_all(AUTHORIZATION).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return false;
        };
        let value = value.as_bytes();
        let Some((scheme, credentials)) = value
            .iter()
            .position(|&b| b == b' ')
            .map(|space| value.split_at(space))
        else {
            return false;
        };
        scheme.eq_ignore_ascii_case(b"bearer") && self.matches(credentials.trim_ascii_start())
    }
}

#[derive(Debug)]
enum ParseError {
    Empty,
    Invalid,
}

/// Requires the token on every route of `router` (routes merged later are not covered).
/// `reject` answers the others and counts them.
pub(super) fn require<F>(router: Router, token: BearerToken, reject: F) -> Router
where
    F: Fn(&HeaderMap) -> Response + Clone + Send + Sync + 'static,
{
    router.layer(middleware::from_fn(move |request: Request, next: Next| {
        let allowed = token.allows(request.headers());
        let reject = reject.clone();
        async move {
            if allowed {
                next.run(request).await
            } else {
                // The request's body is never read: nothing reaches the queue.
                reject(request.headers())
            }
        }
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_token_file_is_trimmed_and_checked() {
        let token = BearerToken::parse("  s3cr3t-t0ken\n").unwrap();
        assert!(token.matches(b"s3cr3t-t0ken"));
        assert!(!token.matches(b"s3cr3t-t0kem"));
        assert!(!token.matches(b"s3cr3t"));
        assert!(matches!(BearerToken::parse(" \n"), Err(ParseError::Empty)));
        assert!(matches!(
            BearerToken::parse("two\nlines"),
            Err(ParseError::Invalid)
        ));
        assert!(matches!(
            BearerToken::parse("caf\u{e9}"),
            Err(ParseError::Invalid)
        ));
    }

    #[test]
    fn only_the_bearer_scheme_with_the_exact_token_is_allowed() {
        let token = BearerToken::parse("abc").unwrap();
        assert!(token.allows(&headers("Bearer abc")));
        assert!(token.allows(&headers("bearer abc")));
        assert!(!token.allows(&headers("Bearer abcd")));
        assert!(!token.allows(&headers("Basic abc")));
        assert!(!token.allows(&headers("Bearer")));
        assert!(!token.allows(&headers("abc")));
        assert!(!token.allows(&HeaderMap::new()));
        let mut twice = headers("Bearer abc");
        twice.append(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert!(!token.allows(&twice));
        assert_eq!(token.authorization(), "Bearer abc");
    }

    #[test]
    fn the_token_is_never_shown() {
        let token = BearerToken::parse("hunter2").unwrap();
        let shown = format!("{token:?} {:?}", token.authorization());
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
