//! Well-known metadata URLs, in the order the MCP authorization specification prescribes.

use url::Url;

use crate::CanonicalResource;

const PROTECTED_RESOURCE: &str = "/.well-known/oauth-protected-resource";
const AUTHORIZATION_SERVER: &str = "/.well-known/oauth-authorization-server";
const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";

/// The Protected Resource Metadata URLs of `resource` (RFC 9728 §3.1): the path-inserted URL
/// first (when the resource has a path), then the root URL.
pub fn protected_resource_metadata_urls(resource: &CanonicalResource) -> Vec<String> {
    let origin = resource.origin();
    let path = resource.path();
    let mut urls = Vec::with_capacity(2);
    if !path.is_empty() {
        urls.push(format!("{origin}{PROTECTED_RESOURCE}{path}"));
    }
    urls.push(format!("{origin}{PROTECTED_RESOURCE}"));
    urls
}

/// The metadata URLs to try for `issuer`, in the MCP specification's order: RFC 8414
/// path-inserted, OIDC Discovery path-inserted, OIDC Discovery path-appended for an issuer with
/// a path; RFC 8414 then OIDC Discovery for an issuer without one.
pub fn authorization_server_metadata_urls(issuer: &Url) -> Vec<String> {
    let origin = issuer.origin().ascii_serialization();
    let path = issuer.path().trim_end_matches('/');
    if path.is_empty() {
        vec![
            format!("{origin}{AUTHORIZATION_SERVER}"),
            format!("{origin}{OPENID_CONFIGURATION}"),
        ]
    } else {
        vec![
            format!("{origin}{AUTHORIZATION_SERVER}{path}"),
            format!("{origin}{OPENID_CONFIGURATION}{path}"),
            format!("{origin}{path}{OPENID_CONFIGURATION}"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_resource_urls_put_the_path_inserted_one_first() {
        let resource = CanonicalResource::parse("https://example.com/public/mcp").unwrap();
        assert_eq!(
            protected_resource_metadata_urls(&resource),
            [
                "https://example.com/.well-known/oauth-protected-resource/public/mcp",
                "https://example.com/.well-known/oauth-protected-resource",
            ]
        );
        let root = CanonicalResource::parse("https://example.com/").unwrap();
        assert_eq!(
            protected_resource_metadata_urls(&root),
            ["https://example.com/.well-known/oauth-protected-resource"]
        );
    }

    #[test]
    fn issuer_with_path_tries_three_urls_in_spec_order() {
        let issuer = Url::parse("https://auth.example.com/tenant1").unwrap();
        assert_eq!(
            authorization_server_metadata_urls(&issuer),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration",
            ]
        );
    }

    #[test]
    fn issuer_without_path_tries_two_urls() {
        let issuer = Url::parse("https://auth.example.com").unwrap();
        assert_eq!(
            authorization_server_metadata_urls(&issuer),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server",
                "https://auth.example.com/.well-known/openid-configuration",
            ]
        );
    }
}
