//! The authorization endpoint (RFC 6749 §4.1.1, OAuth 2.1 §4.1): checks the request in a
//! fixed order, sends the person to sign in, asks for consent (remembered per user, client
//! and resource, and naming the resource), and redirects back with a code, `state` and `iss` (RFC 9207).
//!
//! Until the client and its redirect URI are verified, errors are shown on a page; after,
//! they are redirected to the client (RFC 6749 §4.1.2.1).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Router, routing::get};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use mcp_oauth_core::{
    CanonicalResource, OAuthErrorCode, ScopeSet, redirect_uri_matches, validate_code_challenge,
};
use serde::Deserialize;
use url::Url;

use crate::accounts::csrf::{self, CsrfToken};
use crate::accounts::session::{SignedIn, signed_in};
use crate::clients::{RegisteredClient, is_metadata_document_id, resolve_client};
use crate::pages::{error_page, render};
use crate::secrets::{AuthorizationCode, random_id};
use crate::server::{AppState, Inner};
use crate::store::{AuthorizationCodeRecord, ConsentRecord, GrantId, GrantRecord, UnixTime};

pub(crate) fn routes() -> Router<AppState> {
    crate::pages::with_page_headers(Router::new().route("/authorize", get(start).post(decide)))
}

/// A checked authorization request.
struct AuthorizationRequest {
    client: RegisteredClient,
    /// Where the answer goes: the URI the request named, or the client's only one.
    redirect_uri: String,
    /// Whether the request named its redirect URI (then the token request must repeat it).
    redirect_uri_named: bool,
    state: Option<String>,
    scope: ScopeSet,
    resource: CanonicalResource,
    code_challenge: String,
    nonce: Option<String>,
    prompt: Option<String>,
}

/// Why a request is refused.
enum Refusal {
    /// Shown on a page: the client or its redirect URI could not be verified.
    Page { status: StatusCode, message: String },
    /// Sent to the verified redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthErrorCode,
        description: String,
    },
    /// The server failed.
    Internal(String),
}

impl Refusal {
    fn page(message: impl Into<String>) -> Self {
        Self::Page {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn into_response(self, issuer: &str) -> Response {
        match self {
            Self::Page { status, message } => error_page(
                status,
                "This sign-in request cannot be completed",
                &message,
                "invalid_request",
            ),
            Self::Redirect {
                redirect_uri,
                state,
                error,
                description,
            } => redirect_with(
                &redirect_uri,
                &[
                    ("error", error.as_str()),
                    ("error_description", &description),
                    ("iss", issuer),
                ],
                state.as_deref(),
            ),
            Self::Internal(detail) => {
                tracing::error!(%detail, "authorization request failed");
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The server could not complete the request. Try again later.",
                    "server_error",
                )
            }
        }
    }
}

impl From<crate::oauth_error::OAuthError> for Refusal {
    fn from(error: crate::oauth_error::OAuthError) -> Self {
        Self::Internal(format!("{error:?}"))
    }
}

impl From<crate::store::StoreError> for Refusal {
    fn from(error: crate::store::StoreError) -> Self {
        Self::Internal(error.to_string())
    }
}

/// The query parameters, each at most once.
fn parameters(query: &str) -> Result<HashMap<String, String>, Refusal> {
    let mut parameters = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if value.is_empty() {
            continue;
        }
        if parameters
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(Refusal::page(format!(
                "The parameter `{name}` appears more than once."
            )));
        }
    }
    Ok(parameters)
}

