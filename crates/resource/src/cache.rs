//! A bounded cache of validated tokens. An entry is found by a keyed hash of the token's tail and
//! accepted only if its stored token equals the presented one in full, so no hash collision can
//! stand one token in for another. Entries are dropped once they reach their expiry; the stored
//! tokens are zeroized when they leave the cache.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use foldhash::fast::RandomState;
use zeroize::Zeroizing;

use crate::VerifiedToken;

/// Seconds since the Unix epoch.
pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// How many bytes at the end of a token choose its slot.
const KEYED_TAIL: usize = 32;

struct Entry {
    /// The token the result belongs to (compared in full on every hit).
    token: Zeroizing<Box<[u8]>>,
    verified: Arc<VerifiedToken>,
    valid_until: u64,
}

/// Validated tokens, each valid until a given Unix time.
pub(crate) struct TokenCache {
    capacity: usize,
    /// Seeded at random per process: which tokens share a slot cannot be predicted.
    hasher: RandomState,
    /// By the token's hash; two tokens with the same hash share one slot (the later one wins).
    entries: RwLock<HashMap<u64, Entry, RandomState>>,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            hasher: RandomState::default(),
            entries: RwLock::new(HashMap::default()),
        }
    }

    /// The cached result for `token`, if it is still valid at `now`.
    pub(crate) fn get(&self, token: &[u8], now: u64) -> Option<Arc<VerifiedToken>> {
        let key = self.key(token);
        let entries = self
            .entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries
            .get(&key)
            .filter(|entry| entry.valid_until > now && same_bytes(&entry.token, token))
            .map(|entry| Arc::clone(&entry.verified))
    }

    /// The slot of `token`: a keyed hash of its length and last [`KEYED_TAIL`] bytes. That
    /// tail is the end of a JWT's signature (or of an opaque token), so valid tokens spread
    /// over the slots without hashing all of every token on every request; since a hit needs
    /// the whole token to match, tokens that share a slot only evict each other.
    fn key(&self, token: &[u8]) -> u64 {
        let tail = &token[token.len().saturating_sub(KEYED_TAIL)..];
        self.hasher.hash_one((token.len(), tail))
    }

    /// Remembers `verified` for `token` until `valid_until`. When full, expired entries go
    /// first, then all.
    pub(crate) fn insert(&self, token: &[u8], verified: Arc<VerifiedToken>, valid_until: u64) {
        if self.capacity == 0 {
            return;
        }
        let key = self.key(token);
        let entry = Entry {
            token: Zeroizing::new(token.into()),
            verified,
            valid_until,
        };
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            let now = now_unix();
            entries.retain(|_, entry| entry.valid_until > now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, entry);
    }
}

/// Whether `a` and `b` are equal, looking at every byte (no early exit that would tell how
/// much of a guess was right).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |differ, (x, y)| differ | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TokenProfileKind;

    fn verified(subject: &str) -> Arc<VerifiedToken> {
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
        cache.insert(b"a", verified("a"), 100);
        assert!(cache.get(b"a", 99).is_some());
        assert!(cache.get(b"a", 100).is_none());
    }

    #[test]
    fn returns_an_entry_only_for_exactly_its_token() {
        let cache = TokenCache::new(10);
        cache.insert(b"abc.def.ghi", verified("a"), u64::MAX);
        assert_eq!(cache.get(b"abc.def.ghi", 0).unwrap().subject, "a");
        for other in [
            &b"abc.def.gh"[..],
            b"abc.def.ghi=",
            b"abc.def.ghj",
            b"ABC.def.ghi",
            b"",
        ] {
            assert!(cache.get(other, 0).is_none(), "{other:?}");
        }
    }

    #[test]
    fn a_token_sharing_the_slot_of_another_is_not_mistaken_for_it() {
        // Forge the situation of a hash collision: the entry under this key holds another token.
        let cache = TokenCache::new(10);
        cache.insert(b"victim", verified("victim"), u64::MAX);
        let key = cache.key(b"victim");
        let mut entries = cache.entries.write().unwrap();
        let entry = entries.remove(&key).unwrap();
        entries.insert(cache.key(b"attacker"), entry);
        drop(entries);
        assert!(cache.get(b"attacker", 0).is_none());
    }

    #[test]
    fn tokens_with_the_same_tail_share_a_slot_but_not_a_result() {
        let cache = TokenCache::new(10);
        let tail = "t".repeat(KEYED_TAIL);
        let (first, second) = (format!("aaa.{tail}"), format!("bbb.{tail}"));
        assert_eq!(cache.key(first.as_bytes()), cache.key(second.as_bytes()));
        cache.insert(first.as_bytes(), verified("first"), u64::MAX);
        assert!(cache.get(second.as_bytes(), 0).is_none());
        cache.insert(second.as_bytes(), verified("second"), u64::MAX);
        assert_eq!(cache.get(second.as_bytes(), 0).unwrap().subject, "second");
        assert!(cache.get(first.as_bytes(), 0).is_none());
    }

    #[test]
    fn stays_within_capacity() {
        let cache = TokenCache::new(2);
        let far = now_unix() + 3600;
        for name in ["a", "b", "c"] {
            cache.insert(name.as_bytes(), verified(name), far);
        }
        assert!(cache.entries.read().unwrap().len() <= 2);
        assert!(cache.get(b"c", 0).is_some());
    }

    #[test]
    fn compares_every_byte() {
        assert!(same_bytes(b"", b""));
        assert!(same_bytes(b"token", b"token"));
        assert!(!same_bytes(b"token", b"tokex"));
        assert!(!same_bytes(b"token", b"Token"));
        assert!(!same_bytes(b"token", b"token "));
    }
}
