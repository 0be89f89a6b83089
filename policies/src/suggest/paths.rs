//! Observed (normalised) paths into `paths` values: identifier-like segments become Istio's
//! one-segment template `{*}`, paths a template already covers are dropped, and past a cap the
//! paths' longest common segment prefix (`/api/*`) stands for all of them.
//!
//! Only forms the evaluator (and Istio) read exactly are produced: an exact path, a template
//! whose other segments are plain `pchar` literals, or a `prefix/*`.

use std::collections::BTreeSet;

use super::normalize::is_pchar;

/// Istio's one-segment template operator.
pub(super) const SEGMENT: &str = "{*}";

/// The `paths` value for one normalised path: a `{*}` template when `templates` is on and some
/// segment looks like an identifier (and the path can be a template), else the path itself.
pub(super) fn generalize(path: &str, templates: bool) -> String {
    if !templates {
        return path.to_owned();
    }
    let segments: Vec<&str> = segments(path).collect();
    // A template path needs every other segment to be a non-empty pchar literal (no `//`, no
    // `*`); otherwise it stays exact.
    let literal_ok = |s: &str| !s.is_empty() && s.bytes().all(is_pchar);
    if !segments.iter().any(|s| is_identifier(s)) || !segments.iter().all(|s| literal_ok(s)) {
        return path.to_owned();
    }
    let out: Vec<&str> = segments
        .iter()
        .map(|s| if is_identifier(s) { SEGMENT } else { s })
        .collect();
    format!("/{}", out.join("/"))
}

/// The segments after the leading `/`.
fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.strip_prefix('/').unwrap_or(path).split('/')
}

/// Numbers, UUIDs, long hex strings (object ids, hashes) and `{name}` route templates (seen
/// normalised, as `%7Bname%7D`).
fn is_identifier(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    let numeric = !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit);
    let uuid = bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    let long_hex = bytes.len() >= 16
        && bytes.iter().all(u8::is_ascii_hexdigit)
        && bytes.iter().any(u8::is_ascii_digit);
    let upper = segment.to_ascii_uppercase();
    let route_template = upper.len() > 6
        && upper.starts_with("%7B")
        && upper.ends_with("%7D")
        && segment.bytes().all(is_pchar);
    numeric || uuid || long_hex || route_template
}

/// Whether a `{*}` template produced by [`generalize`] matches an exact path.
fn template_matches(template: &str, path: &str) -> bool {
    let (mut t, mut p) = (segments(template), segments(path));
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(SEGMENT), Some(s)) if !s.is_empty() && s.bytes().all(is_pchar) => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// The `paths` of one operation, sorted, and the prefix used when there were more than `cap`.
pub(super) fn reduce(patterns: BTreeSet<String>, cap: usize) -> (Vec<String>, Option<String>) {
    let templates: Vec<&String> = patterns.iter().filter(|p| p.contains(SEGMENT)).collect();
    let kept: Vec<String> = patterns
        .iter()
        .filter(|p| p.contains(SEGMENT) || !templates.iter().any(|t| template_matches(t, p)))
        .cloned()
        .collect();
    if kept.len() <= cap.max(1) {
        return (kept, None);
    }
    let prefix = common_prefix(&kept);
    (vec![prefix.clone()], Some(prefix))
}

/// `/<common segments>/*`, the common segments stopping before any `{*}` and leaving every path
/// at least one more segment (so each still starts with the prefix).
fn common_prefix(paths: &[String]) -> String {
    let split: Vec<Vec<&str>> = paths.iter().map(|p| segments(p).collect()).collect();
    let shortest = split.iter().map(Vec::len).min().unwrap_or(0);
    let mut common: Vec<&str> = Vec::new();
    if let Some(first) = split.first() {
        for (i, segment) in first.iter().enumerate().take(shortest.saturating_sub(1)) {
            if *segment == SEGMENT || split.iter().any(|s| s[i] != *segment) {
                break;
            }
            common.push(segment);
        }
    }
    if common.is_empty() {
        "/*".to_owned()
    } else {
        format!("/{}/*", common.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(paths: &[&str]) -> BTreeSet<String> {
        paths.iter().map(|p| (*p).to_owned()).collect()
    }

    #[test]
    fn identifiers_become_templates() {
        let g = |p| generalize(p, true);
        assert_eq!(g("/reviews/0"), "/reviews/{*}");
        assert_eq!(g("/productpage"), "/productpage");
        assert_eq!(
            g("/orders/123e4567-e89b-12d3-a456-426614174000/items/7"),
            "/orders/{*}/items/{*}"
        );
        assert_eq!(g("/objects/507f1f77bcf86cd799439011"), "/objects/{*}");
        assert_eq!(g("/users/%7Bid%7D"), "/users/{*}");
        assert_eq!(g("/users/deadbeef"), "/users/deadbeef");
        // Cannot be a template: an empty segment, a `*`, a non-pchar character.
        assert_eq!(g("/a//1"), "/a//1");
        assert_eq!(g("/a*/1"), "/a*/1");
        assert_eq!(g("/a[b]/1"), "/a[b]/1");
        assert_eq!(g("/"), "/");
        assert_eq!(generalize("/reviews/0", false), "/reviews/0");
    }

    #[test]
    fn templates_cover_exact_paths() {
        let (paths, prefix) = reduce(set(&["/r/{*}", "/r/abc", "/r/abc/d", "/s"]), 16);
        assert_eq!(paths, ["/r/abc/d", "/r/{*}", "/s"]);
        assert_eq!(prefix, None);
    }

    #[test]
    fn cap_uses_common_prefix() {
        let (paths, prefix) = reduce(set(&["/api/v1/a", "/api/v1/b", "/api/v1/c"]), 2);
        assert_eq!(paths, ["/api/v1/*"]);
        assert_eq!(prefix.as_deref(), Some("/api/v1/*"));
        let (paths, _) = reduce(set(&["/api/v1", "/api/v1/b", "/api/v1/c"]), 2);
        assert_eq!(paths, ["/api/*"]);
        let (paths, _) = reduce(set(&["/api/{*}/a", "/api/{*}/b", "/api/x"]), 2);
        assert_eq!(paths, ["/api/*"]);
        let (paths, _) = reduce(set(&["/a", "/b", "/c"]), 2);
        assert_eq!(paths, ["/*"]);
    }
}
