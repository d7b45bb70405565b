//! The pages of federated sign-in: the chooser, and the page that explains a failed sign-in.

use askama::Template;
use axum::response::Response;
use http::StatusCode;
use url::Url;

use crate::web::pages::render;

/// One provider on the chooser page.
pub(super) struct ProviderLink {
    pub(super) name: String,
    pub(super) href: String,
}

#[derive(Template)]
#[template(path = "upstream_chooser.html")]
struct ChooserPage {
    providers: Vec<ProviderLink>,
}

#[derive(Template)]
#[template(path = "upstream_error.html")]
struct FailurePage<'a> {
    heading: &'a str,
    message: &'a str,
    code: &'a str,
    back_href: Option<String>,
}

/// The chooser page.
pub(super) fn chooser(providers: Vec<ProviderLink>) -> Response {
    render(StatusCode::OK, &ChooserPage { providers })
}

/// A failed sign-in explained; `back` (the client's redirect URI with the OAuth error), when
/// there is one, is offered as the way back to the application.
pub(super) fn failure(
    status: StatusCode,
    heading: &str,
    message: &str,
    code: &str,
    back: Option<Url>,
) -> Response {
    render(
        status,
        &FailurePage {
            heading,
            message,
            code,
            back_href: back.map(String::from),
        },
    )
}
