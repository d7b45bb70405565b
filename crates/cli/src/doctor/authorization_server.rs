//! Step 3 of `mcp-oauth doctor`: each authorization server the metadata lists, as a client
//! checks it: its metadata at the RFC 8414 and OpenID Connect Discovery URLs in the MCP
//! specification's order, `issuer` identical to the identifier (RFC 8414 §3.3), PKCE `S256`,
//! the endpoints, a way to register (RFC 7591 or Client ID Metadata Documents), its JWKS, and
//! optionally a real registration.

use mcp_oauth_core::{AuthorizationServerMetadata, authorization_server_metadata_urls};
use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

use super::http::{Http, excerpt};
use super::report::{Problem, Report, Step};

/// An authorization server whose metadata was found.
pub struct AuthorizationServer {
    /// The issuer identifier the resource metadata lists.
    pub issuer: String,
    /// Where its metadata was found.
    pub metadata_url: String,
    /// The metadata.
    pub metadata: AuthorizationServerMetadata,
}

/// Checks the authorization server `issuer`; returns it when its metadata was found.
pub async fn check(
    http: &Http,
    issuer: &str,
    try_registration: bool,
    report: &mut Report,
) -> Option<AuthorizationServer> {
    let server = metadata(http, issuer, report).await?;
    let title = |what: &str| format!("{what} of {issuer}");
    let metadata = &server.metadata;
    if metadata.issuer == issuer {
        report.push(Step::pass(
            "issuer",
            title("issuer"),
            "the metadata's issuer is identical to the identifier",
        ));
    } else {
        report.push(
            Step::fail(
                "issuer",
                title("issuer"),
                format!(
                    "the metadata at {} says issuer `{}`, but the resource metadata lists `{issuer}`: \
                     clients must not use it (RFC 8414 §3.3), and tokens carry the metadata's \
                     `iss`, which the MCP server would not trust",
                    server.metadata_url, metadata.issuer
                ),
            )
            .fix(
                "list the issuer exactly as the authorization server names itself (scheme, \
                 host, port, path, no trailing slash) in `authorization_servers` and in the MCP \
                 server's trusted issuers (`--issuer`), or fix the server's issuer setting",
            )
            .problem(Problem::TokenValidation),
        );
    }
    if metadata
        .code_challenge_methods_supported
        .iter()
        .any(|method| method == "S256")
    {
        report.push(Step::pass(
            "pkce",
            title("PKCE"),
            "code_challenge_methods_supported includes S256",
        ));
    } else {
        report.push(
            Step::fail(
                "pkce",
                title("PKCE"),
                if metadata.code_challenge_methods_supported.is_empty() {
                    "no code_challenge_methods_supported: MCP clients refuse to go on without \
                     S256"
                        .to_owned()
                } else {
                    format!(
                        "code_challenge_methods_supported is {:?}: MCP clients refuse to go on \
                         without S256",
                        metadata.code_challenge_methods_supported
                    )
                },
            )
            .fix(
                "publish `code_challenge_methods_supported: [\"S256\"]` (Amazon Cognito does \
                 not: put `mcp-oauth gateway` in front of it, whose metadata does)",
            ),
        );
    }
    let missing: Vec<&str> = [
        ("authorization_endpoint", &metadata.authorization_endpoint),
        ("token_endpoint", &metadata.token_endpoint),
    ]
    .into_iter()
    .filter(|(_, value)| value.is_none())
    .map(|(name, _)| name)
    .collect();
    if missing.is_empty() {
        report.push(Step::pass(
            "endpoints",
            title("endpoints"),
            "authorization_endpoint and token_endpoint are present",
        ));
    } else {
        report.push(
            Step::fail(
                "endpoints",
                title("endpoints"),
                format!("missing {}", missing.join(" and ")),
            )
            .fix("publish both endpoints in the metadata (RFC 8414 §2)"),
        );
    }
    registration_support(metadata, &title("registration"), report);
    jwks(http, metadata, &title("JWKS"), report).await;
    if try_registration {
        register(http, metadata, &title("trial registration"), report).await;
    } else if metadata.registration_endpoint.is_some() {
        report.push(Step::skip(
            "registration",
            title("trial registration"),
            "not tried: --try-registration registers a throwaway client (and deletes it when \
             the server allows)",
        ));
    }
    Some(server)
}

