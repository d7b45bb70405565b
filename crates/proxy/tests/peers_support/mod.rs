//! The MCP servers nobody here wrote, installed by the test command
//! (scripts/services/proxy-peers.sh), started as processes on loopback ports: the MCP
//! TypeScript SDK's `server-everything` over Streamable HTTP and the Python MCP SDK server of
//! tests/proxy-peers. Shared by this crate's tests and `mcp-oauth`'s (crates/cli/tests).
//!
//! Without the peers (MCP_OAUTH_EVERYTHING_SERVER, MCP_OAUTH_NODE, MCP_OAUTH_PYTHON_MCP unset)
//! the starters return `None` after a notice, unless `MCP_OAUTH_REQUIRE_SERVICES=1`, which
//! makes them fail.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A peer server process, killed when dropped.
pub struct Peer {
    child: Child,
    /// Its MCP endpoint, `http://127.0.0.1:PORT/mcp`.
    pub url: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment variable `name`, or `None` after a notice (a failure when services are
/// required).
pub fn peer_setting(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) => Some(value),
        Err(_) if std::env::var("MCP_OAUTH_REQUIRE_SERVICES").as_deref() == Ok("1") => panic!(
            "MCP_OAUTH_REQUIRE_SERVICES=1 but {name} is not set: install the peers with \
             scripts/services/proxy-peers.sh (proxy_peers_install; proxy_peers_env)"
        ),
        Err(_) => {
            eprintln!("skipped: {name} is not set (see scripts/services/proxy-peers.sh)");
            None
        }
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `command` (which listens on `port`) and waits until it accepts connections.
pub async fn start_peer(mut command: Command, port: u16) -> Peer {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let peer = Peer {
        child,
        url: format!("http://127.0.0.1:{port}/mcp"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the peer did not start on {port}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    peer
}

/// Node and the `server-everything` entry point, or `None` when they are not installed.
pub fn everything_command() -> Option<(String, String)> {
    let node = peer_setting("MCP_OAUTH_NODE")?;
    let server = peer_setting("MCP_OAUTH_EVERYTHING_SERVER")?;
    Some((node, server))
}

/// `server-everything` in Streamable HTTP mode (stateful, SSE answers, resumable streams),
/// or `None` when it is not installed.
pub async fn everything_server(port: u16) -> Option<Peer> {
    let (node, server) = everything_command()?;
    let mut command = Command::new(node);
    command
        .arg(server)
        .arg("streamableHttp")
        .env("PORT", port.to_string());
    Some(start_peer(command, port).await)
}

/// The Python MCP SDK server of tests/proxy-peers (tools `echo`, `secret_tool` and
/// `request_headers`), or `None` when it is not installed.
pub async fn python_server(port: u16) -> Option<Peer> {
    let python = peer_setting("MCP_OAUTH_PYTHON_MCP")?;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/proxy-peers/python_server.py"
    );
    let mut command = Command::new(python);
    command.arg(script).arg(port.to_string());
    Some(start_peer(command, port).await)
}
