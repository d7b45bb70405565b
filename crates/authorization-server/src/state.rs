//! The state of the server's routes: one sub-state per part, each a cheap `Clone` handed to
//! its handlers through axum's `FromRef` (as axum's "For library authors"), so no handler sees
//! more than it needs and no module depends on the others' state.
//!
//! | sub-state | module | serves |
//! |---|---|---|
//! | [`Discovery`] | `endpoints::metadata` | RFC 8414 metadata, JWKS |
//! | [`Authorizer`] | `engine::authorize` | `/authorize` (and errors of federated sign-in) |
//! | [`TokenEndpoint`] | `engine::token` | `/token` |
//! | [`Registrar`] | `engine::registration` | `/register` |
//! | [`Revoker`] | `engine::revocation` | `/revoke` |
//! | [`Introspector`] | `engine::introspection` | `/introspect` |
//! | [`Sessions`] | `web::session` | who is signed in (`/authorize`, the account pages) |
//! | [`Accounts`] | `accounts` | `/`, `/login`, `/signup`, `/logout`, two-step verification (`/login/code`, `/account/two-step`, `/account/two-step/disable`) |
//! | `Federation` | `federation` | `/login` (federated), `/login/upstream`, `/login/callback` (feature `federation`) |

use std::sync::Arc;

use axum::extract::FromRef;

use crate::accounts::Accounts;
use crate::audit::Audit;
use crate::clock::Clock;
use crate::config::AuthorizationServerConfig;
use crate::endpoints::Discovery;
use crate::engine::{
    Authorizer, Clients, Introspector, Registrar, Revoker, TokenEndpoint, TokenIssuer,
};
#[cfg(feature = "federation")]
use crate::federation::{Federation, Providers};
use crate::keys::SigningKeys;
use crate::store::Store;
use crate::web::session::Sessions;

/// `AppState`, one field per sub-state, and the `FromRef` that hands each to its handlers.
macro_rules! sub_states {
    ($($(#[$cfg:meta])* $field:ident: $sub_state:ty),+ $(,)?) => {
        /// Every sub-state, built once.
        #[derive(Clone)]
        pub(crate) struct AppState {
            $($(#[$cfg])* $field: $sub_state,)+
        }

        $(
            $(#[$cfg])*
            impl FromRef<AppState> for $sub_state {
                fn from_ref(state: &AppState) -> Self {
                    state.$field.clone()
                }
            }
        )+
    };
}

sub_states!(
    discovery: Discovery,
    authorizer: Authorizer,
    token: TokenEndpoint,
    registrar: Registrar,
    revoker: Revoker,
    introspector: Introspector,
    sessions: Sessions,
    accounts: Accounts,
    #[cfg(feature = "federation")]
    federation: Federation,
);

/// What the state is made of, beyond the configuration and the store.
pub(crate) struct Parts {
    /// The client directory (with its metadata-document fetcher).
    pub(crate) clients: Clients,
    /// The upstream providers, when people sign in there.
    #[cfg(feature = "federation")]
    pub(crate) providers: Option<Providers>,
    /// The signing keys.
    pub(crate) keys: SigningKeys,
    /// Where security events go.
    pub(crate) audit: Audit,
    /// The clock.
    pub(crate) clock: Clock,
}

impl AppState {
    /// The state of a server with `config` over `store`.
    pub(crate) fn new(
        config: &AuthorizationServerConfig,
        store: &Arc<dyn Store>,
        parts: Parts,
    ) -> Self {
        let Parts {
            clients,
            #[cfg(feature = "federation")]
            providers,
            keys,
            audit,
            clock,
        } = parts;
        let sessions = Sessions::new(store, config, clock.clone());
        let authorizer =
            Authorizer::new(clients.clone(), store, config, audit.clone(), clock.clone());
        let issuer = TokenIssuer::new(keys.clone(), store.clone(), config, clock.clone());
        let token = TokenEndpoint::new(
            clients.clone(),
            store.clone(),
            issuer,
            audit.clone(),
            clock.clone(),
        );
        Self {
            discovery: Discovery::new(config, keys.clone()),
            token,
            registrar: Registrar::new(
                store,
                config,
                clients.certificates().clone(),
                audit.clone(),
                clock.clone(),
            ),
            revoker: Revoker::new(
                clients.clone(),
                store.clone(),
                keys.clone(),
                audit.clone(),
                clock.clone(),
            ),
            introspector: Introspector::new(
                clients,
                store.clone(),
                keys,
                &config.issuer,
                audit.clone(),
                clock.clone(),
            ),
            accounts: Accounts::new(
                store,
                sessions.clone(),
                config,
                audit.clone(),
                clock.clone(),
            ),
            #[cfg(feature = "federation")]
            federation: Federation::new(
                providers,
                store,
                sessions.clone(),
                authorizer.clone(),
                config,
                audit,
                clock,
            ),
            authorizer,
            sessions,
        }
    }
}