/// The metadata from the first well-known URL that serves it, in the specification's order.
async fn metadata(http: &Http, issuer: &str, report: &mut Report) -> Option<AuthorizationServer> {
    let title = format!("authorization server metadata of {issuer}");
    let Some(parsed) = Url::parse(issuer)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
    else {
        report.push(
            Step::fail(
                "authorization-server-metadata",
                title,
                format!("`{issuer}` is not an http(s) URL"),
            )
            .fix("list issuer URLs in `authorization_servers`")
            .problem(Problem::TokenValidation),
        );
        return None;
    };
    let mut tried = Vec::new();
    for url in authorization_server_metadata_urls(&parsed) {
        let answer = match http.get(&url).await {
            Ok(answer) if answer.status.is_success() => answer,
            Ok(answer) => {
                tried.push(format!("{url} → {}", answer.describe()));
                continue;
            }
            Err(reason) => {
                tried.push(format!("{url} → {reason}"));
                continue;
            }
        };
        let parsed = answer.json_object().and_then(|object| {
            serde_json::from_value::<AuthorizationServerMetadata>(object)
                .map_err(|error| format!("not authorization server metadata: {error}"))
        });
        match parsed {
            Ok(metadata) => {
                let earlier = if tried.is_empty() {
                    String::new()
                } else {
                    format!(" (after {})", tried.join("; "))
                };
                report.push(Step::pass(
                    "authorization-server-metadata",
                    title,
                    format!("found at {url}{earlier}"),
                ));
                return Some(AuthorizationServer {
                    issuer: issuer.to_owned(),
                    metadata_url: url,
                    metadata,
                });
            }
            Err(reason) => tried.push(format!("{url} → {reason}")),
        }
    }
    report.push(
        Step::fail(
            "authorization-server-metadata",
            title,
            format!("no metadata found: {}", tried.join("; ")),
        )
        .fix(
            "serve RFC 8414 or OpenID Connect Discovery metadata at the issuer's well-known URL, \
             and list the issuer exactly (a wrong path or trailing slash changes the URL)",
        )
        .problem(Problem::TokenValidation),
    );
    None
}

fn registration_support(metadata: &AuthorizationServerMetadata, title: &str, report: &mut Report) {
    let cimd = metadata.other.get("client_id_metadata_document_supported") == Some(&json!(true));
    let step = match (&metadata.registration_endpoint, cimd) {
        (Some(endpoint), true) => Step::pass(
            "registration-support",
            title,
            format!("Dynamic Client Registration at {endpoint}, and Client ID Metadata Documents"),
        ),
        (Some(endpoint), false) => Step::pass(
            "registration-support",
            title,
            format!("Dynamic Client Registration at {endpoint}"),
        ),
        (None, true) => Step::pass(
            "registration-support",
            title,
            "Client ID Metadata Documents (no registration endpoint)",
        ),
        (None, false) => Step::fail(
            "registration-support",
            title,
            "no registration_endpoint and no client_id_metadata_document_supported: only \
             clients registered beforehand can sign in",
        )
        .fix(
            "enable Dynamic Client Registration (RFC 7591) or Client ID Metadata Documents; \
             with Amazon Cognito, `mcp-oauth gateway` adds a registration endpoint",
        )
        .problem(Problem::Registration),
    };
    report.push(step);
}

/// The JWKS must be reachable and hold at least one key a resource server can verify with.
async fn jwks(
    http: &Http,
    metadata: &AuthorizationServerMetadata,
    title: &str,
    report: &mut Report,
) {
    let Some(uri) = &metadata.jwks_uri else {
        report.push(
            Step::warn(
                "jwks",
                title,
                "no jwks_uri: resource servers cannot verify JWT access tokens locally",
            )
            .fix("publish jwks_uri, or make sure the MCP server uses token introspection")
            .problem(Problem::TokenValidation),
        );
        return;
    };
    let fail = |detail: String| {
        Step::fail("jwks", title, detail)
            .fix("serve the signing keys at jwks_uri as a JSON Web Key Set (RFC 7517 §5), reachable from the MCP server")
            .problem(Problem::TokenValidation)
    };
    let answer = match http.get(uri).await {
        Ok(answer) if answer.status.is_success() => answer,
        Ok(answer) => {
            report.push(fail(format!(
                "{uri}: {}: {}",
                answer.describe(),
                excerpt(&answer.body)
            )));
            return;
        }
        Err(reason) => {
            report.push(fail(reason));
            return;
        }
    };
    let keys = match answer.json_object() {
        Ok(object) => object.get("keys").and_then(Value::as_array).cloned(),
        Err(reason) => {
            report.push(fail(format!("{uri}: {reason}")));
            return;
        }
    };
    let Some(keys) = keys else {
        report.push(fail(format!("{uri} has no `keys` array")));
        return;
    };
    let usable = keys.iter().filter(|key| usable_signing_key(key)).count();
    if usable == 0 {
        report.push(fail(format!(
            "{uri} holds {} keys, none usable to verify signatures (RSA with n and e, EC with \
             crv, x and y, or OKP, not marked use=enc)",
            keys.len()
        )));
    } else {
        report.push(Step::pass(
            "jwks",
            title,
            format!("{uri}: {usable} signing key(s) of {}", keys.len()),
        ));
    }
}

