//! The consent page: who asks (the client's name, and the host of its metadata document),
//! where the answer goes, each scope in words, and the resource it is for (MCP Security Best
//! Practices, "Confused Deputy Problem": consent names the resource). Its form carries the
//! request back to `POST /authorize` with the CSRF token.

use askama::Template;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use url::Url;

use crate::engine::ValidatedAuthorization;
use crate::users::SignedIn;
use crate::web::csrf;
use crate::web::pages::{render, with_cookie};

struct ScopeLine {
    name: String,
    description: &'static str,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    client_name: String,
    email: String,
    metadata_host: Option<String>,
    redirect_host: String,
    scopes: Vec<ScopeLine>,
    resource: Option<String>,
    csrf_token: String,
    request: String,
}

fn describe_scope(scope: &str) -> &'static str {
    match scope {
        "mcp:read" => "read your data through the MCP server",
        "mcp:write" => "change your data through the MCP server",
        "openid" => "know who you are (your account identifier)",
        "offline_access" => "keep access while you are away",
        _ => "a permission defined by this server",
    }
}

/// The question to `signed_in` about `request`, for the browser that sent `headers`.
pub(super) fn page(
    headers: &HeaderMap,
    secure_cookies: bool,
    request: &ValidatedAuthorization,
    signed_in: &SignedIn,
) -> Response {
    let (csrf_token, set_cookie) = csrf::for_form(headers, secure_cookies);
    let redirect_host = Url::parse(&request.redirect.uri)
        .ok()
        .map(|url| {
            url.host_str()
                .map_or_else(|| format!("{}:", url.scheme()), str::to_owned)
        })
        .unwrap_or_default();
    let client_id = request.client.id().as_str();
    let metadata_host = request
        .client_is_metadata_document
        .then(|| Url::parse(client_id).ok()?.host_str().map(str::to_owned))
        .flatten();
    let page = ConsentPage {
        client_name: request.client.display_name().to_owned(),
        email: signed_in.user.email.clone(),
        metadata_host,
        redirect_host,
        scopes: request
            .scope
            .iter()
            .map(|scope| ScopeLine {
                name: scope.to_owned(),
                description: describe_scope(scope),
            })
            .collect(),
        resource: Some(request.resource.to_string()),
        csrf_token: csrf_token.as_str().to_owned(),
        request: request.carried().to_owned(),
    };
    with_cookie(render(StatusCode::OK, &page), set_cookie)
}
