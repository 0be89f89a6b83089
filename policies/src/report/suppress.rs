//! The suppression file (`.meshlens-ignore.yaml`): known findings silenced with a reason,
//! optionally until an expiry date.
//!
//! ```yaml
//! suppressions:            # or the list alone, at the top level
//!   - code: ML120
//!     subject: foo/httpbin          # a policy id, file:line[:col], or an edge "a -> b"
//!     reason: both rules are meant to be OR'ed (health checks from anyone)
//!     expires: 2026-06-30           # optional, YYYY-MM-DD; valid through that day
//! ```
//!
//! A finding with the entry's code whose policy, location or edge is the subject is removed
//! from the report and counted in `summary.suppressed`. After the expiry date the entry no
//! longer applies (the finding comes back) and an info finding [`SUPPRESSION_EXPIRED`] points
//! at the stale entry.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use super::{CheckInfo, Finding, Location, Report, Severity};

/// The file name meshlens looks for at the repository root.
pub const IGNORE_FILE: &str = ".meshlens-ignore.yaml";

/// Raised for an entry of the suppression file past its expiry date.
pub const SUPPRESSION_EXPIRED: CheckInfo = CheckInfo {
    code: "ML001",
    name: "suppression-expired",
    kind: "suppression",
    severity: Severity::Info,
    description: "A suppression in .meshlens-ignore.yaml is past its expiry date: the finding it silenced is reported again.",
};

/// A calendar date (proleptic Gregorian), as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// A valid date, or `None` (e.g. February 30).
    pub fn new(year: i32, month: u8, day: u8) -> Option<Self> {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days)
            .contains(&day)
            .then_some(Self { year, month, day })
    }

    /// The date `days` days after 1970-01-01.
    pub fn from_days_since_epoch(days: i64) -> Self {
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self {
            year: i32::try_from(year).unwrap_or(i32::MAX),
            month: u8::try_from(month).unwrap_or(1),
            day: u8::try_from(day).unwrap_or(1),
        }
    }

    /// Today in UTC, from the system clock.
    pub fn today_utc() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        Self::from_days_since_epoch(i64::try_from(secs / 86_400).unwrap_or_default())
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("invalid date {s:?}: expected YYYY-MM-DD");
        let mut parts = s.split('-');
        let (Some(y), Some(m), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(invalid());
        }
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if !(digits(y) && digits(m) && digits(d)) {
            return Err(invalid());
        }
        let year = y.parse().map_err(|_| invalid())?;
        let month = m.parse().map_err(|_| invalid())?;
        let day = d.parse().map_err(|_| invalid())?;
        Self::new(year, month, day).ok_or_else(invalid)
    }
}

/// One entry of the suppression file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    pub code: String,
    /// A policy id (`ns/name`), a location (`file:line` or `file:line:col`), or an edge
    /// (`source -> target`).
    pub subject: String,
    pub reason: String,
    /// The last day the entry applies.
    pub expires: Option<Date>,
    /// Where the entry is written.
    pub location: Option<Location>,
}

impl Suppression {
    pub fn is_expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|expires| today > expires)
    }

    /// Whether this entry names the finding (whatever the date).
    pub fn matches(&self, finding: &Finding) -> bool {
        if finding.code != self.code {
            return false;
        }
        let subject = self.subject.trim();
        if finding.policy.as_deref() == Some(subject) {
            return true;
        }
        if let Some(location) = &finding.location {
            let file = normalise_path(&location.file);
            let at_line = format!("{file}:{}", location.line);
            let at_column = format!("{at_line}:{}", location.column);
            let wanted = normalise_path(subject);
            if wanted == at_line || wanted == at_column {
                return true;
            }
        }
        if let (Some((source, target)), Some((a, b))) = (finding.edge(), subject.split_once("->")) {
            return source == a.trim() && target == b.trim();
        }
        false
    }
}

fn normalise_path(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut path = path.as_str();
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    path.to_owned()
}

/// A problem with the suppression file: the CLI reports it as an input error (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum SuppressionError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{location}: {message}")]
    Invalid { location: Location, message: String },
}

/// The entries of a suppression file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Suppressions {
    pub entries: Vec<Suppression>,
}

fn marker_location(file: &str, marker: saphyr::Marker) -> Location {
    Location::new(file, marker.line(), marker.col() + 1)
}

fn node_location(file: &str, node: &MarkedYaml<'_>) -> Location {
    marker_location(file, node.span.start)
}

