//! The load: one task per connection, each sending its requests one after another, timed
//! after a warm-up, while the server's CPU time is read from /proc.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_oauth_bench_support::{clock_ticks_per_second, cpu_ticks};
use reqwest::Client;
use tokio::task::JoinSet;

use crate::oauth::{self, Code, Target};

/// What one connection does, request after request.
pub enum Work {
    /// `POST /register`, until the time is up.
    Register,
    /// `GET /authorize` until it holds `wanted` codes.
    Authorize {
        /// How many codes to collect.
        wanted: usize,
        /// The codes so far, oldest first.
        codes: Vec<Code>,
    },
    /// Redeems its codes, oldest first.
    Redeem {
        /// The codes left.
        codes: VecDeque<Code>,
        /// The refresh token of the last redeemed code.
        refresh_token: Option<String>,
    },
    /// Refreshes, each time with the token the previous answer rotated in.
    Refresh {
        /// The token to present next.
        token: String,
    },
}

impl Work {
    /// The work that follows on the same connection: redeeming the codes `Authorize`
    /// collected, or refreshing from the last refresh token `Redeem` got.
    pub fn next(self) -> Option<Work> {
        match self {
            Self::Authorize { codes, .. } => Some(Self::Redeem {
                codes: codes.into(),
                refresh_token: None,
            }),
            Self::Redeem { refresh_token, .. } => {
                refresh_token.map(|token| Self::Refresh { token })
            }
            Self::Register | Self::Refresh { .. } => None,
        }
    }

    /// The token a refresh chain presents next.
    pub fn into_refresh_token(self) -> Option<String> {
        match self {
            Self::Refresh { token } => Some(token),
            _ => None,
        }
    }

    /// Sends one request and checks the answer; `Ok(false)` when there is nothing left to send.
    async fn step(&mut self, http: &Client, target: &Target) -> Result<bool, String> {
        match self {
            Self::Register => {
                oauth::register(http, &target.base).await?;
            }
            Self::Authorize { wanted, codes } => {
                if codes.len() >= *wanted {
                    return Ok(false);
                }
                codes.push(oauth::authorize(http, target).await?);
            }
            Self::Redeem {
                codes,
                refresh_token,
            } => {
                let Some(code) = codes.pop_front() else {
                    return Ok(false);
                };
                *refresh_token = Some(oauth::redeem(http, target, &code).await?);
            }
            Self::Refresh { token } => {
                *token = oauth::refresh(http, target, token).await?;
            }
        }
        Ok(true)
    }
}

/// One measured run.
#[derive(Clone, Copy, Debug)]
pub struct Measurement {
    /// Requests sent after the warm-up (all answered as expected).
    pub requests: usize,
    /// Requests per second after the warm-up.
    pub requests_per_sec: f64,
    /// Median latency in milliseconds.
    pub p50_ms: f64,
    /// 99th-percentile latency in milliseconds.
    pub p99_ms: f64,
    /// The slowest request, in milliseconds.
    pub max_ms: f64,
    /// Server CPU time over wall time after the warm-up (1.0 is its core fully busy).
    pub server_cpu: f64,
    /// The same for this driver, which sends the load from the other core.
    pub load_cpu: f64,
}

/// Runs `work`, one task per connection (`clients[i]` for `work[i]`), until each has nothing
/// left or `duration` after the `warmup` is over, whichever comes first. Requests sent during
/// the warm-up are not measured. Any unexpected answer stops the run with an error. Returns
/// the measurement (the CPU time of the process `server_pid`) and the work, to read what it
/// collected.
pub async fn run(
    server_pid: u32,
    target: &Arc<Target>,
    clients: &[Client],
    work: Vec<Work>,
    warmup: Duration,
    duration: Option<Duration>,
) -> Result<(Measurement, Vec<Work>), String> {
    if work.len() > clients.len() {
        return Err("more connections asked for than clients made".to_owned());
    }
    let started = Instant::now();
    let from = started + warmup;
    let until = duration.map(|duration| from + duration);
    let mut tasks = JoinSet::new();
    for (index, (mut work, http)) in work.into_iter().zip(clients.iter().cloned()).enumerate() {
        let target = Arc::clone(target);
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut last = None;
            loop {
                let sent = Instant::now();
                if until.is_some_and(|until| sent >= until) || !work.step(&http, &target).await? {
                    break;
                }
                if sent >= from {
                    let answered = Instant::now();
                    latencies.push(answered - sent);
                    last = Some(answered);
                }
            }
            Ok::<_, String>((index, work, latencies, last))
        });
    }
    tokio::time::sleep_until(from.into()).await;
    let (server_pid, own_pid) = (server_pid, std::process::id());
    let ticks_from = [cpu_ticks(server_pid)?, cpu_ticks(own_pid)?];
    let mut finished = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        finished.push(joined.map_err(|error| format!("a load task failed: {error}"))??);
    }
    let ticks = [cpu_ticks(server_pid)?, cpu_ticks(own_pid)?];
    let cpu_wall = from.elapsed().as_secs_f64() * clock_ticks_per_second();
    let [server_cpu, load_cpu] =
        [0, 1].map(|index| (ticks[index] - ticks_from[index]) as f64 / cpu_wall);
    finished.sort_by_key(|(index, ..)| *index);

    let last = finished.iter().filter_map(|(.., last)| *last).max();
    let mut latencies: Vec<Duration> = finished
        .iter()
        .flat_map(|(_, _, latencies, _)| latencies.iter().copied())
        .collect();
    let Some(last) = last.filter(|_| !latencies.is_empty()) else {
        return Err("no request was sent after the warm-up: give the run more work".to_owned());
    };
    latencies.sort();
    let seconds = (last - from).as_secs_f64();
    let measurement = Measurement {
        requests: latencies.len(),
        requests_per_sec: latencies.len() as f64 / seconds,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        max_ms: percentile(&latencies, 1.0),
        server_cpu,
        load_cpu,
    };
    Ok((
        measurement,
        finished.into_iter().map(|(_, work, ..)| work).collect(),
    ))
}

/// The `share` percentile of sorted `latencies` (nearest rank), in milliseconds.
fn percentile(latencies: &[Duration], share: f64) -> f64 {
    let rank = ((latencies.len() as f64 * share).ceil() as usize).clamp(1, latencies.len());
    latencies[rank - 1].as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let latencies: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&latencies, 0.50), 50.0);
        assert_eq!(percentile(&latencies, 0.99), 99.0);
        assert_eq!(percentile(&latencies[..1], 0.99), 1.0);
    }
}
