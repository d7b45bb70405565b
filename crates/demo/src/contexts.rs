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

/// Whose contexts: subjects are unique only per issuer, so both name a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner<'a> {
    /// The issuer that vouched for the user.
    pub issuer: &'a str,
    /// The user's subject at that issuer.
    pub subject: &'a str,
}

/// Contexts by owner, kept in memory: by issuer, then by subject (looked up without building
/// a key per request).
#[derive(Clone, Default)]
pub struct ContextStore {
    by_owner: Arc<Mutex<ContextsByIssuer>>,
}

type ContextsByIssuer = HashMap<String, HashMap<String, Vec<Context>>>;

impl ContextStore {
    /// The contexts of `owner`, oldest first.
    pub fn list(&self, owner: Owner<'_>) -> Vec<Context> {
        self.lock()
            .get(owner.issuer)
            .and_then(|by_subject| by_subject.get(owner.subject))
            .cloned()
            .unwrap_or_default()
    }

    /// Adds a context for `owner` after checking its name and description.
    pub fn create(
        &self,
        owner: Owner<'_>,
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
        let contexts = by_owner
            .entry(owner.issuer.to_owned())
            .or_default()
            .entry(owner.subject.to_owned())
            .or_default();
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

    fn lock(&self) -> std::sync::MutexGuard<'_, ContextsByIssuer> {
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

    fn owner(subject: &str) -> Owner<'_> {
        Owner {
            issuer: "https://issuer.example",
            subject,
        }
    }

    #[test]
    fn contexts_are_kept_per_owner() {
        let store = ContextStore::default();
        store.create(owner("alice"), "notes", "a").unwrap();
        store.create(owner("alice"), "todo", "").unwrap();
        store.create(owner("bob"), "other", "").unwrap();
        let alice = store.list(owner("alice"));
        assert_eq!(
            alice.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["notes", "todo"]
        );
        assert_eq!(alice[1].id, 2);
        assert_eq!(store.list(owner("bob")).len(), 1);
        assert!(store.list(owner("carol")).is_empty());
    }

    #[test]
    fn the_same_subject_at_another_issuer_is_another_owner() {
        let store = ContextStore::default();
        let at = |issuer, subject| Owner { issuer, subject };
        store
            .create(at("https://a.example", "alice"), "mine", "")
            .unwrap();
        assert!(store.list(at("https://b.example", "alice")).is_empty());
        // Issuer and subject are never joined into one string, so no split of the same
        // characters can reach another owner's contexts.
        store.create(at("a b", "c"), "split", "").unwrap();
        assert!(store.list(at("a", "b c")).is_empty());
    }

    #[test]
    fn refuses_bad_names_and_overflow_without_losing_contexts() {
        let store = ContextStore::default();
        assert_eq!(
            store.create(owner("a"), "  ", ""),
            Err(ContextStoreError::EmptyName)
        );
        assert_eq!(
            store.create(owner("a"), &"x".repeat(101), ""),
            Err(ContextStoreError::NameTooLong)
        );
        assert_eq!(
            store.create(owner("a"), "n", &"x".repeat(1001)),
            Err(ContextStoreError::DescriptionTooLong)
        );
        for i in 0..MAX_CONTEXTS_PER_USER {
            store.create(owner("a"), &format!("c{i}"), "").unwrap();
        }
        assert_eq!(
            store.create(owner("a"), "one more", ""),
            Err(ContextStoreError::Full)
        );
        assert_eq!(store.list(owner("a")).len(), MAX_CONTEXTS_PER_USER);
    }
}
