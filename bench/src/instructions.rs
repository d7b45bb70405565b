//! The second measure: instructions the server executes per request, counted by callgrind.
//! Unlike throughput, instruction counts hardly move when other processes share the machine,
//! so small changes to the request path can be compared on a busy machine.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use mcp_oauth_bench_support::{median, server_binary, thousands, utc_now};
use mcp_oauth_testkit::TestIssuer;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;

use crate::load::{self, Request};
use crate::report;
use crate::server::{Launch, Server, Validation};

/// Flags of `mcp-oauth-bench instructions` (each also read from the environment).
#[derive(Args, Debug)]
pub struct InstructionArgs {
    /// Requests counted per server and round.
    #[arg(long, env = "BENCH_REQUESTS", default_value_t = 2000)]
    pub requests: usize,
    /// Requests sent before counting starts (the first one verifies the token's signature).
    #[arg(long, env = "BENCH_WARMUP_REQUESTS", default_value_t = 300)]
    pub warmup_requests: usize,
    /// Rounds per server (the counts hardly vary; medians are reported).
    #[arg(long, env = "BENCH_ROUNDS", default_value_t = 3)]
    pub rounds: usize,
    /// Open keep-alive connections sending requests at the same time.
    #[arg(long, env = "BENCH_CONNECTIONS", default_value_t = 32)]
    pub connections: usize,
    /// The tool to call: `list_contexts` (whose answer is the same with and without
    /// validation) or `whoami`.
    #[arg(long, env = "BENCH_TOOL", default_value = "list_contexts", value_parser = ["list_contexts", "whoami"])]
    pub tool: String,
    /// The scopes of the access tokens sent (see `bench/run --help`).
    #[arg(long, env = "BENCH_SCOPES", default_value = report::DEFAULT_SCOPES)]
    pub scopes: String,
    /// Keep callgrind's files in this directory (for `callgrind_annotate`); by default they go
    /// to a temporary directory that is removed.
    #[arg(long, env = "BENCH_CALLGRIND_DIR")]
    pub callgrind_dir: Option<PathBuf>,
    /// Write the results into BENCHMARKS.md (the section of the tool).
    #[arg(long, env = "BENCH_WRITE")]
    pub write: bool,
    /// The `mcp-oauth` binary to measure (default: the one next to this driver).
    #[arg(long, env = "BENCH_SERVER")]
    pub server: Option<PathBuf>,
}

/// Counts both servers' instructions per request in alternating rounds and reports.
pub async fn run(args: &InstructionArgs) -> Result<(), String> {
    if args.rounds == 0 || args.requests == 0 || args.connections == 0 {
        return Err("--rounds, --requests and --connections must be at least 1".to_owned());
    }
    let binary = server_binary(args.server.as_deref())?;
    let temporary;
    let directory = match &args.callgrind_dir {
        Some(directory) => {
            std::fs::create_dir_all(directory)
                .map_err(|error| format!("cannot create {}: {error}", directory.display()))?;
            directory.clone()
        }
        None => {
            temporary = tempfile::tempdir()
                .map_err(|error| format!("cannot create a temporary directory: {error}"))?;
            temporary.path().to_owned()
        }
    };
    let issuer = TestIssuer::start().await;
    let mut counts: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for (index, validation) in [Validation::On, Validation::Off].into_iter().enumerate() {
        let out_file = directory.join(format!("callgrind.out.{}.{validation}", args.tool));
        let launch = Launch::Callgrind {
            out_file: out_file.clone(),
        };
        eprintln!("bench: starting the server with validation {validation} under callgrind");
        let server = Server::start(&binary, issuer.issuer(), validation, &launch, None).await?;
        let request = Request::new(&args.tool, issuer.access_token(&server.url, &args.scopes));
        load::check(&server, &request).await?;
        send(&server, &request, args.warmup_requests, args.connections).await?;
        for round in 1..=args.rounds {
            callgrind_control(&server, "--zero").await?;
            send(&server, &request, args.requests, args.connections).await?;
            callgrind_control(&server, "--dump").await?;
            let dump = PathBuf::from(format!("{}.{round}", out_file.display()));
            let per_request = total_instructions(&dump)? as f64 / args.requests as f64;
            eprintln!(
                "bench: validation {validation}, round {round}/{}: {per_request:.0} instructions per request",
                args.rounds
            );
            counts[index].push(per_request);
        }
    }
    let markdown = markdown(args, &counts);
    println!("{markdown}");
    if args.write {
        let section = report::section(&args.tool, &args.scopes);
        report::write_benchmarks_md(&format!("instructions:{section}"), &markdown)?;
        eprintln!("bench: updated BENCHMARKS.md");
    }
    Ok(())
}

