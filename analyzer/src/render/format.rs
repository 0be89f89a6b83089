//! Human, deterministic number formatting for graph labels.

/// Requests per second: `0 rps`, `<0.01 rps`, `0.05 rps`, `2.0 rps`, `12 rps`, `1.2k rps`,
/// `3.4M rps`.
pub fn fmt_rps(rps: f64) -> String {
    format!("{} rps", fmt_rate_number(rps))
}

fn fmt_rate_number(x: f64) -> String {
    if !x.is_finite() || x <= 0.0 {
        return "0".to_owned();
    }
    if x < 0.005 {
        return "<0.01".to_owned();
    }
    // Tiers are chosen on the rounded value so 9.96 prints as `10`, not `10.0`.
    if x < 0.995 {
        format!("{x:.2}")
    } else if x < 9.95 {
        format!("{x:.1}")
    } else if x < 999.5 {
        format!("{x:.0}")
    } else if x < 9_950.0 {
        format!("{:.1}k", x / 1e3)
    } else if x < 999_500.0 {
        format!("{:.0}k", x / 1e3)
    } else if x < 9_950_000.0 {
        format!("{:.1}M", x / 1e6)
    } else {
        format!("{:.0}M", x / 1e6)
    }
}

/// A ratio (0.025) as a percentage with one decimal (`2.5%`); a non-zero ratio that would
/// round to zero prints as `<0.1%`, so a few errors never read as none.
pub fn fmt_percent(ratio: f64) -> String {
    if !ratio.is_finite() || ratio <= 0.0 {
        return "0.0%".to_owned();
    }
    let pct = ratio * 100.0;
    if pct < 0.05 {
        return "<0.1%".to_owned();
    }
    format!("{pct:.1}%")
}

/// Milliseconds with a unit and no space: `0.42ms`, `12.5ms`, `250ms`, `1.25s`, `12.5s`.
pub fn fmt_ms_compact(ms: f64) -> String {
    let (number, unit) = ms_parts(ms);
    format!("{number}{unit}")
}

/// Milliseconds with a unit and a space: `0.42 ms`, `12.5 ms`, `250 ms`, `1.25 s`, `12.5 s`.
pub fn fmt_ms(ms: f64) -> String {
    let (number, unit) = ms_parts(ms);
    format!("{number} {unit}")
}

fn ms_parts(ms: f64) -> (String, &'static str) {
    if !ms.is_finite() || ms <= 0.0 {
        return ("0".to_owned(), "ms");
    }
    if ms < 0.995 {
        (format!("{ms:.2}"), "ms")
    } else if ms < 99.95 {
        (format!("{ms:.1}"), "ms")
    } else if ms < 999.5 {
        (format!("{ms:.0}"), "ms")
    } else {
        let s = ms / 1e3;
        if s < 9.995 {
            (format!("{s:.2}"), "s")
        } else if s < 99.95 {
            (format!("{s:.1}"), "s")
        } else {
            (format!("{s:.0}"), "s")
        }
    }
}
