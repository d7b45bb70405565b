//! The per-user store of contexts behind `list_contexts` and `create_context`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use thiserror::Error;

/// The most contexts one user may keep.
pub const MAX_CONTEXTS_PER_USER: usize = 100;
/// The longest context name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The longest context description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// A named piece of context a user keeps for their MCP client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Context {
    /// Its number among the owner's contexts, from 1.
    pub id: u64,
    /// A short name.
    pub name: String,
    /// What it holds.
    pub description: String,
    /// When it was created, in seconds since the Unix epoch.
    pub created_at: u64,
}

/// Contexts by owner (issuer and subject), kept in memory.
#[derive(Clone, Default)]
pub struct ContextStore {
    by_owner: Arc<Mutex<HashMap<String, Vec<Context>>>>,
}

impl ContextStore {
    /// The contexts of `owner`, oldest first.
    pub fn list(&self, owner: &str) -> Vec<Context> {
        self.lock().get(owner).cloned().unwrap_or_default()
    }

    /// Adds a context for `owner` after checking its name and description.
    pub fn create(
        &self,
        owner: &str,
        name: &str,
        description: &str,
    ) -> Result<Context, ContextStoreError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ContextStoreError::EmptyName);
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(ContextStoreError::NameTooLong);
        }
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(ContextStoreError::DescriptionTooLong);
        }
        let mut by_owner = self.lock();
        let contexts = by_owner.entry(owner.to_owned()).or_default();
        if contexts.len() >= MAX_CONTEXTS_PER_USER {
            return Err(ContextStoreError::Full);
        }
        let context = Context {
            id: contexts.len() as u64 + 1,
            name: name.to_owned(),
            description: description.to_owned(),
            created_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs()),
        };
        contexts.push(context.clone());
        Ok(context)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Context>>> {
        self.by_owner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Why a context was not created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ContextStoreError {
    /// The name is empty or blank.
    #[error("a context needs a non-empty name")]
    EmptyName,
    /// The name is longer than allowed.
    #[error("a context name has at most {MAX_NAME_CHARS} characters")]
    NameTooLong,
    /// The description is longer than allowed.
    #[error("a context description has at most {MAX_DESCRIPTION_CHARS} characters")]
    DescriptionTooLong,
    /// The user already keeps the most contexts allowed.
    #[error("a user keeps at most {MAX_CONTEXTS_PER_USER} contexts")]
    Full,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_are_kept_per_owner() {
        let store = ContextStore::default();
        store.create("alice", "notes", "a").unwrap();
        store.create("alice", "todo", "").unwrap();
        store.create("bob", "other", "").unwrap();
        let alice = store.list("alice");
        assert_eq!(
            alice.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["notes", "todo"]
        );
        assert_eq!(alice[1].id, 2);
        assert_eq!(store.list("bob").len(), 1);
        assert!(store.list("carol").is_empty());
    }

    #[test]
    fn refuses_bad_names_and_overflow_without_losing_contexts() {
        let store = ContextStore::default();
        assert_eq!(
            store.create("a", "  ", ""),
            Err(ContextStoreError::EmptyName)
        );
        assert_eq!(
            store.create("a", &"x".repeat(101), ""),
            Err(ContextStoreError::NameTooLong)
        );
        assert_eq!(
            store.create("a", "n", &"x".repeat(1001)),
            Err(ContextStoreError::DescriptionTooLong)
        );
        for i in 0..MAX_CONTEXTS_PER_USER {
            store.create("a", &format!("c{i}"), "").unwrap();
        }
        assert_eq!(
            store.create("a", "one more", ""),
            Err(ContextStoreError::Full)
        );
        assert_eq!(store.list("a").len(), MAX_CONTEXTS_PER_USER);
    }
}
