//! The page named by PRM `resource_documentation`.

use askama::Template;
use axum::response::Html;
use mcp_oauth_core::protected_resource_metadata_urls;
use mcp_oauth_resource::ResourceServer;

use crate::DemoScopes;

#[derive(Template)]
#[template(path = "docs.html")]
struct DocsPage<'a> {
    name: &'a str,
    resource: &'a str,
    metadata_urls: Vec<String>,
    issuers: Vec<&'a str>,
    read_scope: &'a str,
    write_scope: &'a str,
}

/// Renders the documentation page once; it only changes with the configuration.
pub(crate) fn render(resource_server: &ResourceServer, scopes: &DemoScopes) -> Html<String> {
    let config = resource_server.config();
    let page = DocsPage {
        name: config.resource_name.as_deref().unwrap_or("MCP server"),
        resource: config.resource.as_str(),
        metadata_urls: protected_resource_metadata_urls(&config.resource),
        issuers: config
            .issuers
            .iter()
            .map(|issuer| issuer.issuer.as_str())
            .collect(),
        read_scope: &scopes.read,
        write_scope: &scopes.write,
    };
    Html(page.render().unwrap_or_else(|error| {
        tracing::error!(%error, "cannot render the documentation page");
        String::from("documentation unavailable")
    }))
}
