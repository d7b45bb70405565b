//! Benchmark driver: `tools/call` throughput and latency of the demo MCP server with token
//! validation on and off, measured with wrk against one server core (`bench/run`), or the
//! server's instructions per request counted by callgrind (`bench/instructions`), or its idle
//! RSS alone (`bench/run idle-rss`). BENCHMARKS.md describes the methods.

mod idle;
mod instructions;
mod load;
mod report;
mod server;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mcp_oauth_bench_support::{load_average, server_binary};
use mcp_oauth_testkit::TestIssuer;

use crate::report::{Report, Side};
use crate::server::{Launch, RevocationCheck, Server, Validation};

/// How long a set of `--tokens` is valid: longer than any run.
const TOKEN_SET_LIFETIME_SECS: u64 = 3600;

/// How often a run is repeated when the server did not get its core.
const RETRIES: usize = 2;

/// Flags of the benchmark driver (each also read from the environment).
#[derive(Parser, Debug)]
#[command(
    name = "mcp-oauth-bench",
    about = "Measures what token validation costs the MCP server",
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    /// Another measure than throughput (the default).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Seconds of measured load per server and round.
    #[arg(long, env = "BENCH_DURATION", default_value_t = 5)]
    pub duration: u64,
    /// Rounds that load one server at a time (back to back, alternating which goes first):
    /// the table's throughput and latency.
    #[arg(long, env = "BENCH_ROUNDS", default_value_t = 6)]
    pub rounds: usize,
    /// Rounds that load both servers at once on the same core: the cost of validation, as
    /// the median of the rounds' costs with an interval (at least six rounds for that).
    #[arg(long, env = "BENCH_SIDE_BY_SIDE_ROUNDS", default_value_t = 20)]
    pub side_by_side_rounds: usize,
    /// Open connections (wrk -c).
    #[arg(long, env = "BENCH_CONNECTIONS", default_value_t = 32)]
    pub connections: usize,
    /// Seconds of unmeasured load before each measured run.
    #[arg(long, env = "BENCH_WARMUP", default_value_t = 1)]
    pub warmup: u64,
    /// The tool to call: `list_contexts` (the benchmark: its answer is the same with and
    /// without validation, so the difference is authentication alone) or `whoami` (which
    /// answers more about a verified caller than about an anonymous one).
    #[arg(long, env = "BENCH_TOOL", default_value = "list_contexts", value_parser = ["list_contexts", "whoami"])]
    pub tool: String,
    /// The scopes of the access tokens sent. With every scope the tools need, the bearer layer
    /// has no tool call to check and passes the body on unread; with fewer (say `mcp:read`,
    /// enough for `list_contexts`) it reads the body and checks the call's scope.
    #[arg(long, env = "BENCH_SCOPES", default_value = report::DEFAULT_SCOPES)]
    pub scopes: String,
    /// Start the validating server with `--revocation-check-secs SECS`: it introspects each
    /// token at the test issuer when first seen and again every SECS seconds (what learning of
    /// revocations costs; the test issuer reports the benchmark's tokens active).
    #[arg(long, env = "BENCH_REVOCATION_CHECK_SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub revocation_check_secs: Option<u64>,
    /// Distinct access tokens the load cycles through (each request picks one at random), to
    /// measure the verified-token cache when clients hold more tokens than it keeps (10,000).
    /// They are minted once, valid for an hour, and sent in every round: the cache is measured
    /// as it is in use, not refilled with new tokens each round.
    #[arg(long, env = "BENCH_TOKENS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub tokens: u32,
    /// Of the --tokens, how many are in use most: 90% of requests pick one of these, the rest
    /// any token (a realistic pattern: active clients and a long tail). Default: all alike.
    #[arg(long, env = "BENCH_HOT_TOKENS", requires = "tokens", value_parser = clap::value_parser!(u32).range(1..))]
    pub hot_tokens: Option<u32>,
    /// Write the results into BENCHMARKS.md.
    #[arg(long, env = "BENCH_WRITE")]
    pub write: bool,
    /// The `mcp-oauth` binary to measure (default: the one next to this driver).
    #[arg(long, env = "BENCH_SERVER")]
    pub server: Option<PathBuf>,
}