/// The checks, in order: client, redirect URI (page errors until here), then response type,
/// PKCE, scope and resource (redirected errors).
async fn check(state: &Inner, query: &str) -> Result<AuthorizationRequest, Refusal> {
    let parameters = parameters(query)?;
    let get = |name: &str| parameters.get(name).map(String::as_str);
    let client_id = get("client_id")
        .ok_or_else(|| Refusal::page("The request names no client (client_id is missing)."))?;
    let client = resolve_client(state, client_id)
        .await
        .map_err(|error| Refusal::page(error.to_string()))?
        .ok_or_else(|| Refusal::page("The application is not registered with this server."))?;
    let registered = client.redirect_uris();
    let redirect_uri = match get("redirect_uri") {
        Some(presented)
            if registered
                .iter()
                .any(|uri| redirect_uri_matches(uri, presented)) =>
        {
            presented.to_owned()
        }
        Some(_) => {
            return Err(Refusal::page(
                "The redirect URI is not registered for this application.",
            ));
        }
        None if registered.len() == 1 => registered[0].to_owned(),
        None => return Err(Refusal::page("The request must name its redirect URI.")),
    };
    let request_state = get("state").map(str::to_owned);
    let refuse = |error: OAuthErrorCode, description: &str| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: request_state.clone(),
        error,
        description: description.to_owned(),
    };
    if get("response_type") != Some("code") {
        return Err(refuse(
            OAuthErrorCode::UnsupportedResponseType,
            "response_type must be code",
        ));
    }
    let code_challenge = get("code_challenge").ok_or_else(|| {
        refuse(
            OAuthErrorCode::InvalidRequest,
            "PKCE is required: code_challenge is missing",
        )
    })?;
    if get("code_challenge_method") != Some("S256") {
        return Err(refuse(
            OAuthErrorCode::InvalidRequest,
            "code_challenge_method must be S256",
        ));
    }
    validate_code_challenge(code_challenge)
        .map_err(|_| refuse(OAuthErrorCode::InvalidRequest, "malformed code_challenge"))?;
    let scope = match get("scope") {
        Some(scope) => ScopeSet::parse(scope),
        None => match client.registered_scope() {
            Some(registered) => registered,
            None => state
                .config
                .default_scopes
                .iter()
                .map(String::as_str)
                .collect(),
        },
    };
    let supported: ScopeSet = state
        .config
        .scopes_supported
        .iter()
        .map(String::as_str)
        .collect();
    let allowed = client.registered_scope().unwrap_or(supported.clone());
    if scope.is_empty() || !supported.contains_all(&scope) || !allowed.contains_all(&scope) {
        return Err(refuse(
            OAuthErrorCode::InvalidScope,
            "a requested scope is unknown or not allowed for this application",
        ));
    }
    let resource = match get("resource") {
        Some(asked) => state
            .config
            .resources
            .iter()
            .find(|served| served.matches(asked))
            .cloned()
            .ok_or_else(|| {
                refuse(
                    OAuthErrorCode::InvalidTarget,
                    "this server does not issue tokens for that resource",
                )
            })?,
        None => state.config.resources[0].clone(),
    };
    Ok(AuthorizationRequest {
        client,
        redirect_uri_named: get("redirect_uri").is_some(),
        redirect_uri,
        state: request_state,
        scope,
        resource,
        code_challenge: code_challenge.to_owned(),
        nonce: get("nonce").map(str::to_owned),
        prompt: get("prompt").map(str::to_owned),
    })
}

/// `GET /authorize`.
async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let request = match check(&state, &query).await {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(&state.config.issuer),
    };
    let prompt_none = request.prompt.as_deref() == Some("none");
    let Some(user) = signed_in(&state, &headers).await else {
        if prompt_none {
            return refuse_redirect(
                &state,
                &request,
                OAuthErrorCode::Extension("login_required".into()),
                "the user is not signed in",
            );
        }
        let return_to = format!("/authorize?{query}");
        let login = format!(
            "/login?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", &return_to)
                .finish()
        );
        return Redirect::to(&login).into_response();
    };
    let remembered = match state
        .store
        .get_consent(&user.user.user_id, request.client.id(), &request.resource)
        .await
    {
        Ok(consent) => consent.is_some_and(|consent| consent.scope.contains_all(&request.scope)),
        Err(error) => return Refusal::from(error).into_response(&state.config.issuer),
    };
    if remembered && request.prompt.as_deref() != Some("consent") {
        return grant_code(&state, &request, &user).await;
    }
    if prompt_none {
        return refuse_redirect(
            &state,
            &request,
            OAuthErrorCode::Extension("consent_required".into()),
            "consent is required",
        );
    }
    consent_page(&state, &headers, &request, &user, &query)
}

/// The consent form's fields. Every field defaults to empty, so a form without a token
/// reaches the CSRF check (and gets 403) instead of a parse error.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Decision {
    csrf_token: String,
    request: String,
    decision: String,
}

/// `POST /authorize`: the person's answer on the consent page. The request is checked again
/// from scratch: nothing in the form is trusted.
async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(decision): Form<Decision>,
) -> Response {
    if !csrf::verify(&headers, &decision.csrf_token) {
        return csrf::rejected();
    }
    let request = match check(&state, &decision.request).await {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(&state.config.issuer),
    };
    let Some(user) = signed_in(&state, &headers).await else {
        return error_page(
            StatusCode::UNAUTHORIZED,
            "You are signed out",
            "Your session ended. Go back to the application and start again.",
            "login_required",
        );
    };
    if decision.decision != "allow" {
        return refuse_redirect(
            &state,
            &request,
            OAuthErrorCode::AccessDenied,
            "the user denied access",
        );
    }
    let consent = ConsentRecord {
        user_id: user.user.user_id.clone(),
        client_id: request.client.id().clone(),
        resource: request.resource.clone(),
        scope: request.scope.clone(),
        granted_at: state.now(),
    };
    if let Err(error) = state.store.upsert_consent(&consent).await {
        return Refusal::from(error).into_response(&state.config.issuer);
    }
    grant_code(&state, &request, &user).await
}