fn scalar_text(node: &MarkedYaml<'_>) -> Option<String> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Some(s.to_string()),
        YamlData::Value(Scalar::Integer(i)) => Some(i.to_string()),
        YamlData::Value(Scalar::FloatingPoint(f)) => Some(f.to_string()),
        YamlData::Value(Scalar::Boolean(b)) => Some(b.to_string()),
        YamlData::Tagged(_, inner) => scalar_text(inner),
        _ => None,
    }
}

impl Suppressions {
    /// Parses the text of a suppression file; `file` names it in errors and in the locations
    /// of the entries. An empty file has no entries.
    pub fn parse(file: &Path, text: &str) -> Result<Self, SuppressionError> {
        let name = file.display().to_string();
        let invalid =
            |location: Location, message: String| SuppressionError::Invalid { location, message };
        let documents = MarkedYaml::load_from_str(text)
            .map_err(|e| invalid(marker_location(&name, *e.marker()), e.info().to_owned()))?;
        let mut entries = Vec::new();
        for document in &documents {
            let list = match &document.data {
                YamlData::Value(Scalar::Null) => continue,
                YamlData::Sequence(list) => list,
                YamlData::Mapping(map) => {
                    let mut list = None;
                    for (key, value) in map {
                        match scalar_text(key).as_deref() {
                            Some("suppressions") => match &value.data {
                                YamlData::Sequence(l) => list = Some(l),
                                YamlData::Value(Scalar::Null) => {}
                                _ => {
                                    return Err(invalid(
                                        node_location(&name, value),
                                        "suppressions must be a list of entries".to_owned(),
                                    ));
                                }
                            },
                            _ => {
                                return Err(invalid(
                                    node_location(&name, key),
                                    "unknown key: the file holds `suppressions:` (a list of entries with code, subject, reason and optional expires)".to_owned(),
                                ));
                            }
                        }
                    }
                    match list {
                        Some(list) => list,
                        None => continue,
                    }
                }
                _ => {
                    return Err(invalid(
                        node_location(&name, document),
                        "expected a list of suppressions".to_owned(),
                    ));
                }
            };
            for entry in list {
                entries.push(parse_entry(&name, entry)?);
            }
        }
        Ok(Self { entries })
    }

