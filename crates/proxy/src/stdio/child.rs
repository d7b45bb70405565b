//! One child process: started with only the environment the operator named, in its own
//! process group, read line by line, and stopped as MCP 2025-11-25 "Lifecycle" §Shutdown
//! asks of a stdio client (close its stdin, then `SIGTERM`, then `SIGKILL`).

use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use mcp_oauth_resource::VerifiedToken;
use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::BufReader;
use tokio::process::{ChildStdout, Command};
use tokio::sync::OwnedSemaphorePermit;

use super::config::StdioUpstreamConfig;
use super::lines::{Line, read_line};
use super::routes::{Bridge, End, Mode};
use super::stderr::log_stderr;

/// What a new child is for.
pub(crate) struct Spawn<'a> {
    /// Names the child in logs: its session id, or the principal it serves.
    pub(crate) label: String,
    /// One client (a session) or one principal's requests.
    pub(crate) mode: Mode,
    /// The caller whose identity goes into the environment, when enabled.
    pub(crate) identity: Option<&'a VerifiedToken>,
    /// Run when the child has ended (removes it from its table).
    pub(crate) on_end: Box<dyn FnOnce() + Send>,
}

/// Starts a child and the task that supervises it; the slot `permit` is held until the
/// child has been reaped.
pub(crate) fn spawn(
    config: &Arc<StdioUpstreamConfig>,
    spawn: Spawn<'_>,
    permit: OwnedSemaphorePermit,
) -> std::io::Result<Arc<Bridge>> {
    let mut command = command(config, spawn.identity)?;
    let mut process = command.spawn()?;
    let pid = process.id().unwrap_or_default();
    let (Some(stdin), Some(stdout), Some(stderr)) = (
        process.stdin.take(),
        process.stdout.take(),
        process.stderr.take(),
    ) else {
        // Unreachable with piped stdio; stop what was started rather than leak it.
        signal_group(pid, Signal::KILL);
        return Err(std::io::Error::other(
            "the child's stdio pipes were not created",
        ));
    };
    tracing::info!(child = %spawn.label, pid, "started the upstream command");
    let bridge = Arc::new(Bridge::new(
        spawn.label,
        pid,
        spawn.mode,
        stdin,
        spawn.on_end,
        config.request_timeout,
    ));
    tokio::spawn(log_stderr(bridge.label().to_owned(), pid, stderr));
    tokio::spawn(supervise(
        bridge.clone(),
        process,
        stdout,
        permit,
        Limits::of(config),
    ));
    Ok(bridge)
}

