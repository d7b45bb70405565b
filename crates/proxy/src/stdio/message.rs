//! JSON-RPC messages as the bridge sees them: only the envelope (`id`, `method`, and where
//! routing needs it the progress token or a cancelled request's id) is read; `params`,
//! `result` and `error` pass through as the exact bytes received, so fields this proxy has
//! never heard of (a newer revision's, an extension's, `_meta`) reach the other side intact.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

/// JSON-RPC 2.0 §5.1: invalid JSON.
pub(crate) const PARSE_ERROR: i64 = -32700;
/// JSON-RPC 2.0 §5.1: not a valid request object.
pub(crate) const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC 2.0 §5.1: the method does not exist.
pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC 2.0 §5.1, implementation-defined server error: the child could not answer
/// (it exited, stopped answering, or was stopped).
pub(crate) const UPSTREAM_ERROR: i64 = -32000;
/// The code the MCP SDKs answer an unknown `Mcp-Session-Id` with, alongside HTTP 404.
pub(crate) const SESSION_NOT_FOUND: i64 = -32001;

/// The parts of a message the bridge looks at, borrowed from its bytes.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    jsonrpc: Option<&'a str>,
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    method: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

/// What a message is (JSON-RPC 2.0 §4, §5), with the parts the bridge needs.
pub(crate) enum Message<'a> {
    /// A request: answered by a response with the same id.
    Request {
        id: &'a RawValue,
        method: std::borrow::Cow<'a, str>,
        params: Option<&'a RawValue>,
    },
    /// A notification: no answer.
    Notification {
        method: std::borrow::Cow<'a, str>,
        params: Option<&'a RawValue>,
    },
    /// A response (`result` or `error`) to the request with `id` (absent when the sender
    /// could not tell which request it answers).
    Response { id: Option<&'a RawValue> },
}

/// Why bytes are not one JSON-RPC message.
#[derive(Debug)]
pub(crate) enum Malformed {
    /// Not JSON at all (JSON-RPC "Parse error").
    NotJson,
    /// A JSON array: MCP 2025-06-18 removed JSON-RPC batching.
    Batch,
    /// JSON, but not a JSON-RPC 2.0 message (JSON-RPC "Invalid Request").
    NotJsonRpc(&'static str),
}

impl Malformed {
    /// The JSON-RPC error code and message a client gets for it.
    pub(crate) fn code_and_message(&self) -> (i64, &'static str) {
        match self {
            Self::NotJson => (PARSE_ERROR, "Parse error: the body is not JSON"),
            Self::Batch => (
                INVALID_REQUEST,
                "Invalid Request: JSON-RPC batches are not supported (MCP 2025-06-18)",
            ),
            Self::NotJsonRpc(why) => (INVALID_REQUEST, why),
        }
    }
}

/// Reads the envelope of one message.
pub(crate) fn parse(bytes: &[u8]) -> Result<Message<'_>, Malformed> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        // Only an object is a message (serde would also read a struct from an array).
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Err(_) => Malformed::NotJson,
                Ok(_) if first == Some(&b'[') => Malformed::Batch,
                Ok(_) => {
                    Malformed::NotJsonRpc("Invalid Request: not a JSON-RPC 2.0 message object")
                }
            },
        );
    }
    let envelope: Envelope<'_> = match serde_json::from_slice(bytes) {
        Ok(envelope) => envelope,
        Err(error) if error.is_data() => {
            return Err(Malformed::NotJsonRpc(
                "Invalid Request: not a JSON-RPC 2.0 message object",
            ));
        }
        Err(_) => return Err(Malformed::NotJson),
    };
    if envelope.jsonrpc != Some("2.0") {
        return Err(Malformed::NotJsonRpc(
            "Invalid Request: \"jsonrpc\" must be \"2.0\"",
        ));
    }
    if let Some(id) = envelope.id
        && !is_valid_id(id)
    {
        return Err(Malformed::NotJsonRpc(
            "Invalid Request: \"id\" must be a string or a number",
        ));
    }
    match (envelope.method, envelope.id) {
        (Some(method), Some(id)) => Ok(Message::Request {
            id,
            method,
            params: envelope.params,
        }),
        (Some(method), None) => Ok(Message::Notification {
            method,
            params: envelope.params,
        }),
        (None, id) if envelope.result.is_some() != envelope.error.is_some() => {
            Ok(Message::Response { id })
        }
        (None, _) => Err(Malformed::NotJsonRpc(
            "Invalid Request: neither a request, a notification nor a response",
        )),
    }
}

/// MCP requires string or integer ids; a fraction is tolerated as JSON-RPC allows it.
fn is_valid_id(id: &RawValue) -> bool {
    matches!(id.get().as_bytes().first(), Some(b'"' | b'-' | b'0'..=b'9'))
}

