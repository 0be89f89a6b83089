//! `meshlens serve --tls-cert/--tls-key [--tls-client-ca] [--auth-token-file]` end to end:
//! the real binary on loopback (port 0), certificates made at test time, the real
//! OpenTelemetry exporter over TLS and mTLS, HTTPS posts, and what a client without a
//! certificate, without the token or in plain text gets. The token never reaches the logs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/otel.rs"]
mod otel;
#[path = "common/pki.rs"]
mod pki;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::metric;
use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig, Identity};
use opentelemetry_otlp::{SpanExporter, WithExportConfig, WithTonicConfig};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use pki::{Pki, https, request, status};

const TOKEN: &str = "s3cr3t-t0ken-9f8e7d";

struct Serve {
    child: Child,
    listening: BTreeMap<String, String>,
    logs: Option<JoinHandle<String>>,
}

impl Serve {
    fn start(extra: &[&str], log: &str) -> Self {
        let mut args = common::LOOPBACK_LISTENERS.to_vec();
        args.extend_from_slice(extra);
        let (child, listening, logs) = common::spawn_serve_env(&args, &[("MESHLENS_LOG", log)]);
        Self {
            child,
            listening,
            logs: Some(logs),
        }
    }

    fn addr(&self, listener: &str) -> &str {
        &self.listening[listener]
    }

    /// SIGTERM, wait for the exit, and the whole of standard error.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.logs.take().unwrap().join().unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tls_args(pki: &Pki) -> Vec<String> {
    vec![
        "--tls-cert".to_owned(),
        pki.cert.display().to_string(),
        "--tls-key".to_owned(),
        pki.key.display().to_string(),
    ]
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// The gRPC exporter over TLS to `addr`, trusting the test CA, with a client certificate and
/// metadata when given.
fn grpc_exporter(
    pki: &Pki,
    addr: &str,
    identity: bool,
    metadata: Option<MetadataMap>,
) -> SpanExporter {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(&pki.ca).unwrap()))
        .domain_name("localhost");
    if identity {
        tls = tls.identity(Identity::from_pem(
            std::fs::read(&pki.client_cert).unwrap(),
            std::fs::read(&pki.client_key).unwrap(),
        ));
    }
    let builder = SpanExporter::builder()
        .with_tonic()
        .with_endpoint(format!("https://{addr}"))
        .with_tls_config(tls);
    match metadata {
        Some(metadata) => builder.with_metadata(metadata).build().unwrap(),
        None => builder.build().unwrap(),
    }
}

/// One OTLP/JSON request of `n` spans of `service`.
fn otlp_json(service: &str, n: usize) -> Vec<u8> {
    let spans: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b{i:03x}","name":"GET /cart","kind":2,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"{service}"}}}}]}},"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
        spans.join(",")
    )
    .into_bytes()
}

fn zipkin_body() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/traces/envoy.zipkin.json"
    ))
    .unwrap()
}

/// The metrics scraped over HTTPS with `config`.
async fn metrics_tls(serve: &Serve, config: &rustls::ClientConfig) -> String {
    https(
        serve.addr("api"),
        config,
        &request("GET", "/metrics", &[], b""),
    )
    .await
    .unwrap()
}

/// A raw gRPC export of one empty-ish request: what the server answers.
async fn grpc_export(channel: tonic::transport::Channel, token: Option<&str>) -> tonic::Code {
    let mut client = TraceServiceClient::new(channel);
    let mut request = tonic::Request::new(ExportTraceServiceRequest::default());
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    match client.export(request).await {
        Ok(_) => tonic::Code::Ok,
        Err(status) => status.code(),
    }
}

