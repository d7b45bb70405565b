//! Benchmark driver of the embedded authorization server: registrations per second and token
//! endpoint throughput for `authorization_code` and `refresh_token`, on SQLite with durable
//! writes, against one server core. Run it with `bench/auth-server-run`; BENCHMARKS.md
//! describes the method.

mod load;
mod oauth;
mod oidc_provider;
mod report;
mod server;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use mcp_oauth_bench_support::{load_average, server_binary};
use reqwest::Client;

use crate::load::{Measurement, Work};
use crate::oauth::Target;
use crate::oidc_provider::OidcProvider;
use crate::report::Round;
use crate::server::AuthServer;

/// Codes live 60 s (the server's default `code_ttl`): collecting them may take at most this
/// long, so that the last of them is redeemed before the first expires.
const MAX_COLLECTION: Duration = Duration::from_secs(30);

/// Flags of the benchmark driver (each also read from the environment).
#[derive(Parser, Debug)]
#[command(
    name = "mcp-oauth-bench-auth-server",
    about = "Measures the authorization server's token endpoint and registrations on SQLite or PostgreSQL"
)]
pub struct Args {
    /// Seconds of measured load for registrations and refreshes, per round.
    #[arg(long, env = "BENCH_DURATION", default_value_t = 10)]
    pub duration: u64,
    /// Seconds of unmeasured load before each measurement.
    #[arg(long, env = "BENCH_WARMUP", default_value_t = 2)]
    pub warmup: u64,
    /// Codes prepared per round (all redeemed: the warm-up's and the measured ones).
    #[arg(long, env = "BENCH_CODES", default_value_t = 6000)]
    pub codes: usize,
    /// Rounds; each measures every workload. Medians are reported.
    #[arg(long, env = "BENCH_ROUNDS", default_value_t = 3)]
    pub rounds: usize,
    /// Concurrent connections, each sending its next request when the previous is answered.
    #[arg(long, env = "BENCH_CONNECTIONS", default_value_t = 16)]
    pub connections: usize,
    /// Write the results into BENCHMARKS.md.
    #[arg(long, env = "BENCH_WRITE")]
    pub write: bool,
    /// The `mcp-oauth` binary to measure (default: the one next to this driver).
    #[arg(long, env = "BENCH_SERVER")]
    pub server: Option<PathBuf>,
    /// Where to create the temporary data directory (default: the system's temporary
    /// directory). A tmpfs such as /dev/shm shows what the disk costs, but is not durable.
    #[arg(long, env = "BENCH_DATA_IN")]
    pub data_in: Option<PathBuf>,
    /// A PostgreSQL database (`postgres://…`) to run on instead of a SQLite file, passed to
    /// the server as `--database-url`. It must hold no store yet: an empty database, or an
    /// empty schema chosen with `options=-c search_path=…`. The results go to their own
    /// section of BENCHMARKS.md.
    #[arg(long, env = "BENCH_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Also measure node-oidc-provider's `refresh_token` grants in each round, right after the
    /// server's, under the same load (needs Node 22 and oidc-provider installed by
    /// scripts/services/oidc-provider.sh).
    #[arg(long, env = "BENCH_OIDC_PROVIDER")]
    pub oidc_provider: bool,
}

