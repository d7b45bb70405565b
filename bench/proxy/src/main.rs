//! Benchmark driver for `mcp-oauth proxy` (`bench/proxy-run`; BENCHMARKS.md, section
//! "mcp-oauth proxy", describes the method): the proxy's CPU time per forwarded
//! authenticated `tools/call` and the median latency it adds, against the same fast upstream
//! reached directly; its memory with 1,000 open MCP sessions, with a Streamable HTTP and a
//! stdio upstream; and FastMCP's proxy in front of the same stdio server under the same load.

mod load;
mod processes;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mcp_oauth_bench_support::{load_average, median, server_binary};
use mcp_oauth_testkit::TestIssuer;
use serde_json::json;

use crate::load::{Load, Request, Run};
use crate::processes::{Listening, PYTHON_SDK_SERVER, SH_CHILD, Upstream};
use crate::report::{Comparison, Forwarding, Latency, Report, SessionMemory};

/// Flags of the driver (each also read from the environment).
#[derive(Parser, Debug)]
#[command(
    name = "mcp-oauth-bench-proxy",
    about = "Measures what mcp-oauth proxy costs, and compares it with FastMCP's proxy"
)]
pub struct Args {
    /// Seconds of measured load per run.
    #[arg(long, env = "BENCH_DURATION", default_value_t = 5)]
    pub duration: u64,
    /// Rounds of each measure (alternating which side goes first); the report shows medians.
    #[arg(long, env = "BENCH_ROUNDS", default_value_t = 5)]
    pub rounds: usize,
    /// Open connections of the throughput runs (wrk -c); the latency runs use one.
    #[arg(long, env = "BENCH_CONNECTIONS", default_value_t = 32)]
    pub connections: usize,
    /// Seconds of unmeasured load before each measured run.
    #[arg(long, env = "BENCH_WARMUP", default_value_t = 1)]
    pub warmup: u64,
    /// MCP sessions held open for the memory measure.
    #[arg(long, env = "BENCH_SESSIONS", default_value_t = 1000)]
    pub sessions: usize,
    /// Node 22, which runs server-everything (scripts/services/proxy-peers.sh sets it).
    #[arg(long, env = "MCP_OAUTH_NODE")]
    pub node: String,
    /// server-everything's entry point (scripts/services/proxy-peers.sh sets it).
    #[arg(long, env = "MCP_OAUTH_EVERYTHING_SERVER")]
    pub everything: String,
    /// A Python with the `mcp` package, which runs the stdio server of the comparison
    /// (scripts/services/proxy-peers.sh sets it).
    #[arg(long, env = "MCP_OAUTH_PYTHON_MCP")]
    pub python_mcp: String,
    /// A Python with `fastmcp` installed (bench/proxy-run makes a venv).
    #[arg(long, env = "BENCH_FASTMCP_PYTHON")]
    pub fastmcp_python: PathBuf,
    /// Write the results into BENCHMARKS.md.
    #[arg(long, env = "BENCH_WRITE")]
    pub write: bool,
    /// The `mcp-oauth` binary to measure (default: the one next to this driver).
    #[arg(long, env = "BENCH_SERVER")]
    pub server: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the three measures and reports.
async fn run(args: Args) -> Result<(), String> {
    if args.rounds == 0 || args.duration == 0 || args.sessions == 0 {
        return Err("--rounds, --duration and --sessions must be at least 1".to_owned());
    }
    let binary = server_binary(args.server.as_deref())?;
    let load_before = load_average();
    let issuer = TestIssuer::start().await;
    let client = reqwest::Client::new();
    let forwarding = forwarding(&args, &binary, &issuer, &client).await?;
    let http_memory = session_memory(&args, &issuer, &client, {
        let everything = processes::everything(&args.node, &args.everything).await?;
        let proxy = processes::proxy(
            &binary,
            issuer.issuer(),
            Upstream::Url(&everything.url),
            args.sessions,
        )
        .await?;
        (proxy, Some(everything))
    })
    .await?;
    let sh_child = ["sh".to_owned(), SH_CHILD.to_owned()];
    let stdio_memory = session_memory(&args, &issuer, &client, {
        let proxy = processes::proxy(
            &binary,
            issuer.issuer(),
            Upstream::Command(&sh_child),
            args.sessions,
        )
        .await?;
        (proxy, None)
    })
    .await?;
    let comparison = comparison(&args, &binary, &issuer, &client).await?;
    let report = Report {
        forwarding,
        http_memory,
        stdio_memory,
        comparison,
        load_before,
    };
    let markdown = report.markdown(&args);
    println!("{markdown}");
    if args.write {
        report::write_benchmarks_md(&markdown)?;
        eprintln!("bench: updated BENCHMARKS.md");
    }
    Ok(())
}

/// A token of `issuer` for every resource in `audiences` (the same token for both sides).
fn token(issuer: &TestIssuer, audiences: &[&str]) -> String {
    let mut claims = issuer.claims(audiences[0], "mcp:read mcp:write");
    claims["aud"] = json!(audiences);
    issuer.sign("rsa-1", &claims)
}

/// A warm-up run, then a measured one, of `request` against `url` from wrk on `client_cpu`,
/// counting `measured`'s CPU.
async fn measured_run(
    args: &Args,
    url: &str,
    request: &Request,
    (connections, client_cpu): (usize, u8),
    measured: &Listening,
) -> Result<Run, String> {
    let load = |seconds| Load {
        seconds,
        connections,
        cpu: client_cpu,
    };
    load::wrk(url, request, load(args.warmup), measured).await?;
    load::wrk(url, request, load(args.duration), measured).await
}

/// Authenticated `tools/call` of the demo server's `list_contexts`, directly and through the
/// proxy, in alternating order: throughput runs with `--connections`, latency runs with one.
async fn forwarding(
    args: &Args,
    binary: &std::path::Path,
    issuer: &TestIssuer,
    client: &reqwest::Client,
) -> Result<Forwarding, String> {
    let upstream = processes::demo_upstream(binary).await?;
    let proxy = processes::proxy(binary, issuer.issuer(), Upstream::Url(&upstream.url), 0).await?;
    let mut forwarding = Forwarding::default();
    for round in 0..args.rounds {
        // Tokens live five minutes: a fresh one per round outlives any round.
        let request = Request::new(
            "list_contexts",
            json!({}),
            token(issuer, &[&proxy.url]),
            None,
        );
        load::check(client, &upstream.url, &request).await?;
        load::check(client, &proxy.url, &request).await?;
        let through_proxy = round % 2 == 0;
        for proxied in [through_proxy, !through_proxy] {
            let (url, measured) = if proxied {
                (&proxy.url, &proxy)
            } else {
                (&upstream.url, &upstream)
            };
            let loaded = measured_run(args, url, &request, (args.connections, 1), measured).await?;
            let latency = Latency {
                beside_proxy: measured_run(args, url, &request, (1, 0), measured).await?,
                beside_upstream: measured_run(args, url, &request, (1, 1), measured).await?,
            };
            eprintln!(
                "bench: forwarding {}/{} {}: {:.0} req/s, {:.1} µs CPU/request; one connection: median {:.3} ms (client on CPU 0), {:.3} ms (on CPU 1)",
                round + 1,
                args.rounds,
                if proxied {
                    "through the proxy"
                } else {
                    "direct"
                },
                loaded.wrk.requests_per_sec,
                loaded.cpu_us_per_request,
                latency.beside_proxy.wrk.p50_ms,
                latency.beside_upstream.wrk.p50_ms,
            );
            forwarding.record(proxied, loaded, latency);
        }
    }
    Ok(forwarding)
}

/// Opens `--sessions` MCP sessions through `proxy` (in front of `upstream`, kept alive until
/// the end) and reads the proxy's memory before and after.
async fn session_memory(
    args: &Args,
    issuer: &TestIssuer,
    client: &reqwest::Client,
    (proxy, _upstream): (Listening, Option<Listening>),
) -> Result<SessionMemory, String> {
    let idle_kib = proxy.rss_kib()?;
    let token = token(issuer, &[&proxy.url]);
    for opened in 0..args.sessions {
        if load::open_session(client, &proxy.url, &token)
            .await?
            .is_none()
        {
            return Err(format!("{}: no session was opened", proxy.url));
        }
        if (opened + 1) % 250 == 0 {
            eprintln!("bench: {} sessions open", opened + 1);
        }
    }
    let loaded_kib = proxy.rss_kib()?;
    eprintln!(
        "bench: proxy RSS {idle_kib} KiB idle, {loaded_kib} KiB with {} sessions",
        args.sessions
    );
    Ok(SessionMemory {
        idle_kib,
        loaded_kib,
    })
}

/// The same stdio server (a Python MCP SDK server) behind `mcp-oauth proxy --upstream-command`
/// and behind FastMCP's proxy, one session each, the same token and load, alternating order.
async fn comparison(
    args: &Args,
    binary: &std::path::Path,
    issuer: &TestIssuer,
    client: &reqwest::Client,
) -> Result<Comparison, String> {
    let child = [args.python_mcp.clone(), PYTHON_SDK_SERVER.to_owned()];
    let ours = processes::proxy(binary, issuer.issuer(), Upstream::Command(&child), 10).await?;
    let theirs = processes::fastmcp(&args.fastmcp_python, issuer.issuer(), &child).await?;
    let mut comparison = Comparison::default();
    for round in 0..args.rounds {
        let token = token(issuer, &[&ours.url, &theirs.url]);
        let mut requests = Vec::new();
        for side in [&ours, &theirs] {
            let session = load::open_session(client, &side.url, &token).await?;
            let request = Request::new("echo", json!({"message": "hi"}), token.clone(), session);
            load::check(client, &side.url, &request).await?;
            requests.push(request);
        }
        let ours_first = round % 2 == 0;
        for is_ours in [ours_first, !ours_first] {
            let (side, request) = if is_ours {
                (&ours, &requests[0])
            } else {
                (&theirs, &requests[1])
            };
            let run = measured_run(args, &side.url, request, (args.connections, 1), side).await?;
            eprintln!(
                "bench: comparison {}/{} {}: {:.0} req/s, median {:.3} ms, {:.1} µs CPU/request",
                round + 1,
                args.rounds,
                if is_ours {
                    "mcp-oauth proxy"
                } else {
                    "FastMCP"
                },
                run.wrk.requests_per_sec,
                run.wrk.p50_ms,
                run.cpu_us_per_request,
            );
            comparison.record(is_ours, run);
        }
    }
    Ok(comparison)
}

/// The median of `values` taken by `field`.
fn median_of<T>(values: &[T], field: impl Fn(&T) -> f64) -> f64 {
    median(values.iter().map(field).collect())
}