#[test]
fn tls_on_every_listener_and_plain_text_is_refused() {
    let pki = Pki::new();
    let serve = Serve::start(&strs(&tls_args(&pki)), "info");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = pki.client_config(None);

    // The real OpenTelemetry exporter over gRPC + TLS.
    let exporter = {
        let _context = runtime.enter();
        grpc_exporter(&pki, serve.addr("otlp_grpc"), false, None)
    };
    otel::emit(exporter, "cart-grpc-tls", 20);

    runtime.block_on(async {
        // OTLP/HTTP and Zipkin over HTTPS.
        let answer = https(
            serve.addr("otlp_http"),
            &client,
            &request(
                "POST",
                "/v1/traces",
                &[("Content-Type", "application/json")],
                &otlp_json("cart-https", 3),
            ),
        )
        .await
        .unwrap();
        assert_eq!(status(&answer), 200, "{answer}");
        let answer = https(
            serve.addr("zipkin"),
            &client,
            &request(
                "POST",
                "/api/v2/spans",
                &[("Content-Type", "application/json")],
                &zipkin_body(),
            ),
        )
        .await
        .unwrap();
        assert_eq!(status(&answer), 202, "{answer}");

        // Everything arrived, as the API (over HTTPS too) tells.
        let metrics = metrics_tls(&serve, &client).await;
        assert_eq!(status(&metrics), 200);
        assert_eq!(
            metric(
                &metrics,
                "meshlens_spans_accepted_total{receiver=\"otlp_grpc\"}"
            ),
            20.0,
            "{metrics}"
        );
        assert_eq!(
            metric(
                &metrics,
                "meshlens_spans_accepted_total{receiver=\"otlp_http_json\"}"
            ),
            3.0
        );
        assert!(
            metric(
                &metrics,
                "meshlens_spans_accepted_total{receiver=\"zipkin\"}"
            ) > 0.0
        );
        let summary = https(
            serve.addr("api"),
            &client,
            &request("GET", "/api/v1/summary", &[], b""),
        )
        .await
        .unwrap();
        assert!(summary.contains("cart-grpc-tls"), "{summary}");
        assert!(summary.contains("cart-https"), "{summary}");

        // A client that does not trust the server's CA gives up in the handshake.
        let stranger = pki::client_config_for(&pki.stranger_cert, None);
        assert!(
            https(
                serve.addr("api"),
                &stranger,
                &request("GET", "/healthz", &[], b"")
            )
            .await
            .is_err()
        );

        // Plain-text gRPC gets nowhere.
        let channel =
            tonic::transport::Channel::from_shared(format!("http://{}", serve.addr("otlp_grpc")))
                .unwrap()
                .connect_lazy();
        assert_ne!(grpc_export(channel, None).await, tonic::Code::Ok);
    });

    // Plain-text HTTP gets no HTTP answer from any TLS listener.
    for listener in ["otlp_http", "zipkin", "api"] {
        let answer = reqwest::blocking::Client::new()
            .get(format!("http://{}/healthz", serve.addr(listener)))
            .timeout(Duration::from_secs(10))
            .send();
        assert!(answer.is_err(), "{listener}: {answer:?}");
    }

    let logs = serve.stop();
    for listener in ["OTLP/gRPC", "OTLP/HTTP", "Zipkin", "API"] {
        assert!(
            logs.lines()
                .any(|l| l.contains("serving TLS only") && l.contains(listener)),
            "{listener} not reported as TLS:\n{logs}"
        );
    }
}

#[test]
fn mutual_tls_admits_only_clients_with_a_certificate_from_the_ca() {
    let pki = Pki::new();
    let mut args = tls_args(&pki);
    args.extend(["--tls-client-ca".to_owned(), pki.ca.display().to_string()]);
    let serve = Serve::start(&strs(&args), "warn");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let healthz = request("GET", "/healthz", &[], b"");
    let with_cert = pki.client_config(Some((&pki.client_cert, &pki.client_key)));

    runtime.block_on(async {
        // No certificate, or one from another CA: refused.
        let without = pki.client_config(None);
        assert!(https(serve.addr("api"), &without, &healthz).await.is_err());
        let stranger = pki.client_config(Some((&pki.stranger_cert, &pki.stranger_key)));
        assert!(https(serve.addr("api"), &stranger, &healthz).await.is_err());
        let answer = https(serve.addr("api"), &with_cert, &healthz)
            .await
            .unwrap();
        assert_eq!(status(&answer), 200, "{answer}");

        // gRPC over TLS without a client certificate: refused.
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(std::fs::read(&pki.ca).unwrap()))
            .domain_name("localhost");
        let channel =
            tonic::transport::Channel::from_shared(format!("https://{}", serve.addr("otlp_grpc")))
                .unwrap()
                .tls_config(tls)
                .unwrap()
                .connect_lazy();
        assert_ne!(grpc_export(channel, None).await, tonic::Code::Ok);
    });

    // The exporter with its certificate is served.
    let exporter = {
        let _context = runtime.enter();
        grpc_exporter(&pki, serve.addr("otlp_grpc"), true, None)
    };
    otel::emit(exporter, "cart-mtls", 7);
    runtime.block_on(async {
        let metrics = metrics_tls(&serve, &with_cert).await;
        assert_eq!(
            metric(
                &metrics,
                "meshlens_spans_accepted_total{receiver=\"otlp_grpc\"}"
            ),
            7.0,
            "{metrics}"
        );
    });
}

