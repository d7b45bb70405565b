//! `GET` and `POST /authorize` (RFC 6749 §4.1.1): the query (or the consent form) and the
//! browser's session in, the [`Authorizer`]'s answer out: a redirect to sign in, the consent
//! page ([`consent`]), or the client's redirect URI with a code or an error
//! (RFC 6749 §4.1.2, RFC 9207); errors it may not redirect are shown on a page.

use axum::extract::{FromRef, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Router, routing::get};
use http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use url::Url;

use super::consent;
use crate::engine::{AuthorizeError, AuthorizeRequest, Authorizer, Next};
use crate::web::pages::{awaiting_approval_page, error_page, with_page_headers};
use crate::web::session::Sessions;
use crate::web::{client_ip, csrf};

/// The authorization endpoint's routes.
pub(super) fn routes<S>() -> Router<S>
where
    Authorizer: FromRef<S>,
    Sessions: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    with_page_headers(Router::new().route("/authorize", get(start).post(decide)))
}

/// `GET /authorize`: validated once, then sign-in, consent, or the answer.
async fn start(
    State(authorizer): State<Authorizer>,
    State(sessions): State<Sessions>,
    extensions: Extensions,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let next = async {
        let request = AuthorizeRequest::from_query(query.as_deref().unwrap_or_default())?;
        let request = authorizer.validate(request).await?;
        let signed_in = sessions.signed_in(&headers).await;
        let address = client_ip(&extensions);
        authorizer.next(request, signed_in.as_ref(), address).await
    }
    .await;
    match next {
        Ok(Next::SignIn { return_to }) => {
            let login = format!(
                "/login?{}",
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("return_to", &return_to)
                    .finish()
            );
            Redirect::to(&login).into_response()
        }
        Ok(Next::AskConsent(request, signed_in)) => {
            consent::page(&headers, sessions.secure_cookies(), &request, &signed_in)
        }
        Ok(Next::Redirect(url)) => redirect(&url),
        Err(error) => refusal(&authorizer, error),
    }
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

/// `POST /authorize`: the person's answer on the consent page. The CSRF token first; the
/// request the form carries is validated again, from scratch.
async fn decide(
    State(authorizer): State<Authorizer>,
    State(sessions): State<Sessions>,
    extensions: Extensions,
    headers: HeaderMap,
    Form(decision): Form<Decision>,
) -> Response {
    if !csrf::verify(&headers, &decision.csrf_token) {
        return csrf::rejected();
    }
    let answer = async {
        let request = authorizer
            .validate(AuthorizeRequest::from_query(&decision.request)?)
            .await?;
        let signed_in = sessions.signed_in(&headers).await;
        let allow = decision.decision == "allow";
        let address = client_ip(&extensions);
        authorizer
            .decide(request, signed_in.as_ref(), allow, address)
            .await
    }
    .await;
    match answer {
        Ok(url) => redirect(&url),
        Err(error) => refusal(&authorizer, error),
    }
}

/// A 303 to the client's redirect URI, never cached.
fn redirect(url: &Url) -> Response {
    let mut response = Redirect::to(url.as_str()).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What the browser sees of an [`AuthorizeError`].
fn refusal(authorizer: &Authorizer, error: AuthorizeError) -> Response {
    let malformed_redirect_uri = || {
        error_page(
            StatusCode::BAD_REQUEST,
            "Invalid redirect URI",
            "The application's redirect URI is malformed.",
            "invalid_request",
        )
    };
    match error {
        AuthorizeError::Unverified(message) => error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in request cannot be completed",
            &message,
            "invalid_request",
        ),
        AuthorizeError::InvalidDocument(message) => error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in request cannot be completed",
            &message,
            "invalid_client_metadata",
        ),
        AuthorizeError::AwaitingApproval { name } => {
            awaiting_approval_page(&name, authorizer.issuer())
        }
        AuthorizeError::Redirected(refused) => match refused.url(authorizer.issuer()) {
            Some(url) => redirect(&url),
            None => malformed_redirect_uri(),
        },
        AuthorizeError::MalformedRedirectUri => malformed_redirect_uri(),
        AuthorizeError::SignedOut => error_page(
            StatusCode::UNAUTHORIZED,
            "You are signed out",
            "Your session ended. Go back to the application and start again.",
            "login_required",
        ),
        AuthorizeError::Internal(detail) => {
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
