//! What the operator decides about the stdio children: the command, their environment, how
//! many may run, and how long they may idle.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::StdioUpstreamError;

/// The variables a child inherits from the proxy when the operator names none: the list the
/// MCP TypeScript SDK's stdio client passes on POSIX systems (`DEFAULT_INHERITED_ENV_VARS`),
/// enough to find and run an interpreter, none of them a credential.
pub const DEFAULT_INHERITED_ENV: [&str; 6] = ["HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER"];

/// The names, after the prefix, of the identity variables (see
/// [`StdioUpstreamConfig::with_identity_env`]).
pub(crate) const IDENTITY_SUFFIXES: [&str; 4] = ["ISSUER", "SUBJECT", "CLIENT_ID", "SCOPES"];

/// The configuration of a [`StdioUpstream`](super::StdioUpstream): a safe [`Default`] plus
/// `with_…` setters, checked by [`StdioUpstreamConfig::validate`].
///
/// A child gets a cleared environment: only the variables named by
/// [`with_inherited_env`](Self::with_inherited_env) (default [`DEFAULT_INHERITED_ENV`]),
/// those set with [`with_env`](Self::with_env), and, when enabled, the identity variables of
/// [`with_identity_env`](Self::with_identity_env).
#[derive(Clone)]
#[non_exhaustive]
pub struct StdioUpstreamConfig {
    pub(crate) program: Option<OsString>,
    pub(crate) args: Vec<OsString>,
    pub(crate) working_dir: Option<PathBuf>,
    pub(crate) inherited_env: Vec<String>,
    pub(crate) fixed_env: Vec<(String, String)>,
    pub(crate) identity_env_prefix: Option<String>,
    pub(crate) max_children: usize,
    pub(crate) idle_timeout: Duration,
    pub(crate) startup_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) retry_after: Duration,
    pub(crate) max_message_bytes: usize,
    pub(crate) keep_alive: Duration,
    pub(crate) shutdown_grace: Duration,
}

impl StdioUpstreamConfig {
    /// Default for [`with_max_children`](Self::with_max_children).
    pub const DEFAULT_MAX_CHILDREN: usize = 32;
    /// Default for [`with_idle_timeout`](Self::with_idle_timeout): 10 minutes.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
    /// Default for [`with_startup_timeout`](Self::with_startup_timeout): 60 seconds (an
    /// `npx` child may first download its package).
    pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
    /// Default for [`with_request_timeout`](Self::with_request_timeout): 5 minutes.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
    /// Default for [`with_retry_after`](Self::with_retry_after): 5 seconds.
    pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);
    /// Default for [`with_max_message_bytes`](Self::with_max_message_bytes): 16 MiB, the
    /// line limit of rmcp's stdio transport.
    pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

    /// A configuration running `program` with `args`, everything else default.
    pub fn new(
        program: impl Into<OsString>,
        args: impl IntoIterator<Item = impl Into<OsString>>,
    ) -> Self {
        Self::default().with_command(program, args)
    }

    /// The program each child runs (looked up on the `PATH` the child gets) and its arguments.
    pub fn with_command(
        mut self,
        program: impl Into<OsString>,
        args: impl IntoIterator<Item = impl Into<OsString>>,
    ) -> Self {
        self.program = Some(program.into());
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// The directory children start in (default: the proxy's).
    pub fn with_working_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.working_dir = Some(dir.into());
        self
    }

    /// The variables children copy from the proxy's environment when it has them, replacing
    /// [`DEFAULT_INHERITED_ENV`]; an empty list passes none.
    pub fn with_inherited_env(
        mut self,
        names: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.inherited_env = names.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `name` to `value` in every child's environment (after the inherited ones). The
    /// value is never logged nor shown by `Debug`.
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fixed_env.push((name.into(), value.into()));
        self
    }

    /// Passes the verified identity of the session's caller to its child as
    /// `{prefix}ISSUER`, `{prefix}SUBJECT`, `{prefix}CLIENT_ID` (absent when the token names
    /// no client) and `{prefix}SCOPES` (space-separated), e.g. with `MCP_OAUTH_`. The values
    /// are those of the token that started the child. Off by default.
    pub fn with_identity_env(mut self, prefix: impl Into<String>) -> Self {
        self.identity_env_prefix = Some(prefix.into());
        self
    }

    /// At most `max` children run at once; a client that would need one more gets
    /// `503 Service Unavailable` with `Retry-After`.
    pub fn with_max_children(mut self, max: usize) -> Self {
        self.max_children = max;
        self
    }

    /// A child whose session has no request in flight and has received none for `timeout`
    /// is stopped (its session ends: later requests get 404 and the client starts anew).
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How long a new child gets to answer `initialize` before the client gets 504.
    pub fn with_startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// How long a request waits for the child's next message (a progress notification
    /// restarts the wait) before the client gets a timeout error and the child a
    /// `notifications/cancelled` (MCP 2025-11-25 "Lifecycle" §Timeouts).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The `Retry-After` of the 503 sent when every child slot is taken (whole seconds,
    /// rounded up).
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = delay;
        self
    }

    /// The largest message accepted in either direction: a client's POST body (beyond it:
    /// 413) and one line of a child's output (beyond it the line is dropped and logged).
    pub fn with_max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// How often an idle SSE stream gets a comment line, so intermediaries keep it open.
    pub fn with_keep_alive(mut self, interval: Duration) -> Self {
        self.keep_alive = interval;
        self
    }

    /// How long a stopping child gets after its stdin closes, and again after `SIGTERM`,
    /// before `SIGKILL` (MCP 2025-11-25 "Lifecycle" §Shutdown, stdio).
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Every problem of this configuration at once, or `Ok`.
    pub fn validate(&self) -> Result<(), StdioUpstreamError> {
        let mut problems = Vec::new();
        match &self.program {
            None => problems.push("no command to run".to_owned()),
            Some(program) if program.is_empty() => problems.push("the command is empty".to_owned()),
            Some(_) => {}
        }
        for name in &self.inherited_env {
            check_env_name(name, "inherited variable", &mut problems);
        }
        for (name, value) in &self.fixed_env {
            check_env_name(name, "variable", &mut problems);
            if value.contains('\0') {
                problems.push(format!("the value of {name} contains a NUL byte"));
            }
        }
        if let Some(prefix) = &self.identity_env_prefix {
            check_env_name(prefix, "identity variable prefix", &mut problems);
            for (name, _) in &self.fixed_env {
                if self.identity_names().any(|identity| identity == *name) {
                    problems.push(format!("{name} is both set and an identity variable"));
                }
            }
        }
        if self.max_children == 0 {
            problems.push("the maximum number of children must be at least 1".to_owned());
        }
        for (what, duration) in [
            ("idle timeout", self.idle_timeout),
            ("startup timeout", self.startup_timeout),
            ("request timeout", self.request_timeout),
            ("keep-alive interval", self.keep_alive),
        ] {
            if duration.is_zero() {
                problems.push(format!("the {what} must be longer than zero"));
            }
        }
        if self.max_message_bytes < 1024 {
            problems.push("the maximum message size must be at least 1024 bytes".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StdioUpstreamError::InvalidConfig(problems))
        }
    }

    /// The identity variable names, when enabled.
    pub(crate) fn identity_names(&self) -> impl Iterator<Item = String> + '_ {
        self.identity_env_prefix.iter().flat_map(|prefix| {
            IDENTITY_SUFFIXES
                .iter()
                .map(move |suffix| format!("{prefix}{suffix}"))
        })
    }

    /// `Retry-After` in whole seconds, at least 1.
    pub(crate) fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        secs.max(1)
    }
}