#[test]
fn the_bearer_token_guards_ingestion_and_the_api_but_not_healthz() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("  {TOKEN}\n")).unwrap();
    let serve = Serve::start(
        &["--auth-token-file", token_file.to_str().unwrap()],
        "debug",
    );
    let http = reqwest::blocking::Client::new();
    let url = |listener: &str, path: &str| format!("http://{}{path}", serve.addr(listener));
    let bearer = format!("Bearer {TOKEN}");

    // OTLP/HTTP: no token, a wrong one, the wrong scheme → 401 with the challenge.
    for authorization in [None, Some("Bearer not-the-token"), Some(TOKEN)] {
        let mut post = http
            .post(url("otlp_http", "/v1/traces"))
            .header("content-type", "application/json")
            .body(otlp_json("intruder", 2));
        if let Some(value) = authorization {
            post = post.header("authorization", value);
        }
        let response = post.send().unwrap();
        assert_eq!(response.status(), 401, "{authorization:?}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        // A google.rpc.Status, encoded like the request: UNAUTHENTICATED.
        let body: serde_json::Value = response.json().unwrap();
        assert_eq!(body["code"], 16, "{body}");
    }
    let response = http
        .post(url("otlp_http", "/v1/traces"))
        .header("content-type", "application/json")
        .header("authorization", &bearer)
        .body(otlp_json("cart", 3))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);

    // Zipkin.
    let response = http
        .post(url("zipkin", "/api/v2/spans"))
        .header("content-type", "application/json")
        .body(zipkin_body())
        .send()
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = http
        .post(url("zipkin", "/api/v2/spans"))
        .header("content-type", "application/json")
        .header("authorization", &bearer)
        .body(zipkin_body())
        .send()
        .unwrap();
    assert_eq!(response.status(), 202);

    // gRPC: UNAUTHENTICATED without it, accepted with it (the exporter's metadata).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let grpc = format!("http://{}", serve.addr("otlp_grpc"));
    runtime.block_on(async {
        let channel = tonic::transport::Channel::from_shared(grpc.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        assert_eq!(
            grpc_export(channel.clone(), None).await,
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            grpc_export(channel.clone(), Some("wrong")).await,
            tonic::Code::Unauthenticated
        );
        assert_eq!(grpc_export(channel, Some(TOKEN)).await, tonic::Code::Ok);
    });
    let exporter = {
        let _context = runtime.enter();
        let mut metadata = MetadataMap::new();
        metadata.insert("authorization", bearer.parse().unwrap());
        SpanExporter::builder()
            .with_tonic()
            .with_endpoint(grpc.clone())
            .with_metadata(metadata)
            .build()
            .unwrap()
    };
    otel::emit(exporter, "cart-grpc", 5);

    // The API: every route but /healthz.
    for path in ["/metrics", "/api/v1/stats", "/api/v1/summary"] {
        let response = http.get(url("api", path)).send().unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert!(response.headers().contains_key("www-authenticate"));
    }
    let response = http.get(url("api", "/healthz")).send().unwrap();
    assert_eq!(response.status(), 200);
    let stats = http
        .get(url("api", "/api/v1/stats"))
        .header("authorization", &bearer)
        .send()
        .unwrap();
    assert_eq!(stats.status(), 200);

    // Refused requests are counted under their own reason; none of their spans was accepted.
    let metrics = http
        .get(url("api", "/metrics"))
        .header("authorization", &bearer)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let count = |series: &str| metric(&metrics, series);
    assert_eq!(
        count(
            "meshlens_request_errors_total{receiver=\"otlp_http_json\",reason=\"unauthenticated\"}"
        ),
        3.0,
        "{metrics}"
    );
    assert_eq!(
        count("meshlens_request_errors_total{receiver=\"zipkin\",reason=\"unauthenticated\"}"),
        1.0
    );
    assert_eq!(
        count("meshlens_request_errors_total{receiver=\"otlp_grpc\",reason=\"unauthenticated\"}"),
        2.0
    );
    assert_eq!(count("meshlens_api_unauthenticated_requests_total"), 3.0);
    assert_eq!(
        count("meshlens_spans_accepted_total{receiver=\"otlp_http_json\"}"),
        3.0
    );
    assert_eq!(
        count("meshlens_spans_accepted_total{receiver=\"otlp_grpc\"}"),
        5.0
    );
    assert_eq!(
        count("meshlens_spans_received_total{receiver=\"otlp_http_json\"}"),
        3.0,
        "refused requests are not even decoded"
    );

    // Debug logging was on, and the token is nowhere in it.
    let logs = serve.stop();
    assert!(logs.contains("DEBUG"), "{logs}");
    assert!(logs.contains("bearer token is required"), "{logs}");
    assert!(!logs.contains(TOKEN), "the token leaked into the logs");
}

