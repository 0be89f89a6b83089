//! Request paths as Istio's authorization filters see them, and `paths` templates.
//!
//! Normalisation follows Istio's default `BASE` option, which is Envoy's `normalize_path`
//! (istio.io "Authorization Policy Normalization", Envoy `PathUtil::canonicalPath` tests):
//! percent-encoded unreserved characters are decoded once, other escapes are kept as written
//! (`%2F` stays `%2F`: decoding it needs `DECODE_AND_MERGE_SLASHES`), `\` becomes `/`, `.` and
//! `..` segments are resolved (also when carrying `;parameters`), slashes are not merged, and
//! `%00` makes Envoy reject the request with 400 before any filter runs. Policies match the
//! path without its query and fragment.

use std::fmt::Write as _;

/// A path Envoy refuses before authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejected(pub &'static str);

/// The normalised path (no query) and the `:path` header value (query kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Normalized {
    pub path: String,
    pub header: String,
}

pub(crate) fn normalize(raw: &str) -> Result<Normalized, Rejected> {
    let end = raw.find(['?', '#']).unwrap_or(raw.len());
    let (path, rest) = raw.split_at(end);
    // `%00` decodes to NUL, which Envoy refuses outright, wherever it is in the path.
    if path.as_bytes().windows(3).any(|w| w == b"%00") {
        return Err(Rejected("the path contains %00"));
    }
    let canonical = resolve_dot_segments(&canonical_characters(path));
    let header = match rest.strip_prefix('?') {
        Some(_) => format!("{canonical}{rest}"),
        None => canonical.clone(),
    };
    Ok(Normalized {
        path: canonical,
        header,
    })
}

/// RFC 3986 unreserved characters: the only ones `BASE` decodes from `%HH`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Characters the URL canonicaliser Envoy uses escapes in paths.
fn must_escape(b: u8) -> bool {
    b <= b' ' || b >= 0x7f || matches!(b, b'"' | b'<' | b'>' | b'`' | b'{' | b'}')
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// One pass over the characters: decode unreserved escapes (once: `%252e` stays `%252e`),
/// turn `\` into `/`, escape what must be, keep everything else byte for byte.
fn canonical_characters(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(bytes.len() + 1);
    if !path.starts_with(['/', '\\']) {
        out.push('/');
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                let decoded = match (bytes.get(i + 1), bytes.get(i + 2)) {
                    (Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| h * 16 + l),
                    _ => None,
                };
                match decoded {
                    Some(d) if is_unreserved(d) => {
                        out.push(char::from(d));
                        i += 3;
                    }
                    Some(_) => {
                        out.push_str(&path[i..i + 3]);
                        i += 3;
                    }
                    None => {
                        out.push('%');
                        i += 1;
                    }
                }
            }
            b'\\' => {
                out.push('/');
                i += 1;
            }
            _ if must_escape(b) => {
                let _ = write!(out, "%{b:02X}");
                i += 1;
            }
            _ => {
                out.push(char::from(b));
                i += 1;
            }
        }
    }
    out
}

/// A segment that is `.` or `..`, possibly followed by `;parameters` (Envoy strips them so
/// `/..;x/` cannot smuggle a parent reference past policies).
fn dot_segment(segment: &str) -> Option<bool> {
    let name = segment.split_once(';').map_or(segment, |(name, _)| name);
    match name {
        "." => Some(false),
        ".." => Some(true),
        _ => None,
    }
}

/// RFC 3986 section 5.2.4 over a path that starts with `/`.
fn resolve_dot_segments(path: &str) -> String {
    let segments: Vec<&str> = path.get(1..).unwrap_or("").split('/').collect();
    let last = segments.len().saturating_sub(1);
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    for (i, segment) in segments.iter().enumerate() {
        match dot_segment(segment) {
            Some(parent) => {
                if parent {
                    out.pop();
                }
                // A trailing dot segment leaves the directory: `/a/b/..` is `/a/`.
                if i == last {
                    out.push("");
                }
            }
            None => out.push(segment),
        }
    }
    format!("/{}", out.join("/"))
}

