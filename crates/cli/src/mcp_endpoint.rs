//! The flags of the protected MCP endpoint that `mcp-server`, `proxy` and `gateway` share: its public
//! URL and the `Host` and `Origin` values it accepts, and the resource-server configuration
//! they make.

use anyhow::{Context, bail};
use clap::Args;
use mcp_oauth_demo::DemoScopes;
use mcp_oauth_resource::ResourceServerConfig;

use crate::runtime::HEALTH_PATHS;

/// Where the MCP endpoint is and which requests reach it (flattened into both commands).
#[derive(Args, Debug)]
pub struct McpEndpointArgs {
    /// Public URL of the MCP endpoint: the resource identifier in metadata and the audience
    /// tokens must name. A public deployment sets its own (its host is then allowed too).
    #[arg(
        long,
        env = "MCP_SERVER_URL",
        default_value = "http://localhost:3001/mcp"
    )]
    pub url: String,

    /// `Host` values the MCP endpoint accepts (DNS-rebinding protection; comma-separated in
    /// the environment). The host of --url is always accepted.
    #[arg(
        long = "allowed-host",
        env = "MCP_ALLOWED_HOSTS",
        value_delimiter = ',',
        default_value = "localhost,127.0.0.1,[::1]"
    )]
    allowed_hosts: Vec<String>,

    /// Browser origins allowed to call the MCP endpoint (`scheme://host[:port]`, or
    /// `scheme://host:*` for any port). Requests with any other `Origin` get 403.
    #[arg(
        long = "allowed-origin",
        env = "MCP_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    allowed_origins: Vec<String>,
}

impl McpEndpointArgs {
    /// The demo MCP server's configuration at --url, named `name`, with `scopes` as the
    /// tools' scopes, the accepted hosts and origins, and its docs page at `<origin>/docs`
    /// (RFC 9728 `resource_documentation`). The caller adds the issuers and the scopes
    /// supported.
    pub fn resource_config(
        &self,
        name: &str,
        scopes: &DemoScopes,
    ) -> anyhow::Result<ResourceServerConfig> {
        let config = self
            .endpoint_config(name)?
            .with_tool_scope("list_contexts", &scopes.read)
            .with_tool_scope("create_context", &scopes.write);
        let docs = format!("{}/docs", config.resource.origin());
        Ok(config.with_resource_documentation(docs))
    }

    /// The configuration of any MCP endpoint at --url named `name`, with the accepted hosts
    /// and origins; the caller adds issuers and scopes.
    pub fn endpoint_config(&self, name: &str) -> anyhow::Result<ResourceServerConfig> {
        let config = ResourceServerConfig::new(&self.url).context("--url")?;
        if HEALTH_PATHS.contains(&config.resource.path()) {
            bail!(
                "--url {}: {} is the health check's path on every server; give the MCP \
                 endpoint another path",
                self.url,
                config.resource.path()
            );
        }
        Ok(config
            .with_resource_name(name)
            .with_allowed_hosts(&self.allowed_hosts)
            .with_allowed_origins(&self.allowed_origins))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        endpoint: McpEndpointArgs,
    }

    fn config(flags: &[&str]) -> ResourceServerConfig {
        Wrapper::try_parse_from(std::iter::once("endpoint").chain(flags.iter().copied()))
            .unwrap()
            .endpoint
            .resource_config("demo", &DemoScopes::default())
            .unwrap()
    }

    #[test]
    fn defaults_accept_loopback_hosts_and_no_browser_origin() {
        let config = config(&[]);
        assert_eq!(config.allowed_hosts, ["localhost", "127.0.0.1", "[::1]"]);
        assert!(config.allowed_origins.is_empty());
        assert_eq!(config.resource_name.as_deref(), Some("demo"));
    }

    #[test]
    fn a_public_url_gets_its_docs_page_and_the_given_hosts_and_origins() {
        let config = config(&[
            "--url",
            "https://mcp.example.com/mcp",
            "--allowed-host",
            "mcp.internal",
            "--allowed-origin",
            "https://app.example.com",
        ]);
        assert_eq!(config.resource.as_str(), "https://mcp.example.com/mcp");
        assert_eq!(
            config.resource_documentation.as_deref(),
            Some("https://mcp.example.com/docs")
        );
        assert_eq!(config.allowed_hosts, ["mcp.internal"]);
        assert_eq!(config.allowed_origins, ["https://app.example.com"]);
    }

    #[test]
    fn refuses_an_endpoint_at_a_health_check_path() {
        for path in HEALTH_PATHS {
            let url = format!("http://localhost:3001{path}");
            let endpoint = Wrapper::try_parse_from(["endpoint", "--url", &url])
                .unwrap()
                .endpoint;
            let error = endpoint.endpoint_config("demo").unwrap_err().to_string();
            assert!(error.contains("health check"), "{error}");
        }
    }

    #[test]
    fn rejects_a_url_that_is_not_a_resource_identifier() {
        let endpoint = Wrapper::try_parse_from(["endpoint", "--url", "not a url"])
            .unwrap()
            .endpoint;
        assert!(
            endpoint
                .resource_config("demo", &DemoScopes::default())
                .is_err()
        );
    }
}
