//! Just enough JSON-RPC to authorise a request: the method, id and target (tool or prompt
//! name, resource URI) of each message, and the error bodies for requests refused before they
//! reach the MCP service.

use std::borrow::Cow;

use serde::Deserialize;

use crate::scope_policy::{Listing, Primitive};

/// JSON-RPC 2.0 "Parse error".
pub(crate) const PARSE_ERROR: i64 = -32700;
/// JSON-RPC 2.0 "Invalid Request".
pub(crate) const INVALID_REQUEST: i64 = -32600;

/// One JSON-RPC message, as far as authorisation needs it; other members are skipped.
#[derive(Deserialize)]
pub(crate) struct Message<'a> {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(borrow, default)]
    method: Option<Text<'a>>,
    #[serde(borrow, default)]
    params: Option<Params<'a>>,
}

#[derive(Deserialize)]
struct Params<'a> {
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
    #[serde(borrow, default)]
    uri: Option<Text<'a>>,
}

/// A string member, borrowed from the body unless it has escapes. (serde borrows a `Cow`
/// only when it is a field's whole type, not inside an `Option`.)
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// A request body: one message, or a batch of them.
pub(crate) enum Messages<'a> {
    /// A single message (an object).
    One(Message<'a>),
    /// A batch (an array of messages).
    Batch(Vec<Message<'a>>),
}

/// Why a body could not be read as JSON-RPC.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PeekError {
    /// Not JSON.
    Parse,
    /// JSON, but not a JSON-RPC message or batch.
    InvalidRequest,
}

/// Reads a body as one message or, when its first byte after JSON whitespace is `[`, as a
/// batch (JSON-RPC 2.0 §6). Each is parsed once, borrowing from `body` where it can.
pub(crate) fn parse(body: &[u8]) -> Result<Messages<'_>, PeekError> {
    // JSON text is UTF-8 (RFC 8259 §8.1); checking it once spares a check per string.
    let text = std::str::from_utf8(body).map_err(|_| PeekError::Parse)?;
    let first = text
        .bytes()
        .find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'));
    let parsed = match first {
        Some(b'[') => serde_json::from_str(text).map(Messages::Batch),
        _ => serde_json::from_str(text).map(Messages::One),
    };
    parsed.map_err(|_| {
        // Tell syntax errors from well-formed JSON that is no JSON-RPC message.
        match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => PeekError::InvalidRequest,
            Err(_) => PeekError::Parse,
        }
    })
}