/// Runs `meshlens serve` with `args` (and `env`), which must exit at once: its exit code and
/// standard error.
fn serve_fails(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshlens"))
        .arg("serve")
        .args(common::LOOPBACK_LISTENERS)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve {args:?} started instead of failing");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.stdout.is_empty(),
        "nothing was bound: {:?}",
        String::from_utf8_lossy(&output.stdout)
    );
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn broken_certificates_keys_and_tokens_stop_serve_at_startup_naming_the_file() {
    let pki = Pki::new();
    let garbage = pki.path("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let empty = pki.path("empty-token");
    std::fs::write(&empty, "\n  \n").unwrap();
    let missing = pki.path("missing.pem");
    let (cert, key, ca) = (
        pki.cert.to_str().unwrap(),
        pki.key.to_str().unwrap(),
        pki.ca.to_str().unwrap(),
    );
    let (garbage, empty, missing, client_key) = (
        garbage.to_str().unwrap(),
        empty.to_str().unwrap(),
        missing.to_str().unwrap(),
        pki.client_key.to_str().unwrap(),
    );
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--tls-cert", garbage, "--tls-key", key],
            vec![garbage, "no PEM certificate"],
        ),
        (
            vec!["--tls-cert", cert, "--tls-key", garbage],
            vec![garbage, "private key"],
        ),
        (
            vec!["--tls-cert", cert, "--tls-key", missing],
            vec![missing, "cannot read"],
        ),
        // The key of another certificate.
        (
            vec!["--tls-cert", cert, "--tls-key", client_key],
            vec![client_key, cert],
        ),
        (
            vec![
                "--tls-cert",
                cert,
                "--tls-key",
                key,
                "--tls-client-ca",
                garbage,
            ],
            vec![garbage],
        ),
        (vec!["--auth-token-file", empty], vec![empty, "empty"]),
        (vec!["--auth-token-file", missing], vec![missing]),
        // Both or neither.
        (vec!["--tls-cert", cert], vec!["--tls-key"]),
        (vec!["--tls-key", key], vec!["--tls-cert"]),
        (vec!["--tls-client-ca", ca], vec!["--tls-cert"]),
    ];
    for (args, expected) in cases {
        let (code, stderr) = serve_fails(&args, &[]);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        for text in expected {
            assert!(stderr.contains(text), "{args:?}: {text:?} not in {stderr}");
        }
    }
    // The environment variables are the flags' equals.
    let (code, stderr) = serve_fails(&[], &[("MESHLENS_AUTH_TOKEN_FILE", missing)]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(missing), "{stderr}");
    let (code, stderr) = serve_fails(
        &[],
        &[("MESHLENS_TLS_CERT", garbage), ("MESHLENS_TLS_KEY", key)],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(garbage), "{stderr}");
}