/// Parses the flags, pins the driver to CPU 1, and runs the benchmark on a single-threaded
/// runtime.
fn main() -> ExitCode {
    let args = Args::parse();
    // Pinned before the runtime starts, so that every thread of the load runs on CPU 1.
    let result = pin_to_cpu(1).and_then(|()| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| format!("cannot start the async runtime: {error}"))?
            .block_on(run(args))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Pins this process to `cpu` with `taskset -p`.
fn pin_to_cpu(cpu: usize) -> Result<(), String> {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) <= cpu {
        return Err("the benchmark needs two CPUs: one for the server, one for the load".into());
    }
    let status = std::process::Command::new("taskset")
        .args([
            "-p",
            "-c",
            &cpu.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|error| format!("cannot run taskset: {error}"))?;
    match status.success() {
        true => Ok(()),
        false => Err(format!("taskset could not pin the driver to CPU {cpu}")),
    }
}

/// Starts the server, signs in once, measures every workload in each round, and reports.
async fn run(args: Args) -> Result<(), String> {
    if args.rounds == 0 || args.duration == 0 || args.connections == 0 {
        return Err("--rounds, --duration and --connections must be at least 1".to_owned());
    }
    if args.codes < 2 * args.connections {
        return Err("--codes must be at least twice --connections".to_owned());
    }
    let binary = server_binary(args.server.as_deref())?;
    let load_before = load_average();
    let server = AuthServer::start(
        &binary,
        args.data_in.as_deref(),
        args.database_url.as_deref(),
    )
    .await?;
    let clients = (0..args.connections)
        .map(|_| oauth::http_client())
        .collect::<Result<Vec<_>, _>>()?;
    let target = Arc::new(oauth::prepare(&clients[0], &server.base).await?);
    let mut provider = match args.oidc_provider {
        true => Some(OidcProvider::start(args.connections).await?),
        false => None,
    };
    let mut rounds = Vec::new();
    for number in 1..=args.rounds {
        let round = measure_round(&args, &server, &target, &clients, provider.as_mut()).await?;
        eprintln!("bench: round {number}/{}: {}", args.rounds, round.summary());
        rounds.push(round);
    }
    let log = server.log_text();
    let others: Vec<&str> = log
        .lines()
        .filter(|line| !line.contains("slow statement"))
        .collect();
    if !others.is_empty() {
        eprintln!("bench: the server logged:\n{}", others.join("\n"));
    }
    let markdown = report::markdown(&args, &rounds, &load_before, &server);
    println!("{markdown}");
    if args.write {
        report::write_benchmarks_md(&markdown, server.postgres)?;
        eprintln!("bench: updated BENCHMARKS.md");
    }
    Ok(())
}

/// One round: registrations, then codes collected and redeemed, then refresh chains that
/// start from the redeemed codes' refresh tokens.
async fn measure_round(
    args: &Args,
    server: &AuthServer,
    target: &Arc<Target>,
    clients: &[Client],
    provider: Option<&mut OidcProvider>,
) -> Result<Round, String> {
    let connections = args.connections;
    let warmup = Duration::from_secs(args.warmup);
    let duration = Some(Duration::from_secs(args.duration));
    let measure = |work: Vec<Work>, warmup: Duration, duration: Option<Duration>| {
        load::run(server.pid(), target, clients, work, warmup, duration)
    };

    let registrations = (0..connections).map(|_| Work::Register).collect();
    let (register, _) = measure(registrations, warmup, duration).await?;

    let collecting = Instant::now();
    let wanted = (0..connections).map(|index| Work::Authorize {
        wanted: args.codes / connections + usize::from(index < args.codes % connections),
        codes: Vec::new(),
    });
    let (authorize, collected) = measure(wanted.collect(), Duration::ZERO, None).await?;
    if collecting.elapsed() > MAX_COLLECTION {
        return Err(format!(
            "collecting {} codes took {:.0} s, too long for codes that live 60 s: lower --codes",
            args.codes,
            collecting.elapsed().as_secs_f64()
        ));
    }
    let redemptions = collected.into_iter().filter_map(Work::next).collect();
    let (authorization_code, redeemed) = measure(redemptions, warmup, None).await?;

    let chains: Vec<Work> = redeemed.into_iter().filter_map(Work::next).collect();
    if chains.len() != connections {
        return Err("a connection redeemed no code: raise --codes".to_owned());
    }
    let (refresh_token, _) = measure(chains, warmup, duration).await?;
    let oidc_provider_refresh = match provider {
        Some(provider) => Some(measure_oidc_provider(provider, clients, warmup, duration).await?),
        None => None,
    };
    Ok(Round {
        register,
        authorize,
        authorization_code,
        refresh_token,
        oidc_provider_refresh,
    })
}

/// node-oidc-provider's `refresh_token` grants, one chain per connection as for the server;
/// the chains go on from the tokens the previous round ended with.
async fn measure_oidc_provider(
    provider: &mut OidcProvider,
    clients: &[Client],
    warmup: Duration,
    duration: Option<Duration>,
) -> Result<Measurement, String> {
    let target = Arc::new(Target::refreshing(
        provider.base.clone(),
        oidc_provider::CLIENT_ID,
    ));
    let chains = provider
        .refresh_tokens
        .iter()
        .map(|token| Work::Refresh {
            token: token.clone(),
        })
        .collect();
    let (measurement, chains) =
        load::run(provider.pid(), &target, clients, chains, warmup, duration).await?;
    provider.refresh_tokens = chains
        .into_iter()
        .filter_map(Work::into_refresh_token)
        .collect();
    Ok(measurement)
}
