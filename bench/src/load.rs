//! The load: one request checked with curl, then wrk on CPU 1 sending it over and over.

use std::time::Instant;

use mcp_oauth_bench_support::{clock_ticks_per_second, parse_wrk};
use serde_json::{Value, json};
use tokio::process::Command;

use crate::server::{CacheLookups, Server, Validation};

/// The request sent over and over: a stateless 2025-11-25 `tools/call` without arguments.
#[derive(Clone)]
pub struct Request {
    tool: String,
    body: String,
    token: String,
    /// With several tokens: the file wrk reads them from (one per line, `token` first), and
    /// how many of them are the hot ones.
    token_set: Option<(std::sync::Arc<tempfile::NamedTempFile>, u32)>,
}

impl Request {
    /// A call of `tool` carrying `token` (sent to both servers, so the requests are identical).
    pub fn new(tool: &str, token: String) -> Self {
        let body = json!({
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": tool, "arguments": {}},
        });
        Self {
            tool: tool.to_owned(),
            body: body.to_string(),
            token,
            token_set: None,
        }
    }

    /// The same request sent with `token` and `others` in turn (wrk picks one at random per
    /// request: 90% of the time among the first `hot`, else among all).
    pub fn with_token_set(
        mut self,
        others: impl Iterator<Item = String>,
        hot: u32,
    ) -> Result<Self, String> {
        use std::io::Write;
        let cannot = |error: std::io::Error| format!("cannot write the token file: {error}");
        let mut file = tempfile::NamedTempFile::new().map_err(cannot)?;
        let mut distinct = std::collections::HashSet::from([self.token.clone()]);
        let mut count = 1;
        writeln!(file, "{}", self.token).map_err(cannot)?;
        for token in others {
            writeln!(file, "{token}").map_err(cannot)?;
            distinct.insert(token);
            count += 1;
        }
        // The measure means nothing if tokens repeat: the cache would hold them all.
        if distinct.len() != count {
            return Err(format!(
                "only {} of the {count} tokens minted are distinct",
                distinct.len()
            ));
        }
        file.flush().map_err(cannot)?;
        self.token_set = Some((std::sync::Arc::new(file), hot));
        Ok(self)
    }

    /// The whole HTTP/1.1 request to `server`, with the headers wrk sends.
    pub fn to_http1(&self, server: &Server) -> Vec<u8> {
        let mut head = format!("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n", server.port);
        for header in HEADERS {
            head.push_str(header);
            head.push_str("\r\n");
        }
        head.push_str(&format!(
            "Authorization: Bearer {}\r\nContent-Length: {}\r\n\r\n",
            self.token,
            self.body.len()
        ));
        [head.as_bytes(), self.body.as_bytes()].concat()
    }
}

/// The request headers besides `Authorization`, shared by curl and the wrk script.
const HEADERS: [&str; 3] = [
    "Content-Type: application/json",
    "Accept: application/json, text/event-stream",
    "MCP-Protocol-Version: 2025-11-25",
];

/// The wrk script, which reads the body and headers from the environment.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tools_call.lua");

/// The least share of its core the server must use for a run to count as loading it fully.
pub const MIN_SERVER_CPU: f64 = 0.9;

/// One measured run.
#[derive(Clone, Copy, Debug)]
pub struct Measurement {
    /// Requests per second (wrk's `Requests/sec`).
    pub requests_per_sec: f64,
    /// Median latency in milliseconds.
    pub p50_ms: f64,
    /// 99th-percentile latency in milliseconds.
    pub p99_ms: f64,
    /// Server CPU time over wall time (1.0 is one core fully busy).
    pub server_cpu: f64,
    /// Server CPU time per request in microseconds: unlike throughput, hardly affected by
    /// other processes taking turns on the server's core.
    pub cpu_us_per_request: f64,
    /// With validation on: the share of the run's requests whose token was not in the
    /// verified-token cache (each cost a full validation).
    pub cache_misses: Option<f64>,
}

impl Measurement {
    /// Whether the server used (nearly) all of its core, so that it was the bottleneck.
    pub fn loaded_fully(&self) -> bool {
        self.server_cpu >= MIN_SERVER_CPU
    }
}

