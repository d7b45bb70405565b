//! The MCP server's HTTP surface: metadata documents, documentation page, CORS, DNS-rebinding
//! protection, and hostile input that must get a 4xx, never a 5xx.

mod common;

use common::{start, tools_list};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn metadata_is_served_at_both_well_known_urls() {
    let harness = start().await;
    for url in [
        harness.metadata_url(),
        format!("{}/.well-known/oauth-protected-resource", harness.origin),
    ] {
        let response = harness.http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let document: Value = response.json().await.unwrap();
        assert_eq!(
            document,
            json!({
                "resource": harness.resource,
                "authorization_servers": [harness.issuer.issuer()],
                "scopes_supported": ["mcp:read", "mcp:write"],
                "bearer_methods_supported": ["header"],
                "resource_name": "test MCP server",
                "resource_documentation": format!("{}/docs", harness.origin),
            })
        );
    }
}

#[tokio::test]
async fn resource_documentation_page_exists() {
    let harness = start().await;
    let response = harness
        .http
        .get(format!("{}/docs", harness.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = response.text().await.unwrap();
    assert!(page.contains("create_context") && page.contains("mcp:write"));
    assert!(page.contains(&harness.metadata_url()));
}

#[tokio::test]
async fn browsers_can_read_the_metadata_and_the_challenge() {
    let harness = start().await;
    let response = harness
        .http
        .get(harness.metadata_url())
        .header("origin", "https://anywhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");

    let response = harness
        .http
        .post(&harness.resource)
        .header("origin", "https://app.example.com")
        .json(&tools_list())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(exposed.contains("www-authenticate"), "{exposed}");
}

#[tokio::test]
async fn preflight_from_an_allowed_origin_needs_no_token() {
    let harness = start().await;
    let response = harness
        .http
        .request(reqwest::Method::OPTIONS, &harness.resource)
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, mcp-protocol-version",
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
}

#[tokio::test]
async fn foreign_origin_is_refused_before_authentication() {
    let harness = start().await;
    let token = harness.token("mcp:read");
    for origin in [
        "https://evil.example",
        "null",
        "https://app.example.com:8443",
    ] {
        let response = harness
            .http
            .post(&harness.resource)
            .header("origin", origin)
            .bearer_auth(&token)
            .json(&tools_list())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{origin}");
        assert!(response.headers().get("www-authenticate").is_none());
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["error"]["message"],
            "Forbidden: Origin header is not allowed"
        );
    }
}

#[tokio::test]
async fn foreign_host_is_refused() {
    let harness = start().await;
    let response = harness
        .http
        .post(&harness.resource)
        .header("host", "attacker.example")
        .bearer_auth(harness.token("mcp:read"))
        .json(&tools_list())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

/// Sends a `tools/list` POST with `token` and the raw `host_lines` (each `Host: …\r\n`) over
/// a fresh connection; returns the status code and the body's JSON-RPC error message.
async fn post_with_raw_host(
    harness: &common::Harness,
    token: &str,
    host_lines: &str,
) -> (u16, String) {
    let address = harness.origin.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let body = tools_list().to_string();
    let request = format!(
        "POST /mcp HTTP/1.1\r\n{host_lines}Authorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         MCP-Protocol-Version: {}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        common::PROTOCOL_VERSION,
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer[9..12].parse().unwrap();
    let message = answer
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str::<Value>(body).ok())
        .map(|body| {
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .unwrap_or_default();
    (status, message)
}

#[tokio::test]
async fn host_values_that_merely_start_with_an_allowed_host_are_bad_requests() {
    let harness = start().await;
    let token = harness.token("mcp:read");
    let address = harness.origin.trim_start_matches("http://");
    let (status, _) = post_with_raw_host(&harness, &token, &format!("Host: {address}\r\n")).await;
    assert_eq!(status, 200);
    for host in [
        "127.0.0.1:evil.example",
        "127.0.0.1:19001@evil.example",
        "127.0.0.1:",
        "localhost:80:80",
    ] {
        let (status, message) =
            post_with_raw_host(&harness, &token, &format!("Host: {host}\r\n")).await;
        assert_eq!(
            (status, message.as_str()),
            (400, "Bad Request: malformed Host header"),
            "{host}"
        );
    }
}

#[tokio::test]
async fn two_host_headers_are_a_bad_request() {
    let harness = start().await;
    let token = harness.token("mcp:read");
    let address = harness.origin.trim_start_matches("http://");
    for hosts in [
        format!("Host: {address}\r\nHost: {address}\r\n"),
        format!("Host: {address}\r\nHost: evil.example\r\n"),
        format!("Host: evil.example\r\nHost: {address}\r\n"),
    ] {
        let (status, message) = post_with_raw_host(&harness, &token, &hosts).await;
        assert_eq!(
            (status, message.as_str()),
            (400, "Bad Request: more than one Host header"),
            "{hosts:?}"
        );
    }
}

#[tokio::test]
async fn garbage_json_rpc_gets_a_parse_error() {
    let harness = start().await;
    let send = |scopes: &str, body: &'static str| {
        harness
            .http
            .post(&harness.resource)
            .bearer_auth(harness.token(scopes))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body)
            .send()
    };
    let truncated = "{\"jsonrpc\": \"2.0\", \"method\": ";
    let response = send("mcp:read", truncated).await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700);
    for not_a_message in ["42", "\"tools/call\"", "{\"method\": 7}"] {
        let response = send("mcp:read", not_a_message).await.unwrap();
        assert_eq!(response.status(), 400, "{not_a_message}");
    }
    // A token with every scope a tool needs has nothing to check in the body, which goes on
    // unread to rmcp: its refusal is a 4xx too.
    let response = send("mcp:read mcp:write", truncated).await.unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
}

#[tokio::test]
async fn unknown_method_is_a_json_rpc_error_not_a_server_error() {
    let harness = start().await;
    let response = harness
        .post(
            Some(&harness.token("mcp:read")),
            &json!({"jsonrpc": "2.0", "id": 7, "method": "no/such/method"}),
        )
        .await;
    assert!(response.status().is_success() || response.status().is_client_error());
}

#[tokio::test]
async fn oversized_body_gets_413() {
    let harness = start().await;
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"create_context","arguments":{{"name":"{}"}}}}}}"#,
        "x".repeat(5 * 1024 * 1024)
    );
    let response = harness
        .http
        .post(&harness.resource)
        .bearer_auth(harness.token("mcp:read mcp:write"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn huge_headers_get_a_4xx() {
    let harness = start().await;
    let response = harness
        .http
        .post(&harness.resource)
        .header(
            "authorization",
            format!("Bearer {}", "a".repeat(256 * 1024)),
        )
        .json(&tools_list())
        .send()
        .await;
    match response {
        Ok(response) => assert!(response.status().is_client_error(), "{}", response.status()),
        // hyper may close the connection on a header section beyond its limit.
        Err(error) => assert!(
            error.is_request() || error.is_connect() || error.is_body(),
            "{error}"
        ),
    }
}

/// A chunked body whose second chunk size is not hex: hyper fails reading it. Whether the
/// bearer layer reads the body (a token lacking a tool's scope) or passes it on unread (a
/// token with every scope), the answer is 400, never rmcp's 500.
#[tokio::test]
async fn a_body_that_breaks_off_midway_is_a_400_whatever_the_token() {
    let harness = start().await;
    for scopes in ["mcp:read", "mcp:read mcp:write"] {
        let mut stream =
            tokio::net::TcpStream::connect(harness.origin.trim_start_matches("http://"))
                .await
                .unwrap();
        let request = format!(
            "POST /mcp HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
             Transfer-Encoding: chunked\r\n\r\n5\r\n{{\"jso\r\nzz\r\n",
            harness.origin.trim_start_matches("http://"),
            harness.token(scopes)
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = vec![0; 64];
        let read = stream.read(&mut answer).await.unwrap();
        let status_line = String::from_utf8_lossy(&answer[..read]).into_owned();
        println!("{scopes}: {status_line:?}");
        assert!(
            status_line.starts_with("HTTP/1.1 4"),
            "{scopes}: {status_line}"
        );
    }
}
