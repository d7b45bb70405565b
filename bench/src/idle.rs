//! Idle RSS alone: the validating server started several times as the throughput benchmark
//! starts it, each read once, one second after it listens and before any request, and split
//! into the pages of mapped files (mostly the executable's) and the server's own memory.

use std::path::PathBuf;

use clap::Args;
use mcp_oauth_bench_support::{load_average, server_binary, status_kib, utc_now};
use mcp_oauth_testkit::TestIssuer;

use crate::server::{Launch, Server, Validation};

/// Flags of `mcp-oauth-bench idle-rss` (each also read from the environment).
#[derive(Args, Debug)]
pub struct IdleArgs {
    /// Servers started one after the other, each read once.
    #[arg(long, env = "BENCH_RUNS", default_value_t = 6)]
    pub runs: usize,
    /// The `mcp-oauth` binary to measure (default: the one next to this driver).
    #[arg(long, env = "BENCH_SERVER")]
    pub server: Option<PathBuf>,
}

/// One server's memory, in KiB, from /proc/PID/status.
struct Reading {
    rss: u64,
    file: u64,
    anonymous: u64,
}

/// Starts the servers one at a time, reads each, and prints the readings and their range.
pub async fn run(args: &IdleArgs) -> Result<(), String> {
    if args.runs == 0 {
        return Err("--runs must be at least 1".to_owned());
    }
    let binary = server_binary(args.server.as_deref())?;
    let size = std::fs::metadata(&binary)
        .map_err(|error| format!("cannot read {}: {error}", binary.display()))?
        .len();
    let load_before = load_average();
    let issuer = TestIssuer::start().await;
    let mut readings = Vec::with_capacity(args.runs);
    for run in 1..=args.runs {
        // `start` returns one second after the server listens; dropping it stops the server.
        let server = Server::start(
            &binary,
            issuer.issuer(),
            Validation::On,
            &Launch::Direct,
            None,
        )
        .await?;
        let pid = server.pid();
        let reading = Reading {
            rss: status_kib(pid, "VmRSS")?,
            file: status_kib(pid, "RssFile")?,
            anonymous: status_kib(pid, "RssAnon")?,
        };
        eprintln!(
            "bench: run {run}/{}: idle RSS {} MiB, of it files {} MiB, anonymous {} MiB",
            args.runs,
            mib(reading.rss),
            mib(reading.file),
            mib(reading.anonymous)
        );
        readings.push(reading);
    }
    let range = |part: fn(&Reading) -> u64| {
        let values = readings.iter().map(part);
        let low = mib(values.clone().min().unwrap_or_default());
        let high = mib(values.max().unwrap_or_default());
        if low == high {
            format!("{low} MiB")
        } else {
            format!("{low}–{high} MiB")
        }
    };
    println!(
        "Idle RSS of `mcp-oauth mcp-server` (validation on), {} runs on {} of {} ({size} bytes), \
         load average before: {load_before}: **{}**; of it mapped files {}, anonymous {}.",
        args.runs,
        utc_now(),
        binary.display(),
        range(|reading| reading.rss),
        range(|reading| reading.file),
        range(|reading| reading.anonymous),
    );
    Ok(())
}

/// KiB as MiB with one decimal (`16.1`).
fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mebibytes_have_one_decimal() {
        assert_eq!(mib(16_452), "16.1");
        assert_eq!(mib(8_192), "8.0");
    }
}
