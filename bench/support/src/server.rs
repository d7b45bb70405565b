//! The server under test: an `mcp-oauth` child process pinned to CPU 0 (the load runs on
//! CPU 1), its stderr in a log file.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// A running server process; it is killed, and its log file removed, when dropped.
pub struct ServerProcess {
    child: Child,
    pid: u32,
    log: PathBuf,
}

impl ServerProcess {
    /// `taskset -c 0`, to be followed by the server's command line.
    pub fn pinned_command() -> Command {
        let mut command = Command::new("taskset");
        command.args(["-c", "0"]);
        command
    }

    /// Starts `command` (a [`ServerProcess::pinned_command`] that runs `binary`) without
    /// stdin or stdout, its stderr going to a new file `log`.
    pub fn spawn(command: &mut Command, binary: &Path, log: PathBuf) -> Result<Self, String> {
        let log_file = std::fs::File::create(&log)
            .map_err(|error| format!("cannot create {}: {error}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| format!("cannot start {} under taskset: {error}", binary.display()))?;
        let pid = child.id().ok_or("the server exited at once")?;
        Ok(Self { child, pid, log })
    }

    /// Waits up to `timeout` for the server to accept connections on loopback `port`; fails,
    /// with its log, if it exits or does not listen in time.
    pub async fn wait_until_listening(
        &mut self,
        port: u16,
        timeout: Duration,
    ) -> Result<(), String> {
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

    /// The process id of what `taskset` started (for /proc).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// What the server wrote to stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("cannot find a free port: {error}"))
}

/// The `mcp-oauth` executable to measure: `explicit`, or the one next to the running driver.
pub fn server_binary(explicit: Option<&Path>) -> Result<PathBuf, String> {
    match explicit {
        Some(path) => Ok(path.to_owned()),
        None => Ok(std::env::current_exe()
            .map_err(|error| format!("cannot find this executable: {error}"))?
            .with_file_name("mcp-oauth")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reports_a_server_that_exits_with_its_log() {
        let directory = tempfile::tempdir().unwrap();
        let log = directory.path().join("server.log");
        let mut command = ServerProcess::pinned_command();
        command.args(["sh", "-c", "echo broken configuration >&2; exit 3"]);
        let mut server = ServerProcess::spawn(&mut command, Path::new("sh"), log.clone()).unwrap();
        let error = server
            .wait_until_listening(free_port().unwrap(), Duration::from_secs(10))
            .await
            .unwrap_err();
        assert!(error.contains("the server exited"), "{error}");
        assert!(error.contains("broken configuration"), "{error}");
        drop(server);
        assert!(!log.exists(), "the log outlived the server");
    }

    #[tokio::test]
    async fn waits_until_the_server_listens() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let directory = tempfile::tempdir().unwrap();
        let mut command = ServerProcess::pinned_command();
        command.args(["sleep", "30"]);
        let log = directory.path().join("server.log");
        let mut server = ServerProcess::spawn(&mut command, Path::new("sleep"), log).unwrap();
        server
            .wait_until_listening(port, Duration::from_secs(10))
            .await
            .unwrap();
        assert!(crate::rss_kib(server.pid()).unwrap() > 0);
    }

    #[test]
    fn an_explicit_binary_wins() {
        assert_eq!(
            server_binary(Some(Path::new("/opt/mcp-oauth"))).unwrap(),
            PathBuf::from("/opt/mcp-oauth")
        );
        assert_eq!(
            server_binary(None).unwrap().file_name().unwrap(),
            "mcp-oauth"
        );
    }
}