/// The command with a cleared environment: the inherited names the proxy has, the fixed
/// values, then the identity.
fn command(
    config: &StdioUpstreamConfig,
    identity: Option<&VerifiedToken>,
) -> std::io::Result<Command> {
    let program = config
        .program
        .as_ref()
        .ok_or_else(|| std::io::Error::other("no command configured"))?;
    let mut command = Command::new(program);
    command
        .args(&config.args)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so stopping it also stops what it started (`npx` runs `node`).
        .process_group(0);
    if let Some(dir) = &config.working_dir {
        command.current_dir(dir);
    }
    for name in &config.inherited_env {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    for (name, value) in &config.fixed_env {
        command.env(name, value);
    }
    if let (Some(prefix), Some(token)) = (&config.identity_env_prefix, identity) {
        command.env(format!("{prefix}ISSUER"), &token.issuer);
        command.env(format!("{prefix}SUBJECT"), &token.subject);
        if let Some(client_id) = &token.client_id {
            command.env(format!("{prefix}CLIENT_ID"), client_id);
        }
        command.env(format!("{prefix}SCOPES"), token.scopes.to_string());
    }
    Ok(command)
}

/// The limits the supervisor applies.
#[derive(Clone, Copy)]
struct Limits {
    idle_timeout: Duration,
    max_line: usize,
    grace: Duration,
}

impl Limits {
    fn of(config: &StdioUpstreamConfig) -> Self {
        Self {
            idle_timeout: config.idle_timeout,
            max_line: config.max_message_bytes,
            grace: config.shutdown_grace,
        }
    }
}

/// Routes the child's output until it ends, is stopped, or idles; then stops the process,
/// reaps it and frees its slot.
async fn supervise(
    bridge: Arc<Bridge>,
    mut process: tokio::process::Child,
    stdout: ChildStdout,
    permit: OwnedSemaphorePermit,
    limits: Limits,
) {
    let pid = bridge.pid();
    let group = GroupGuard(pid);
    let end = {
        let reading = read_stdout(&bridge, stdout, limits.max_line);
        tokio::pin!(reading);
        loop {
            tokio::select! {
                () = &mut reading => break End::Exited,
                () = bridge.stop_requested() => break End::Stopped,
                () = tokio::time::sleep_until(bridge.idle_deadline(limits.idle_timeout)) => {
                    if bridge.is_idle(limits.idle_timeout) {
                        break End::Idle;
                    }
                }
            }
        }
    };
    // Requests in flight get their error now, not after the shutdown grace.
    bridge.end(end);
    let status = stop(&bridge, &mut process, limits.grace).await;
    // Whatever the child left running in its group goes with it.
    drop(group);
    let label = bridge.label();
    match (end, status) {
        (End::Exited, Some(status)) if !status.success() => {
            tracing::warn!(child = %label, pid, %status, "the upstream command exited");
        }
        (_, Some(status)) => {
            tracing::info!(child = %label, pid, %status, reason = end.as_str(), "the upstream command ended");
        }
        (_, None) => {
            tracing::warn!(child = %label, pid, reason = end.as_str(), "could not reap the upstream command");
        }
    }
    drop(permit);
}

/// Closes the child's stdin and waits; then `SIGTERM`, waits; then `SIGKILL` (all to its
/// process group). The exit status, when it could be collected.
async fn stop(
    bridge: &Bridge,
    process: &mut tokio::process::Child,
    grace: Duration,
) -> Option<ExitStatus> {
    bridge.close_stdin();
    if let Ok(Ok(status)) = tokio::time::timeout(grace, process.wait()).await {
        return Some(status);
    }
    signal_group(bridge.pid(), Signal::TERM);
    if let Ok(Ok(status)) = tokio::time::timeout(grace, process.wait()).await {
        return Some(status);
    }
    signal_group(bridge.pid(), Signal::KILL);
    process.wait().await.ok()
}

/// Hands each line the child writes to the bridge, until its stdout ends.
async fn read_stdout(bridge: &Bridge, stdout: ChildStdout, max_line: usize) {
    let mut reader = BufReader::with_capacity(4096, stdout);
    let mut line = Vec::new();
    loop {
        match read_line(&mut reader, &mut line, max_line).await {
            Ok(Line::Complete) if line.is_empty() => {}
            Ok(Line::Complete) => bridge.route_line(&line).await,
            Ok(Line::Truncated) => tracing::warn!(
                child = %bridge.label(),
                max_bytes = max_line,
                "dropped a message of the upstream command longer than the limit"
            ),
            Ok(Line::End) => return,
            Err(error) => {
                tracing::warn!(child = %bridge.label(), %error, "reading the upstream command's output failed");
                return;
            }
        }
        // A large message should not keep its buffer for the child's lifetime.
        if line.capacity() > 64 * 1024 {
            line = Vec::new();
        }
    }
}

/// Sends `signal` to the process group led by `pid`; a group already gone is fine.
fn signal_group(pid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process_group(pid, signal);
    }
}

/// Kills the child's process group when dropped: at the end of supervision, and also when
/// the runtime drops the supervising task (the proxy shutting down), so no child outlives
/// the proxy.
struct GroupGuard(u32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        signal_group(self.0, Signal::KILL);
    }
}
