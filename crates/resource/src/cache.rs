//! A bounded cache of validated tokens. An entry is found by a keyed hash of the token's tail and
//! accepted only if its stored token equals the presented one in full, so no hash collision can
//! stand one token in for another. Entries are dropped once they reach their expiry; the stored
//! tokens are zeroized when they leave the cache.
//!
//! The cache is split into shards, each under its own lock and holding its share of the
//! capacity. A full shard evicts one entry per insertion, chosen by the CLOCK algorithm: a hand
//! sweeps the shard's slots, taking the first entry that has expired or was not looked up since
//! the hand last passed (a lookup sets the entry's mark with a relaxed atomic store, under the
//! read lock). So a full cache keeps what is in use, and a rotation of more distinct tokens than
//! it holds costs misses for some of them, not for all.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// How many shards a cache has (fewer when its capacity is smaller).
const SHARDS: usize = 64;

struct Entry {
    /// The token the result belongs to (compared in full on every hit).
    token: Zeroizing<Box<[u8]>>,
    verified: Arc<VerifiedToken>,
    valid_until: u64,
    /// Looked up since the CLOCK hand last passed it.
    referenced: AtomicBool,
}

/// One shard: its entries in slots, the slot of each key, and the CLOCK hand.
struct Shard {
    capacity: usize,
    slots: Vec<(u64, Entry)>,
    /// By the token's hash; two tokens with the same hash share one slot (the later one wins).
    index: HashMap<u64, usize, RandomState>,
    hand: usize,
}

impl Shard {
    fn get(&self, key: u64) -> Option<&Entry> {
        self.index.get(&key).map(|&slot| &self.slots[slot].1)
    }

    /// Puts `entry` under `key`: in its slot if the key has one, else in a free slot, else in
    /// the slot of the entry the CLOCK hand chooses.
    fn put(&mut self, key: u64, entry: Entry, now: u64) {
        if let Some(&slot) = self.index.get(&key) {
            self.slots[slot].1 = entry;
        } else if self.slots.len() < self.capacity {
            self.index.insert(key, self.slots.len());
            self.slots.push((key, entry));
        } else {
            let slot = self.victim(now);
            let (old_key, _) = std::mem::replace(&mut self.slots[slot], (key, entry));
            self.index.remove(&old_key);
            self.index.insert(key, slot);
        }
    }

    /// The slot to reuse: the first, from the hand on, whose entry has expired or is not
    /// marked; the marks passed are cleared, so a second sweep always finds one.
    fn victim(&mut self, now: u64) -> usize {
        loop {
            let slot = self.hand;
            self.hand = (self.hand + 1) % self.slots.len();
            let entry = &self.slots[slot].1;
            if entry.valid_until <= now || !entry.referenced.swap(false, Ordering::Relaxed) {
                return slot;
            }
        }
    }
}

/// Validated tokens, each valid until a given Unix time.
pub(crate) struct TokenCache {
    /// Seeded at random per process: which tokens share a slot cannot be predicted.
    hasher: RandomState,
    /// Empty when the capacity is 0; a token's shard is chosen by the high bits of its key.
    shards: Box<[RwLock<Shard>]>,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        let count = SHARDS.min(capacity);
        let shards = (0..count)
            .map(|shard| {
                // The capacity is shared out exactly: the first shards take the remainder.
                let capacity = capacity / count + usize::from(shard < capacity % count);
                RwLock::new(Shard {
                    capacity,
                    slots: Vec::new(),
                    index: HashMap::default(),
                    hand: 0,
                })
            })
            .collect();
        Self {
            hasher: RandomState::default(),
            shards,
        }
    }

    /// The cached result for `token`, if it is still valid at `now`.
    pub(crate) fn get(&self, token: &[u8], now: u64) -> Option<Arc<VerifiedToken>> {
        let key = self.key(token);
        let shard = self
            .shard(key)?
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        shard
            .get(key)
            .filter(|entry| entry.valid_until > now && same_bytes(&entry.token, token))
            .map(|entry| {
                if !entry.referenced.load(Ordering::Relaxed) {
                    entry.referenced.store(true, Ordering::Relaxed);
                }
                Arc::clone(&entry.verified)
            })
    }

    /// The slot of `token`: a keyed hash of its length and last [`KEYED_TAIL`] bytes. That
    /// tail is the end of a JWT's signature (or of an opaque token), so valid tokens spread
    /// over the slots without hashing all of every token on every request; since a hit needs
    /// the whole token to match, tokens that share a slot only evict each other.
    fn key(&self, token: &[u8]) -> u64 {
        let tail = &token[token.len().saturating_sub(KEYED_TAIL)..];
        self.hasher.hash_one((token.len(), tail))
    }

    /// The shard of `key`, none if the capacity is 0.
    fn shard(&self, key: u64) -> Option<&RwLock<Shard>> {
        let count = u64::try_from(self.shards.len()).ok().filter(|&n| n > 0)?;
        let index = usize::try_from((key >> 32) % count).ok()?;
        self.shards.get(index)
    }

    /// Remembers `verified` for `token` until `valid_until`. When the token's shard is full,
    /// one entry leaves it (see the module's documentation).
    pub(crate) fn insert(&self, token: &[u8], verified: Arc<VerifiedToken>, valid_until: u64) {
        let entry = Entry {
            token: Zeroizing::new(token.into()),
            verified,
            valid_until,
            referenced: AtomicBool::new(false),
        };
        self.put(self.key(token), entry);
    }

    fn put(&self, key: u64, entry: Entry) {
        if let Some(shard) = self.shard(key) {
            shard
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .put(key, entry, now_unix());
        }
    }
}

