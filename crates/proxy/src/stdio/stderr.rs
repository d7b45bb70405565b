//! A child's stderr, into the proxy's log: one event per line, naming the child (MCP
//! 2025-11-25 "Transports" §stdio lets a server write any logging there). A child that floods
//! it is rate-limited, so it cannot drown the log or the proxy.

use tokio::io::BufReader;
use tokio::process::ChildStderr;
use tokio::time::Instant;

use super::lines::{Line, read_line};

/// Longer stderr lines are cut here (and marked `truncated`).
const MAX_LINE: usize = 8 * 1024;
/// Lines logged in a burst before the rate applies.
const BURST: f64 = 200.0;
/// Lines per second logged in the long run.
const RATE: f64 = 50.0;

/// Logs each line of `stderr` until it ends.
pub(crate) async fn log_stderr(child: String, pid: u32, stderr: ChildStderr) {
    let mut reader = BufReader::with_capacity(1024, stderr);
    let mut line = Vec::new();
    let mut budget = Budget::new(Instant::now());
    let mut suppressed: u64 = 0;
    loop {
        let truncated = match read_line(&mut reader, &mut line, MAX_LINE).await {
            Ok(Line::Complete) => false,
            Ok(Line::Truncated) => true,
            Ok(Line::End) | Err(_) => break,
        };
        if !budget.take(Instant::now()) {
            suppressed += 1;
            continue;
        }
        if suppressed > 0 {
            report_suppressed(&child, pid, suppressed);
            suppressed = 0;
        }
        let text = String::from_utf8_lossy(&line);
        if truncated {
            tracing::info!(target: "mcp_oauth_proxy::stdio::stderr", child = %child, pid, truncated, "{text}");
        } else {
            tracing::info!(target: "mcp_oauth_proxy::stdio::stderr", child = %child, pid, "{text}");
        }
    }
    if suppressed > 0 {
        report_suppressed(&child, pid, suppressed);
    }
}

fn report_suppressed(child: &str, pid: u32, lines: u64) {
    tracing::warn!(
        target: "mcp_oauth_proxy::stdio::stderr",
        child = %child,
        pid,
        lines,
        "the upstream command wrote more to stderr than the log takes: lines not logged"
    );
}

/// A token bucket: [`BURST`] lines at once, [`RATE`] per second after that.
struct Budget {
    tokens: f64,
    at: Instant,
}

impl Budget {
    fn new(now: Instant) -> Self {
        Self {
            tokens: BURST,
            at: now,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * RATE).min(BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_budget_allows_a_burst_then_the_rate() {
        let start = Instant::now();
        let mut budget = Budget::new(start);
        let burst = (0..1000).filter(|_| budget.take(start)).count();
        assert_eq!(burst, BURST as usize);
        let later = start + Duration::from_secs(1);
        let refilled = (0..1000).filter(|_| budget.take(later)).count();
        assert_eq!(refilled, RATE as usize);
    }
}