/// Sends the request once with curl and checks for HTTP 200 with a JSON-RPC result that is no
/// tool error; `whoami` must also say whether the caller was authenticated, as the server's
/// validation setting implies.
pub async fn check(server: &Server, request: &Request) -> Result<(), String> {
    let mut command = Command::new("curl");
    command.args([
        "-sS",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "-X",
        "POST",
        "--data-binary",
        &request.body,
    ]);
    for header in HEADERS {
        command.args(["-H", header]);
    }
    let output = command
        .args([
            "-H",
            &format!("Authorization: Bearer {}", request.token),
            &server.url,
        ])
        .output()
        .await
        .map_err(|error| format!("cannot run curl: {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    let fail = |why: &str| {
        format!(
            "validation {}: {why}: HTTP {status} {body}\nserver log:\n{}",
            server.validation,
            server.log_text()
        )
    };
    if status != "200" {
        return Err(fail("the check request failed"));
    }
    let reply: Value = serde_json::from_str(body).map_err(|_| fail("the reply is not JSON"))?;
    let result = reply
        .get("result")
        .ok_or_else(|| fail("the reply is no JSON-RPC result"))?;
    if result["isError"] == Value::Bool(true) {
        return Err(fail("the tool call failed"));
    }
    let authenticated = Value::Bool(server.validation == Validation::On);
    if request.tool == "whoami" && result["structuredContent"]["authenticated"] != authenticated {
        return Err(fail("whoami disagrees with the validation setting"));
    }
    Ok(())
}

/// Runs wrk for `seconds` with `connections` connections on CPU 1, and fails if any response
/// was not 2xx or any socket error occurred.
pub async fn wrk(
    server: &Server,
    request: &Request,
    seconds: u64,
    connections: usize,
) -> Result<Measurement, String> {
    let lookups_before = server.cache_lookups().await?;
    let ticks_before = server.cpu_ticks()?;
    let started = Instant::now();
    let output = Command::new("taskset")
        .args([
            "-c",
            "1",
            "wrk",
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
        ])
        .args(["--latency", "-s", SCRIPT, &server.url])
        .env("BENCH_BODY", &request.body)
        .env("BENCH_HEADERS", HEADERS.join("\n"))
        .env("BENCH_TOKEN", &request.token)
        .envs(request.token_set.iter().flat_map(|(file, hot)| {
            [
                ("BENCH_TOKENS_FILE", file.path().display().to_string()),
                ("BENCH_HOT_TOKENS", hot.to_string()),
            ]
        }))
        .output()
        .await
        .map_err(|error| format!("cannot run wrk under taskset: {error}"))?;
    let wall = started.elapsed().as_secs_f64();
    let ticks = server.cpu_ticks()? - ticks_before;
    let lookups_after = server.cache_lookups().await?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("wrk failed ({}): {text}{stderr}", output.status));
    }
    let report = parse_wrk(&text).map_err(|why| {
        format!(
            "validation {}: {why}; wrk said:\n{text}server log:\n{}",
            server.validation,
            server.log_text()
        )
    })?;
    let cpu_seconds = ticks as f64 / clock_ticks_per_second();
    Ok(Measurement {
        requests_per_sec: report.requests_per_sec,
        p50_ms: report.p50_ms,
        p99_ms: report.p99_ms,
        server_cpu: cpu_seconds / wall,
        cpu_us_per_request: cpu_seconds * 1e6 / report.requests.max(1) as f64,
        cache_misses: lookups_before
            .zip(lookups_after)
            .and_then(|(before, after)| miss_share(before, after)),
    })
}

/// The share of the lookups between `before` and `after` that missed; none without lookups.
fn miss_share(before: CacheLookups, after: CacheLookups) -> Option<f64> {
    let misses = after.misses.saturating_sub(before.misses);
    let lookups = misses + after.hits.saturating_sub(before.hits);
    (lookups > 0).then(|| misses as f64 / lookups as f64)
}

/// Loads both servers at once, each with its own wrk on CPU 1, after a warm-up of both: they
/// take turns on CPU 0, so whatever slows the machine down slows both alike. Fails unless
/// together they kept their core busy.
pub async fn side_by_side(
    servers: &[Server; 2],
    request: &Request,
    warmup: u64,
    seconds: u64,
    connections: usize,
) -> Result<[Measurement; 2], String> {
    for server in servers {
        check(server, request).await?;
    }
    let [first, second] = servers;
    let (a, b) = tokio::join!(
        wrk(first, request, warmup, connections),
        wrk(second, request, warmup, connections)
    );
    a?;
    b?;
    let (a, b) = tokio::join!(
        wrk(first, request, seconds, connections),
        wrk(second, request, seconds, connections)
    );
    let pair = [a?, b?];
    let busy = pair[0].server_cpu + pair[1].server_cpu;
    if busy < MIN_SERVER_CPU {
        return Err(format!(
            "side by side, the servers used only {:.0}% of their core: wrk or another process \
             was the bottleneck",
            busy * 100.0
        ));
    }
    Ok(pair)
}
