//! Suggested policies as Kubernetes YAML, written by hand so that every value from traffic is
//! quoted safely: list values are always double-quoted with everything outside printable ASCII
//! escaped, other scalars are plain only when they cannot be read as anything but that string.
//! The output is ASCII, one document per policy, deterministic.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::output::{SuggestedOperation, SuggestedPolicy, SuggestedRule};

const HEADER: &str = "\
# Istio AuthorizationPolicies suggested by meshlens from observed traffic.
#
# Each policy allows a workload only the callers (mTLS principals), ports, methods and paths
# seen in the traces; everything else sent to that workload is denied once it is applied.
# Requests without a known caller identity, and traffic the traces did not show, are not
# allowed: read the coverage report and review before applying.
";

/// Longest line a flow list is kept on.
const WIDTH: usize = 100;

/// The documents, with `comment` lines (our own text) above each one.
pub(super) fn render(
    policies: &[SuggestedPolicy],
    comment: impl Fn(&SuggestedPolicy) -> Option<String>,
) -> String {
    let mut out = String::from(HEADER);
    for policy in policies {
        out.push_str("---\n");
        if let Some(text) = comment(policy) {
            for line in text.lines() {
                out.push_str("# ");
                out.push_str(&quoted_inner(line));
                out.push('\n');
            }
        }
        document(&mut out, policy);
    }
    out
}

fn document(out: &mut String, policy: &SuggestedPolicy) {
    out.push_str("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n");
    let _ = writeln!(out, "  name: {}", scalar(&policy.name));
    let _ = writeln!(out, "  namespace: {}", scalar(&policy.namespace));
    if policy.is_allow_nothing() {
        out.push_str("spec: {}\n");
        return;
    }
    out.push_str("spec:\n");
    if let Some(selector) = &policy.selector {
        selector_labels(out, selector);
    }
    out.push_str("  action: ALLOW\n  rules:\n");
    for rule in &policy.rules {
        self::rule(out, rule);
    }
}

fn selector_labels(out: &mut String, labels: &BTreeMap<String, String>) {
    out.push_str("  selector:\n    matchLabels:\n");
    for (key, value) in labels {
        let _ = writeln!(out, "      {}: {}", scalar(key), scalar(value));
    }
}

fn rule(out: &mut String, rule: &SuggestedRule) {
    out.push_str("  - from:\n    - source:\n");
    list(out, 8, "principals", &rule.principals);
    out.push_str("    to:\n");
    for operation in &rule.operations {
        self::operation(out, operation);
    }
}

fn operation(out: &mut String, operation: &SuggestedOperation) {
    out.push_str("    - operation:\n");
    let ports: Vec<String> = operation.ports.iter().map(u16::to_string).collect();
    list(out, 8, "ports", &ports);
    list(out, 8, "methods", &operation.methods);
    list(out, 8, "paths", &operation.paths);
}

/// `name: ["a", "b"]` when it fits on a line, else a block list; nothing when empty.
fn list(out: &mut String, indent: usize, name: &str, values: &[String]) {
    if values.is_empty() {
        return;
    }
    let items: Vec<String> = values
        .iter()
        .map(|v| format!("\"{}\"", quoted_inner(v)))
        .collect();
    let pad = " ".repeat(indent);
    let flow = format!("{pad}{name}: [{}]", items.join(", "));
    if flow.len() <= WIDTH {
        out.push_str(&flow);
        out.push('\n');
        return;
    }
    let _ = writeln!(out, "{pad}{name}:");
    for item in items {
        let _ = writeln!(out, "{pad}- {item}");
    }
}

/// A plain scalar when nothing else can be read into it, else a double-quoted one.
fn scalar(value: &str) -> String {
    if is_plain(value) {
        value.to_owned()
    } else {
        format!("\"{}\"", quoted_inner(value))
    }
}

/// Letters, digits, `-`, `_`, `.`, `/`, starting with a letter or digit, with a letter
/// somewhere, and not a word or number YAML 1.1 or 1.2 reads as a bool, null or number.
fn is_plain(value: &str) -> bool {
    const WORDS: &[&str] = &["true", "false", "yes", "no", "on", "off", "y", "n", "null"];
    let bytes = value.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
        && bytes.iter().any(u8::is_ascii_alphabetic)
        && value.parse::<f64>().is_err()
        && !WORDS.contains(&value.to_ascii_lowercase().as_str())
        && !["0x", "0o", "0b", "0X", "0O", "0B"]
            .iter()
            .any(|p| value.starts_with(p))
}

/// The inside of a double-quoted scalar: `"` and `\` escaped, everything outside printable
/// ASCII as `\xXX`, `\uXXXX` or `\UXXXXXXXX`. (Also used for comment lines, where it keeps a
/// line break out.)
fn quoted_inner(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            _ => {
                let code = u32::from(c);
                let _ = match code {
                    0..=0xff => write!(out, "\\x{code:02X}"),
                    0x100..=0xffff => write!(out, "\\u{code:04X}"),
                    _ => write!(out, "\\U{code:08X}"),
                };
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_only_when_unambiguous() {
        for plain in ["reviews", "v1", "app.kubernetes.io/name", "bookinfo", "a_b"] {
            assert!(is_plain(plain), "{plain}");
        }
        for quoted in [
            "", "true", "No", "y", "null", "1", "1.5", "1e3", "inf", "NaN", "0x1f", "-a", ".a",
            "a b", "a:b", "a#b", "a\"b", "é", "~", "9080",
        ] {
            assert!(!is_plain(quoted), "{quoted}");
        }
    }

    #[test]
    fn escapes_everything_unusual() {
        assert_eq!(
            quoted_inner("a\"b\\c\nd\u{7f}\u{e9}\u{2028}\u{1F600}"),
            "a\\\"b\\\\c\\x0Ad\\x7F\\xE9\\u2028\\U0001F600"
        );
    }
}