/// Whether `a` and `b` are equal, looking at every byte (no early exit that would tell how
/// much of a guess was right).
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
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
            certificate_thumbprint: None,
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

    fn len(cache: &TokenCache) -> usize {
        let shards = cache.shards.iter();
        shards.map(|shard| shard.read().unwrap().slots.len()).sum()
    }

    #[test]
    fn a_token_sharing_the_slot_of_another_is_not_mistaken_for_it() {
        // Forge the situation of a hash collision: the entry under this key holds another token.
        let cache = TokenCache::new(10);
        let entry = Entry {
            token: Zeroizing::new(b"victim"[..].into()),
            verified: verified("victim"),
            valid_until: u64::MAX,
            referenced: AtomicBool::new(false),
        };
        cache.put(cache.key(b"attacker"), entry);
        assert!(cache.get(b"attacker", 0).is_none());
        assert_eq!(len(&cache), 1);
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
        assert!(len(&cache) <= 2);
        assert!(cache.get(b"c", 0).is_some());
    }

    #[test]
    fn a_cache_of_capacity_zero_keeps_nothing() {
        let cache = TokenCache::new(0);
        cache.insert(b"a", verified("a"), u64::MAX);
        assert!(cache.get(b"a", 0).is_none());
    }

    #[test]
    fn a_full_cache_keeps_its_other_entries_when_one_more_is_inserted() {
        let capacity = 2_000;
        let cache = TokenCache::new(capacity);
        let far = now_unix() + 3600;
        let tokens: Vec<String> = (0..capacity * 2).map(|n| format!("token-{n}")).collect();
        for token in &tokens {
            cache.insert(token.as_bytes(), verified(token), far);
        }
        assert_eq!(len(&cache), capacity, "every shard is full");
        let cached = |cache: &TokenCache| -> Vec<bool> {
            let now = now_unix();
            let state = tokens
                .iter()
                .map(|token| cache.get(token.as_bytes(), now).is_some());
            state.collect()
        };
        let before = cached(&cache);
        assert_eq!(before.iter().filter(|&&hit| hit).count(), capacity);
        cache.insert(b"one more", verified("one more"), far);
        assert!(cache.get(b"one more", 0).is_some());
        let after = cached(&cache);
        let lost = before.iter().zip(&after).filter(|(was, is)| **was && !**is);
        assert_eq!(lost.count(), 1, "one entry made room, the others stayed");
    }

    #[test]
    fn entries_in_use_outlive_entries_not_looked_up() {
        // Shards of four: `hot` is looked up between insertions into its shard, the others
        // never are.
        let cache = TokenCache::new(SHARDS * 4);
        let far = now_unix() + 3600;
        let shard_of = |token: &str| (cache.key(token.as_bytes()) >> 32) % SHARDS as u64;
        let mut names = (0..).map(|n| format!("t{n}"));
        let hot = names.next().unwrap();
        let same_shard: Vec<String> = names
            .filter(|name| shard_of(name) == shard_of(&hot))
            .take(20)
            .collect();
        cache.insert(hot.as_bytes(), verified(&hot), far);
        for name in &same_shard {
            assert!(cache.get(hot.as_bytes(), 0).is_some(), "after {name}");
            cache.insert(name.as_bytes(), verified(name), far);
        }
        assert!(cache.get(hot.as_bytes(), 0).is_some());
    }

    /// splitmix64: a seeded generator, so the access pattern is the same on every run.
    struct Sequence(u64);

    impl Sequence {
        fn below(&mut self, bound: u64) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % bound
        }
    }

    #[test]
    fn hot_tokens_stay_cached_among_twice_as_many_tokens_as_it_holds() {
        // The pattern of `bench/run --tokens 20000 --hot-tokens 1000` against the default
        // capacity: 90% of requests carry one of 1,000 hot tokens, the rest any of 20,000.
        let (capacity, tokens, hot) = (10_000, 20_000, 1_000);
        let cache = TokenCache::new(capacity);
        let far = now_unix() + 3600;
        let mut sequence = Sequence(14);
        let mut hot_seen = std::collections::HashSet::new();
        let (mut hot_misses, mut tail_lookups, mut tail_hits) = (0, 0_u32, 0_u32);
        for request in 0..300_000 {
            let pick = match sequence.below(10) {
                0 => sequence.below(tokens),
                _ => sequence.below(hot),
            };
            let token = format!("token-{pick}");
            let hit = cache.get(token.as_bytes(), 0).is_some();
            if !hit {
                cache.insert(token.as_bytes(), verified(&token), far);
            }
            if pick < hot {
                hot_misses += usize::from(!hit);
                hot_seen.insert(pick);
            } else if request >= 100_000 {
                tail_lookups += 1;
                tail_hits += u32::from(hit);
            }
        }
        assert_eq!(len(&cache), capacity);
        assert_eq!(
            hot_misses,
            hot_seen.len(),
            "a hot token misses only when first seen"
        );
        // The rest of the capacity holds about 9,000 of the 19,000 other tokens (47%).
        let tail_hit_share = f64::from(tail_hits) / f64::from(tail_lookups);
        assert!(tail_hit_share > 0.42, "{tail_hit_share}");
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
