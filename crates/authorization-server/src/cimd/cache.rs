//! How long a fetched document is reused (CIMD draft §4.4, RFC 9111), and the bounded cache
//! that holds it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use http::header::{AGE, CACHE_CONTROL, DATE, EXPIRES};
use mcp_oauth_core::ValidatedClientMetadata;

/// The bounds applied to what a response's headers ask for.
#[derive(Debug, Clone, Copy)]
pub(super) struct Lifetimes {
    /// Used when the response has neither `Cache-Control: max-age` nor `Expires`.
    pub default: Duration,
    /// A shorter positive lifetime is raised to this.
    pub min: Duration,
    /// A longer lifetime is lowered to this.
    pub max: Duration,
}

/// How long a successful response may be reused, or `None` if it must not be stored.
///
/// - `Cache-Control: no-store` or `no-cache` (qualified or not): not stored. We never
///   revalidate, so `no-cache` (RFC 9111 §5.2.2.4: reuse only after revalidation) means
///   fetching again each time.
/// - `max-age=N` (RFC 9111 §5.2.2.1), less `Age` (§5.1): N=0 or an exhausted age means not
///   stored; a malformed or repeated-and-conflicting `max-age` counts as stale (§4.2.1).
/// - otherwise `Expires` (§5.3) less `Date` (or now): in the past or malformed, not stored.
/// - neither: `lifetimes.default`.
///
/// A positive lifetime is then clamped to `[min, max]`. `private` and `s-maxage` are ignored:
/// the authorization server is the user agent consuming the document, not a shared cache
/// between other parties.
pub(super) fn cache_lifetime(
    headers: &HeaderMap,
    now: SystemTime,
    lifetimes: Lifetimes,
) -> Option<Duration> {
    let mut max_age: Option<Option<u64>> = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else {
            return None;
        };
        for directive in value.split(',') {
            let (name, argument) = match directive.split_once('=') {
                Some((name, argument)) => (name.trim(), Some(argument.trim().trim_matches('"'))),
                None => (directive.trim(), None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return None;
            }
            if name.eq_ignore_ascii_case("max-age") {
                let parsed = argument.and_then(parse_seconds);
                max_age = match max_age {
                    Some(previous) if previous != parsed => Some(None),
                    _ => Some(parsed),
                };
            }
        }
    }
    let lifetime = match max_age {
        Some(seconds) => {
            let age = headers
                .get(AGE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_seconds)
                .unwrap_or(0);
            Duration::from_secs(seconds?.saturating_sub(age))
        }
        None => match headers.get(EXPIRES) {
            Some(expires) => {
                let expires = expires.to_str().ok().and_then(parse_http_date)?;
                let date = headers
                    .get(DATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_http_date)
                    .unwrap_or(now);
                expires.duration_since(date).ok()?
            }
            None => lifetimes.default,
        },
    };
    if lifetime.is_zero() {
        return None;
    }
    Some(lifetime.clamp(lifetimes.min, lifetimes.max.max(lifetimes.min)))
}

