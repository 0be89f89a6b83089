//! Status codes and the failure classification of a span.

use crate::span::{AuthzDenial, Failure, SpanKind};

use super::attrs::AttrValue;
use super::envoy::{has_failure_flag, has_rbac_flag};

/// An HTTP status code (int or numeric string) in `100..=599`.
pub fn http_status(value: AttrValue<'_>) -> Option<u16> {
    value
        .as_i64()
        .filter(|c| (100..=599).contains(c))
        .and_then(|c| u16::try_from(c).ok())
}

const GRPC_CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// A gRPC status code `0..=16` from an int, a numeric string or a code name (`UNAVAILABLE`,
/// any case; `CANCELED` accepted too).
pub fn grpc_status(value: AttrValue<'_>) -> Option<u8> {
    let code = match value.as_i64() {
        Some(code) => code,
        None => {
            let name = value.as_str()?.trim();
            if name.eq_ignore_ascii_case("CANCELED") {
                return Some(1);
            }
            let idx = GRPC_CODES
                .iter()
                .position(|c| c.eq_ignore_ascii_case(name))?;
            return u8::try_from(idx).ok();
        }
    };
    u8::try_from(code).ok().filter(|c| *c <= 16)
}

/// What the failure classification looks at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutcomeFacts<'a> {
    pub kind: SpanKind,
    /// The span was emitted by a proxy (any [`crate::span::ProxyKind`] but `None`).
    pub from_proxy: bool,
    pub status: Option<u16>,
    pub grpc_status: Option<u8>,
    /// Envoy response flags, `-` already removed.
    pub response_flags: Option<&'a str>,
    /// A response-code-details attribute.
    pub details: Option<&'a str>,
    /// Some other string attribute starts with `rbac_access_denied`.
    pub rbac_value: bool,
    /// OTLP span status code (2 = error).
    pub span_status: i32,
    pub error_tag: bool,
}

const GRPC_PERMISSION_DENIED: u8 = 7;

