//! TLS on the in-process collector: a client that opens TCP and never starts the handshake
//! holds its slot no longer than the header deadline, and a rotated certificate is served
//! without a restart (a broken one is not).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/common/pki.rs"]
mod pki;

use std::time::{Duration, Instant};

use meshlens_collector::Interner;
use meshlens_collector::server::conn::HttpLimits;
use meshlens_collector::server::tls::TlsFiles;
use meshlens_collector::server::{
    Collector, DEFAULT_INFLIGHT_BYTES, Pipeline, Security, ServeConfig,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(pki: &pki::Pki, limits: HttpLimits) -> ServeConfig {
    let loopback = Some("127.0.0.1:0".parse().unwrap());
    ServeConfig {
        otlp_grpc: loopback,
        otlp_http: loopback,
        zipkin: None,
        api: loopback,
        max_grpc_request_bytes: 1 << 20,
        max_http_request_bytes: 1 << 20,
        queue_spans: 10_000,
        max_inflight_bytes: DEFAULT_INFLIGHT_BYTES,
        record: None,
        span_multiplier_key: None,
        http_limits: limits,
        security: Security {
            tls: Some(TlsFiles {
                cert: pki.cert.clone(),
                key: pki.key.clone(),
                client_ca: None,
            }),
            token: None,
        },
    }
}

async fn healthz(addr: std::net::SocketAddr, pki: &pki::Pki) -> std::io::Result<String> {
    pki::https(
        &addr.to_string(),
        &pki.client_config(None),
        &pki::request("GET", "/healthz", &[], b""),
    )
    .await
}

/// Reads until the server closes the connection; panics if it is still open after `limit`.
async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) {
    let mut rest = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut rest))
        .await
        .expect("the server closes the connection")
        .ok();
}

#[tokio::test]
async fn a_client_that_never_handshakes_loses_its_slot_at_the_deadline() {
    let pki = pki::Pki::new();
    let deadline = Duration::from_millis(400);
    let limits = HttpLimits {
        max_connections: 1,
        header_read_timeout: deadline,
    };
    let collector = Collector::start(config(&pki, limits), Pipeline::summary(Interner::new()))
        .await
        .unwrap();
    let api = collector.addrs().api.unwrap();
    let grpc = collector.addrs().otlp_grpc.unwrap();
    let started = Instant::now();

    // TCP open, nothing sent: the API's only slot is taken...
    let mut stalled = tokio::net::TcpStream::connect(api).await.unwrap();
    let mut stalled_grpc = tokio::net::TcpStream::connect(grpc).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut refused = tokio::net::TcpStream::connect(api).await.unwrap();
    let _ = refused.write_all(b"\x16\x03\x01").await;
    closed_within(&mut refused, Duration::from_millis(300)).await;
    assert!(
        started.elapsed() < deadline,
        "refused at once, not at the deadline"
    );

    // ... until the handshake deadline closes the silent connections (gRPC's too).
    closed_within(&mut stalled, Duration::from_secs(5)).await;
    closed_within(&mut stalled_grpc, Duration::from_secs(5)).await;
    assert!(started.elapsed() >= deadline);

    // The slot is free again: a real client is served.
    let answer = healthz(api, &pki).await.unwrap();
    assert_eq!(pki::status(&answer), 200, "{answer}");
    collector.shutdown().await;
}

#[tokio::test]
async fn a_rotated_certificate_is_served_and_a_broken_one_is_not() {
    let pki = pki::Pki::new();
    let collector = Collector::start(
        config(&pki, HttpLimits::default()),
        Pipeline::summary(Interner::new()),
    )
    .await
    .unwrap();
    let addr = collector.addrs().api.unwrap().to_string();
    let client = pki.client_config(None);
    let first = pki::server_certificate(&addr, &client).await.unwrap();
    assert_eq!(
        first,
        pki::der(&std::fs::read_to_string(&pki.cert).unwrap())
    );

    // A broken pair (the key of another certificate) is refused: the old one stays.
    let (_, other_key) = pki.another_server_cert();
    std::fs::write(&pki.key, &other_key).unwrap();
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(
        pki::server_certificate(&addr, &client).await.unwrap(),
        first
    );

    // A good pair is picked up within the check interval, no restart.
    let (cert, key) = pki.another_server_cert();
    std::fs::write(&pki.cert, &cert).unwrap();
    std::fs::write(&pki.key, &key).unwrap();
    let rotated = pki::der(&cert);
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let served = pki::server_certificate(&addr, &client).await.unwrap();
        if served == rotated {
            break;
        }
        assert!(
            Instant::now() < until,
            "the new certificate was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let answer = healthz(collector.addrs().api.unwrap(), &pki).await.unwrap();
    assert_eq!(pki::status(&answer), 200, "{answer}");
    collector.shutdown().await;
}
