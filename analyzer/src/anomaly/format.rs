//! Numbers as people read them in anomaly messages.

/// `0.235` → `"23.5%"`, `0.004` → `"0.4%"`, `0.0004` → `"0.04%"`.
pub(crate) fn percent(ratio: f64) -> String {
    let pct = ratio * 100.0;
    if pct == 0.0 || pct.abs() >= 0.1 {
        format!("{pct:.1}%")
    } else {
        format!("{pct:.2}%")
    }
}

/// Requests per second: `12 req/s`, `4.2 req/s`, `0.35 req/s`.
pub(crate) fn rate(rps: f64) -> String {
    if rps >= 10.0 {
        format!("{rps:.0} req/s")
    } else if rps >= 1.0 {
        format!("{rps:.1} req/s")
    } else {
        format!("{rps:.2} req/s")
    }
}

/// Milliseconds: `412 ms`, `38.5 ms`.
pub(crate) fn millis(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// A count that may be a sampling estimate: `47`, `12.5`.
pub(crate) fn count(n: f64) -> String {
    if (n - n.round()).abs() < 1e-9 {
        format!("{n:.0}")
    } else {
        format!("{n:.1}")
    }
}

/// `"the last minute"`, `"the last 5 minutes"`, `"the last 45s"`, `"the last 2 hours"`.
pub(crate) fn window(seconds: f64) -> String {
    let s = seconds.round();
    if s == 60.0 {
        "the last minute".to_owned()
    } else if s == 3600.0 {
        "the last hour".to_owned()
    } else if s >= 7200.0 && s % 3600.0 == 0.0 {
        format!("the last {:.0} hours", s / 3600.0)
    } else if s >= 120.0 && s % 60.0 == 0.0 {
        format!("the last {:.0} minutes", s / 60.0)
    } else {
        format!("the last {s:.0}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(percent(0.235), "23.5%");
        assert_eq!(percent(0.004), "0.4%");
        assert_eq!(percent(0.0004), "0.04%");
        assert_eq!(percent(0.0), "0.0%");
        assert_eq!(rate(12.3), "12 req/s");
        assert_eq!(rate(4.21), "4.2 req/s");
        assert_eq!(rate(0.351), "0.35 req/s");
        assert_eq!(millis(412.4), "412 ms");
        assert_eq!(millis(38.46), "38.5 ms");
        assert_eq!(count(47.0), "47");
        assert_eq!(count(12.5), "12.5");
        assert_eq!(window(60.0), "the last minute");
        assert_eq!(window(300.0), "the last 5 minutes");
        assert_eq!(window(45.0), "the last 45s");
        assert_eq!(window(3600.0), "the last hour");
        assert_eq!(window(7200.0), "the last 2 hours");
    }
}
