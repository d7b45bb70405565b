//! Serving one listener with hyper directly, because `axum::serve` has no limits: a cap on
//! open connections, a deadline for each request's headers (which also closes idle
//! kept-alive connections), a 400 for requests with several or malformed `Host` headers
//! (RFC 9112 §3.2), and a graceful shutdown bounded in time. Slowloris clients (headers sent a
//! byte at a time) and connection floods therefore cost a bounded number of connections for a
//! bounded time, while other requests are served. TLS, when on, is terminated here too
//! (`super::tls`), after accepting and before HTTP.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::Response;
use clap::Args;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use mcp_oauth_core::ClientCertificate;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::{host_check, tls};

/// How long to wait before accepting again when the process is out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// The limits every server puts on its connections (flattened into each serving command).
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Most connections a server keeps open at once. Further clients wait in the listen
    /// backlog until a connection closes.
    #[arg(long, env = "MCP_OAUTH_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,

    /// Seconds a connection may take to send a request's headers, counted from when it
    /// starts waiting for one (when it opens, or after its previous response): a client that
    /// sends them slowly, or keeps an idle connection open, is disconnected after this.
    #[arg(long, env = "MCP_OAUTH_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_secs: u64,

    /// Seconds requests in progress get to finish after SIGTERM or Ctrl-C (no new connection
    /// is accepted meanwhile); connections still open then are closed, and the process exits.
    #[arg(long, env = "MCP_OAUTH_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    shutdown_grace_secs: u64,

    /// Serve Prometheus metrics at http://ADDRESS/metrics (e.g. 127.0.0.1:9464): a listener
    /// of its own, so metrics are never exposed on a public port by accident. Off unless
    /// given.
    #[arg(long, env = "MCP_OAUTH_METRICS_ADDR", value_name = "ADDRESS")]
    metrics_addr: Option<SocketAddr>,

    /// Close each connection after its response (no keep-alive), so that idle clients
    /// hold no slot (the metrics listener's scrapers).
    #[arg(skip)]
    close_after_response: bool,
}

impl ServeArgs {
    fn max_connections(&self) -> usize {
        usize::try_from(self.max_connections).unwrap_or(usize::MAX)
    }

    /// Where to serve the metrics, if anywhere.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// These limits with at most `max` connections open at once, each closed after its
    /// response: a few short-lived connections, however many clients try.
    pub fn few_and_short(&self, max: usize) -> Self {
        let max = u32::try_from(max).unwrap_or(u32::MAX);
        Self {
            max_connections: self.max_connections.min(max),
            close_after_response: true,
            ..self.clone()
        }
    }
}

/// Serves `router` on `listener` until `stop` turns true, then stops accepting and lets open
/// connections finish their requests for up to `--shutdown-grace-secs`. With `tls`, each
/// connection's TLS handshake runs first (within `--header-timeout-secs`). Handlers see the
/// client's address (`ConnectInfo<SocketAddr>`) and, over TLS, the certificate it presented
/// if any ([`ClientCertificate`]).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeArgs,
    stop: watch::Receiver<bool>,
    tls: Option<TlsAcceptor>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections()));
    let header_timeout = Duration::from_secs(limits.header_timeout_secs);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(!limits.close_after_response);
    let mut connections = JoinSet::new();
    loop {
        // Take a slot before accepting: while every slot is taken, new clients wait in the
        // kernel's backlog instead of costing a task and a buffer each.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = stopped(&stop) => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
            () = stopped(&stop) => break,
        };
        // Nagle's algorithm delays small SSE frames by tens of milliseconds.
        let _ = stream.set_nodelay(true);
        let (http, router, stop, tls) = (http.clone(), router.clone(), stop.clone(), tls.clone());
        connections.spawn(async move {
            let _slot = slot;
            let Some(tls) = tls else {
                return run_connection(&http, stream, app(router, remote, None), &stop, remote)
                    .await;
            };
            // The handshake gets the headers' deadline: a client that stalls in it holds its
            // slot no longer than one that stalls in its headers. A failed handshake never
            // reaches a handler.
            let handshake = tokio::select! {
                handshake = tokio::time::timeout(header_timeout, tls.accept(stream)) => handshake,
                () = stopped(&stop) => return,
            };
            match handshake {
                Ok(Ok(stream)) => {
                    let certificate = tls::client_certificate(stream.get_ref().1);
                    let service = app(router, remote, certificate);
                    run_connection(&http, stream, service, &stop, remote).await;
                }
                Ok(Err(error)) => tracing::debug!(%remote, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
            }
        });
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let grace = Duration::from_secs(limits.shutdown_grace_secs);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "closing connections still open after the shutdown grace period"
        );
    }
}

/// Serves HTTP/1.1 on the connection `io` from `remote` until it closes, or until `stop`
/// turns true and its request in progress is answered.
async fn run_connection<I, S>(
    http: &http1::Builder,
    io: I,
    service: S,
    stop: &watch::Receiver<bool>,
    remote: SocketAddr,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = Body>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connection = http.serve_connection(TokioIo::new(io), service);
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stopped(stop) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%remote, %error, "connection closed");
    }
}

/// One connection's service: the client's address and certificate for handlers, and the
/// `Host` check.
fn app(
    router: Router,
    remote: SocketAddr,
    certificate: Option<ClientCertificate>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response,
    Error = Infallible,
    Future = impl Future<Output = Result<Response, Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        if let Some(certificate) = &certificate {
            request.extensions_mut().insert(certificate.clone());
        }
        let refusal = host_check::refusal(request.headers());
        let router = router.clone();
        async move {
            match refusal {
                Some(refusal) => Ok(refusal),
                None => router.oneshot(request.map(Body::new)).await,
            }
        }
    })
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &watch::Receiver<bool>) {
    let mut stop = stop.clone();
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Connection errors (a client that gave up before being accepted) are the client's
/// business; anything else, such as running out of file descriptors, is logged and waited out.
async fn accept_failed(error: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection; retrying in a second");
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}
