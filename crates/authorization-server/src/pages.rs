//! Server-rendered pages shared by every flow (each flow renders its own forms).

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::server::AppState;

/// Adds the headers every page of the sign-in flow carries: never cached, never framed
/// (clickjacking of the consent button), no scripts, no referrer leaking codes or state.
pub(crate) fn with_page_headers(pages: Router<AppState>) -> Router<AppState> {
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