/// Classifies a span's outcome: the first failure that applies, and how sure we are that it
/// was an authorization denial.
pub(crate) fn classify(o: &OutcomeFacts<'_>) -> (Option<Failure>, AuthzDenial) {
    let details_say_rbac = o
        .details
        .map(|d| d.trim_start().starts_with("rbac_access_denied"));
    let confirmed =
        details_say_rbac.unwrap_or(o.rbac_value) || o.response_flags.is_some_and(has_rbac_flag);
    // Envoy answers an RBAC denial with 403, or gRPC PERMISSION_DENIED for gRPC requests.
    let denied_status = o.status == Some(403) || o.grpc_status == Some(GRPC_PERMISSION_DENIED);
    if confirmed && denied_status {
        return (Some(Failure::AuthzDenied), AuthzDenial::Confirmed);
    }
    if o.status == Some(403)
        && details_say_rbac.is_none()
        && o.kind == SpanKind::Server
        && o.from_proxy
    {
        return (Some(Failure::AuthzDenied), AuthzDenial::Likely);
    }
    let failure = if o.status.is_some_and(|s| s >= 500) {
        Some(Failure::ServerError)
    } else if o.grpc_status.is_some_and(|g| g != 0) {
        Some(Failure::GrpcStatus)
    } else if o.response_flags.is_some_and(has_failure_flag) {
        Some(Failure::ResponseFlags)
    } else if o.status.is_some_and(|s| (400..500).contains(&s)) {
        Some(Failure::ClientError)
    } else if o.span_status == 2 || o.error_tag {
        Some(Failure::Error)
    } else {
        None
    };
    (failure, AuthzDenial::None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> OutcomeFacts<'static> {
        OutcomeFacts {
            kind: SpanKind::Server,
            from_proxy: true,
            status: None,
            grpc_status: None,
            response_flags: None,
            details: None,
            rbac_value: false,
            span_status: 0,
            error_tag: false,
        }
    }

    #[test]
    fn statuses() {
        assert_eq!(http_status(AttrValue::Str("200")), Some(200));
        assert_eq!(http_status(AttrValue::Int(503)), Some(503));
        assert_eq!(http_status(AttrValue::Int(99)), None);
        assert_eq!(http_status(AttrValue::Int(600)), None);
        assert_eq!(http_status(AttrValue::Str("-")), None);
        assert_eq!(grpc_status(AttrValue::Str("14")), Some(14));
        assert_eq!(grpc_status(AttrValue::Int(0)), Some(0));
        assert_eq!(grpc_status(AttrValue::Int(17)), None);
        assert_eq!(grpc_status(AttrValue::Int(-1)), None);
        assert_eq!(grpc_status(AttrValue::Str("UNAVAILABLE")), Some(14));
        assert_eq!(grpc_status(AttrValue::Str("ok")), Some(0));
        assert_eq!(grpc_status(AttrValue::Str("Unauthenticated")), Some(16));
        assert_eq!(grpc_status(AttrValue::Str("CANCELED")), Some(1));
        assert_eq!(grpc_status(AttrValue::Str("NOPE")), None);
        assert_eq!(grpc_status(AttrValue::Bool(true)), None);
    }

    #[test]
    fn authz_denials() {
        let f = OutcomeFacts {
            status: Some(403),
            details: Some("rbac_access_denied_matched_policy[ns[foo]-policy[deny]-rule[0]]"),
            ..facts()
        };
        assert_eq!(
            classify(&f),
            (Some(Failure::AuthzDenied), AuthzDenial::Confirmed)
        );
        // Without details, on a proxy's SERVER span: likely.
        let f = OutcomeFacts {
            status: Some(403),
            ..facts()
        };
        assert_eq!(
            classify(&f),
            (Some(Failure::AuthzDenied), AuthzDenial::Likely)
        );
        // From the app, per the details.
        let f = OutcomeFacts {
            status: Some(403),
            details: Some("via_upstream"),
            ..facts()
        };
        assert_eq!(
            classify(&f),
            (Some(Failure::ClientError), AuthzDenial::None)
        );
        // A CLIENT span or an SDK span without details: just a 4xx.
        for f in [
            OutcomeFacts {
                status: Some(403),
                kind: SpanKind::Client,
                ..facts()
            },
            OutcomeFacts {
                status: Some(403),
                from_proxy: false,
                ..facts()
            },
        ] {
            assert_eq!(
                classify(&f),
                (Some(Failure::ClientError), AuthzDenial::None)
            );
        }
        // Details in another tag, or Envoy's RBAC flag.
        for f in [
            OutcomeFacts {
                status: Some(403),
                kind: SpanKind::Client,
                rbac_value: true,
                ..facts()
            },
            OutcomeFacts {
                status: Some(403),
                response_flags: Some("RBAC"),
                ..facts()
            },
            OutcomeFacts {
                status: Some(200),
                grpc_status: Some(7),
                details: Some("rbac_access_denied_matched_policy[none]"),
                ..facts()
            },
        ] {
            assert_eq!(
                classify(&f),
                (Some(Failure::AuthzDenied), AuthzDenial::Confirmed)
            );
        }
    }

    #[test]
    fn failure_order() {
        let cases = [
            (
                OutcomeFacts {
                    status: Some(503),
                    response_flags: Some("UF"),
                    span_status: 2,
                    ..facts()
                },
                Some(Failure::ServerError),
            ),
            (
                OutcomeFacts {
                    status: Some(200),
                    grpc_status: Some(14),
                    ..facts()
                },
                Some(Failure::GrpcStatus),
            ),
            (
                OutcomeFacts {
                    response_flags: Some("DC,URX"),
                    status: Some(404),
                    ..facts()
                },
                Some(Failure::ResponseFlags),
            ),
            (
                OutcomeFacts {
                    status: Some(404),
                    ..facts()
                },
                Some(Failure::ClientError),
            ),
            (
                OutcomeFacts {
                    status: Some(200),
                    span_status: 2,
                    ..facts()
                },
                Some(Failure::Error),
            ),
            (
                OutcomeFacts {
                    error_tag: true,
                    ..facts()
                },
                Some(Failure::Error),
            ),
            (
                OutcomeFacts {
                    status: Some(200),
                    grpc_status: Some(0),
                    response_flags: Some("RBAC"),
                    span_status: 1,
                    ..facts()
                },
                None,
            ),
        ];
        for (f, want) in cases {
            assert_eq!(classify(&f), (want, AuthzDenial::None), "{f:?}");
        }
    }
}
