//! The cases of the suite, each an `async fn(&TestDb)`, grouped by what they store.

mod audit;
mod clients;
mod database;
mod grants;
mod key_encryption;
mod keys;
mod limits;
mod mfa;
mod migrations;
mod refresh;
mod sessions;
mod tokens;
#[cfg(feature = "federation")]
mod upstream;
mod users;

pub use audit::*;
pub use clients::*;
pub use database::*;
pub use grants::*;
pub use key_encryption::*;
pub use keys::*;
pub use limits::*;
pub use mfa::*;
pub use migrations::*;
pub use refresh::*;
pub use sessions::*;
pub use tokens::*;
#[cfg(feature = "federation")]
pub use upstream::*;
pub use users::*;
