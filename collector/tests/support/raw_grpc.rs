//! An OTLP/gRPC export of raw bytes, for requests the generated client cannot build (garbage,
//! nesting deeper than prost encodes, invalid UTF-8). Shared by the collector's tests
//! (`#[path]`-included).
#![allow(dead_code, clippy::unwrap_used)]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

/// Sends `body` as an `ExportTraceServiceRequest` to `endpoint` (`http://host:port`).
pub async fn export_raw(
    endpoint: &str,
    body: Vec<u8>,
) -> Result<ExportTraceServiceResponse, tonic::Status> {
    let channel = tonic::transport::Endpoint::from_shared(endpoint.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    );
    let request = tonic::Request::new(bytes::Bytes::from(body));
    grpc.unary(request, path, RawRequestCodec)
        .await
        .map(tonic::Response::into_inner)
}

/// Requests go out as the bytes given; answers are decoded.
#[derive(Debug, Clone, Copy)]
struct RawRequestCodec;

impl tonic::codec::Codec for RawRequestCodec {
    type Encode = bytes::Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawEncoder;
    type Decoder = ResponseDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> ResponseDecoder {
        ResponseDecoder
    }
}

#[derive(Debug)]
struct RawEncoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = bytes::Bytes;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: bytes::Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put(dst, item);
        Ok(())
    }
}

#[derive(Debug)]
struct ResponseDecoder;

impl tonic::codec::Decoder for ResponseDecoder {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<ExportTraceServiceResponse>, tonic::Status> {
        ExportTraceServiceResponse::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}
