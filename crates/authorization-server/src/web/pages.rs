//! Server-rendered pages shared by every flow (each flow renders its own forms), and the
//! answers they share: errors, redirects with a cookie.

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use tower_http::set_header::SetResponseHeaderLayer;

use super::return_to;

/// The largest body of a page's form, in bytes (a `return_to` may hold a long authorization
/// request).
pub(crate) const FORM_LIMIT: usize = 16 * 1024;

/// Adds the headers every page of the sign-in flow carries: never cached, never framed
/// (clickjacking of the consent button), no scripts, no referrer leaking codes or state.
pub(crate) fn with_page_headers<S>(pages: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let header =
        |name, value| SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value));
    pages
        .layer(header(header::CACHE_CONTROL, "no-store"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'",
        ))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    heading: &'a str,
    message: &'a str,
    code: &'a str,
}

/// Renders a template, or a plain 500 if the template fails (it never should: templates are
/// checked at compile time, only `Display` impls can fail).
pub(crate) fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot render a page");
            (StatusCode::INTERNAL_SERVER_ERROR, "page unavailable").into_response()
        }
    }
}

/// A page explaining an error to the person in the browser, for errors that must not be
/// redirected to the client (unknown client, unregistered redirect URI, …).
pub(crate) fn error_page(status: StatusCode, heading: &str, message: &str, code: &str) -> Response {
    render(
        status,
        &ErrorPage {
            heading,
            message,
            code,
        },
    )
}

#[derive(Template)]
#[template(path = "awaiting_approval.html")]
struct AwaitingApprovalPage<'a> {
    name: &'a str,
    issuer: &'a str,
}

/// The page of an authorization request whose client (`name`) waits for the approval of the
/// operator of `issuer` (or was suspended): 403, never a redirect to the client.
pub(crate) fn awaiting_approval_page(name: &str, issuer: &str) -> Response {
    render(
        StatusCode::FORBIDDEN,
        &AwaitingApprovalPage { name, issuer },
    )
}

/// 303 to `target` (already checked by [`return_to::accept`], or home) with a cookie.
pub(crate) fn see_other(target: &str, cookie: HeaderValue) -> Response {
    let location =
        HeaderValue::from_str(target).unwrap_or(HeaderValue::from_static(return_to::HOME));
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location), (header::SET_COOKIE, cookie)],
    )
        .into_response()
}

/// `response` with `set_cookie` added, when there is one.
pub(crate) fn with_cookie(mut response: Response, set_cookie: Option<HeaderValue>) -> Response {
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The page of a request the server could not complete (a store failure): 500, nothing done.
pub(crate) fn unavailable() -> Response {
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The server could not complete the request. Nothing was changed; try again in a moment.",
        "server_error",
    )
}
