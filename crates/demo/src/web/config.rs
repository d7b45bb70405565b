//! What a demo web client is: where it is served, which MCP server it calls, and how it gets
//! its client credentials.

use std::path::PathBuf;
use std::time::Duration;

use mcp_oauth_client::ClientSecret;
use url::Url;

/// How the web client obtains its OAuth client credentials.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// A confidential client registered beforehand at the authorization server `issuer`
    /// (MCP "Pre-registration"); the credentials are used with that server only.
    PreRegistered {
        /// The issuer identifier of the authorization server that issued the credentials.
        issuer: String,
        /// `client_id`.
        client_id: String,
        /// `client_secret` (sent with HTTP Basic authentication, never shown).
        client_secret: ClientSecret,
    },
    /// Dynamic Client Registration (RFC 7591); the registration is kept in
    /// `registration_file` (owner-only permissions) and reused after a restart.
    Dynamic {
        /// The file holding the registration.
        registration_file: PathBuf,
    },
    /// A Client ID Metadata Document served by the application itself at
    /// `<base URL>/client-metadata.json`, whose URL is the `client_id`.
    MetadataDocument,
}

impl Credentials {
    /// The name of the application's session cookie: one per kind of client, so that the
    /// demo applications and the authorization server, all on `localhost`, never read each
    /// other's cookies (cookies do not isolate by port).
    pub(crate) fn cookie_name(&self) -> &'static str {
        match self {
            Self::PreRegistered { .. } => "mcp_oauth_demo_client",
            Self::Dynamic { .. } => "mcp_oauth_demo_auto_client",
            Self::MetadataDocument => "mcp_oauth_demo_cimd_client",
        }
    }

    /// The application's title.
    pub(crate) fn title(&self) -> &'static str {
        match self {
            Self::PreRegistered { .. } => "MCP client (pre-registered)",
            Self::Dynamic { .. } => "MCP auto-client (Dynamic Client Registration)",
            Self::MetadataDocument => "MCP CIMD client (Client ID Metadata Document)",
        }
    }

    /// One sentence on how the client gets its credentials.
    pub(crate) fn summary(&self) -> &'static str {
        match self {
            Self::PreRegistered { .. } => {
                "A confidential client registered beforehand: its client id and secret come from its configuration."
            }
            Self::Dynamic { .. } => {
                "Knows only the MCP server URL: it discovers the authorization server and registers itself (RFC 7591), keeping the registration across restarts."
            }
            Self::MetadataDocument => {
                "Publishes its own Client ID Metadata Document and uses its URL as client_id: no registration step."
            }
        }
    }
}

/// The configuration of one demo web client.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebClientConfig {
    /// Where the application is reached, e.g. `http://localhost:3000` (its redirect URI is
    /// `<base>/callback`).
    pub base_url: Url,
    /// The MCP server's URL, e.g. `http://localhost:3001/mcp`.
    pub mcp_url: String,
    /// How the client obtains its credentials.
    pub credentials: Credentials,
    /// The most browser sessions kept at once (default 1000); the least recently used one
    /// is dropped to make room.
    pub max_sessions: usize,
    /// How long an idle browser session lives (default 1 hour).
    pub session_ttl: Duration,
    /// How long a login may take from "Log in" to the callback (default 10 minutes).
    pub login_ttl: Duration,
}

impl WebClientConfig {
    /// A client served at `base_url`, calling the MCP server at `mcp_url`, with
    /// `credentials` and the documented defaults.
    pub fn new(base_url: Url, mcp_url: impl Into<String>, credentials: Credentials) -> Self {
        Self {
            base_url,
            mcp_url: mcp_url.into(),
            credentials,
            max_sessions: 1000,
            session_ttl: Duration::from_secs(60 * 60),
            login_ttl: Duration::from_secs(10 * 60),
        }
    }

    /// Sets the session limits.
    pub fn with_sessions(mut self, max_sessions: usize, session_ttl: Duration) -> Self {
        self.max_sessions = max_sessions;
        self.session_ttl = session_ttl;
        self
    }

    /// `<base>/<path>`, `path` without a leading slash.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url.as_str().trim_end_matches('/'))
    }

    /// The redirect URI.
    pub(crate) fn redirect_uri(&self) -> String {
        self.url("callback")
    }

    /// The URL of the client's metadata document (the `client_id` of a
    /// [`Credentials::MetadataDocument`] client).
    pub(crate) fn metadata_document_url(&self) -> String {
        self.url("client-metadata.json")
    }
}