/// Whether a JWK can verify signatures (RFC 7517 §4, RFC 7518 §6).
fn usable_signing_key(key: &Value) -> bool {
    let has = |name: &str| key.get(name).and_then(Value::as_str).is_some();
    if key.get("use").and_then(Value::as_str) == Some("enc") {
        return false;
    }
    match key.get("kty").and_then(Value::as_str) {
        Some("RSA") => has("n") && has("e"),
        Some("EC") => has("crv") && has("x") && has("y"),
        Some("OKP") => has("crv") && has("x"),
        _ => false,
    }
}

/// `--try-registration`: registers a throwaway public client as an MCP client would, then
/// deletes it when the answer allows (RFC 7592).
async fn register(
    http: &Http,
    metadata: &AuthorizationServerMetadata,
    title: &str,
    report: &mut Report,
) {
    let Some(endpoint) = &metadata.registration_endpoint else {
        report.push(Step::skip(
            "registration",
            title,
            "no registration endpoint to try",
        ));
        return;
    };
    let request = json!({
        "client_name": "mcp-oauth doctor (throwaway)",
        "redirect_uris": ["http://127.0.0.1:8976/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "application_type": "native",
    });
    let fail = |detail: String| {
        Step::fail("registration", title, detail)
            .fix(
                "make the registration policy accept a public native client with a loopback \
                 redirect URI (what MCP clients register); an initial access token, a rate \
                 limit or an approval step each refuse it with their own error",
            )
            .problem(Problem::Registration)
    };
    let answer = match http
        .send(http.request(Method::POST, endpoint).json(&request))
        .await
    {
        Ok(answer) => answer,
        Err(reason) => {
            report.push(fail(reason));
            return;
        }
    };
    if !answer.status.is_success() {
        let error = answer
            .json_object()
            .ok()
            .map(|body| {
                let text = |name: &str| {
                    body.get(name)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                format!("{} {}", text("error"), text("error_description"))
            })
            .unwrap_or_else(|| excerpt(&answer.body));
        report.push(fail(format!("{}: {}", answer.describe(), error.trim())));
        return;
    }
    let body = answer.json_object().unwrap_or_default();
    let Some(client_id) = body.get("client_id").and_then(Value::as_str) else {
        report.push(fail(format!(
            "{} without a client_id in the answer",
            answer.describe()
        )));
        return;
    };
    let deleted = match (
        body.get("registration_client_uri").and_then(Value::as_str),
        body.get("registration_access_token")
            .and_then(Value::as_str),
    ) {
        (Some(uri), Some(token)) => http
            .send(http.request(Method::DELETE, uri).bearer_auth(token))
            .await
            .is_ok_and(|answer| answer.status.is_success()),
        _ => false,
    };
    let what = if deleted {
        "deleted again (RFC 7592)".to_owned()
    } else {
        format!("it stays registered: remove client {client_id} with the server's admin tools")
    };
    report.push(Step::pass(
        "registration",
        title,
        format!("created a throwaway client {client_id}; {what}"),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_signing_keys_are_usable() {
        for (key, usable) in [
            (json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}), true),
            (json!({"kty": "RSA", "n": "AQAB"}), false),
            (
                json!({"kty": "RSA", "n": "AQAB", "e": "AQAB", "use": "enc"}),
                false,
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}),
                true,
            ),
            (json!({"kty": "OKP", "crv": "Ed25519", "x": "a"}), true),
            (json!({"kty": "oct", "k": "secret"}), false),
            (json!("not a key"), false),
        ] {
            assert_eq!(usable_signing_key(&key), usable, "{key}");
        }
    }
}
