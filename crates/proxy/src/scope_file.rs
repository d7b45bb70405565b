//! The proxy's configuration file: the scope rules, for lists too long for flags. TOML:
//!
//! ```toml
//! # Needed by every tool, resource and prompt not named below.
//! default_scope = "mcp:read"
//! # Hide from tools/list, resources/list, resources/templates/list and prompts/list what the
//! # caller's token may not use.
//! hide_unauthorized = true
//!
//! [tools]
//! delete_file = "files:write"
//!
//! [resources]          # by URI (or, for templates, URI template)
//! "file:///etc/hosts" = "files:admin"
//!
//! [prompts]
//! incident_report = "ops:read"
//! ```

use std::collections::BTreeMap;

use mcp_oauth_resource::ResourceServerConfig;
use serde::Deserialize;

/// The scope rules of a configuration file. Unknown keys are refused, so a misspelt section
/// cannot silently leave a tool unguarded.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ScopeRules {
    /// The scope of every tool, resource and prompt without a rule of its own.
    pub default_scope: Option<String>,
    /// Whether to hide from lists what the caller's scopes do not allow.
    pub hide_unauthorized: Option<bool>,
    /// Scopes by tool name.
    #[serde(default)]
    pub tools: BTreeMap<String, String>,
    /// Scopes by resource URI or URI template.
    #[serde(default)]
    pub resources: BTreeMap<String, String>,
    /// Scopes by prompt name.
    #[serde(default)]
    pub prompts: BTreeMap<String, String>,
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid proxy configuration file: {0}")]
pub struct ScopeRulesError(String);

impl ScopeRules {
    /// Reads rules from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ScopeRulesError> {
        toml::from_str(text).map_err(|error| ScopeRulesError(error.to_string()))
    }

    /// `config` with these rules added (a rule here replaces one for the same feature there).
    pub fn apply(&self, mut config: ResourceServerConfig) -> ResourceServerConfig {
        for (tool, scope) in &self.tools {
            config = config.with_tool_scope(tool, scope);
        }
        for (uri, scope) in &self.resources {
            config = config.with_resource_scope(uri, scope);
        }
        for (prompt, scope) in &self.prompts {
            config = config.with_prompt_scope(prompt, scope);
        }
        if let Some(scope) = &self.default_scope {
            config = config.with_default_scope(scope);
        }
        config
    }

    /// Adds `other`'s rules over these (flags over the file).
    pub fn merged_with(mut self, other: ScopeRules) -> Self {
        self.default_scope = other.default_scope.or(self.default_scope);
        self.hide_unauthorized = other.hide_unauthorized.or(self.hide_unauthorized);
        self.tools.extend(other.tools);
        self.resources.extend(other.resources);
        self.prompts.extend(other.prompts);
        self
    }

    /// Every scope a rule names, once each, sorted.
    pub fn scopes(&self) -> Vec<String> {
        let mut scopes: Vec<String> = self
            .tools
            .values()
            .chain(self.resources.values())
            .chain(self.prompts.values())
            .chain(&self.default_scope)
            .cloned()
            .collect();
        scopes.sort_unstable();
        scopes.dedup();
        scopes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
default_scope = "mcp:read"
hide_unauthorized = true

[tools]
delete_file = "files:write"

[resources]
"file:///etc/hosts" = "files:admin"

[prompts]
incident_report = "ops:read"
"#;

    #[test]
    fn reads_the_documented_example_into_the_resource_configuration() {
        let rules = ScopeRules::from_toml(EXAMPLE).unwrap();
        assert_eq!(rules.hide_unauthorized, Some(true));
        assert_eq!(
            rules.scopes(),
            ["files:admin", "files:write", "mcp:read", "ops:read"]
        );
        let config = rules.apply(ResourceServerConfig::new("http://localhost:3001/mcp").unwrap());
        assert_eq!(config.tool_scopes["delete_file"], "files:write");
        assert_eq!(config.resource_scopes["file:///etc/hosts"], "files:admin");
        assert_eq!(config.prompt_scopes["incident_report"], "ops:read");
        assert_eq!(config.default_scope.as_deref(), Some("mcp:read"));
    }

    #[test]
    fn refuses_unknown_keys_and_wrong_types() {
        for text in [
            "[tool]\ndelete_file = \"files:write\"",
            "default_scopes = \"mcp:read\"",
            "[tools]\ndelete_file = 7",
            "hide_unauthorized = \"yes\"",
            "[tools",
        ] {
            assert!(ScopeRules::from_toml(text).is_err(), "{text}");
        }
    }

    #[test]
    fn flags_override_the_file() {
        let file = ScopeRules::from_toml(EXAMPLE).unwrap();
        let flags = ScopeRules {
            default_scope: Some("mcp:basic".to_owned()),
            tools: [("delete_file".to_owned(), "files:admin".to_owned())].into(),
            ..ScopeRules::default()
        };
        let merged = file.merged_with(flags);
        assert_eq!(merged.default_scope.as_deref(), Some("mcp:basic"));
        assert_eq!(merged.hide_unauthorized, Some(true));
        assert_eq!(merged.tools["delete_file"], "files:admin");
        assert_eq!(merged.prompts["incident_report"], "ops:read");
    }
}
