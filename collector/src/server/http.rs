//! OTLP/HTTP (`POST /v1/traces`) and Zipkin v2 (`POST /api/v2/spans`) receivers.
//!
//! Answers follow the OTLP/HTTP specification: the response is encoded like the request
//! (protobuf or JSON), failures carry a `google.rpc.Status`, and only 503 (with Retry-After)
//! tells a client to retry.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;

use super::auth::{self, BearerToken};
use super::body::{self, BodyError};
use super::inflight;
use super::ingest::{Ingest, IngestError};
use super::metrics::{ErrorReason, Receiver};
use super::queue::Refused;
use crate::formats::{otlp_json, zipkin};
use crate::normalize::Rejected;

/// Seconds a client is asked to wait before retrying when the queue is full.
const RETRY_AFTER_SECONDS: u64 = 1;
const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

#[derive(Debug, Clone)]
pub(super) struct HttpState {
    pub ingest: Arc<Ingest>,
    pub max_request_bytes: usize,
}

/// `token`: every request must carry it (401 otherwise, counted as `unauthenticated`).
pub(super) fn otlp_router(state: HttpState, token: Option<BearerToken>) -> Router {
    let ingest = state.ingest.clone();
    let router = Router::new()
        .route("/v1/traces", any(otlp_traces))
        .with_state(state);
    match token {
        None => router,
        Some(token) => auth::require(router, token, move |headers: &HeaderMap| {
            let answer_as = Encoding::from_headers(headers).unwrap_or(Encoding::Protobuf);
            ingest.refused_early(answer_as.receiver(), ErrorReason::unauthenticated);
            challenge(status_response(
                answer_as,
                StatusCode::UNAUTHORIZED,
                code::UNAUTHENTICATED,
                UNAUTHENTICATED_MESSAGE,
            ))
        }),
    }
}

pub(super) fn zipkin_router(state: HttpState, token: Option<BearerToken>) -> Router {
    let ingest = state.ingest.clone();
    let router = Router::new()
        .route("/api/v2/spans", any(zipkin_spans))
        .with_state(state);
    match token {
        None => router,
        Some(token) => auth::require(router, token, move |_: &HeaderMap| {
            ingest.refused_early(Receiver::zipkin, ErrorReason::unauthenticated);
            challenge(text(
                StatusCode::UNAUTHORIZED,
                UNAUTHENTICATED_MESSAGE.to_owned(),
            ))
        }),
    }
}

/// What a client without the right token is told (never which part was wrong).
pub(super) const UNAUTHENTICATED_MESSAGE: &str =
    "missing or invalid bearer token: send Authorization: Bearer <token>";

/// A 401 with its `WWW-Authenticate: Bearer` challenge.
pub(super) fn challenge(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(auth::CHALLENGE));
    response
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
        let media_type = value.split(';').next().unwrap_or("").trim();
        if media_type.eq_ignore_ascii_case(PROTOBUF) {
            Some(Self::Protobuf)
        } else if media_type.eq_ignore_ascii_case(JSON) {
            Some(Self::Json)
        } else {
            None
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => PROTOBUF,
            Self::Json => JSON,
        }
    }

    fn receiver(self) -> Receiver {
        match self {
            Self::Protobuf => Receiver::otlp_http_protobuf,
            Self::Json => Receiver::otlp_http_json,
        }
    }
}

/// gRPC status codes used in `google.rpc.Status` bodies.
mod code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNIMPLEMENTED: i32 = 12;
    pub const UNAUTHENTICATED: i32 = 16;
}

