//! The MCP tools of the demo server.

use std::borrow::Cow;
use std::sync::Arc;

use mcp_oauth_core::ScopeSet;
use mcp_oauth_resource::{TokenProfileKind, VerifiedToken};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, ProtocolVersion, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::app::DemoScopes;
use crate::{ContextStore, Owner};

/// The protocol revisions this server speaks, oldest first.
const SUPPORTED_VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2026_07_28,
];

/// Arguments of `create_context`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateContextArgs {
    /// A short name (1 to 100 characters).
    pub name: String,
    /// What the context holds (at most 1000 characters).
    #[serde(default)]
    pub description: String,
}

/// The demo MCP server. Stateless Streamable HTTP makes one per request by cloning a
/// prototype, so the store and the tool router (built once: it derives JSON schemas) are
/// shared behind `Arc`s.
#[derive(Clone)]
pub struct ContextServer {
    store: ContextStore,
    scopes: Arc<DemoScopes>,
    tool_router: Arc<ToolRouter<ContextServer>>,
}

#[tool_router]
impl ContextServer {
    /// A server over `store` that names `scopes` in its tool descriptions.
    pub fn new(store: ContextStore, scopes: Arc<DemoScopes>) -> Self {
        Self {
            store,
            scopes,
            tool_router: Arc::new(Self::tool_router()),
        }
    }

    #[tool(description = "List the contexts you have stored. Needs the read scope.")]
    async fn list_contexts(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let caller = caller(&context);
        let contexts = self.store.list(caller.owner());
        Ok(CallToolResult::structured(json!({
            "count": contexts.len(),
            "contexts": contexts,
        })))
    }

    #[tool(
        description = "Store a new context (a name and a description) for you. Needs the write scope."
    )]
    async fn create_context(
        &self,
        Parameters(args): Parameters<CreateContextArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let caller = caller(&context);
        match self
            .store
            .create(caller.owner(), &args.name, &args.description)
        {
            Ok(created) => Ok(CallToolResult::structured(json!({ "created": created }))),
            // Input validation errors are tool execution errors, so the model can correct itself.
            Err(error) => Ok(CallToolResult::error(vec![ContentBlock::text(
                error.to_string(),
            )])),
        }
    }

    #[tool(
        description = "Show what the server verified about your access token: issuer, subject, client id, scopes and audience."
    )]
    async fn whoami(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        match caller(&context) {
            Caller::Verified(token) => structured(&VerifiedCaller {
                audience: &token.audience,
                authenticated: true,
                client_id: token.client_id.as_deref(),
                expires_at: token.expires_at,
                issuer: &token.issuer,
                profile: token.profile,
                read_scope: &self.scopes.read,
                scopes: &token.scopes,
                subject: &token.subject,
                write_scope: &self.scopes.write,
            }),
            Caller::Anonymous => structured(&AnonymousCaller {
                authenticated: false,
                warning: "token validation is switched off on this server",
            }),
        }
    }
}

/// What `whoami` answers about a verified token. The fields are in alphabetical order, as
/// serde_json keeps an object's keys, so the text and the structured content read the same.
#[derive(Serialize)]
struct VerifiedCaller<'a> {
    audience: &'a [String],
    authenticated: bool,
    client_id: Option<&'a str>,
    expires_at: u64,
    issuer: &'a str,
    profile: TokenProfileKind,
    read_scope: &'a str,
    #[serde(serialize_with = "scope_list")]
    scopes: &'a ScopeSet,
    subject: &'a str,
    write_scope: &'a str,
}

/// What `whoami` answers when validation is switched off.
#[derive(Serialize)]
struct AnonymousCaller {
    authenticated: bool,
    warning: &'static str,
}

/// Scopes as a JSON array, in sorted order.
fn scope_list<S: serde::Serializer>(scopes: &&ScopeSet, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(scopes.iter())
}

/// A successful result with `answer` as structured content and as its JSON text, serialised
/// straight from `answer`.
fn structured<T: Serialize>(answer: &T) -> Result<CallToolResult, ErrorData> {
    let failed = |error: serde_json::Error| ErrorData::internal_error(error.to_string(), None);
    let text = serde_json::to_string(answer).map_err(failed)?;
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(serde_json::to_value(answer).map_err(failed)?);
    Ok(result)
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for ContextServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "mcp-oauth-demo",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "Keeps named contexts per user. list_contexts and create_context need the \
                 read and write scopes; whoami shows what the server verified about your token.",
            )
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(&SUPPORTED_VERSIONS)
    }
}

/// Who is calling: the verified token the bearer layer attached, or nobody when validation
/// is switched off.
enum Caller {
    Verified(Arc<VerifiedToken>),
    Anonymous,
}

impl Caller {
    /// Whose contexts the caller reaches: issuer and subject, since subjects are only unique
    /// per issuer. Without validation everyone shares the anonymous owner.
    fn owner(&self) -> Owner<'_> {
        match self {
            Self::Verified(token) => Owner {
                issuer: &token.issuer,
                subject: &token.subject,
            },
            Self::Anonymous => Owner {
                issuer: "",
                subject: "anonymous",
            },
        }
    }
}

fn caller(context: &RequestContext<RoleServer>) -> Caller {
    VerifiedToken::of_request(context).map_or(Caller::Anonymous, Caller::Verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whoami_text_and_structured_content_are_the_same_json() {
        let scopes = ScopeSet::parse("mcp:write mcp:read");
        let audience = ["https://mcp.example.com/mcp".to_owned()];
        let answer = VerifiedCaller {
            audience: &audience,
            authenticated: true,
            client_id: Some("client \"1\""),
            expires_at: 1_800_000_000,
            issuer: "https://as.example.com",
            profile: TokenProfileKind::Jwt,
            read_scope: "mcp:read",
            scopes: &scopes,
            subject: "user-1",
            write_scope: "mcp:write",
        };
        let result = structured(&answer).unwrap();
        let structured_content = result.structured_content.unwrap();
        assert_eq!(
            structured_content["scopes"],
            json!(["mcp:read", "mcp:write"])
        );
        assert_eq!(structured_content["client_id"], "client \"1\"");
        assert_eq!(structured_content["profile"], "jwt");
        assert_eq!(structured_content.as_object().unwrap().len(), 10);
        let text = &result.content[0].as_text().unwrap().text;
        assert_eq!(*text, structured_content.to_string());
        assert_eq!(result.is_error, Some(false));
    }
}
