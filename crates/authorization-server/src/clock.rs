//! Where the server reads the time: a [`Clock`] that tests replace.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::store::UnixTime;

/// Where the server reads the time; tests replace it.
pub type Clock = Arc<dyn Fn() -> UnixTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs() as UnixTime)
    })
}

/// `duration` in whole seconds, as times are added (saturating: a configured lifetime too long
/// for a `UnixTime` lasts as long as one can).
pub(crate) fn seconds(duration: std::time::Duration) -> UnixTime {
    UnixTime::try_from(duration.as_secs()).unwrap_or(UnixTime::MAX / 2)
}
