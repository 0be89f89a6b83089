//! How many requests one span stands for, when it was sampled.
//!
//! OpenTelemetry's consistent probability sampling records its rejection threshold in the W3C
//! `tracestate` as `ot=th:<hex>` (up to 14 hex digits of a 56-bit threshold, trailing zeros
//! dropped): the span was kept with probability `(2^56 - T) / 2^56`, so it represents
//! `2^56 / (2^56 - T)` requests. Other samplers put a multiplier in an attribute
//! (`--span-multiplier-key`, e.g. Honeycomb's `SampleRate`).

/// 2^56, the threshold's range.
const MAX_THRESHOLD: f64 = 72_057_594_037_927_936.0;

/// The adjusted count a `tracestate` gives, if it carries an OpenTelemetry threshold.
pub fn adjusted_count_from_tracestate(tracestate: &str) -> Option<f64> {
    // Most spans carry no tracestate at all.
    if tracestate.is_empty() {
        return None;
    }
    let ot = tracestate
        .split(',')
        .map(str::trim)
        .find_map(|member| member.strip_prefix("ot="))?;
    let threshold = ot.split(';').find_map(|field| field.strip_prefix("th:"))?;
    if threshold.is_empty()
        || threshold.len() > 14
        || !threshold.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    // Trailing zeros were dropped: pad back to 14 hex digits (56 bits).
    let value = u64::from_str_radix(threshold, 16).ok()?;
    let shift = 4 * (14 - threshold.len() as u32);
    let threshold = (value << shift) as f64;
    let kept = MAX_THRESHOLD - threshold;
    (kept > 0.0).then(|| MAX_THRESHOLD / kept)
}

/// A multiplier attribute's value: a positive finite number (as int, double or string).
pub fn multiplier(value: super::AttrValue<'_>) -> Option<f64> {
    let m = match value {
        super::AttrValue::Int(i) => i as f64,
        super::AttrValue::Double(d) => d,
        super::AttrValue::Str(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (m.is_finite() && m >= 1.0).then_some(m)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_give_the_inverse_of_the_sampling_probability() {
        // th:0 keeps everything; th:8 rejects half; th:c three quarters; th:fd70a4 ~99%.
        assert_eq!(adjusted_count_from_tracestate("ot=th:0"), Some(1.0));
        assert_eq!(adjusted_count_from_tracestate("ot=th:8"), Some(2.0));
        assert_eq!(
            adjusted_count_from_tracestate("vendor=x,ot=rv:abc;th:c"),
            Some(4.0)
        );
        let hundred = adjusted_count_from_tracestate("ot=th:fd70a4").unwrap();
        assert!((hundred - 100.0).abs() < 0.01, "{hundred}");
    }

    #[test]
    fn malformed_tracestates_say_nothing() {
        for bad in [
            "",
            "ot=",
            "ot=th:",
            "ot=th:xyz",
            "ot=th:123456789012345",
            "th:8",
            "other=th:8",
        ] {
            assert_eq!(adjusted_count_from_tracestate(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn multipliers_are_positive_finite_numbers() {
        use super::super::AttrValue;
        assert_eq!(multiplier(AttrValue::Int(10)), Some(10.0));
        assert_eq!(multiplier(AttrValue::Str(" 20 ")), Some(20.0));
        assert_eq!(multiplier(AttrValue::Double(f64::NAN)), None);
        assert_eq!(multiplier(AttrValue::Int(0)), None);
        assert_eq!(multiplier(AttrValue::Str("many")), None);
    }
}