#[derive(Deserialize)]
struct ProgressTokenHolder<'a> {
    #[serde(borrow, rename = "_meta")]
    meta: Option<ProgressTokenMeta<'a>>,
}

#[derive(Deserialize)]
struct ProgressTokenMeta<'a> {
    #[serde(borrow, rename = "progressToken")]
    progress_token: Option<&'a RawValue>,
}

/// The `_meta.progressToken` of a request's params (MCP 2025-11-25 "Progress"), as JSON text.
pub(crate) fn request_progress_token(params: Option<&RawValue>) -> Option<&str> {
    let params = params?;
    // Most requests carry none: skip the parse unless the name occurs at all.
    if !params.get().contains("progressToken") {
        return None;
    }
    let holder: ProgressTokenHolder<'_> = serde_json::from_str(params.get()).ok()?;
    Some(holder.meta?.progress_token?.get())
}

#[derive(Deserialize)]
struct ProgressParams<'a> {
    #[serde(borrow, rename = "progressToken")]
    progress_token: Option<&'a RawValue>,
}

/// The `progressToken` of a `notifications/progress`' params, as JSON text.
pub(crate) fn notification_progress_token(params: Option<&RawValue>) -> Option<&str> {
    let params: ProgressParams<'_> = serde_json::from_str(params?.get()).ok()?;
    Some(params.progress_token?.get())
}

/// The `requestId` of a `notifications/cancelled`' params, as JSON text.
pub(crate) fn cancelled_request_id(params: Option<&RawValue>) -> Option<&str> {
    #[derive(Deserialize)]
    struct Cancelled<'a> {
        #[serde(borrow, rename = "requestId")]
        request_id: Option<&'a RawValue>,
    }
    let params: Cancelled<'_> = serde_json::from_str(params?.get()).ok()?;
    Some(params.request_id?.get())
}

/// `params` of a `notifications/cancelled` with its `requestId` replaced by `request_id`,
/// every other member kept.
pub(crate) fn with_cancelled_request_id(params: &RawValue, request_id: u64) -> Option<Vec<u8>> {
    let mut members: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(params.get()).ok()?;
    members.insert("requestId".to_owned(), request_id.into());
    serde_json::to_vec(&members).ok()
}

/// A request line for the child: the client's request under the bridge's own `id`.
pub(crate) fn encode_request(id: u64, method: &str, params: Option<&RawValue>) -> Vec<u8> {
    let params_len = params.map_or(0, |params| params.get().len());
    let mut line = Vec::with_capacity(64 + method.len() + params_len);
    line.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    line.extend_from_slice(id.to_string().as_bytes());
    line.extend_from_slice(b",\"method\":");
    push_json_string(&mut line, method);
    if let Some(params) = params {
        line.extend_from_slice(b",\"params\":");
        extend_one_line(&mut line, params.get().as_bytes());
    }
    line.extend_from_slice(b"}\n");
    line
}

/// A notification line for the child.
pub(crate) fn encode_notification(method: &str, params: Option<&[u8]>) -> Vec<u8> {
    let mut line = Vec::with_capacity(48 + method.len() + params.map_or(0, <[u8]>::len));
    line.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"method\":");
    push_json_string(&mut line, method);
    if let Some(params) = params {
        line.extend_from_slice(b",\"params\":");
        extend_one_line(&mut line, params);
    }
    line.extend_from_slice(b"}\n");
    line
}

/// The child's response re-addressed to the client's request id: `result` or `error` kept
/// byte for byte.
pub(crate) fn readdress_response(child_line: &[u8], client_id: &str) -> Option<Bytes> {
    #[derive(Deserialize)]
    struct Answer<'a> {
        #[serde(borrow)]
        result: Option<&'a RawValue>,
        #[serde(borrow)]
        error: Option<&'a RawValue>,
    }
    let answer: Answer<'_> = serde_json::from_slice(child_line).ok()?;
    let (member, value) = match (answer.result, answer.error) {
        (Some(result), None) => ("result", result),
        (None, Some(error)) => ("error", error),
        _ => return None,
    };
    let mut out = Vec::with_capacity(40 + client_id.len() + value.get().len());
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(client_id.as_bytes());
    out.extend_from_slice(b",\"");
    out.extend_from_slice(member.as_bytes());
    out.extend_from_slice(b"\":");
    out.extend_from_slice(value.get().as_bytes());
    out.push(b'}');
    Some(Bytes::from(out))
}

/// A JSON-RPC error response with `id` (JSON text; `null` when unknown).
pub(crate) fn error_response(id: Option<&str>, code: i64, message: &str) -> Bytes {
    let mut out = Vec::with_capacity(64 + message.len());
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(id.unwrap_or("null").as_bytes());
    out.extend_from_slice(b",\"error\":{\"code\":");
    out.extend_from_slice(code.to_string().as_bytes());
    out.extend_from_slice(b",\"message\":");
    push_json_string(&mut out, message);
    out.extend_from_slice(b"}}");
    Bytes::from(out)
}