/// POSIX portable names (IEEE Std 1003.1 §8.1): letters, digits and `_`, not starting with a
/// digit. Anything else could not be set reliably or would split at `=`.
fn check_env_name(name: &str, what: &str, problems: &mut Vec<String>) {
    let valid = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.chars().next().is_some_and(|c| !c.is_ascii_digit());
    if !valid {
        problems.push(format!(
            "{what} {name:?} is not a valid environment variable name (letters, digits, _)"
        ));
    }
}

impl Default for StdioUpstreamConfig {
    fn default() -> Self {
        Self {
            program: None,
            args: Vec::new(),
            working_dir: None,
            inherited_env: DEFAULT_INHERITED_ENV
                .iter()
                .map(|&name| name.to_owned())
                .collect(),
            fixed_env: Vec::new(),
            identity_env_prefix: None,
            max_children: Self::DEFAULT_MAX_CHILDREN,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            startup_timeout: Self::DEFAULT_STARTUP_TIMEOUT,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            retry_after: Self::DEFAULT_RETRY_AFTER,
            max_message_bytes: Self::DEFAULT_MAX_MESSAGE_BYTES,
            keep_alive: Duration::from_secs(15),
            shutdown_grace: Duration::from_secs(2),
        }
    }
}

/// Values set with [`StdioUpstreamConfig::with_env`] may be credentials: only their names show.
impl fmt::Debug for StdioUpstreamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fixed_env: Vec<String> = self
            .fixed_env
            .iter()
            .map(|(name, _)| format!("{name}=<redacted>"))
            .collect();
        f.debug_struct("StdioUpstreamConfig")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("working_dir", &self.working_dir)
            .field("inherited_env", &self.inherited_env)
            .field("fixed_env", &fixed_env)
            .field("identity_env_prefix", &self.identity_env_prefix)
            .field("max_children", &self.max_children)
            .field("idle_timeout", &self.idle_timeout)
            .field("startup_timeout", &self.startup_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry_after", &self.retry_after)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("keep_alive", &self.keep_alive)
            .field("shutdown_grace", &self.shutdown_grace)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_reports_every_problem_at_once() {
        let config = StdioUpstreamConfig::default()
            .with_inherited_env(["PATH", "BAD=NAME"])
            .with_env("1X", "v")
            .with_identity_env("MCP_")
            .with_env("MCP_SUBJECT", "x")
            .with_max_children(0)
            .with_idle_timeout(Duration::ZERO)
            .with_max_message_bytes(10);
        let Err(StdioUpstreamError::InvalidConfig(problems)) = config.validate() else {
            panic!("expected an invalid configuration");
        };
        assert_eq!(problems.len(), 7, "{problems:#?}");
        assert!(problems[0].contains("no command"));
    }

    #[test]
    fn debug_never_shows_the_values_of_set_variables() {
        let config = StdioUpstreamConfig::new("server", ["--stdio"]).with_env("API_KEY", "s3cret");
        let shown = format!("{config:?}");
        assert!(shown.contains("API_KEY=<redacted>"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let config = StdioUpstreamConfig::default().with_retry_after(Duration::from_millis(1500));
        assert_eq!(config.retry_after_secs(), 2);
        let config = StdioUpstreamConfig::default().with_retry_after(Duration::ZERO);
        assert_eq!(config.retry_after_secs(), 1);
    }
}
