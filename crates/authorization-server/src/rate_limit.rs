//! Rate limits per client address (registrations, upstream sign-ins), counted in the store
//! ([`LimitStore`]) so that they hold across every instance on one database; and the key that
//! stands for a client address in them and in the sign-in throttle ([`address_key`]).
//!
//! Each limit allows its number of events per address in a fixed window of a minute that starts
//! at the address's first event; the events past it are refused until the window ends. A
//! global limit (registrations) counts every address together on one more counter, key `*`.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::store::{Hits, LimitCounter, LimitKind, LimitStore, StoreResult, UnixTime};

/// The window of the rate limits.
const MINUTE: Duration = Duration::from_secs(60);

/// The key of the counter every address shares (a global limit): never an address key.
const GLOBAL_KEY: &str = "*";

/// Which limit refused an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limited {
    /// The address has used up its minute.
    Address,
    /// Every address together has used up the minute.
    Global,
}

/// The key of a client address in the counters: the IPv4 address, the /64 of an IPv6 address
/// (the block one subscriber usually holds; an IPv4-mapped address is its IPv4 address), or a
/// key shared by every client when the address is unknown.
///
/// The address comes from axum's `ConnectInfo<SocketAddr>`: serve the router with
/// `into_make_service_with_connect_info::<SocketAddr>()`. Without it every client shares one
/// key (logged once as a warning). Behind a reverse proxy that is the proxy's address;
/// `X-Forwarded-For` is deliberately not trusted.
pub(crate) fn address_key(address: Option<IpAddr>) -> String {
    match address.map(|address| address.to_canonical()) {
        Some(IpAddr::V4(ip)) => ip.to_string(),
        Some(IpAddr::V6(ip)) => {
            let [a, b, c, d, ..] = ip.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
        None => {
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "the client address is unknown (serve the router with \
                     into_make_service_with_connect_info::<SocketAddr>()); \
                     all clients share one sign-in throttle and one rate limit"
                );
            }
            "unknown".to_owned()
        }
    }
}

/// At most `limit` events of one kind per client address per minute, in the store.
#[derive(Clone)]
pub(crate) struct AddressRateLimit {
    store: Arc<dyn LimitStore>,
    kind: LimitKind,
    limit: u32,
}

impl AddressRateLimit {
    /// At most `limit` events of `kind` per address per minute (a limit of 0 refuses all).
    pub(crate) fn per_minute(store: Arc<dyn LimitStore>, kind: LimitKind, limit: u32) -> Self {
        Self { store, kind, limit }
    }

    /// Counts an event from `address` at `now`: `true` when it is within the limit, `false`
    /// (and nothing counted) when the address has used up its minute. (Federated sign-in's
    /// limit; registration uses [`AddressRateLimit::admit_within`].)
    #[cfg_attr(not(feature = "federation"), allow(dead_code))]
    pub(crate) async fn admit(&self, address: Option<IpAddr>, now: UnixTime) -> StoreResult<bool> {
        Ok(self.admit_within(address, None, now).await?.is_none())
    }

    /// Counts an event from `address` at `now` on the address's counter and, with a `global`
    /// limit, on the counter every address shares, in one store call (both or neither):
    /// `None` when within both, else the limit that is used up (nothing counted).
    pub(crate) async fn admit_within(
        &self,
        address: Option<IpAddr>,
        global: Option<u32>,
        now: UnixTime,
    ) -> StoreResult<Option<Limited>> {
        let own = LimitCounter::new(self.kind, address_key(address), self.limit, MINUTE);
        let mut counters = vec![own.clone()];
        if let Some(limit) = global {
            counters.push(LimitCounter::new(self.kind, GLOBAL_KEY, limit, MINUTE));
        }
        Ok(match self.store.count_hits(&counters, now).await? {
            Hits::Counted(_) => None,
            Hits::Refused { .. } if self.store.limit_reached_until(&own, now).await?.is_some() => {
                Some(Limited::Address)
            }
            Hits::Refused { .. } => Some(Limited::Global),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

    #[test]
    fn keys_ipv6_clients_by_their_64_and_unwraps_mapped_ipv4() {
        let ip = |address: &str| Some(address.parse::<SocketAddr>().unwrap().ip());
        let a = ip("[2001:db8:1:2:aaaa::1]:443");
        let b = ip("[2001:db8:1:2:bbbb::2]:80");
        assert_eq!(address_key(a), address_key(b));
        assert_eq!(address_key(a), "2001:db8:1:2::/64");
        assert_eq!(address_key(ip("[::ffff:10.1.2.3]:1")), "10.1.2.3");
        assert_eq!(address_key(None), "unknown");
    }
}