#[test]
fn the_dashboard_client_sends_the_token_and_says_when_it_is_missing() {
    use meshlens_collector::server::auth::BearerToken;
    use meshlens_tui::sse::{ConnectOptions, connect};
    use meshlens_tui::{ConnectionState, Update};

    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let serve = Serve::start(&["--auth-token-file", token_file.to_str().unwrap()], "warn");
    let api = format!("http://{}", serve.addr("api"));
    let first_state = |authorization| {
        let (updates, connection) = connect(
            &api,
            ConnectOptions {
                window: "all".to_owned(),
                interval: "200ms".to_owned(),
                authorization,
                ..ConnectOptions::default()
            },
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut state = None;
        while Instant::now() < deadline && state.is_none() {
            match updates.recv_timeout(Duration::from_millis(500)) {
                Ok(Update::Connection(ConnectionState::Connecting { .. })) | Err(_) => {}
                Ok(Update::Connection(other)) => state = Some(other),
                Ok(_) => {}
            }
        }
        connection.stop();
        state.expect("the client reports its connection")
    };

    let token = BearerToken::from_file(&token_file).unwrap();
    assert!(matches!(
        first_state(Some(token.authorization())),
        ConnectionState::Connected { .. }
    ));
    match first_state(None) {
        ConnectionState::Disconnected { error, .. } => {
            assert!(error.contains("401"), "{error}");
            assert!(error.contains("--auth-token-file"), "{error}");
        }
        other => panic!("connected without the token: {other:?}"),
    }
}

/// `meshlens loadgen --json` with `args` (and `env`; the token variable of the test's own
/// environment is not passed on): its exit code, the summary it printed (when it did), its
/// standard error, and how long it ran.
fn loadgen(
    args: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, Option<serde_json::Value>, String, Duration) {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_meshlens"))
        .arg("loadgen")
        .args(args)
        .arg("--json")
        .env("MESHLENS_LOG", "error")
        .env_remove("MESHLENS_AUTH_TOKEN_FILE")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    (
        output.status.code(),
        serde_json::from_str(stdout.trim()).ok(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        started.elapsed(),
    )
}

/// A loadgen run that delivered every span: how many.
fn delivered_all(
    what: &str,
    run: (Option<i32>, Option<serde_json::Value>, String, Duration),
) -> u64 {
    let (code, summary, stderr, _) = run;
    assert_eq!(code, Some(0), "{what}: {stderr}");
    let summary = summary.unwrap_or_else(|| panic!("{what}: no summary: {stderr}"));
    let sent = summary["sent_spans"].as_u64().unwrap();
    // 2,000 spans/s for 1 s, give or take a batch per connection.
    assert!(sent >= 1_000, "{what}: {summary}");
    assert_eq!(summary["accepted_spans"], sent, "{what}: {summary}");
    assert_eq!(summary["failed_spans"], 0, "{what}: {summary}");
    assert_eq!(summary["rejected_spans"], 0, "{what}: {summary}");
    assert!(summary["last_error"].is_null(), "{what}: {summary}");
    sent
}

/// `/metrics` of a plain-text serve that asks for the token.
fn metrics_with_token(serve: &Serve) -> String {
    let response = reqwest::blocking::Client::new()
        .get(format!("http://{}/metrics", serve.addr("api")))
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().unwrap()
}

const PROTOCOLS: [(&str, &str, &str); 4] = [
    ("grpc", "otlp_grpc", "otlp_grpc"),
    ("http-protobuf", "otlp_http", "otlp_http_protobuf"),
    ("http-json", "otlp_http", "otlp_http_json"),
    ("zipkin", "zipkin", "zipkin"),
];

#[test]
fn loadgen_with_the_token_delivers_every_span_over_every_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("  {TOKEN}\n")).unwrap();
    let token = token_file.to_str().unwrap();
    let serve = Serve::start(&["--auth-token-file", token], "warn");
    for (protocol, listener, receiver) in PROTOCOLS {
        let mut args = vec![
            "--target",
            serve.addr(listener),
            "--protocol",
            protocol,
            "--rate",
            "2000",
            "--duration",
            "1s",
            "--connections",
            "2",
        ];
        // Zipkin takes the file from the environment variable.
        let env = if protocol == "zipkin" {
            vec![("MESHLENS_AUTH_TOKEN_FILE", token)]
        } else {
            args.extend(["--auth-token-file", token]);
            vec![]
        };
        let sent = delivered_all(protocol, loadgen(&args, &env));
        let metrics = metrics_with_token(&serve);
        assert_eq!(
            metric(
                &metrics,
                &format!("meshlens_spans_accepted_total{{receiver=\"{receiver}\"}}")
            ),
            sent as f64,
            "{protocol}: {metrics}"
        );
        assert_eq!(
            metric(
                &metrics,
                &format!(
                    "meshlens_request_errors_total{{receiver=\"{receiver}\",reason=\"unauthenticated\"}}"
                )
            ),
            0.0,
            "{protocol}"
        );
    }
    let logs = serve.stop();
    assert!(!logs.contains(TOKEN), "the token leaked into the logs");
}

