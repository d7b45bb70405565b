//! The servers under test: release `mcp-oauth mcp-server` child processes pinned to CPU 0,
//! run directly or under callgrind.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

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

/// A running server; it is killed when dropped.
pub struct Server {
    /// Whether it validates tokens.
    pub validation: Validation,
    /// The MCP endpoint, which is also the resource (token audience).
    pub url: String,
    /// The loopback port it listens on.
    pub port: u16,
    child: Child,
    pid: u32,
    log: PathBuf,
}

impl Server {
    /// Starts `binary mcp-server` on a free loopback port, trusting `issuer`, and waits until
    /// it accepts connections and has had time to fetch the issuer's keys.
    pub async fn start(
        binary: &Path,
        issuer: &str,
        validation: Validation,
        launch: &Launch,
    ) -> Result<Self, String> {
        let port = free_port()?;
        let url = format!("http://127.0.0.1:{port}/mcp");
        let log = std::env::temp_dir().join(format!(
            "mcp-oauth-bench-{}-{validation}.log",
            std::process::id()
        ));
        let log_file = std::fs::File::create(&log)
            .map_err(|error| format!("cannot create {}: {error}", log.display()))?;
        let mut command = Command::new("taskset");
        command.args(["-c", "0"]);
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
        if validation == Validation::Off {
            command.arg("--dangerously-disable-auth");
        }
        // Only the flags above configure it: no inherited MCP_* variables, no stray .env file.
        for (name, _) in std::env::vars() {
            if name.starts_with("MCP_") || name.starts_with("COGNITO_") {
                command.env_remove(name);
            }
        }
        let child = command
            .env("RUST_LOG", "warn")
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| format!("cannot start {} under taskset: {error}", binary.display()))?;
        let pid = child.id().ok_or("the server exited at once")?;
        let mut server = Self {
            validation,
            url,
            port,
            child,
            pid,
            log,
        };
        server
            .wait_until_listening(port, launch.start_timeout())
            .await?;
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

    async fn wait_until_listening(&mut self, port: u16, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the server exited ({status}); log:\n{}",
                    self.log_text()
                ));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!(
            "the server did not listen within {} s; log:\n{}",
            timeout.as_secs(),
            self.log_text()
        ))
    }

    /// The server's process id (valgrind's, under callgrind).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// What the server wrote to stderr so far (its log file is removed when it is dropped).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Resident set size in KiB (`VmRSS` of /proc/PID/status).
    pub fn rss_kib(&self) -> Result<u64, String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .map_err(|error| format!("cannot read the server's /proc status: {error}"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| "no VmRSS in /proc status".to_owned())
    }

    /// User plus system CPU time so far, in clock ticks (/proc/PID/stat fields 14 and 15).
    pub fn cpu_ticks(&self) -> Result<u64, String> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .map_err(|error| format!("cannot read the server's /proc stat: {error}"))?;
        // Fields after the parenthesised command name start at field 3.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let field = |n: usize| {
            fields
                .get(n - 3)
                .and_then(|value| value.parse::<u64>().ok())
        };
        match (field(14), field(15)) {
            (Some(user), Some(system)) => Ok(user + system),
            _ => Err("malformed /proc stat".to_owned()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("cannot find a free port: {error}"))
}