    /// Reads and parses a suppression file.
    pub fn read(path: &Path) -> Result<Self, SuppressionError> {
        let text = std::fs::read_to_string(path).map_err(|source| SuppressionError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// The report without the findings an unexpired entry names (counted in
    /// `summary.suppressed`), plus an info finding for each expired entry.
    pub fn apply(&self, report: Report, today: Date) -> Report {
        let (active, expired): (Vec<&Suppression>, Vec<&Suppression>) =
            self.entries.iter().partition(|s| !s.is_expired(today));
        let before = report.findings.len();
        let previously_suppressed = report.summary.suppressed;
        let mut findings: Vec<Finding> = report
            .findings
            .into_iter()
            .filter(|finding| !active.iter().any(|s| s.matches(finding)))
            .collect();
        let suppressed = before - findings.len();
        for entry in expired {
            let expires = entry.expires.map(|d| d.to_string()).unwrap_or_default();
            let message = format!(
                "the suppression of {} for {} expired on {expires} (reason given: {}); its findings are reported again: fix them, or renew the entry with a new date",
                entry.code, entry.subject, entry.reason
            );
            findings
                .push(Finding::of(&SUPPRESSION_EXPIRED, message).at_opt(entry.location.clone()));
        }
        let mut report = Report::new(findings);
        report.summary.suppressed = previously_suppressed + suppressed;
        report
    }
}

fn parse_entry(name: &str, entry: &MarkedYaml<'_>) -> Result<Suppression, SuppressionError> {
    let here = node_location(name, entry);
    let invalid =
        |location: Location, message: String| SuppressionError::Invalid { location, message };
    let YamlData::Mapping(map) = &entry.data else {
        return Err(invalid(
            here,
            "a suppression is a mapping with code, subject, reason and optional expires".to_owned(),
        ));
    };
    let (mut code, mut subject, mut reason, mut expires) = (None, None, None, None);
    for (key, value) in map {
        let key_name = scalar_text(key).unwrap_or_default();
        let slot = match key_name.as_str() {
            "code" => &mut code,
            "subject" => &mut subject,
            "reason" => &mut reason,
            "expires" => &mut expires,
            other => {
                return Err(invalid(
                    node_location(name, key),
                    format!("unknown key {other:?}: expected code, subject, reason or expires"),
                ));
            }
        };
        let text = scalar_text(value).ok_or_else(|| {
            invalid(
                node_location(name, value),
                format!("{key_name} must be a string"),
            )
        })?;
        *slot = Some((text, node_location(name, value)));
    }
    let required = |field: Option<(String, Location)>, what: &str| match field {
        Some((text, location)) if text.trim().is_empty() => {
            Err(invalid(location, format!("{what} must not be empty")))
        }
        Some((text, _)) => Ok(text.trim().to_owned()),
        None => Err(invalid(here.clone(), format!("missing {what}"))),
    };
    let code = required(code, "code")?;
    let subject = required(subject, "subject")?;
    let reason = required(reason, "reason (say why the finding is acceptable)")?;
    let expires = match expires {
        Some((text, location)) => Some(
            text.trim()
                .parse::<Date>()
                .map_err(|e| invalid(location, e))?,
        ),
        None => None,
    };
    Ok(Suppression {
        code,
        subject,
        reason,
        expires,
        location: Some(here),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn dates_parse_validate_and_order() {
        assert_eq!(
            "2024-02-29".parse::<Date>().unwrap(),
            Date::new(2024, 2, 29).unwrap()
        );
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "20240101",
            "2024-01-01x",
            "",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
        assert!(Date::new(2025, 1, 31) < Date::new(2025, 2, 1));
        assert_eq!(Date::new(2025, 3, 4).unwrap().to_string(), "2025-03-04");
    }

    #[test]
    fn civil_dates_from_epoch_days() {
        assert_eq!(
            Date::from_days_since_epoch(0),
            Date::new(1970, 1, 1).unwrap()
        );
        assert_eq!(
            Date::from_days_since_epoch(19_782),
            Date::new(2024, 2, 29).unwrap()
        );
        assert_eq!(
            Date::from_days_since_epoch(-1),
            Date::new(1969, 12, 31).unwrap()
        );
        assert!(Date::today_utc() > Date::new(2024, 1, 1).unwrap());
    }

    #[test]
    fn both_file_shapes_parse_with_locations() {
        let listed = "- code: ML120\n  subject: foo/x\n  reason: ok\n";
        let keyed = "suppressions:\n  - code: ML120\n    subject: foo/x\n    reason: ok\n    expires: 2030-01-01\n";
        let a = Suppressions::parse(Path::new("i.yaml"), listed).unwrap();
        let b = Suppressions::parse(Path::new("i.yaml"), keyed).unwrap();
        assert_eq!(a.entries.len(), 1);
        assert_eq!(a.entries[0].location, Some(Location::new("i.yaml", 1, 3)));
        assert_eq!(b.entries[0].expires, Date::new(2030, 1, 1));
        assert_eq!(b.entries[0].location, Some(Location::new("i.yaml", 2, 5)));
        assert!(
            Suppressions::parse(Path::new("i.yaml"), "")
                .unwrap()
                .entries
                .is_empty()
        );
        assert!(
            Suppressions::parse(Path::new("i.yaml"), "# nothing\n")
                .unwrap()
                .entries
                .is_empty()
        );
    }

    #[test]
    fn bad_entries_are_refused_with_their_location() {
        let cases = [
            (
                "- code: ML120\n  subject: foo/x\n",
                "i.yaml:1:3: missing reason",
            ),
            (
                "- code: ML120\n  subject: foo/x\n  reason: ''\n",
                "i.yaml:3:11: reason",
            ),
            (
                "- code: ML120\n  subject: foo/x\n  reason: r\n  expiry: 2030-01-01\n",
                "i.yaml:4:3: unknown key \"expiry\"",
            ),
            (
                "- code: ML120\n  subject: foo/x\n  reason: r\n  expires: 2030-02-30\n",
                "i.yaml:4:12: invalid date",
            ),
            ("other: 1\n", "i.yaml:1:1: unknown key"),
            ("- [a]\n", "i.yaml:1:3: a suppression is a mapping"),
            ("- code: [\n", "i.yaml:"),
        ];
        for (text, expected) in cases {
            let error = Suppressions::parse(Path::new("i.yaml"), text)
                .unwrap_err()
                .to_string();
            assert!(error.starts_with(expected), "{text:?}: {error}");
        }
    }
}
