//! A bounded cache of validated tokens, keyed by the SHA-256 of the token so the token itself
//! is never kept. Entries are dropped once they reach their expiry.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::VerifiedToken;

/// The SHA-256 of a token.
pub(crate) type TokenHash = [u8; 32];

/// Hashes a token for use as a cache key.
pub(crate) fn hash_token(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// Seconds since the Unix epoch.
pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

struct Entry {
    token: Arc<VerifiedToken>,
    valid_until: u64,
}

/// Validated tokens by hash, each valid until a given Unix time.
pub(crate) struct TokenCache {
    capacity: usize,
    entries: RwLock<HashMap<TokenHash, Entry>>,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The cached result for `hash`, if it is still valid at `now`.
    pub(crate) fn get(&self, hash: &TokenHash, now: u64) -> Option<Arc<VerifiedToken>> {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries
            .get(hash)
            .filter(|entry| entry.valid_until > now)
            .map(|entry| Arc::clone(&entry.token))
    }

    /// Remembers `token` until `valid_until`. When full, expired entries go first, then all.
    pub(crate) fn insert(&self, hash: TokenHash, token: Arc<VerifiedToken>, valid_until: u64) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= self.capacity {
            let now = now_unix();
            entries.retain(|_, entry| entry.valid_until > now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(hash, Entry { token, valid_until });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TokenProfileKind;

    fn token(subject: &str) -> Arc<VerifiedToken> {
        Arc::new(VerifiedToken {
            issuer: "https://as".into(),
            subject: subject.into(),
            client_id: None,
            scopes: Default::default(),
            audience: vec![],
            expires_at: 0,
            token_id: None,
            profile: TokenProfileKind::Jwt,
        })
    }

    #[test]
    fn expired_entries_are_not_returned() {
        let cache = TokenCache::new(10);
        let hash = hash_token("a");
        cache.insert(hash, token("a"), 100);
        assert!(cache.get(&hash, 99).is_some());
        assert!(cache.get(&hash, 100).is_none());
    }

    #[test]
    fn stays_within_capacity() {
        let cache = TokenCache::new(2);
        let far = now_unix() + 3600;
        for name in ["a", "b", "c"] {
            cache.insert(hash_token(name), token(name), far);
        }
        assert!(cache.entries.read().unwrap().len() <= 2);
        assert!(cache.get(&hash_token("c"), 0).is_some());
    }
}