async fn otlp_traces(
    State(state): State<HttpState>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Before the body is known, answer in the encoding the client asked for, else protobuf.
    let encoding = Encoding::from_headers(&headers);
    let answer_as = encoding.unwrap_or(Encoding::Protobuf);
    let receiver = answer_as.receiver();
    let ingest = &state.ingest;
    if method != Method::POST {
        ingest.refused_early(receiver, ErrorReason::method_not_allowed);
        let mut response = status_response(
            answer_as,
            StatusCode::METHOD_NOT_ALLOWED,
            code::UNIMPLEMENTED,
            &format!("method {method} is not allowed: use POST"),
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let Some(encoding) = encoding else {
        ingest.refused_early(receiver, ErrorReason::unsupported_media_type);
        let message = format!(
            "unsupported Content-Type {:?}: use {PROTOBUF} or {JSON}",
            headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        );
        return status_response(
            answer_as,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::INVALID_ARGUMENT,
            &message,
        );
    };
    let limit = state.max_request_bytes;
    let _reservation = match ingest.reserve(receiver, inflight::request_bytes(&headers, limit)) {
        Ok(reservation) => reservation,
        Err(error) => return ingest_error(encoding, &error),
    };
    let bytes = match body::read(&headers, body, limit).await {
        Ok(bytes) => bytes,
        Err(error) => return body_error(ingest, receiver, encoding, &error),
    };
    let result = match encoding {
        Encoding::Protobuf => ingest.protobuf(receiver, &bytes),
        Encoding::Json => match otlp_json::decode_request(&bytes) {
            Ok(request) => ingest.request(receiver, request),
            Err(error) => Err(ingest.decode_error(receiver, error.to_string())),
        },
    };
    match result {
        Ok(rejected) => export_response(encoding, rejected),
        Err(error) => ingest_error(encoding, &error),
    }
}

async fn zipkin_spans(
    State(state): State<HttpState>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let receiver = Receiver::zipkin;
    let ingest = &state.ingest;
    if method != Method::POST {
        ingest.refused_early(receiver, ErrorReason::method_not_allowed);
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method {method} is not allowed: use POST"),
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    // Zipkin reporters send JSON; a missing Content-Type is taken as JSON, as Zipkin does.
    if headers.contains_key(CONTENT_TYPE)
        && Encoding::from_headers(&headers) != Some(Encoding::Json)
    {
        ingest.refused_early(receiver, ErrorReason::unsupported_media_type);
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Type: use {JSON} (Zipkin v2 JSON)"),
        );
    }
    let limit = state.max_request_bytes;
    let _reservation = match ingest.reserve(receiver, inflight::request_bytes(&headers, limit)) {
        Ok(reservation) => reservation,
        Err(error) => return zipkin_error(error),
    };
    let bytes = match body::read(&headers, body, limit).await {
        Ok(bytes) => bytes,
        Err(error) => {
            let (status, reason) = body_error_status(&error);
            ingest.refused_early(receiver, reason);
            return text(status, error.to_string());
        }
    };
    let result = match zipkin::decode_spans(&bytes) {
        Ok(request) => ingest.request(receiver, request),
        Err(error) => Err(ingest.decode_error(receiver, error.to_string())),
    };
    match result {
        Ok(rejected) if rejected.count > 0 => text(
            StatusCode::BAD_REQUEST,
            format!(
                "{} invalid span(s) were refused: {}",
                rejected.count,
                rejected.first_error.unwrap_or_default()
            ),
        ),
        Ok(_) => StatusCode::ACCEPTED.into_response(),
        Err(error) => zipkin_error(error),
    }
}

/// Zipkin's answers are plain text; refusals say when to retry.
fn zipkin_error(error: IngestError) -> Response {
    match error {
        IngestError::Decode(message) => text(StatusCode::BAD_REQUEST, message),
        IngestError::Refused(refused) => {
            let mut response = text(StatusCode::SERVICE_UNAVAILABLE, refused.to_string());
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            response
        }
    }
}

fn body_error_status(error: &BodyError) -> (StatusCode, ErrorReason) {
    match error {
        BodyError::TooLarge { .. } | BodyError::DecompressedTooLarge { .. } => {
            (StatusCode::PAYLOAD_TOO_LARGE, ErrorReason::too_large)
        }
        BodyError::UnsupportedEncoding(_) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorReason::unsupported_media_type,
        ),
        BodyError::Corrupt { .. } | BodyError::Read(_) => {
            (StatusCode::BAD_REQUEST, ErrorReason::decode)
        }
        BodyError::TimedOut(_) => (StatusCode::REQUEST_TIMEOUT, ErrorReason::timeout),
    }
}

fn body_error(
    ingest: &Ingest,
    receiver: Receiver,
    encoding: Encoding,
    error: &BodyError,
) -> Response {
    let (status, reason) = body_error_status(error);
    ingest.refused_early(receiver, reason);
    let grpc_code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        code::RESOURCE_EXHAUSTED
    } else {
        code::INVALID_ARGUMENT
    };
    status_response(encoding, status, grpc_code, &error.to_string())
}

fn ingest_error(encoding: Encoding, error: &IngestError) -> Response {
    match error {
        IngestError::Decode(message) => status_response(
            encoding,
            StatusCode::BAD_REQUEST,
            code::INVALID_ARGUMENT,
            &format!("could not decode the request: {message}"),
        ),
        IngestError::Refused(refused) => {
            let message = match refused {
                Refused::Full => "the ingest queue is full: retry later",
                Refused::Busy => "too many request bytes are being received: retry later",
                Refused::Closed => "the server is shutting down: retry later",
            };
            let mut response = status_response(
                encoding,
                StatusCode::SERVICE_UNAVAILABLE,
                code::UNAVAILABLE,
                message,
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            response
        }
    }
}

fn export_response(encoding: Encoding, rejected: Rejected) -> Response {
    let response = ExportTraceServiceResponse {
        partial_success: (rejected.count > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: i64::try_from(rejected.count).unwrap_or(i64::MAX),
            error_message: rejected.first_error.unwrap_or_default(),
        }),
    };
    let body = match encoding {
        Encoding::Protobuf => response.encode_to_vec(),
        Encoding::Json => {
            let mut out = Vec::new();
            otlp_json::encode_response(&response, &mut out);
            out
        }
    };
    with_body(StatusCode::OK, encoding.content_type(), body)
}

fn status_response(encoding: Encoding, status: StatusCode, code: i32, message: &str) -> Response {
    let body = match encoding {
        Encoding::Protobuf => tonic_types::pb::Status {
            code,
            message: message.to_owned(),
            details: Vec::new(),
        }
        .encode_to_vec(),
        Encoding::Json => {
            let mut out = Vec::new();
            otlp_json::encode_status(code, message, &mut out);
            out
        }
    };
    with_body(status, encoding.content_type(), body)
}

fn with_body(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    (status, [(CONTENT_TYPE, content_type)], body).into_response()
}

pub(super) fn text(status: StatusCode, message: String) -> Response {
    (
        status,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}
