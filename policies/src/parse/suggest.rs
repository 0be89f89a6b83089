//! "Did you mean" for misspelt field names, actions and `when` keys: the most common mistakes
//! in hand-written policies are a missing plural (`method`), wrong case (`ipblocks`) or a typo.

/// The candidate closest to `wrong`, if it is close enough to be a plausible typo.
pub(crate) fn closest<'a>(wrong: &str, candidates: &[&'a str]) -> Option<&'a str> {
    // Same letters in another case is the strongest signal (`deny` for `DENY`).
    if let Some(same) = candidates.iter().find(|c| c.eq_ignore_ascii_case(wrong)) {
        return Some(same);
    }
    let wrong_lower = wrong.to_ascii_lowercase();
    candidates
        .iter()
        .map(|candidate| {
            (
                distance(&wrong_lower, &candidate.to_ascii_lowercase()),
                *candidate,
            )
        })
        // Allow about one edit per three characters, at least one, at most three: `to` must not
        // suggest `key`, but `notPrinciples` should find `notPrincipals`.
        .filter(|(d, candidate)| *d <= (candidate.chars().count() / 3).clamp(1, 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, candidate)| candidate)
}

/// The ` (did you mean "x"?)` suffix, or nothing.
pub(crate) fn did_you_mean(wrong: &str, candidates: &[&str]) -> String {
    closest(wrong, candidates)
        .map(|c| format!(" (did you mean \"{c}\"?)"))
        .unwrap_or_default()
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions), over chars.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rolling rows: the transposition case looks two rows back.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPERATION: &[&str] = &[
        "hosts",
        "notHosts",
        "ports",
        "notPorts",
        "methods",
        "notMethods",
        "paths",
        "notPaths",
    ];

    #[test]
    fn finds_plural_case_and_typo() {
        assert_eq!(closest("method", OPERATION), Some("methods"));
        assert_eq!(closest("NOTPATHS", OPERATION), Some("notPaths"));
        assert_eq!(closest("pahts", OPERATION), Some("paths"));
        assert_eq!(
            closest("notPrinciples", &["principals", "notPrincipals"]),
            Some("notPrincipals")
        );
        assert_eq!(closest("deny", &["ALLOW", "DENY"]), Some("DENY"));
    }

    #[test]
    fn does_not_suggest_unrelated_names() {
        assert_eq!(closest("source", OPERATION), None);
        assert_eq!(closest("to", &["key", "values"]), None);
        assert_eq!(did_you_mean("xyz", OPERATION), "");
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("abc", "abc"), 0);
        assert_eq!(distance("abc", "acb"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
