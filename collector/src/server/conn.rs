//! Serving the HTTP listeners so that slow or stuck clients cannot hold the server: a cap on
//! open connections (new ones past it are closed at once), a deadline for a request's
//! headers (slowloris), and graceful shutdown that waits for requests in flight, not for idle
//! keep-alive connections. The body's own deadline is applied where it is read
//! ([`super::body::read`]). With TLS the handshake runs in the connection's own task under the
//! header deadline, so a client that connects and never speaks holds its slot no longer.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Connections each HTTP listener holds open at most.
pub const MAX_HTTP_CONNECTIONS: usize = 1024;
/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight requests get to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(10);

/// Limits of one HTTP listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: MAX_HTTP_CONNECTIONS,
            header_read_timeout: HEADER_READ_TIMEOUT,
        }
    }
}

/// Serves `router` on `listener` (over TLS when `tls` is given) until `stopped` turns true,
/// then drains.
pub(crate) async fn serve_http(
    listener: TcpListener,
    router: axum::Router,
    mut stopped: watch::Receiver<bool>,
    limits: HttpLimits,
    what: &'static str,
    tls: Option<TlsAcceptor>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    loop {
        let accepted = tokio::select! {
            accepted = next_connection(&listener, what) => accepted,
            _ = stopped.wait_for(|&stop| stop) => break,
        };
        let Some(stream) = accepted else { continue };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!("{what}: connection limit reached, closing a new connection");
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        // Watched from here, so a shutdown waits for a handshake in progress (bounded by the
        // deadline) and then closes its connection gracefully.
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            // A client that goes away mid-request is its own business.
            match tls {
                None => {
                    let connection = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    let _ = watcher.watch(connection).await;
                }
                Some(acceptor) => {
                    if let Some(stream) =
                        handshake(&acceptor, stream, limits.header_read_timeout, what).await
                    {
                        let connection = builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service)
                            .into_owned();
                        let _ = watcher.watch(connection).await;
                    }
                }
            }
            drop(permit);
        });
    }
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("{what}: requests still in flight after {DRAIN:?}, closing them");
    }
}

/// The TLS handshake, given `deadline` to finish. Failures are the client's business (a
/// plain-text client, an unknown CA, no client certificate): logged at debug only.
async fn handshake<S>(
    acceptor: &TlsAcceptor,
    stream: S,
    deadline: Duration,
    what: &'static str,
) -> Option<TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match tokio::time::timeout(deadline, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(error)) => {
            tracing::debug!(%error, "{what}: TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("{what}: no TLS handshake within {deadline:?}, closing");
            None
        }
    }
}

/// TLS connections for tonic's server: accepted here, each handshake in its own task under
/// `limits.header_read_timeout`, at most `limits.max_connections` handshakes at a time; the
/// stream ends when `stopped` turns true.
pub(crate) fn tls_incoming(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    limits: HttpLimits,
    mut stopped: watch::Receiver<bool>,
    what: &'static str,
) -> tokio_stream::wrappers::ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>> {
    let (sender, receiver) = mpsc::channel(64);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = next_connection(&listener, what) => accepted,
                _ = stopped.wait_for(|&stop| stop) => break,
                _ = sender.closed() => break,
            };
            let Some(stream) = accepted else { continue };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                tracing::debug!("{what}: too many TLS handshakes at once, closing a connection");
                continue;
            };
            // Small gRPC messages should not wait for Nagle (tonic's own accept loop does it).
            let _ = stream.set_nodelay(true);
            let acceptor = acceptor.clone();
            let sender = sender.clone();
            tokio::spawn(async move {
                if let Some(stream) =
                    handshake(&acceptor, stream, limits.header_read_timeout, what).await
                {
                    let _ = sender.send(Ok(stream)).await;
                }
                drop(permit);
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(receiver)
}

/// The next connection, or `None` after a failed accept (out of file descriptors and the
/// like), having waited a little so the loop does not spin.
async fn next_connection(listener: &TcpListener, what: &str) -> Option<TcpStream> {
    match listener.accept().await {
        Ok((stream, _)) => Some(stream),
        Err(error) => {
            tracing::warn!(%error, "{what}: accept failed");
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        }
    }
}
