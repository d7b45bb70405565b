//! The servers under test: release `mcp-oauth mcp-server` child processes pinned to CPU 0,
//! run directly or under callgrind.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mcp_oauth_bench_support::{ServerProcess, cpu_ticks, free_port, rss_kib};

/// The warning `--dangerously-disable-auth` must print at start.
const DISABLED_WARNING: &str = "TOKEN VALIDATION IS SWITCHED OFF";

/// Whether a server validates tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    /// The default: every request needs a valid token.
    On,
    /// Started with `--dangerously-disable-auth`.
    Off,
}

impl fmt::Display for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::On => "on",
            Self::Off => "off",
        })
    }
}

/// How a server process is started; either way it is pinned to CPU 0 (one tokio worker).
#[derive(Clone, Debug)]
pub enum Launch {
    /// The executable itself (`taskset -c 0 mcp-oauth …`).
    Direct,
    /// Under `valgrind --tool=callgrind`, which writes its counts to `out_file` (dumps add
    /// `.1`, `.2`, … to the name).
    Callgrind {
        /// Callgrind's `--callgrind-out-file`.
        out_file: PathBuf,
    },
}

impl Launch {
    /// How long the server may take to listen: valgrind translates the executable first.
    fn start_timeout(&self) -> Duration {
        match self {
            Self::Direct => Duration::from_secs(10),
            Self::Callgrind { .. } => Duration::from_secs(120),
        }
    }
}

/// `--revocation-check-secs`: the validating server introspects its tokens at
/// `introspection_url` when first seen and again every `every_secs`.
#[derive(Clone, Debug)]
pub struct RevocationCheck {
    /// The test issuer's introspection endpoint.
    pub introspection_url: String,
    /// How often a token is checked again.
    pub every_secs: u64,
}

/// A running server; it is killed when dropped.
pub struct Server {
    /// Whether it validates tokens.
    pub validation: Validation,
    /// The MCP endpoint, which is also the resource (token audience).
    pub url: String,
    /// The loopback port it listens on.
    pub port: u16,
    /// Its Prometheus metrics (`--metrics-addr`), with validation on.
    metrics_url: Option<String>,
    process: ServerProcess,
}

/// Counts of the validating server's verified-token cache lookups (its
/// `mcp_oauth_token_cache_lookups` counter: one per request that carries a bearer token).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheLookups {
    /// Tokens found in the cache.
    pub hits: u64,
    /// Tokens validated in full.
    pub misses: u64,
}

impl Server {
    /// Starts `binary mcp-server` on a free loopback port, trusting `issuer` (and checking
    /// revocations when `revocation_check` says so), and waits until it accepts connections
    /// and has had time to fetch the issuer's keys.
    pub async fn start(
        binary: &Path,
        issuer: &str,
        validation: Validation,
        launch: &Launch,
        revocation_check: Option<&RevocationCheck>,
    ) -> Result<Self, String> {
        let port = free_port()?;
        let url = format!("http://127.0.0.1:{port}/mcp");
        let log = std::env::temp_dir().join(format!(
            "mcp-oauth-bench-{}-{validation}.log",
            std::process::id()
        ));
        let mut command = ServerProcess::pinned_command();
        if let Launch::Callgrind { out_file } = launch {
            command
                .args(["valgrind", "--tool=callgrind"])
                .arg(format!("--callgrind-out-file={}", out_file.display()));
        }
        command
            .arg(binary)
            .args([
                "mcp-server",
                "--url",
                &url,
                "--bind",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["--issuer", issuer, "--allowed-host", "127.0.0.1"]);
        let metrics_url = match validation {
            Validation::Off => {
                command.arg("--dangerously-disable-auth");
                None
            }
            Validation::On => {
                // Counted on every request either way; the listener only serves the counts.
                let metrics_port = free_port()?;
                command.args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")]);
                Some(format!("http://127.0.0.1:{metrics_port}/metrics"))
            }
        };
        if let Some(check) = revocation_check {
            command
                .args(["--introspection-url", &check.introspection_url])
                .args(["--introspection-client-id", "bench-mcp-server"])
                .args(["--introspection-client-secret", "bench-secret"])
                .args(["--revocation-check-secs", &check.every_secs.to_string()]);
        }
        // Only the flags above configure it: no inherited MCP_* variables, no stray .env file.
        for (name, _) in std::env::vars() {
            if name.starts_with("MCP_") || name.starts_with("COGNITO_") {
                command.env_remove(name);
            }
        }
        command
            .env("RUST_LOG", "warn")
            .current_dir(std::env::temp_dir());
        let mut process = ServerProcess::spawn(&mut command, binary, log)?;
        process
            .wait_until_listening(port, launch.start_timeout())
            .await?;
        let server = Self {
            validation,
            url,
            port,
            metrics_url,
            process,
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        let warned = server.log_text().contains(DISABLED_WARNING);
        if warned != (validation == Validation::Off) {
            return Err(format!(
                "validation {validation}: the start-up warning is wrong; log:\n{}",
                server.log_text()
            ));
        }
        Ok(server)
    }

    /// The server's process id (valgrind's, under callgrind).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// What the server wrote to stderr so far (its log file is removed when it is dropped).
    pub fn log_text(&self) -> String {
        self.process.log_text()
    }

    /// Resident set size in KiB (`VmRSS` of /proc/PID/status).
    pub fn rss_kib(&self) -> Result<u64, String> {
        rss_kib(self.pid())
    }

    /// The verified-token cache lookups so far (read from its metrics with curl); none
    /// without validation.
    pub async fn cache_lookups(&self) -> Result<Option<CacheLookups>, String> {
        let Some(metrics_url) = &self.metrics_url else {
            return Ok(None);
        };
        let output = tokio::process::Command::new("curl")
            .args(["-sS", "--fail", metrics_url])
            .output()
            .await
            .map_err(|error| format!("cannot run curl: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "cannot read the metrics at {metrics_url}: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        parse_cache_lookups(&String::from_utf8_lossy(&output.stdout))
            .map(Some)
            .ok_or_else(|| format!("no cache lookup counters at {metrics_url}"))
    }

    /// User plus system CPU time so far, in clock ticks (/proc/PID/stat fields 14 and 15).
    pub fn cpu_ticks(&self) -> Result<u64, String> {
        cpu_ticks(self.pid())
    }
}

/// The cache lookup counters of an OpenMetrics text (`mcp_oauth_token_cache_lookups_total`
/// with `result="hit"` and `result="miss"`).
fn parse_cache_lookups(text: &str) -> Option<CacheLookups> {
    let count = |result: &str| {
        let name = format!("mcp_oauth_token_cache_lookups_total{{result=\"{result}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(name.as_str()))
            .and_then(|value| value.trim().parse().ok())
    };
    Some(CacheLookups {
        hits: count("hit")?,
        misses: count("miss")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cache_lookup_counters() {
        let text = "# TYPE mcp_oauth_token_cache_lookups counter\n\
                    mcp_oauth_token_cache_lookups_total{result=\"hit\"} 1234\n\
                    mcp_oauth_token_cache_lookups_total{result=\"miss\"} 56\n\
                    # EOF\n";
        assert_eq!(
            parse_cache_lookups(text),
            Some(CacheLookups {
                hits: 1234,
                misses: 56
            })
        );
        assert_eq!(parse_cache_lookups("# EOF\n"), None);
    }
}
