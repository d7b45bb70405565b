//! Server-side browser sessions: each browser's state, keyed by a random identifier sent as
//! a cookie. Bounded (the least recently used session makes room) and expiring when idle.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) use mcp_oauth_core::random_token;

/// A session's state behind its own lock: one request of a browser at a time changes it
/// (a refresh token rotated by two requests at once would revoke the grant).
pub(crate) type Shared<T> = Arc<tokio::sync::Mutex<T>>;

struct Entry<T> {
    state: Shared<T>,
    last_seen: Instant,
}

/// The sessions of one application.
pub(crate) struct Sessions<T> {
    entries: Mutex<HashMap<String, Entry<T>>>,
    max: usize,
    ttl: Duration,
}

impl<T: Default> Sessions<T> {
    /// At most `max` sessions (at least one), each living `ttl` after its last use.
    pub(crate) fn new(max: usize, ttl: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            max: max.max(1),
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry<T>>> {
        self.entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// The live session `id`, marked as used now.
    pub(crate) fn get(&self, id: &str) -> Option<Shared<T>> {
        let now = Instant::now();
        let mut entries = self.lock();
        let entry = entries.get_mut(id)?;
        if now.duration_since(entry.last_seen) > self.ttl {
            entries.remove(id);
            return None;
        }
        entry.last_seen = now;
        Some(Arc::clone(&entry.state))
    }

    /// A new session with `state`; returns its identifier.
    pub(crate) fn insert(&self, state: Shared<T>) -> String {
        let now = Instant::now();
        let id = random_token();
        let mut entries = self.lock();
        entries.retain(|_, entry| now.duration_since(entry.last_seen) <= self.ttl);
        while entries.len() >= self.max {
            let oldest = entries
                .iter()
                .min_by_key(|(_, entry)| entry.last_seen)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(oldest) => entries.remove(&oldest),
                None => break,
            };
        }
        entries.insert(
            id.clone(),
            Entry {
                state,
                last_seen: now,
            },
        );
        id
    }

    /// A new, empty session.
    pub(crate) fn create(&self) -> (String, Shared<T>) {
        let state = Arc::new(tokio::sync::Mutex::new(T::default()));
        (self.insert(Arc::clone(&state)), state)
    }

    /// Moves session `id` to a new identifier (after sign-in, against session fixation).
    pub(crate) fn rotate(&self, id: &str) -> Option<String> {
        let entry = self.lock().remove(id)?;
        Some(self.insert(entry.state))
    }

    /// Forgets session `id`.
    pub(crate) fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// How many sessions are held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_random_and_sessions_separate() {
        let sessions = Sessions::<u32>::new(10, Duration::from_secs(60));
        let (a, _) = sessions.create();
        let (b, _) = sessions.create();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(!Arc::ptr_eq(
            &sessions.get(&a).unwrap(),
            &sessions.get(&b).unwrap()
        ));
        assert!(sessions.get("guessed").is_none());
    }

    #[test]
    fn drops_the_least_recently_used_session_when_full() {
        let sessions = Sessions::<u32>::new(2, Duration::from_secs(60));
        let (first, _) = sessions.create();
        let (second, _) = sessions.create();
        std::thread::sleep(Duration::from_millis(2));
        sessions.get(&first).unwrap();
        let (third, _) = sessions.create();
        assert_eq!(sessions.len(), 2);
        assert!(sessions.get(&second).is_none());
        assert!(sessions.get(&first).is_some());
        assert!(sessions.get(&third).is_some());
    }

    #[test]
    fn idle_sessions_expire() {
        let sessions = Sessions::<u32>::new(10, Duration::ZERO);
        let (id, _) = sessions.create();
        std::thread::sleep(Duration::from_millis(2));
        assert!(sessions.get(&id).is_none());
    }

    #[test]
    fn rotation_keeps_the_state_under_a_new_identifier() {
        let sessions = Sessions::<u32>::new(10, Duration::from_secs(60));
        let (old, state) = sessions.create();
        let new = sessions.rotate(&old).unwrap();
        assert_ne!(old, new);
        assert!(sessions.get(&old).is_none());
        assert!(Arc::ptr_eq(&sessions.get(&new).unwrap(), &state));
    }
}
