//! The load: MCP sessions opened with reqwest, one request checked, then wrk on CPU 1
//! sending that request over and over (the same wrk script as bench/run).

use mcp_oauth_bench_support::{WrkReport, clock_ticks_per_second, parse_wrk};
use serde_json::{Value, json};
use tokio::process::Command;

use crate::processes::Listening;

/// The wrk script of bench/run, which reads the body and headers from the environment.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tools_call.lua");

/// The protocol revision of every request (with sessions, as `initialize` agreed).
const PROTOCOL_VERSION: &str = "2025-11-25";

/// The request sent over and over: a `tools/call`, with a bearer token, in a session or not.
pub struct Request {
    body: String,
    token: String,
    session: Option<String>,
}

impl Request {
    /// A call of `tool` with `arguments`, carrying `token`, in `session` when given.
    pub fn new(tool: &str, arguments: Value, token: String, session: Option<String>) -> Self {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}});
        Self {
            body: body.to_string(),
            token,
            session,
        }
    }

    /// The request's headers besides `Authorization`, one `Name: value` a line.
    fn headers(&self) -> Vec<String> {
        let mut headers = vec![
            "Content-Type: application/json".to_owned(),
            "Accept: application/json, text/event-stream".to_owned(),
            format!("MCP-Protocol-Version: {PROTOCOL_VERSION}"),
        ];
        if let Some(session) = &self.session {
            headers.push(format!("Mcp-Session-Id: {session}"));
        }
        headers
    }
}

/// One measured wrk run, and the CPU time the measured process spent meanwhile.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    /// What wrk reported.
    pub wrk: WrkReport,
    /// The measured process's CPU time per request, in microseconds.
    pub cpu_us_per_request: f64,
}

/// POSTs `message` to `url` with `token` (in `session`); returns the session id the answer
/// named and its JSON-RPC messages (a JSON body, or the data of an SSE stream that ended).
async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    session: Option<&str>,
    message: &Value,
) -> Result<(Option<String>, Vec<Value>), String> {
    let mut request = client
        .post(url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", PROTOCOL_VERSION)
        .json(message);
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    let response = request
        .send()
        .await
        .map_err(|error| format!("POST {url}: {error}"))?;
    let status = response.status();
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let event_stream = response
        .headers()
        .get("content-type")
        .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"));
    let body = response
        .text()
        .await
        .map_err(|error| format!("POST {url}: {error}"))?;
    if !status.is_success() {
        return Err(format!("POST {url}: HTTP {status}: {body}"));
    }
    let payloads: Vec<&str> = if event_stream {
        body.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .collect()
    } else {
        vec![body.as_str()]
    };
    let messages = payloads
        .into_iter()
        .filter(|data| !data.trim().is_empty())
        .map(|data| {
            serde_json::from_str(data.trim())
                .map_err(|_| format!("POST {url}: not JSON-RPC: {body}"))
        })
        .collect::<Result<Vec<Value>, String>>()?;
    Ok((session, messages))
}

/// Opens an MCP session at `url` (`initialize`, then `notifications/initialized`); its id,
/// or `None` when the server keeps no sessions.
pub async fn open_session(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> Result<Option<String>, String> {
    let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL_VERSION, "capabilities": {},
        "clientInfo": {"name": "mcp-oauth-bench-proxy", "version": "0"}}});
    let (session, messages) = post(client, url, token, None, &initialize).await?;
    if !messages
        .iter()
        .any(|message| message["id"] == 0 && message["result"].is_object())
    {
        return Err(format!("{url}: initialize failed: {messages:?}"));
    }
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    post(client, url, token, session.as_deref(), &initialized).await?;
    Ok(session)
}

/// Sends the request once and checks that it gets a JSON-RPC result that is no tool error.
pub async fn check(client: &reqwest::Client, url: &str, request: &Request) -> Result<(), String> {
    let body: Value = serde_json::from_str(&request.body).map_err(|error| error.to_string())?;
    let (_, messages) = post(
        client,
        url,
        &request.token,
        request.session.as_deref(),
        &body,
    )
    .await?;
    match messages.iter().find(|message| message["id"] == 1) {
        Some(answer) if answer["result"].is_object() && answer["result"]["isError"] != true => {
            Ok(())
        }
        _ => Err(format!("{url}: the checked call failed: {messages:?}")),
    }
}

/// How wrk loads a server: for how long, over how many connections, from which CPU.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Seconds of load.
    pub seconds: u64,
    /// Open connections.
    pub connections: usize,
    /// The CPU wrk runs on.
    pub cpu: u8,
}

/// Runs wrk on `cpu` against `url` for `seconds` with `connections` connections, and counts
/// the CPU time `measured` spent meanwhile. Fails if any response was not 2xx.
pub async fn wrk(
    url: &str,
    request: &Request,
    load: Load,
    measured: &Listening,
) -> Result<Run, String> {
    let Load {
        seconds,
        connections,
        cpu,
    } = load;
    let ticks_before = measured.cpu_ticks()?;
    let output = Command::new("taskset")
        .args(["-c", &cpu.to_string(), "wrk", "-t1"])
        .args([format!("-c{connections}"), format!("-d{seconds}s")])
        .args(["--latency", "-s", SCRIPT, url])
        .env("BENCH_BODY", &request.body)
        .env("BENCH_HEADERS", request.headers().join("\n"))
        .env("BENCH_TOKEN", &request.token)
        .output()
        .await
        .map_err(|error| format!("cannot run wrk under taskset: {error}"))?;
    let ticks = measured.cpu_ticks()? - ticks_before;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("wrk failed ({}): {text}{stderr}", output.status));
    }
    let wrk = parse_wrk(&text).map_err(|why| {
        format!(
            "{url}: {why}; wrk said:\n{text}log:\n{}",
            measured.log_text()
        )
    })?;
    let cpu_seconds = ticks as f64 / clock_ticks_per_second();
    Ok(Run {
        wrk,
        cpu_us_per_request: cpu_seconds * 1e6 / wrk.requests.max(1) as f64,
    })
}
