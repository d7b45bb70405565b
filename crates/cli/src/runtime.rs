//! Process plumbing shared by the commands: logging, the async runtime, serving (health
//! routes, request ids, request logs, metrics), shutdown signals.

mod connections;
mod health;
mod host_check;
mod http_metrics;
#[cfg(feature = "lambda")]
pub mod lambda;
mod logging;
mod metrics;
mod requests;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use axum::Router;
use futures_util::future::BoxFuture;
use mcp_oauth_resource::ResourceServer;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

pub use connections::ServeArgs;
pub use health::HEALTH_PATHS;
pub use logging::{LogFormat, init as init_logging};
pub use tls::{TlsArgs, TlsTerminator};

/// The variable through which AWS Lambda tells a function where its runtime API is: set only
/// in Lambda.
pub const LAMBDA_RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";

/// Whether this process runs as an AWS Lambda function.
pub fn in_lambda() -> bool {
    std::env::var_os(LAMBDA_RUNTIME_API).is_some_and(|value| !value.is_empty())
}

/// When the process started (the first call of [`since_start`], made at the top of `main`).
static STARTED: OnceLock<Instant> = OnceLock::new();

/// How long ago the process started.
pub fn since_start() -> Duration {
    STARTED.get_or_init(Instant::now).elapsed()
}

/// Runs `future` on a multi-threaded runtime.
pub fn block_on<T, F: Future<Output = anyhow::Result<T>>>(future: F) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(future)
}

/// Work a server runs beside its routes for as long as it serves (e.g. housekeeping).
pub type BackgroundTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Adds a server's own metrics to the process's registry.
pub type RegisterMetrics = Box<dyn FnOnce(&mut Registry) + Send>;

/// How often a resource server retries fetching the keys of an issuer it has none of.
const KEY_FETCH_RETRY: Duration = Duration::from_secs(5);

/// A server ready to run: where it listens, what it serves, and what runs beside it.
pub struct Service {
    /// The bound listener.
    pub listener: TcpListener,
    /// Every route of the server.
    pub router: Router,
    /// Tasks started with the server and stopped when serving stops.
    pub background: Vec<BackgroundTask>,
    /// What `/readyz` checks.
    readiness: Vec<health::ReadinessCheck>,
    /// The server's own metrics.
    metrics: Vec<RegisterMetrics>,
    /// Terminates TLS on each connection, when the server serves HTTPS.
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Service {
    /// Binds `address` for `router`.
    pub async fn bind(address: SocketAddr, router: Router) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        Ok(Self {
            listener,
            router,
            background: Vec::new(),
            readiness: Vec::new(),
            metrics: Vec::new(),
            tls: None,
        })
    }

    /// Serves HTTPS with `tls` (and reloads its certificate meanwhile), if given.
    pub fn with_tls(mut self, tls: Option<TlsTerminator>) -> Self {
        let Some(tls) = tls else {
            return self;
        };
        self.tls = Some(tls.acceptor());
        self.with_background(tls.reloads())
    }

    /// Adds `task`, run while the server serves and dropped when it stops.
    pub fn with_background(mut self, task: impl Future<Output = ()> + Send + 'static) -> Self {
        self.background.push(Box::pin(task));
        self
    }

    /// Adds a readiness check to `/readyz`: `Ok` when ready, otherwise what the server waits
    /// for (shown to probers: nothing secret).
    pub fn with_readiness(
        mut self,
        check: impl Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static,
    ) -> Self {
        self.readiness.push(Arc::new(check));
        self
    }

    /// Adds the server's own metrics to the process's registry.
    pub fn with_metrics(mut self, register: impl FnOnce(&mut Registry) + Send + 'static) -> Self {
        self.metrics.push(Box::new(register));
        self
    }

    /// Labels this server's own metrics `name="value"`, so that two servers of one kind in
    /// one process (`dev --second-authorization-server`) do not report the same series.
    pub fn with_metrics_label(mut self, name: &'static str, value: &'static str) -> Self {
        let registrations = std::mem::take(&mut self.metrics);
        self.metrics.push(Box::new(move |registry: &mut Registry| {
            let labelled = registry.sub_registry_with_label((name.into(), value.into()));
            for register in registrations {
                register(labelled);
            }
        }));
        self
    }

    /// What a server guarded by `resource_server` adds: ready once every trusted issuer's
    /// keys were fetched (retried in the background until they are), and the resource
    /// server's metrics.
    pub fn with_resource_server(self, resource_server: &ResourceServer) -> Self {
        let fetching = resource_server.clone();
        let checked = resource_server.clone();
        let counted = resource_server.clone();
        self.with_background(async move { fetching.fetch_keys_until_ready(KEY_FETCH_RETRY).await })
            .with_readiness(move || {
                let waiting = checked.issuers_without_keys();
                Box::pin(async move {
                    if waiting.is_empty() {
                        Ok(())
                    } else {
                        Err(format!("signing keys of {}", waiting.join(", ")))
                    }
                })
            })
            .with_metrics(move |registry| counted.register_metrics(registry))
    }
}

/// Serves every service until Ctrl-C or SIGTERM within `limits`, then stops them all
/// gracefully. Each gets `/healthz` and `/readyz`, request ids, a log line per request and
/// HTTP metrics; the metrics are served on `--metrics-addr` if given (always plain HTTP: a
/// private listener). Handlers see the client's address
/// (`ConnectInfo`), which sign-in throttling needs, and over TLS the client's certificate. The services'
/// background tasks run meanwhile and are aborted when serving stops.
pub async fn serve_all(services: Vec<Service>, limits: &ServeArgs) -> anyhow::Result<()> {
    let metrics_listener = match limits.metrics_addr() {
        Some(address) => Some(
            TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address} (--metrics-addr)"))?,
        ),
        None => None,
    };
    let mut registry = Registry::default();
    let http_metrics = http_metrics::HttpMetrics::new(&mut registry);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    // Dropping the set (whenever this function returns) aborts what is still running.
    let mut background = tokio::task::JoinSet::new();
    for service in services {
        for task in service.background {
            background.spawn(task);
        }
        for register in service.metrics {
            register(&mut registry);
        }
        let address = service
            .listener
            .local_addr()
            .context("cannot read a listener's address")?;
        let router = service.router.merge(health::routes(service.readiness));
        let router = requests::instrument(router, &http_metrics, &address.to_string());
        tasks.spawn(connections::serve(
            service.listener,
            router,
            limits.clone(),
            stopped.clone(),
            service.tls,
        ));
    }
    if let Some(listener) = metrics_listener {
        if let Ok(address) = listener.local_addr() {
            println!("Metrics on http://{address}/metrics");
        }
        tasks.spawn(connections::serve(
            listener,
            metrics::router(registry),
            limits.few_and_short(metrics::MAX_SCRAPERS),
            stopped.clone(),
            None,
        ));
    }
    tokio::select! {
        () = shutdown_signal() => {}
        Some(result) = tasks.join_next() => {
            let _ = stop.send(true);
            return match result {
                Ok(()) => Err(anyhow!("a server stopped unexpectedly")),
                Err(error) => Err(anyhow!(error).context("server task failed")),
            };
        }
    }
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
