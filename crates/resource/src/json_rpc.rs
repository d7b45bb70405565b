//! Just enough JSON-RPC to authorise a request: the method and tool name of each message,
//! and the error bodies for requests refused before they reach the MCP service.

use std::borrow::Cow;

use serde::Deserialize;

/// JSON-RPC 2.0 "Parse error".
pub(crate) const PARSE_ERROR: i64 = -32700;
/// JSON-RPC 2.0 "Invalid Request".
pub(crate) const INVALID_REQUEST: i64 = -32600;

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<Params<'a>>,
}

#[derive(Deserialize)]
struct Params<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Body<'a> {
    #[serde(borrow)]
    One(Message<'a>),
    Many(Vec<Message<'a>>),
}

/// Why a body could not be read as JSON-RPC.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PeekError {
    /// Not JSON.
    Parse,
    /// JSON, but not a JSON-RPC message or batch.
    InvalidRequest,
}

/// The names of the tools a body calls (`tools/call` messages), in order.
pub(crate) fn called_tools(body: &[u8]) -> Result<Vec<Cow<'_, str>>, PeekError> {
    let parsed: Body<'_> = serde_json::from_slice(body).map_err(|_| {
        // Tell syntax errors from well-formed JSON that is no JSON-RPC message.
        match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Ok(_) => PeekError::InvalidRequest,
            Err(_) => PeekError::Parse,
        }
    })?;
    let messages = match parsed {
        Body::One(message) => vec![message],
        Body::Many(messages) => messages,
    };
    Ok(messages
        .into_iter()
        .filter(|message| message.method.as_deref() == Some("tools/call"))
        .filter_map(|message| message.params?.name)
        .collect())
}

/// A JSON-RPC error response without an id, for requests refused at the HTTP layer.
pub(crate) fn error_body(code: i64, message: &str) -> String {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": code, "message": message},
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tool_names_in_single_messages_and_batches() {
        let one = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_context","arguments":{"name":"x"}}}"#;
        assert_eq!(called_tools(one).unwrap(), ["create_context"]);
        let batch = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami"}}]"#;
        assert_eq!(called_tools(batch).unwrap(), ["whoami"]);
    }

    #[test]
    fn reads_escaped_tool_names() {
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"create\u005fcontext"}}"#;
        assert_eq!(called_tools(body).unwrap(), ["create_context"]);
    }

    #[test]
    fn distinguishes_garbage_from_non_messages() {
        assert_eq!(called_tools(b"{not json").unwrap_err(), PeekError::Parse);
        assert_eq!(called_tools(b"").unwrap_err(), PeekError::Parse);
        assert_eq!(called_tools(b"42").unwrap_err(), PeekError::InvalidRequest);
        assert_eq!(
            called_tools(br#"{"method": 7}"#).unwrap_err(),
            PeekError::InvalidRequest
        );
    }
}