fn refuse_redirect(
    state: &Inner,
    request: &AuthorizationRequest,
    error: OAuthErrorCode,
    description: &str,
) -> Response {
    Refusal::Redirect {
        redirect_uri: request.redirect_uri.clone(),
        state: request.state.clone(),
        error,
        description: description.to_owned(),
    }
    .into_response(&state.config.issuer)
}

/// Stores a grant with a fresh code and redirects to the client with it.
async fn grant_code(state: &Inner, request: &AuthorizationRequest, user: &SignedIn) -> Response {
    let now = state.now();
    let code = AuthorizationCode::generate();
    let grant = GrantRecord {
        grant_id: GrantId(random_id()),
        client_id: request.client.id().clone(),
        user_id: user.user.user_id.clone(),
        scope: request.scope.clone(),
        resource: Some(request.resource.clone()),
        created_at: now,
        revoked_at: None,
    };
    let record = AuthorizationCodeRecord {
        code_hash: code.hash(),
        grant_id: grant.grant_id.clone(),
        client_id: grant.client_id.clone(),
        user_id: grant.user_id.clone(),
        redirect_uri: request
            .redirect_uri_named
            .then(|| request.redirect_uri.clone()),
        scope: grant.scope.clone(),
        resource: grant.resource.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        auth_time: user.auth_time,
        expires_at: now + state.config.code_ttl.as_secs() as UnixTime,
    };
    if let Err(error) = state.store.insert_grant_with_code(&grant, &record).await {
        return Refusal::from(error).into_response(&state.config.issuer);
    }
    redirect_with(
        &request.redirect_uri,
        &[("code", code.expose()), ("iss", &state.config.issuer)],
        request.state.as_deref(),
    )
}

/// A 303 to `redirect_uri` with `parameters` (and `state`) added to its query.
fn redirect_with(redirect_uri: &str, parameters: &[(&str, &str)], state: Option<&str>) -> Response {
    let Some(url) = redirect_url(redirect_uri, parameters, state) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid redirect URI",
            "The application's redirect URI is malformed.",
            "invalid_request",
        );
    };
    let mut response = Redirect::to(url.as_str()).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `redirect_uri` with `parameters` (and `state`) added to its query; `None` if it is malformed.
fn redirect_url(
    redirect_uri: &str,
    parameters: &[(&str, &str)],
    state: Option<&str>,
) -> Option<Url> {
    let mut url = Url::parse(redirect_uri).ok()?;
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in parameters {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    Some(url)
}

/// Where to send `error` for the authorization request `return_to` (`/authorize?…`, as the
/// sign-in pages carry it): its verified redirect URI with `error`, `error_description`, `iss`
/// and `state` (RFC 6749 §4.1.2.1, RFC 9207). `None` when its client or redirect URI cannot be
/// verified: then only a page may answer.
pub(crate) async fn error_redirect_url(
    state: &Inner,
    return_to: &str,
    error: &OAuthErrorCode,
    description: &str,
) -> Option<Url> {
    let query = return_to.strip_prefix("/authorize?")?;
    let (redirect_uri, request_state) = match check(state, query).await {
        Ok(request) => (request.redirect_uri, request.state),
        Err(Refusal::Redirect {
            redirect_uri,
            state,
            ..
        }) => (redirect_uri, state),
        Err(_) => return None,
    };
    redirect_url(
        &redirect_uri,
        &[
            ("error", error.as_str()),
            ("error_description", description),
            ("iss", &state.config.issuer),
        ],
        request_state.as_deref(),
    )
}

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

fn consent_page(
    state: &Inner,
    headers: &HeaderMap,
    request: &AuthorizationRequest,
    user: &SignedIn,
    query: &str,
) -> Response {
    let (csrf_token, set_cookie): (CsrfToken, Option<HeaderValue>) =
        csrf::for_form(headers, state.config.secure_cookies());
    let redirect_host = Url::parse(&request.redirect_uri)
        .ok()
        .map(|url| {
            url.host_str()
                .map_or_else(|| format!("{}:", url.scheme()), str::to_owned)
        })
        .unwrap_or_default();
    let metadata_host = is_metadata_document_id(&state.config, request.client.id().as_str())
        .then(|| {
            Url::parse(request.client.id().as_str())
                .ok()?
                .host_str()
                .map(str::to_owned)
        })
        .flatten();
    let page = ConsentPage {
        client_name: request.client.display_name().to_owned(),
        email: user.user.email.clone(),
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
        request: query.to_owned(),
    };
    let mut response = render(StatusCode::OK, &page);
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}
