//! OTLP/gRPC `TraceService/Export`.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::ingest::{Ingest, IngestError};
use super::metrics::{ErrorReason, Receiver};

/// How long a client is asked to back off when the queue is full.
const RETRY_DELAY: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(super) struct OtlpGrpc {
    ingest: Arc<Ingest>,
}

pub(super) fn service(
    ingest: Arc<Ingest>,
    max_request_bytes: usize,
) -> TraceServiceServer<OtlpGrpc> {
    TraceServiceServer::new(OtlpGrpc { ingest })
        .max_decoding_message_size(max_request_bytes)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
}

#[tonic::async_trait]
impl TraceService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        match self
            .ingest
            .request(Receiver::otlp_grpc, request.into_inner())
        {
            Ok(rejected) => Ok(Response::new(ExportTraceServiceResponse {
                partial_success: (rejected.count > 0).then(|| ExportTracePartialSuccess {
                    rejected_spans: i64::try_from(rejected.count).unwrap_or(i64::MAX),
                    error_message: rejected.first_error.unwrap_or_default(),
                }),
            })),
            Err(IngestError::Decode(message)) => Err(Status::invalid_argument(message)),
            Err(IngestError::Refused(refused)) => Err(Status::with_error_details(
                Code::Unavailable,
                format!("{refused}: retry later"),
                ErrorDetails::with_retry_info(Some(RETRY_DELAY)),
            )),
        }
    }
}

/// Maps the status codes tonic gives decoding failures onto the ones the OTLP specification
/// asks for, and counts them: an oversize message is RESOURCE_EXHAUSTED (tonic: OUT_OF_RANGE
/// before decompression), an undecodable one INVALID_ARGUMENT (tonic: INTERNAL).
pub(super) fn spec_status_codes<B>(
    ingest: Arc<Ingest>,
) -> impl Fn(http::Response<B>) -> http::Response<B> + Clone {
    move |mut response| {
        let headers = response.headers_mut();
        let status = headers.get("grpc-status").and_then(|v| v.to_str().ok());
        // grpc-message is percent-encoded; the words we look for only need spaces decoded.
        let message = headers
            .get("grpc-message")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .replace("%20", " ");
        let rewrite = match status {
            Some("11") if message.contains("too large") => {
                Some((Code::ResourceExhausted, ErrorReason::too_large))
            }
            Some("8") => Some((Code::ResourceExhausted, ErrorReason::too_large)),
            Some("13") if message.contains("decode") => {
                Some((Code::InvalidArgument, ErrorReason::decode))
            }
            Some("3") => Some((Code::InvalidArgument, ErrorReason::decode)),
            Some("12") => Some((Code::Unimplemented, ErrorReason::unsupported_media_type)),
            _ => None,
        };
        if let Some((code, reason)) = rewrite {
            // Decode errors raised in `export` were counted there already.
            if !(code == Code::InvalidArgument && status == Some("3")) {
                ingest.refused_early(Receiver::otlp_grpc, reason);
            }
            headers.insert("grpc-status", HeaderValue::from(code as i32));
        }
        response
    }
}