/// Measures other than throughput.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Counts the server's instructions per request with callgrind, with validation on and
    /// off: a measure that other processes on the machine do not disturb.
    Instructions(instructions::InstructionArgs),
    /// Reads the validating server's idle RSS in several runs, split into mapped files (the
    /// executable's pages) and anonymous memory.
    IdleRss(idle::IdleArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.command {
        Some(Command::Instructions(instruction_args)) => instructions::run(instruction_args).await,
        Some(Command::IdleRss(idle_args)) => idle::run(idle_args).await,
        None => run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Starts the issuer and both servers, loads them in alternating rounds, and reports.
async fn run(args: Args) -> Result<(), String> {
    if args.rounds == 0 || args.duration == 0 {
        return Err("--rounds and --duration must be at least 1".to_owned());
    }
    if !(report::MIN_PAIRED_ROUNDS..=1000).contains(&args.side_by_side_rounds) {
        return Err(format!(
            "--side-by-side-rounds must be at least {}",
            report::MIN_PAIRED_ROUNDS
        ));
    }
    let binary = server_binary(args.server.as_deref())?;
    let load_before = load_average();
    let issuer = TestIssuer::start().await;
    let revocation_check = args
        .revocation_check_secs
        .map(|every_secs| RevocationCheck {
            introspection_url: issuer.introspection_endpoint(),
            every_secs,
        });
    let servers = [
        Server::start(
            &binary,
            issuer.issuer(),
            Validation::On,
            &Launch::Direct,
            revocation_check.as_ref(),
        )
        .await?,
        Server::start(
            &binary,
            issuer.issuer(),
            Validation::Off,
            &Launch::Direct,
            None,
        )
        .await?,
    ];
    if args.hot_tokens.is_some_and(|hot| hot > args.tokens) {
        return Err("--hot-tokens must not exceed --tokens".to_owned());
    }
    // Each token gets a jti of its own: tokens minted in the same second would otherwise be
    // the same string (the test issuer's jti is the second; RS256 signatures are
    // deterministic). A set of tokens serves the whole run, so it lives an hour.
    let minted = std::cell::Cell::new(0u64);
    let mint_one = || {
        minted.set(minted.get() + 1);
        let mut claims = issuer.claims(&servers[0].url, &args.scopes);
        claims["jti"] = serde_json::Value::String(format!("bench-{}", minted.get()));
        if args.tokens > 1
            && let Some(issued_at) = claims["iat"].as_u64()
        {
            claims["exp"] = serde_json::Value::from(issued_at + TOKEN_SET_LIFETIME_SECS);
        }
        let token = issuer.sign("rsa-1", &claims);
        if revocation_check.is_some() {
            issuer.report_active(&token, &servers[0].url, &args.scopes);
        }
        token
    };
    let mint = || -> Result<load::Request, String> {
        let request = load::Request::new(&args.tool, mint_one());
        if args.tokens == 1 {
            return Ok(request);
        }
        let others = (1..args.tokens).map(|_| mint_one());
        request.with_token_set(others, args.hot_tokens.unwrap_or(args.tokens))
    };
    let token_set = if args.tokens > 1 { Some(mint()?) } else { None };
    // One token: a fresh one per round (it lives five minutes, longer than any round).
    let request_of_round = || match &token_set {
        Some(request) => Ok(request.clone()),
        None => mint(),
    };
    let idle = [servers[0].rss_kib()?, servers[1].rss_kib()?];
    let mut rounds: [Vec<load::Measurement>; 2] = [Vec::new(), Vec::new()];
    for round in 0..args.rounds {
        let request = &request_of_round()?;
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for index in order {
            let server = &servers[index];
            load::check(server, request).await?;
            load::wrk(server, request, args.warmup, args.connections).await?;
            let mut measured = load::wrk(server, request, args.duration, args.connections).await?;
            // A run in which the server did not get its core measured the machine: redo it.
            for _ in 0..RETRIES {
                if measured.loaded_fully() {
                    break;
                }
                eprintln!(
                    "bench: the server got only {:.0}% of its core; repeating the run",
                    measured.server_cpu * 100.0
                );
                measured = load::wrk(server, request, args.duration, args.connections).await?;
            }
            eprintln!(
                "bench: round {}/{} validation {}: {:.0} req/s, p99 {:.2} ms, server CPU {:.0}%, {:.1} µs/request{}",
                round + 1,
                args.rounds,
                server.validation,
                measured.requests_per_sec,
                measured.p99_ms,
                measured.server_cpu * 100.0,
                measured.cpu_us_per_request,
                report::misses_note(&measured)
            );
            rounds[index].push(measured);
        }
    }
    let mut side_by_side = Vec::new();
    for round in 0..args.side_by_side_rounds {
        let request = &request_of_round()?;
        let pair = load::side_by_side(
            &servers,
            request,
            args.warmup,
            args.duration,
            args.connections,
        )
        .await?;
        eprintln!(
            "bench: side by side {}/{}: validation on {:.1} µs/request ({:.0}% of the core{}), off {:.1} µs/request ({:.0}%)",
            round + 1,
            args.side_by_side_rounds,
            pair[0].cpu_us_per_request,
            pair[0].server_cpu * 100.0,
            report::misses_note(&pair[0]),
            pair[1].cpu_us_per_request,
            pair[1].server_cpu * 100.0,
        );
        side_by_side.push(pair);
    }
    let after = [servers[0].rss_kib()?, servers[1].rss_kib()?];
    let [on, off] = rounds;
    let report = Report {
        on: Side::new(on, idle[0], after[0]),
        off: Side::new(off, idle[1], after[1]),
        side_by_side,
        load_before,
    };
    let markdown = report.markdown(&args);
    println!("{markdown}");
    if args.write {
        let section = report::section(&args.tool, &args.scopes)
            + &report::revocation_suffix(&args)
            + &report::tokens_suffix(&args);
        report::write_benchmarks_md(&section, &markdown)?;
        eprintln!("bench: updated BENCHMARKS.md");
    }
    Ok(())
}
