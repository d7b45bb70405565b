//! `mcp-oauth gateway` as an AWS Lambda function: the same routes as on a listener, served to
//! the function URL's events (runtime/lambda.rs).
//!
//! What Lambda changes: the process is frozen between events, so nothing may run on a timer.
//! The signing keys are fetched by the first request that brings a token, and the sweep of
//! unused registrations is started by a request to the gateway's routes once
//! `--sweep-interval-secs` have passed since the last one in this instance (a freeze only pauses a sweep; the next resumes what
//! is left). Each instance is a process of its own, so the registry must be DynamoDB (a
//! SQLite file would belong to one instance and vanish with it), an upstream must be a URL
//! (no child process per instance), and metrics have no port to be served on.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::bail;
use mcp_oauth_cognito::Sweeper;
use tower::util::MapRequestLayer;

use super::{GatewayArgs, Prepared, prepare};
use crate::upstream_args::UpstreamTarget;

/// Serves the gateway to the Lambda runtime's events.
pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    crate::runtime::lambda::check_variables()?;
    refuse_what_needs_one_process(&args)?;
    let Prepared {
        router,
        gateway,
        resource_server,
    } = prepare(&args).await?;
    tracing::info!(
        issuer = %gateway.metadata().issuer,
        mcp_server = %resource_server.config().resource,
        trusts = %args.cognito_issuer(),
        "Cognito gateway in AWS Lambda"
    );
    let sweeps = Arc::new(DueSweeps::new(
        gateway.sweeper(),
        Duration::from_secs(args.sweep_interval_secs.max(1)),
    ));
    let router = router.layer(MapRequestLayer::new(move |request| {
        sweeps.start_if_due();
        request
    }));
    crate::runtime::lambda::serve(router).await
}

/// Refuses the flags whose state would live in one instance only.
fn refuse_what_needs_one_process(args: &GatewayArgs) -> anyhow::Result<()> {
    if args.sqlite_registry.is_some() {
        bail!(
            "--sqlite-registry (COGNITO_REGISTRY_SQLITE) cannot be used in AWS Lambda: the file \
             would belong to one instance and vanish with it; give the DynamoDB table with \
             --dynamodb-table (COGNITO_REGISTRY_TABLE)"
        );
    }
    if let Some(UpstreamTarget::Command(_)) = args.upstream.target()? {
        bail!(
            "--upstream-command cannot be used in AWS Lambda: each instance would run its own \
             copy of the server; run it elsewhere and give its URL with --upstream-url"
        );
    }
    if let Some(address) = args.serve.metrics_addr() {
        bail!(
            "--metrics-addr {address} (MCP_OAUTH_METRICS_ADDR) cannot be used in AWS Lambda: a \
             function listens on no port"
        );
    }
    Ok(())
}

/// Sweeps started by requests: at most one per interval in this instance.
struct DueSweeps {
    sweeper: Arc<Sweeper>,
    interval: Duration,
    /// When the latest sweep started (`None` before the first).
    latest: Mutex<Option<Instant>>,
}

impl DueSweeps {
    fn new(sweeper: Sweeper, interval: Duration) -> Self {
        Self {
            sweeper: Arc::new(sweeper),
            interval,
            latest: Mutex::new(None),
        }
    }

    /// Starts a sweep beside the request if none started in the last interval.
    fn start_if_due(&self) {
        let now = Instant::now();
        {
            let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
            if latest.is_some_and(|at| now.duration_since(at) < self.interval) {
                return;
            }
            *latest = Some(now);
        }
        let sweeper = Arc::clone(&self.sweeper);
        tokio::spawn(async move { sweeper.sweep_now().await });
    }
}