/// An error response line for the child (answering one of its own requests).
pub(crate) fn error_line(id: &str, code: i64, message: &str) -> Vec<u8> {
    let mut line = error_response(Some(id), code, message).to_vec();
    line.push(b'\n');
    line
}

/// The `error.code` of an answer, if it is an error.
pub(crate) fn error_code(answer: &[u8]) -> Option<i64> {
    #[derive(Deserialize)]
    struct Answer {
        error: Option<Code>,
    }
    #[derive(Deserialize)]
    struct Code {
        code: i64,
    }
    serde_json::from_slice::<Answer>(answer)
        .ok()?
        .error
        .map(|error| error.code)
}

/// Whether an answer is a result (not an error).
pub(crate) fn is_result(answer: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Answer<'a> {
        #[serde(borrow)]
        result: Option<&'a RawValue>,
    }
    serde_json::from_slice::<Answer<'_>>(answer).is_ok_and(|answer| answer.result.is_some())
}

/// `message` (one valid JSON text) as a line for the child: stdio messages must not contain
/// embedded newlines (MCP 2025-11-25 "Transports" §stdio), and in valid JSON a `\n` or `\r`
/// byte can only be whitespace between tokens, which a space replaces.
pub(crate) fn as_line(message: &[u8]) -> Vec<u8> {
    let mut line = Vec::with_capacity(message.len() + 1);
    extend_one_line(&mut line, message);
    line.push(b'\n');
    line
}

fn extend_one_line(out: &mut Vec<u8>, json: &[u8]) {
    out.extend(
        json.iter()
            .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
    );
}

fn push_json_string(out: &mut Vec<u8>, value: &str) {
    // Serialising a str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_pass_to_the_child_byte_for_byte_under_a_new_id() {
        let body = br#"{"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"echo","task":{"ttl":60000},"futureField":[1,2.50],"_meta":{"progressToken":7,"x.example/k":{}}}}"#;
        let Ok(Message::Request { id, method, params }) = parse(body) else {
            panic!("a request");
        };
        assert_eq!(id.get(), "\"a-1\"");
        assert_eq!(request_progress_token(params), Some("7"));
        let line = encode_request(42, &method, params);
        assert_eq!(
            std::str::from_utf8(&line).unwrap(),
            "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"task\":{\"ttl\":60000},\"futureField\":[1,2.50],\"_meta\":{\"progressToken\":7,\"x.example/k\":{}}}}\n"
        );
    }

    #[test]
    fn responses_go_back_under_the_clients_id_with_the_result_untouched() {
        let child = br#"{"result":{"tools":[{"name":"x","execution":{"taskSupport":"forbidden"}}]},"jsonrpc":"2.0","id":42}"#;
        let out = readdress_response(child, "\"a-1\"").unwrap();
        assert_eq!(
            &out[..],
            br#"{"jsonrpc":"2.0","id":"a-1","result":{"tools":[{"name":"x","execution":{"taskSupport":"forbidden"}}]}}"#
        );
    }

    #[test]
    fn malformed_messages_are_told_apart() {
        let cases: [(&[u8], i64); 8] = [
            (b"[\"2.0\",1,\"ping\"]", INVALID_REQUEST),
            (b"not json", PARSE_ERROR),
            (b"{\"jsonrpc\":\"2.0\",", PARSE_ERROR),
            (
                b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]",
                INVALID_REQUEST,
            ),
            (
                b"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
                INVALID_REQUEST,
            ),
            (
                b"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}",
                INVALID_REQUEST,
            ),
            (b"{\"jsonrpc\":\"2.0\",\"id\":1}", INVALID_REQUEST),
            (b"\"a string\"", INVALID_REQUEST),
        ];
        for (body, code) in cases {
            match parse(body) {
                Err(malformed) => assert_eq!(
                    malformed.code_and_message().0,
                    code,
                    "{}",
                    String::from_utf8_lossy(body)
                ),
                Ok(_) => panic!("accepted {}", String::from_utf8_lossy(body)),
            }
        }
    }

    #[test]
    fn a_cancellation_is_readdressed_keeping_its_other_members() {
        let body = br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"a-1","reason":"user","_meta":{"k":1}}}"#;
        let Ok(Message::Notification { params, .. }) = parse(body) else {
            panic!("a notification");
        };
        assert_eq!(cancelled_request_id(params), Some("\"a-1\""));
        let rewritten = with_cancelled_request_id(params.unwrap(), 42).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&rewritten).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"requestId": 42, "reason": "user", "_meta": {"k": 1}})
        );
    }

    #[test]
    fn error_responses_escape_their_message() {
        let out = error_response(Some("3"), UPSTREAM_ERROR, "said \"no\"\n");
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["id"], 3);
        assert_eq!(value["error"]["message"], "said \"no\"\n");
    }
}
