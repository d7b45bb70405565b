//! Which scope each tool, resource and prompt needs: the configured rules, a default scope for
//! anything unnamed, and what a request body asks for (MCP 2025-11-25, "Authorization"
//! §Scope Challenge Handling; RFC 6750 §3.1 `insufficient_scope`).

use std::collections::{BTreeSet, HashMap};

use crate::{ResourceServerConfig, VerifiedToken};

/// The kinds of server feature a scope can guard (MCP 2025-11-25, "Server Features").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Primitive {
    /// A tool, named by `name` (`tools/call`, `tools/list`).
    Tool,
    /// A resource, named by `uri` (`resources/read`, `resources/subscribe`, `resources/list`),
    /// or a resource template, named by `uriTemplate` (`resources/templates/list`).
    Resource,
    /// A prompt, named by `name` (`prompts/get`, `prompts/list`).
    Prompt,
}

/// A list request whose answer may name features the caller's scopes do not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Listing {
    /// `tools/list`: `result.tools[].name`.
    Tools,
    /// `resources/list`: `result.resources[].uri`.
    Resources,
    /// `resources/templates/list`: `result.resourceTemplates[].uriTemplate`.
    ResourceTemplates,
    /// `prompts/list`: `result.prompts[].name`.
    Prompts,
}

impl Listing {
    /// The listing a JSON-RPC method asks for, if it is a list method.
    pub(crate) fn of_method(method: &str) -> Option<Self> {
        match method {
            "tools/list" => Some(Self::Tools),
            "resources/list" => Some(Self::Resources),
            "resources/templates/list" => Some(Self::ResourceTemplates),
            "prompts/list" => Some(Self::Prompts),
            _ => None,
        }
    }

    /// The kind of feature listed.
    pub fn primitive(self) -> Primitive {
        match self {
            Self::Tools => Primitive::Tool,
            Self::Resources | Self::ResourceTemplates => Primitive::Resource,
            Self::Prompts => Primitive::Prompt,
        }
    }

    /// The member of `result` that holds the list.
    pub fn member(self) -> &'static str {
        match self {
            Self::Tools => "tools",
            Self::Resources => "resources",
            Self::ResourceTemplates => "resourceTemplates",
            Self::Prompts => "prompts",
        }
    }

    /// The member of each listed item that names it.
    pub fn key(self) -> &'static str {
        match self {
            Self::Tools | Self::Prompts => "name",
            Self::Resources => "uri",
            Self::ResourceTemplates => "uriTemplate",
        }
    }
}

/// The list requests of a request body the bearer layer read (because the token lacks a scope
/// some feature needs), by JSON-RPC id. The bearer layer puts it in the request's extensions,
/// so a later layer can hide from the answers what the caller may not use without parsing the
/// body again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRequests(Vec<(serde_json::Value, Listing)>);

impl ListRequests {
    pub(crate) fn new(requests: Vec<(serde_json::Value, Listing)>) -> Self {
        Self(requests)
    }

    /// What the request with JSON-RPC id `id` lists, if it is a list request.
    pub fn listing(&self, id: &serde_json::Value) -> Option<Listing> {
        self.0
            .iter()
            .find(|(request, _)| request == id)
            .map(|(_, listing)| *listing)
    }

    /// Whether the body had no list request.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Rules by feature name, in a map with a fast hasher: one is consulted per guarded message.
type Rules = HashMap<Box<str>, String, foldhash::fast::RandomState>;

/// The scope each tool, resource and prompt needs, from the configuration
/// ([`ResourceServerConfig::tool_scopes`], [`ResourceServerConfig::resource_scopes`],
/// [`ResourceServerConfig::prompt_scopes`], [`ResourceServerConfig::default_scope`]).
#[derive(Debug)]
pub struct ScopePolicy {
    tools: Rules,
    resources: Rules,
    prompts: Rules,
    default: Option<String>,
    /// Every scope some rule needs, once each: a token holding them all is never refused for
    /// scope, so its request bodies need not be read.
    needed: Vec<String>,
}

impl ScopePolicy {
    pub(crate) fn new(config: &ResourceServerConfig) -> Self {
        let rules = |map: &HashMap<String, String>| -> Rules {
            map.iter()
                .map(|(target, scope)| (target.as_str().into(), scope.clone()))
                .collect()
        };
        let needed: BTreeSet<&String> = config
            .tool_scopes
            .values()
            .chain(config.resource_scopes.values())
            .chain(config.prompt_scopes.values())
            .chain(&config.default_scope)
            .collect();
        Self {
            tools: rules(&config.tool_scopes),
            resources: rules(&config.resource_scopes),
            prompts: rules(&config.prompt_scopes),
            default: config.default_scope.clone(),
            needed: needed.into_iter().cloned().collect(),
        }
    }

    /// The scope `target` (a tool or prompt name, a resource URI or URI template) needs: its
    /// own rule, else the default scope, else none.
    pub fn required(&self, primitive: Primitive, target: &str) -> Option<&str> {
        let rules = match primitive {
            Primitive::Tool => &self.tools,
            Primitive::Resource => &self.resources,
            Primitive::Prompt => &self.prompts,
        };
        rules
            .get(target)
            .or(self.default.as_ref())
            .map(String::as_str)
    }

    /// Whether `token` may use `target`.
    pub fn allows(&self, token: &VerifiedToken, primitive: Primitive, target: &str) -> bool {
        self.required(primitive, target)
            .is_none_or(|scope| token.scopes.contains(scope))
    }

    /// Whether some request of `token` could be refused for scope (or have something hidden
    /// from a list): only then must its body be read.
    pub fn may_refuse(&self, token: &VerifiedToken) -> bool {
        self.needed
            .iter()
            .any(|scope| !token.scopes.contains(scope))
    }
}