#[test]
fn a_refused_token_stops_loadgen_at_once_and_nothing_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let wrong_file = dir.path().join("wrong");
    std::fs::write(&wrong_file, "not-the-token\n").unwrap();
    let serve = Serve::start(&["--auth-token-file", token_file.to_str().unwrap()], "warn");
    let wrong = wrong_file.to_str().unwrap();
    for (protocol, listener, _) in PROTOCOLS {
        for token in [Some(wrong), None] {
            let mut args = vec![
                "--target",
                serve.addr(listener),
                "--protocol",
                protocol,
                "--rate",
                "2000",
                "--duration",
                "60s",
                "--connections",
                "2",
            ];
            if let Some(token) = token {
                args.extend(["--auth-token-file", token]);
            }
            let what = format!("{protocol} with {token:?}");
            let (code, summary, stderr, took) = loadgen(&args, &[]);
            // Spans were given up on: exit 1, at the first answer, not after 60 s of retries.
            assert_eq!(code, Some(1), "{what}: {stderr}");
            assert!(took < Duration::from_secs(15), "{what}: took {took:?}");
            let refused = if token.is_some() {
                "refused the bearer token"
            } else {
                "asks for a bearer token"
            };
            assert!(
                stderr.contains("loadgen stopped")
                    && stderr.contains(refused)
                    && stderr.contains("--auth-token-file"),
                "{what}: {stderr}"
            );
            assert!(!stderr.contains("not-the-token"), "{what}: {stderr}");
            let summary = summary.unwrap_or_else(|| panic!("{what}: no summary: {stderr}"));
            let sent = summary["sent_spans"].as_u64().unwrap();
            assert!(sent > 0, "{what}: {summary}");
            assert_eq!(summary["accepted_spans"], 0, "{what}: {summary}");
            assert_eq!(summary["failed_spans"], sent, "{what}: {summary}");
            assert_eq!(summary["retries"], 0, "{what}: {summary}");
            // One request in flight per connection at most.
            assert!(
                summary["requests"].as_u64().unwrap() <= 2,
                "{what}: {summary}"
            );
            assert!(
                summary["last_error"].as_str().unwrap().contains(refused),
                "{what}: {summary}"
            );
        }
    }
    let metrics = metrics_with_token(&serve);
    for (_, _, receiver) in PROTOCOLS {
        assert_eq!(
            metric(
                &metrics,
                &format!("meshlens_spans_accepted_total{{receiver=\"{receiver}\"}}")
            ),
            0.0,
            "{receiver}: {metrics}"
        );
        assert!(
            metric(
                &metrics,
                &format!(
                    "meshlens_request_errors_total{{receiver=\"{receiver}\",reason=\"unauthenticated\"}}"
                )
            ) >= 2.0,
            "{receiver}: {metrics}"
        );
    }
}

