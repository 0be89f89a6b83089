//! OTLP/gRPC `TraceService/Export`, served off the same zero-copy path as OTLP/HTTP.
//!
//! The generated `TraceServiceServer` decodes every request into an owned prost tree; Envoy's
//! OpenTelemetry tracer exports over gRPC, so this is the busiest receiver of an Istio mesh.
//! Here tonic still frames, decompresses and size-limits the message, but hands its bytes to
//! the wire walker.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http::HeaderValue;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;
use tonic::body::Body;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{Body as HttpBody, BoxFuture, Service, StdError};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::auth::BearerToken;
use super::ingest::{Ingest, IngestError};
use super::metrics::{ErrorReason, Receiver};

/// How long a client is asked to back off when the queue is full.
const RETRY_DELAY: Duration = Duration::from_secs(1);
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The TraceService, routed by tonic's server like generated code.
#[derive(Debug, Clone)]
pub(super) struct OtlpGrpc {
    ingest: Arc<Ingest>,
    max_request_bytes: usize,
    /// Required in the `authorization` metadata when set.
    token: Option<BearerToken>,
}

pub(super) fn service(
    ingest: Arc<Ingest>,
    max_request_bytes: usize,
    token: Option<BearerToken>,
) -> OtlpGrpc {
    OtlpGrpc {
        ingest,
        max_request_bytes,
        token,
    }
}

impl NamedService for OtlpGrpc {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl<B> Service<http::Request<B>> for OtlpGrpc
where
    B: HttpBody + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if let Some(token) = &self.token
            && !token.allows(request.headers())
        {
            // Answered before the message is read: nothing reaches the queue.
            self.ingest
                .refused_early(Receiver::otlp_grpc, ErrorReason::unauthenticated);
            let status = Status::unauthenticated(
                "missing or invalid bearer token: send authorization: Bearer <token>",
            );
            return Box::pin(async move { Ok(status.into_http()) });
        }
        if request.uri().path() != EXPORT_PATH {
            return Box::pin(async { Ok(Status::unimplemented("unknown method").into_http()) });
        }
        // HTTP/2 requests seldom declare their length: most reserve the size limit.
        let bytes = super::inflight::request_bytes(request.headers(), self.max_request_bytes);
        let reservation = match self.ingest.reserve(Receiver::otlp_grpc, bytes) {
            Ok(reservation) => reservation,
            Err(error) => {
                let status = error_status(error);
                return Box::pin(async move { Ok(status.into_http()) });
            }
        };
        let ingest = self.ingest.clone();
        let export = Export(ingest.clone());
        let mut grpc = Grpc::new(RawRequestCodec)
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(self.max_request_bytes);
        Box::pin(async move {
            let response = grpc.unary(export, request).await;
            drop(reservation);
            Ok(spec_status(&ingest, response))
        })
    }
}

struct Export(Arc<Ingest>);

impl UnaryService<Bytes> for Export {
    type Response = ExportTraceServiceResponse;
    type Future = Ready<Result<Response<Self::Response>, Status>>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        ready(export(&self.0, &request.into_inner()))
    }
}

fn export(ingest: &Ingest, body: &[u8]) -> Result<Response<ExportTraceServiceResponse>, Status> {
    match ingest.protobuf(Receiver::otlp_grpc, body) {
        Ok(rejected) => Ok(Response::new(ExportTraceServiceResponse {
            partial_success: (rejected.count > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: i64::try_from(rejected.count).unwrap_or(i64::MAX),
                error_message: rejected.first_error.unwrap_or_default(),
            }),
        })),
        Err(error) => Err(error_status(error)),
    }
}

/// Undecodable requests are the client's to fix; refusals are retryable, with when.
fn error_status(error: IngestError) -> Status {
    match error {
        IngestError::Decode(message) => {
            Status::invalid_argument(format!("could not decode the request: {message}"))
        }
        IngestError::Refused(refused) => Status::with_error_details(
            Code::Unavailable,
            format!("{refused}: retry later"),
            ErrorDetails::with_retry_info(Some(RETRY_DELAY)),
        ),
    }
}

/// Requests pass through as bytes; responses are ordinary prost messages.
#[derive(Debug, Clone, Copy, Default)]
struct RawRequestCodec;

impl Codec for RawRequestCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = Bytes;
    type Encoder = ResponseEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        ResponseEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawDecoder
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct ResponseEncoder;

impl Encoder for ResponseEncoder {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|error| Status::internal(error.to_string()))
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct RawDecoder;

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// tonic refuses an oversize message with OUT_OF_RANGE (RESOURCE_EXHAUSTED only when it
/// outgrows the limit while decompressing); OTLP asks for RESOURCE_EXHAUSTED. Refusals tonic
/// makes before `export` runs are counted here.
fn spec_status(ingest: &Ingest, mut response: http::Response<Body>) -> http::Response<Body> {
    let headers = response.headers_mut();
    let reason = match headers.get("grpc-status").map(HeaderValue::as_bytes) {
        Some(b"11") => {
            headers.insert(
                "grpc-status",
                HeaderValue::from(Code::ResourceExhausted as i32),
            );
            Some(ErrorReason::too_large)
        }
        Some(b"8") => Some(ErrorReason::too_large),
        // An unsupported grpc-encoding.
        Some(b"12") => Some(ErrorReason::unsupported_media_type),
        _ => None,
    };
    if let Some(reason) = reason {
        ingest.refused_early(Receiver::otlp_grpc, reason);
    }
    response
}