/// `paths` entries with `{*}` / `{**}`: Envoy's `uri_template` matcher, to which Istio hands them
/// after turning `{*}` into `*` and `{**}` into `**`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    /// `{*}`: one or more path characters, no `/`.
    Segment,
    /// `{**}`: any run of path characters and `/`, possibly empty.
    Rest,
}

/// RFC 3986 `pchar` without `*`: what a template operator can consume (and what a literal may
/// contain).
pub(crate) fn is_pchar(b: u8) -> bool {
    is_unreserved(b)
        || matches!(b, b'%' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'+')
        || matches!(b, b',' | b';' | b':' | b'@' | b'=')
}

impl Template {
    /// Whether Istio treats a `paths` value as a template.
    pub fn is_template(value: &str) -> bool {
        value.contains("{*}") || value.contains("{**}")
    }

    /// Compiles a template, refusing what Envoy's parser refuses.
    pub fn compile(value: &str) -> Result<Self, String> {
        if !value.starts_with('/') {
            return Err(format!("path template {value:?} does not start with /"));
        }
        let sanitized = value.replace("{**}", "\u{1}").replace("{*}", "\u{2}");
        let mut tokens = Vec::new();
        let mut literal = String::new();
        for c in sanitized.chars() {
            let token = match c {
                '\u{1}' => Token::Rest,
                '\u{2}' => Token::Segment,
                '/' => {
                    literal.push('/');
                    continue;
                }
                _ if c.is_ascii() && is_pchar(c as u8) => {
                    literal.push(c);
                    continue;
                }
                _ => return Err(format!("path template {value:?} contains {c:?}")),
            };
            if !literal.is_empty() {
                tokens.push(Token::Literal(std::mem::take(&mut literal)));
            }
            if tokens.contains(&Token::Rest) {
                return Err(format!(
                    "path template {value:?} has an operator after {{**}}"
                ));
            }
            tokens.push(token);
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        if value.contains("//") {
            return Err(format!("path template {value:?} contains //"));
        }
        Ok(Self { tokens })
    }

    /// Full match against a normalised path, by the set of positions each token can end at
    /// (linear in the path per token: no backtracking blow-up on hostile paths).
    pub fn matches(&self, path: &str) -> bool {
        let bytes = path.as_bytes();
        let n = bytes.len();
        let mut reach = vec![false; n + 1];
        reach[0] = true;
        for token in &self.tokens {
            let mut next = vec![false; n + 1];
            match token {
                Token::Literal(lit) => {
                    let lit = lit.as_bytes();
                    for p in 0..=n {
                        if reach[p] && bytes[p..].starts_with(lit) {
                            next[p + lit.len()] = true;
                        }
                    }
                }
                Token::Segment | Token::Rest => {
                    let rest = matches!(token, Token::Rest);
                    let mut open = false;
                    if rest {
                        next[0] = reach[0];
                    }
                    for q in 1..=n {
                        let b = bytes[q - 1];
                        if is_pchar(b) || (rest && b == b'/') {
                            open |= reach[q - 1];
                            next[q] = open || (rest && reach[q]);
                        } else {
                            open = false;
                            next[q] = rest && reach[q];
                        }
                    }
                }
            }
            reach = next;
        }
        reach[n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(raw: &str) -> String {
        match normalize(raw) {
            Ok(n) => n.path,
            Err(Rejected(why)) => format!("rejected: {why}"),
        }
    }

    #[test]
    fn envoy_canonical_path_cases() {
        // The pairs from Envoy's PathUtilityTest.NormalizeValidPaths / NormalizeCasePath.
        let cases = [
            ("/xyz", "/xyz"),
            ("/a/b/../c", "/a/c"),
            ("/a/b/./c", "/a/b/c"),
            ("a/b/../c", "/a/c"),
            ("/a/b/../../../../c", "/c"),
            ("/a/..\\c", "/c"),
            ("/%c0%af", "/%c0%af"),
            ("/%5c%25", "/%5c%25"),
            ("/a/b/%2E%2E/c", "/a/c"),
            ("/a/b/%2e%2e/c", "/a/c"),
            ("/a/b/%2E./c", "/a/c"),
            ("/a/b/%2E/c", "/a/b/c"),
            ("..", "/"),
            ("/../a/b", "/a/b"),
            ("/./a/b", "/a/b"),
            ("/xyz/..;foo=bar/abc", "/abc"),
            ("/..;foo=bar/abc", "/abc"),
            ("/xyz/..;foo=bar", "/"),
            ("/xyz/.;foo=bar/abc", "/xyz/abc"),
            ("/xyz/.;foo=bar", "/xyz/"),
            ("/xyz/..;foo=bar/.;v1=2,v2=3/abc", "/abc"),
            ("/.;aaa/..;foo=bar/abc/.;mmm", "/abc/"),
            ("/A/B/C", "/A/B/C"),
            ("/a/%2F%2f/c", "/a/%2F%2f/c"),
            ("/xyz/..;foo=bar/.;fff=zzz?blah=woops", "/"),
        ];
        for (raw, want) in cases {
            assert_eq!(norm(raw), want, "{raw}");
        }
    }

    #[test]
    fn istio_normalization_page_cases() {
        assert_eq!(norm("/some%2fdata/%61%62%63"), "/some%2fdata/abc");
        assert_eq!(norm("/some\\data"), "/some/data");
        assert_eq!(norm("/some//data///abc"), "/some//data///abc");
        assert_eq!(norm("/public/./data/abc/../xyz"), "/public/data/xyz");
        assert_eq!(norm("/foo?v=1"), "/foo");
        assert_eq!(norm("/foo#frag"), "/foo");
        assert_eq!(norm("/%252e%252e/x"), "/%252e%252e/x");
        assert_eq!(norm("/a%2d%5F%7e"), "/a-_~");
        assert_eq!(norm("/xyz/.%00../abc"), "rejected: the path contains %00");
        assert_eq!(norm("/a b/\u{e9}"), "/a%20b/%C3%A9");
        assert_eq!(norm("/50%"), "/50%");
        assert_eq!(norm(""), "/");
    }

    #[test]
    fn header_keeps_query() {
        let n = normalize("/a/../b?x=1").ok();
        assert_eq!(n.map(|n| n.header).as_deref(), Some("/b?x=1"));
    }

    #[test]
    fn templates() {
        let t = |p: &str| Template::compile(p).ok();
        let one = t("/path/template/{*}");
        assert!(one.as_ref().is_some_and(|t| t.matches("/path/template/x")));
        assert!(one.as_ref().is_some_and(|t| !t.matches("/path/template/")));
        assert!(
            one.as_ref()
                .is_some_and(|t| !t.matches("/path/template/x/y"))
        );
        let rest = t("/{**}/path/template");
        assert!(
            rest.as_ref()
                .is_some_and(|t| t.matches("/a/b/path/template"))
        );
        assert!(rest.as_ref().is_some_and(|t| t.matches("//path/template")));
        assert!(rest.as_ref().is_some_and(|t| !t.matches("/path/template")));
        let tail = t("/api/{**}");
        assert!(tail.as_ref().is_some_and(|t| t.matches("/api/")));
        assert!(tail.as_ref().is_some_and(|t| t.matches("/api/v1/users")));
        assert!(tail.as_ref().is_some_and(|t| !t.matches("/apiv1")));
        let mid = t("/a/{*}/b/{*}");
        assert!(mid.as_ref().is_some_and(|t| t.matches("/a/x/b/y")));
        assert!(mid.as_ref().is_some_and(|t| !t.matches("/a/x/c/y")));
        // Characters outside pchar never match an operator.
        assert!(
            one.as_ref()
                .is_some_and(|t| !t.matches("/path/template/a b"))
        );
        assert!(t("/{**}/{*}").is_none());
        assert!(t("/a/{x}").is_none());
        assert!(t("a/{*}").is_none());
        assert!(Template::is_template("/a/{*}"));
        assert!(!Template::is_template("/a/*"));
    }
}