impl Messages<'_> {
    fn as_slice(&self) -> &[Message<'_>] {
        match self {
            Self::One(message) => std::slice::from_ref(message),
            Self::Batch(messages) => messages.as_slice(),
        }
    }

    /// What each message asks for that a scope may guard, in order: the tool of a
    /// `tools/call`, the prompt of a `prompts/get`, the resource of a `resources/read` or
    /// `resources/subscribe` (MCP 2025-11-25, "Server Features").
    pub(crate) fn targets(&self) -> impl Iterator<Item = (Primitive, &str)> {
        self.as_slice().iter().filter_map(|message| {
            let method = &*message.method.as_ref()?.0;
            let params = message.params.as_ref()?;
            let (primitive, target) = match method {
                "tools/call" => (Primitive::Tool, params.name.as_ref()?),
                "prompts/get" => (Primitive::Prompt, params.name.as_ref()?),
                "resources/read" | "resources/subscribe" => {
                    (Primitive::Resource, params.uri.as_ref()?)
                }
                _ => return None,
            };
            Some((primitive, &*target.0))
        })
    }

    /// The id and listing of each list request (`tools/list`, `resources/list`,
    /// `resources/templates/list`, `prompts/list`) with an id, in order.
    pub(crate) fn listings(&self) -> Vec<(serde_json::Value, Listing)> {
        self.as_slice()
            .iter()
            .filter_map(|message| {
                let listing = Listing::of_method(&message.method.as_ref()?.0)?;
                Some((message.id.clone()?, listing))
            })
            .collect()
    }
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
    use proptest::prelude::*;

    use super::*;

    fn called_tools(body: &[u8]) -> Result<Vec<String>, PeekError> {
        Ok(parse(body)?
            .targets()
            .filter(|(primitive, _)| *primitive == Primitive::Tool)
            .map(|(_, tool)| tool.to_owned())
            .collect())
    }

    #[test]
    fn finds_tool_names_in_single_messages_and_batches() {
        let one = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_context","arguments":{"name":"x"}}}"#;
        assert_eq!(called_tools(one).unwrap(), ["create_context"]);
        let batch = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami"}}]"#;
        assert_eq!(called_tools(batch).unwrap(), ["whoami"]);
        let params_first = br#"{"params":{"arguments":{},"name":"whoami"},"id":1,"method":"tools/call","jsonrpc":"2.0"}"#;
        assert_eq!(called_tools(params_first).unwrap(), ["whoami"]);
    }

    #[test]
    fn recognises_batches_after_leading_whitespace() {
        let batch = b" \r\n\t[{\"method\":\"tools/call\",\"params\":{\"name\":\"a\"}},{\"method\":\"tools/call\",\"params\":{\"name\":\"b\"}}]\n";
        assert_eq!(called_tools(batch).unwrap(), ["a", "b"]);
        let one = b"\n {\"method\":\"tools/call\",\"params\":{\"name\":\"a\"}} ";
        assert_eq!(called_tools(one).unwrap(), ["a"]);
        assert_eq!(called_tools(b" [ ] ").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn ignores_tool_names_outside_tools_call() {
        let body = br#"[{"method":"prompts/get","params":{"name":"create_context"}},{"method":"tools/call"},{"result":{},"id":1}]"#;
        assert_eq!(called_tools(body).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn finds_the_prompt_and_resource_each_message_asks_for() {
        let batch = br#"[
            {"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"summarise","arguments":{}}},
            {"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"file:///a"}},
            {"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"file:///b"}},
            {"jsonrpc":"2.0","id":4,"method":"resources/read","params":{"name":"not a uri"}},
            {"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"uri":"not a name"}},
            {"jsonrpc":"2.0","method":"notifications/cancelled","params":{"name":"x"}}
        ]"#;
        let targets: Vec<_> = parse(batch)
            .unwrap()
            .targets()
            .map(|(primitive, target)| (primitive, target.to_owned()))
            .collect();
        assert_eq!(
            targets,
            [
                (Primitive::Prompt, "summarise".to_owned()),
                (Primitive::Resource, "file:///a".to_owned()),
                (Primitive::Resource, "file:///b".to_owned()),
            ]
        );
    }

    #[test]
    fn finds_the_ids_of_list_requests() {
        let batch = br#"[
            {"jsonrpc":"2.0","id":1,"method":"tools/list"},
            {"jsonrpc":"2.0","id":"two","method":"resources/list","params":{"cursor":"c"}},
            {"jsonrpc":"2.0","id":3,"method":"resources/templates/list"},
            {"jsonrpc":"2.0","id":4,"method":"prompts/list"},
            {"jsonrpc":"2.0","method":"tools/list"},
            {"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"a"}}
        ]"#;
        assert_eq!(
            parse(batch).unwrap().listings(),
            [
                (serde_json::json!(1), Listing::Tools),
                (serde_json::json!("two"), Listing::Resources),
                (serde_json::json!(3), Listing::ResourceTemplates),
                (serde_json::json!(4), Listing::Prompts),
            ]
        );
    }

    #[test]
    fn borrows_names_without_escapes_from_the_body() {
        let body = br#"{"method":"tools/call","params":{"name":"whoami"}}"#;
        let Messages::One(message) = parse(body).unwrap() else {
            panic!("not one message");
        };
        assert!(matches!(
            message.method.unwrap().0,
            Cow::Borrowed("tools/call")
        ));
        assert!(matches!(
            message.params.unwrap().name.unwrap().0,
            Cow::Borrowed("whoami")
        ));
    }

    #[test]
    fn reads_escaped_tool_names() {
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"create\u005fcontext"}}"#;
        assert_eq!(called_tools(body).unwrap(), ["create_context"]);
    }

    /// A method, a tool name (any text, including escapes and non-ASCII) and whether the
    /// message has other members too.
    fn generated_message() -> impl Strategy<Value = (String, Option<String>, bool)> {
        let method = prop_oneof![
            Just("tools/call".to_owned()),
            Just("tools/list".to_owned()),
            any::<String>(),
        ];
        (method, proptest::option::of(any::<String>()), any::<bool>())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn never_panics_on_any_body(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = called_tools(&body);
        }

        /// The tools found are exactly those of the `tools/call` messages, in order, however
        /// the JSON is laid out.
        #[test]
        fn finds_exactly_the_tools_called(
            messages in proptest::collection::vec(generated_message(), 1..5),
            batch in any::<bool>(),
            pretty in any::<bool>(),
        ) {
            let values: Vec<serde_json::Value> = messages
                .iter()
                .enumerate()
                .map(|(id, (method, name, extra))| {
                    let mut params = serde_json::json!({});
                    if *extra {
                        params["arguments"] = serde_json::json!({"name": "not this one"});
                    }
                    if let Some(name) = name {
                        params["name"] = serde_json::json!(name);
                    }
                    serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
                })
                .collect();
            let body = if batch || values.len() > 1 {
                serde_json::Value::Array(values)
            } else {
                values.into_iter().next().unwrap_or_default()
            };
            let text = if pretty {
                serde_json::to_string_pretty(&body).unwrap()
            } else {
                body.to_string()
            };
            let expected: Vec<String> = messages
                .into_iter()
                .filter(|(method, _, _)| method == "tools/call")
                .filter_map(|(_, name, _)| name)
                .collect();
            prop_assert_eq!(called_tools(text.as_bytes()).unwrap(), expected);
        }
    }

    #[test]
    fn distinguishes_garbage_from_non_messages() {
        let cases: [(&[u8], PeekError); 13] = [
            (b"{not json", PeekError::Parse),
            (b"", PeekError::Parse),
            (b"   ", PeekError::Parse),
            (b"[{\"method\":\"tools/call\"}", PeekError::Parse),
            (b"{\"method\":\"tools/call\"} x", PeekError::Parse),
            (b"\xef\xbb\xbf{}", PeekError::Parse),
            (
                b"{\"method\":\"tools/call\",\"params\":{\"name\":\"\xff\"}}",
                PeekError::Parse,
            ),
            (b"42", PeekError::InvalidRequest),
            (b"\"tools/call\"", PeekError::InvalidRequest),
            (br#"{"method": 7}"#, PeekError::InvalidRequest),
            (
                br#"{"method":"tools/call","params":{"name":7}}"#,
                PeekError::InvalidRequest,
            ),
            (
                br#"{"method":"a","method":"tools/call"}"#,
                PeekError::InvalidRequest,
            ),
            (
                br#"[{"method":"tools/call","params":{"name":"a"}}, 1]"#,
                PeekError::InvalidRequest,
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(
                called_tools(body).unwrap_err(),
                expected,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
