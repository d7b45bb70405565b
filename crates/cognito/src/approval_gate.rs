//! The gateway's own `/authorize`, in front of Cognito's, when registration approval is on
//! (issue 16). The façade then names it as the `authorization_endpoint`. It reads the client's
//! registration on every request (so an approval counts at once on every gateway): a client
//! waiting for approval or suspended gets a page saying so, never a redirect to its
//! (unverified) redirect URI; every other request goes on to Cognito's
//! `/oauth2/authorize` with the same query, where Cognito checks it as before.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};
use mcp_oauth_core::ClientStatus;

use crate::registry::Registry;

/// The gate for one user pool.
#[derive(Clone)]
pub(crate) struct ApprovalGate {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Arc<dyn Registry>,
    /// Cognito's `/oauth2/authorize`.
    cognito_authorize: String,
    /// The gateway's public URL, which the page names as the server waiting to approve.
    issuer: String,
}

#[derive(Template)]
#[template(path = "awaiting_approval.html")]
struct Page<'a> {
    heading: &'a str,
    message: &'a str,
}

impl ApprovalGate {
    /// The gate in front of `cognito_authorize`, reading `registry`.
    pub(crate) fn new(
        registry: Arc<dyn Registry>,
        cognito_authorize: String,
        issuer: String,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry,
                cognito_authorize,
                issuer,
            }),
        }
    }

    /// `GET <path>` (the path of the gateway's `/authorize`).
    pub(crate) fn router<S: Clone + Send + Sync + 'static>(&self, path: &str) -> Router<S> {
        Router::new()
            .route(path, get(authorize))
            .with_state(Arc::clone(&self.inner))
    }
}

/// `GET /authorize`: a page for a client that may not sign in yet, else on to Cognito.
async fn authorize(State(gate): State<Arc<Inner>>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let client_id = url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "client_id")
        .map(|(_, value)| value.into_owned());
    if let Some(client_id) = client_id {
        match gate.registry.get(&client_id).await {
            Ok(Some(registration)) if registration.status != ClientStatus::Active => {
                let name = registration.metadata["client_name"]
                    .as_str()
                    .unwrap_or("This application");
                let (heading, message) = match registration.status {
                    ClientStatus::Suspended => (
                        format!("{name} is suspended"),
                        format!(
                            "The operator of {} has suspended this application. It cannot sign you in.",
                            gate.issuer
                        ),
                    ),
                    _ => (
                        format!("{name} is waiting for approval"),
                        format!(
                            "The operator of {} has not approved this application yet. Try again once they have.",
                            gate.issuer
                        ),
                    ),
                };
                return page(StatusCode::FORBIDDEN, &heading, &message);
            }
            Ok(_) => {}
            Err(error) => {
                tracing::error!(%error, "cannot read the client registry at /authorize");
                return page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Sign-in is unavailable",
                    "The server cannot check this application right now. Try again in a minute.",
                );
            }
        }
    }
    let target = if query.is_empty() {
        gate.cognito_authorize.clone()
    } else {
        format!("{}?{query}", gate.cognito_authorize)
    };
    match HeaderValue::try_from(target) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(_) => page(
            StatusCode::BAD_REQUEST,
            "This sign-in link is broken",
            "The application sent a request this server cannot pass on. Go back to the application and try again.",
        ),
    }
}

fn page(status: StatusCode, heading: &str, message: &str) -> Response {
    let body = Page { heading, message }.render().unwrap_or_else(|error| {
        tracing::error!(%error, "cannot render the approval page");
        heading.to_owned()
    });
    let mut response = (status, Html(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