/// Sends `count` requests over `connections` keep-alive connections; every answer must be 200.
async fn send(
    server: &Server,
    request: &Request,
    count: usize,
    connections: usize,
) -> Result<(), String> {
    let bytes = std::sync::Arc::new(request.to_http1(server));
    let mut tasks = tokio::task::JoinSet::new();
    for connection in 0..connections.min(count) {
        let share = count / connections + usize::from(connection < count % connections);
        let bytes = std::sync::Arc::clone(&bytes);
        let port = server.port;
        tasks.spawn(async move { send_on_one_connection(port, &bytes, share).await });
    }
    while let Some(result) = tasks.join_next().await {
        result.map_err(|error| format!("a load task failed: {error}"))??;
    }
    Ok(())
}

/// Sends `request` `count` times, one after the other, on one connection.
async fn send_on_one_connection(port: u16, request: &[u8], count: usize) -> Result<(), String> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|error| format!("cannot connect to the server: {error}"))?;
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    let mut body = Vec::new();
    for _ in 0..count {
        stream
            .get_mut()
            .write_all(request)
            .await
            .map_err(|error| format!("cannot send a request: {error}"))?;
        let mut status = None;
        let mut length = None;
        loop {
            line.clear();
            let read = stream
                .read_line(&mut line)
                .await
                .map_err(|error| format!("cannot read an answer: {error}"))?;
            if read == 0 {
                return Err("the server closed the connection".to_owned());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            match status {
                None => status = header.split(' ').nth(1).map(str::to_owned),
                Some(_) => {
                    if let Some((name, value)) = header.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse::<usize>().ok();
                    }
                }
            }
        }
        let length = length.ok_or("an answer without Content-Length")?;
        body.resize(length, 0);
        stream
            .read_exact(&mut body)
            .await
            .map_err(|error| format!("cannot read an answer's body: {error}"))?;
        if status.as_deref() != Some("200") {
            return Err(format!(
                "the server answered {}: {}",
                status.unwrap_or_default(),
                String::from_utf8_lossy(&body)
            ));
        }
    }
    Ok(())
}

/// Runs `callgrind_control OPTION PID` (`--zero` resets the counts, `--dump` writes them).
async fn callgrind_control(server: &Server, option: &str) -> Result<(), String> {
    let output = Command::new("callgrind_control")
        .arg(option)
        .arg(server.pid().to_string())
        .output()
        .await
        .map_err(|error| format!("cannot run callgrind_control: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "callgrind_control {option} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

/// The instruction count (`totals:` line) of a callgrind dump.
fn total_instructions(dump: &Path) -> Result<u64, String> {
    let text = std::fs::read_to_string(dump)
        .map_err(|error| format!("cannot read {}: {error}", dump.display()))?;
    parse_totals(&text).ok_or_else(|| format!("no `totals:` line in {}", dump.display()))
}

fn parse_totals(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("totals:"))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
}

/// The results section: setup, table and the cost of validation.
fn markdown(args: &InstructionArgs, counts: &[Vec<f64>; 2]) -> String {
    let [on, off] = counts.each_ref().map(|rounds| median(rounds.clone()));
    let mut out = String::new();
    let _ = writeln!(out, "Run on {} with", utc_now());
    let _ = writeln!(
        out,
        "`bench/instructions --write --tool {}{} --requests {} --warmup-requests {} --rounds {} --connections {}` ({}).\n",
        args.tool,
        report::scopes_flag(&args.scopes),
        args.requests,
        args.warmup_requests,
        args.rounds,
        args.connections,
        valgrind_version()
    );
    let _ = writeln!(
        out,
        "| `{}`, token scopes `{}`, median of {} rounds | validation on | validation off |",
        args.tool, args.scopes, args.rounds
    );
    let _ = writeln!(out, "|---|---:|---:|");
    let _ = writeln!(
        out,
        "| server instructions per request | {} | {} |",
        thousands(on),
        thousands(off)
    );
    let rounds = |side: &[f64]| {
        side.iter()
            .map(|count| thousands(*count))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        out,
        "| each round | {} | {} |\n",
        rounds(&counts[0]),
        rounds(&counts[1])
    );
    let _ = writeln!(
        out,
        "- Validation costs **{} instructions per request, {:.1}%** of the request \
         (`1 - off / on`; the throughput target is at most {}%).",
        thousands(on - off),
        (1.0 - off / on) * 100.0,
        report::MAX_COST_PERCENT
    );
    out
}

/// `valgrind-3.19.0`, or `valgrind` if it cannot say.
fn valgrind_version() -> String {
    std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map_or_else(
            || "valgrind".to_owned(),
            |version| version.trim().to_owned(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_total_of_a_dump() {
        let dump = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 42\n\nfn=(1) main\n3 7\ntotals: 3435339\n";
        assert_eq!(parse_totals(dump), Some(3_435_339));
        assert_eq!(parse_totals("events: Ir\n"), None);
    }
}