#[test]
fn loadgen_over_grpc_tls_and_mutual_tls_delivers_every_span() {
    let pki = Pki::new();
    let ca = pki.ca.to_str().unwrap();
    let run = |addr: &str, extra: &[&str]| {
        let mut args = vec!["--rate", "2000", "--duration", "1s", "--connections", "2"];
        args.extend(["--target", addr]);
        args.extend_from_slice(extra);
        loadgen(&args, &[])
    };

    // TLS: HOST:PORT with --tls-ca (the certificate names 127.0.0.1 too), then an https://
    // URL checked against the name localhost.
    {
        let serve = Serve::start(&strs(&tls_args(&pki)), "warn");
        let grpc = serve.addr("otlp_grpc").to_owned();
        let mut sent = delivered_all("tls", run(&grpc, &["--tls-ca", ca]));
        let url = format!("https://{grpc}");
        sent += delivered_all(
            "tls https://",
            run(&url, &["--tls-ca", ca, "--tls-server-name", "localhost"]),
        );
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let metrics = runtime.block_on(metrics_tls(&serve, &pki.client_config(None)));
        assert_eq!(
            metric(
                &metrics,
                "meshlens_spans_accepted_total{receiver=\"otlp_grpc\"}"
            ),
            sent as f64,
            "{metrics}"
        );

        // A CA that did not sign the server's certificate: the handshake fails, the target
        // cannot be reached (exit 2).
        let stranger = pki.stranger_cert.to_str().unwrap();
        let (code, summary, stderr, _) = run(&grpc, &["--tls-ca", stranger]);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(summary.is_none());
        assert!(stderr.contains("cannot connect"), "{stderr}");
        // The name the certificate does not carry: the same.
        let (code, _, stderr, _) = run(
            &grpc,
            &["--tls-ca", ca, "--tls-server-name", "elsewhere.example"],
        );
        assert_eq!(code, Some(2), "{stderr}");
    }

    // Mutual TLS and the token together.
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let token = token_file.to_str().unwrap();
    let mut args = tls_args(&pki);
    args.extend([
        "--tls-client-ca".to_owned(),
        pki.ca.display().to_string(),
        "--auth-token-file".to_owned(),
        token.to_owned(),
    ]);
    let serve = Serve::start(&strs(&args), "warn");
    let grpc = serve.addr("otlp_grpc").to_owned();
    let (cert, key) = (
        pki.client_cert.to_str().unwrap(),
        pki.client_key.to_str().unwrap(),
    );
    let sent = delivered_all(
        "mtls",
        run(
            &grpc,
            &[
                "--tls-ca",
                ca,
                "--tls-cert",
                cert,
                "--tls-key",
                key,
                "--auth-token-file",
                token,
            ],
        ),
    );
    // Without a client certificate, or with one from another CA: the server's TLS alert
    // comes after the handshake (TLS 1.3); loadgen stops at once instead of retrying.
    let (stranger_cert, stranger_key) = (
        pki.stranger_cert.to_str().unwrap(),
        pki.stranger_key.to_str().unwrap(),
    );
    for (identity, refused) in [
        (vec![], "asks for a client certificate"),
        (
            vec!["--tls-cert", stranger_cert, "--tls-key", stranger_key],
            "refused the client certificate",
        ),
    ] {
        let mut extra = vec![
            "--tls-ca",
            ca,
            "--auth-token-file",
            token,
            "--duration",
            "60s",
        ];
        extra.extend(identity);
        let mut args = vec!["--target", grpc.as_str(), "--rate", "2000"];
        args.extend(extra);
        let (code, summary, stderr, took) = loadgen(&args, &[]);
        assert_eq!(code, Some(1), "{refused}: {stderr}");
        assert!(took < Duration::from_secs(15), "{refused}: took {took:?}");
        assert!(
            stderr.contains(refused) && stderr.contains("--tls-cert"),
            "{refused}: {stderr}"
        );
        // Found out before the first request (see `ClientTls::refusal`): nothing was sent.
        let summary = summary.unwrap();
        assert_eq!(summary["accepted_spans"], 0, "{summary}");
        assert_eq!(summary["failed_spans"], summary["sent_spans"], "{summary}");
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let metrics = runtime
        .block_on(https(
            serve.addr("api"),
            &pki.client_config(Some((&pki.client_cert, &pki.client_key))),
            &request(
                "GET",
                "/metrics",
                &[("Authorization", &format!("Bearer {TOKEN}"))],
                b"",
            ),
        ))
        .unwrap();
    assert_eq!(status(&metrics), 200, "{metrics}");
    assert_eq!(
        metric(
            &metrics,
            "meshlens_spans_accepted_total{receiver=\"otlp_grpc\"}"
        ),
        sent as f64,
        "{metrics}"
    );
}

#[test]
fn loadgen_refuses_tls_it_cannot_do_and_broken_files_naming_them() {
    let pki = Pki::new();
    let garbage = pki.path("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let empty = pki.path("empty-token");
    std::fs::write(&empty, "\n  \n").unwrap();
    let missing = pki.path("missing-token");
    let (ca, cert, key, server_key) = (
        pki.ca.to_str().unwrap(),
        pki.client_cert.to_str().unwrap(),
        pki.client_key.to_str().unwrap(),
        pki.key.to_str().unwrap(),
    );
    let (garbage, empty, missing) = (
        garbage.to_str().unwrap(),
        empty.to_str().unwrap(),
        missing.to_str().unwrap(),
    );
    let grpc_only = "TLS is supported for --protocol grpc only";
    // Nothing listens on port 1: every case fails before connecting.
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--protocol", "http-json", "--tls-ca", ca],
            vec![grpc_only],
        ),
        (
            vec![
                "--protocol",
                "http-protobuf",
                "--tls-ca",
                ca,
                "--tls-cert",
                cert,
                "--tls-key",
                key,
            ],
            vec![grpc_only],
        ),
        (
            vec!["--protocol", "zipkin", "--tls-ca", ca],
            vec![grpc_only],
        ),
        (
            vec!["--protocol", "http-json", "--target", "https://127.0.0.1:1"],
            vec![grpc_only],
        ),
        (vec!["--target", "https://127.0.0.1:1"], vec!["--tls-ca"]),
        (
            vec!["--target", "http://127.0.0.1:1", "--tls-ca", ca],
            vec!["http://", "https://"],
        ),
        (vec!["--tls-ca", garbage], vec![garbage, "no PEM"]),
        (vec!["--tls-ca", missing], vec![missing, "cannot read"]),
        (
            vec!["--tls-ca", ca, "--tls-cert", cert, "--tls-key", server_key],
            vec![server_key, cert],
        ),
        (
            vec!["--tls-ca", ca, "--tls-cert", cert, "--tls-key", garbage],
            vec![garbage, "private key"],
        ),
        (vec!["--auth-token-file", empty], vec![empty, "empty"]),
        (vec!["--auth-token-file", missing], vec![missing]),
        // Usage errors.
        (vec!["--tls-cert", cert, "--tls-key", key], vec!["--tls-ca"]),
        (vec!["--tls-ca", ca, "--tls-cert", cert], vec!["--tls-key"]),
    ];
    for (args, expected) in cases {
        let mut args = args;
        if !args.contains(&"--target") {
            args.extend(["--target", "127.0.0.1:1"]);
        }
        let (code, summary, stderr, took) = loadgen(&args, &[]);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(summary.is_none(), "{args:?}: nothing was sent");
        assert!(took < Duration::from_secs(10), "{args:?}: {took:?}");
        for text in expected {
            assert!(stderr.contains(text), "{args:?}: {text:?} not in {stderr}");
        }
    }
    // The environment variable is the flag's equal.
    let (code, _, stderr, _) = loadgen(
        &["--target", "127.0.0.1:1"],
        &[("MESHLENS_AUTH_TOKEN_FILE", missing)],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(missing), "{stderr}");
}
