//! Process plumbing shared by the commands: logging, the async runtime, serving, shutdown
//! signals.

mod connections;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use axum::Router;
use tokio::net::TcpListener;

use tracing_subscriber::EnvFilter;

pub use connections::ServeArgs;

/// Logs to stderr; `RUST_LOG` overrides the default `info` level.
pub fn init_logging() {
    init_logging_with("info");
}

/// Logs to stderr; `RUST_LOG` overrides `default_filter`.
pub fn init_logging_with(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Runs `future` on a multi-threaded runtime.
pub fn block_on<F: Future<Output = Result<(), String>>>(future: F) -> Result<(), String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))?
        .block_on(future)
}

/// Work a server runs beside its routes for as long as it serves (e.g. housekeeping).
pub type BackgroundTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A server ready to run: where it listens, what it serves, and what runs beside it.
pub struct Service {
    /// The bound listener.
    pub listener: TcpListener,
    /// Every route of the server.
    pub router: Router,
    /// Tasks started with the server and stopped when serving stops.
    pub background: Vec<BackgroundTask>,
}

impl Service {
    /// Binds `address` for `router`.
    pub async fn bind(address: SocketAddr, router: Router) -> Result<Self, String> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|error| format!("cannot listen on {address}: {error}"))?;
        Ok(Self {
            listener,
            router,
            background: Vec::new(),
        })
    }

    /// Adds `task`, run while the server serves and dropped when it stops.
    pub fn with_background(mut self, task: impl Future<Output = ()> + Send + 'static) -> Self {
        self.background.push(Box::pin(task));
        self
    }
}

/// Serves every service until Ctrl-C or SIGTERM within `limits`, then stops them all
/// gracefully. Handlers see the client's address (`ConnectInfo`), which sign-in throttling
/// needs. The services' background tasks run meanwhile and are aborted when serving stops.
pub async fn serve_all(services: Vec<Service>, limits: &ServeArgs) -> Result<(), String> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    // Dropping the set (whenever this function returns) aborts what is still running.
    let mut background = tokio::task::JoinSet::new();
    for service in services {
        for task in service.background {
            background.spawn(task);
        }
        tasks.spawn(connections::serve(
            service.listener,
            service.router,
            limits.clone(),
            stopped.clone(),
        ));
    }
    tokio::select! {
        () = shutdown_signal() => {}
        Some(result) = tasks.join_next() => {
            let _ = stop.send(true);
            return match result {
                Ok(()) => Err("a server stopped unexpectedly".to_owned()),
                Err(error) => Err(format!("server task failed: {error}")),
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