/// `delta-seconds` (RFC 9111 §1.2.2); values past `u64` saturate.
fn parse_seconds(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(value.parse().unwrap_or(u64::MAX))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7). The obsolete formats
/// are not read; a date that cannot be read makes `Expires` count as past (RFC 9111 §5.3).
fn parse_http_date(value: &str) -> Option<SystemTime> {
    let rest = value.trim().split_once(", ")?.1;
    let mut parts = rest.split(' ');
    let day: u64 = parts.next().filter(|d| d.len() == 2)?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next().filter(|y| y.len() == 4)?.parse().ok()?;
    let mut clock = parts.next()?.split(':');
    let hour: u64 = clock.next()?.parse().ok()?;
    let minute: u64 = clock.next()?.parse().ok()?;
    let second: u64 = clock.next()?.parse().ok()?;
    if parts.next()? != "GMT" || parts.next().is_some() || clock.next().is_some() {
        return None;
    }
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 || year < 1970 {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u64, day: u64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = month as i64;
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// A bounded map from client identifier URL to validated metadata with an expiry.
///
/// When full, expired entries go first, then the entry closest to expiry.
#[derive(Debug)]
pub(super) struct MetadataCache {
    capacity: usize,
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    metadata: Arc<ValidatedClientMetadata>,
    expires: Instant,
}

impl MetadataCache {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn get(&self, key: &str, now: Instant) -> Option<Arc<ValidatedClientMetadata>> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(key) {
            Some(entry) if entry.expires > now => Some(entry.metadata.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub(super) fn insert(
        &self,
        key: &str,
        metadata: Arc<ValidatedClientMetadata>,
        lifetime: Duration,
        now: Instant,
    ) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(key) {
            entries.retain(|_, entry| entry.expires > now);
            if entries.len() >= self.capacity {
                let soonest = entries
                    .iter()
                    .min_by_key(|(_, entry)| entry.expires)
                    .map(|(key, _)| key.clone());
                if let Some(soonest) = soonest {
                    entries.remove(&soonest);
                }
            }
        }
        let expires = now
            .checked_add(lifetime)
            .unwrap_or(now + Duration::from_secs(86_400));
        entries.insert(key.to_owned(), Entry { metadata, expires });
    }

    pub(super) fn remove(&self, key: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.remove(key);
    }

    pub(super) fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use mcp_oauth_core::{ClientMetadata, RegistrationPolicy};

    use super::*;

    const LIFETIMES: Lifetimes = Lifetimes {
        default: Duration::from_secs(300),
        min: Duration::from_secs(60),
        max: Duration::from_secs(86_400),
    };

    /// Response headers of one case.
    type Headers<'a> = &'a [(&'a http::HeaderName, &'a str)];

    fn lifetime(headers: Headers<'_>) -> Option<u64> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        // 2025-10-08T00:00:00Z
        let now = UNIX_EPOCH + Duration::from_secs(1_759_881_600);
        cache_lifetime(&map, now, LIFETIMES).map(|d| d.as_secs())
    }

    #[test]
    fn honours_cache_headers_within_the_floor_and_ceiling() {
        let cc = &CACHE_CONTROL;
        let cases: &[(Headers<'_>, Option<u64>)] = &[
            (&[], Some(300)),
            (&[(cc, "max-age=3600")], Some(3600)),
            (&[(cc, "public, max-age=3600")], Some(3600)),
            (&[(cc, "MAX-AGE=\"120\"")], Some(120)),
            (&[(cc, "max-age=5")], Some(60)),
            (&[(cc, "max-age=31536000")], Some(86_400)),
            (&[(cc, "max-age=99999999999999999999999")], Some(86_400)),
            (&[(cc, "max-age=0")], None),
            (&[(cc, "max-age=-1")], None),
            (&[(cc, "max-age=abc")], None),
            (&[(cc, "max-age")], None),
            (&[(cc, "max-age=60, max-age=120")], None),
            (&[(cc, "max-age=600"), (cc, "max-age=600")], Some(600)),
            (&[(cc, "no-store")], None),
            (&[(cc, "max-age=3600, no-store")], None),
            (&[(cc, "no-cache")], None),
            (&[(cc, "No-Cache")], None),
            (&[(cc, "no-cache=\"set-cookie\", max-age=3600")], None),
            (&[(cc, "max-age=3600"), (cc, "no-cache")], None),
            (&[(cc, "private, max-age=600")], Some(600)),
            (&[(cc, "max-age=3600"), (&AGE, "3000")], Some(600)),
            (&[(cc, "max-age=3600"), (&AGE, "3600")], None),
            (
                &[
                    (cc, "max-age=3600"),
                    (&EXPIRES, "Thu, 01 Jan 1970 00:00:00 GMT"),
                ],
                Some(3600),
            ),
            (&[(&EXPIRES, "Wed, 08 Oct 2025 02:00:00 GMT")], Some(7200)),
            (
                &[
                    (&EXPIRES, "Wed, 08 Oct 2025 02:00:00 GMT"),
                    (&DATE, "Wed, 08 Oct 2025 01:00:00 GMT"),
                ],
                Some(3600),
            ),
            (&[(&EXPIRES, "Tue, 07 Oct 2025 23:59:00 GMT")], None),
            (&[(&EXPIRES, "0")], None),
            (&[(&EXPIRES, "Wed, 08 Oct 2025 02:00:00 UTC")], None),
            (&[(&EXPIRES, "Wed, 08 Oct 2025 00:00:30 GMT")], Some(60)),
        ];
        for (headers, expected) in cases {
            assert_eq!(lifetime(headers), *expected, "{headers:?}");
        }
    }

    #[test]
    fn parses_imf_fixdates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(784_111_777))
        );
        assert_eq!(
            parse_http_date("Thu, 29 Feb 2024 12:00:00 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(1_709_208_000))
        );
        for bad in [
            "",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn evicts_expired_entries_then_the_soonest_to_expire_when_full() {
        let metadata = Arc::new(
            ClientMetadata::new(["https://a.example/cb"])
                .validate(&RegistrationPolicy::default())
                .unwrap(),
        );
        let cache = MetadataCache::new(2);
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        cache.insert("a", metadata.clone(), minute, now);
        cache.insert("b", metadata.clone(), minute * 10, now);
        cache.insert("c", metadata.clone(), minute * 5, now);
        assert_eq!(cache.len(), 2);
        assert!(cache.get("a", now).is_none(), "the soonest to expire goes");
        assert!(cache.get("b", now).is_some() && cache.get("c", now).is_some());
        let later = now + minute * 6;
        assert!(
            cache.get("c", later).is_none(),
            "expired entries are not served"
        );
        cache.insert("d", metadata.clone(), minute, later);
        assert!(cache.get("b", later).is_some() && cache.get("d", later).is_some());
        cache.remove("b");
        assert!(cache.get("b", later).is_none());
        let disabled = MetadataCache::new(0);
        disabled.insert("a", metadata, minute, now);
        assert_eq!(disabled.len(), 0);
    }
}
