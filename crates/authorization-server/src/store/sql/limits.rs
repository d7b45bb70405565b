//! [`LimitStore`] on the `limit_counters` table: one row per counter, checked and counted by
//! one conditional upsert, so concurrent instances never count past a limit together.

use async_trait::async_trait;
use sqlx::{Any, Transaction};

use super::SqlStore;
use super::rows::{self, db_error};
use crate::store::{
    CountedHit, Hits, LimitCounter, LimitKind, LimitStore, MAX_LIMIT_COUNTERS_PER_KIND,
    StoreResult, UnixTime,
};

/// Counts one hit on a counter (`$1` kind, `$2` key) at `$3` now, unless it has reached `$5`
/// hits in its current window. A counter without a row, or whose window ended (`$4` is the end
/// of a window starting now), starts a new window with this hit. `counted` says whether this
/// hit was counted: the row comes back either way, with the window's bounds, so a refusal
/// needs no second statement to learn when to retry.
const COUNT_HIT: &str = "\
    INSERT INTO limit_counters (kind, counter_key, window_start, window_end, hits, counted) \
    VALUES ($1, $2, $3, $4, 1, 1) \
    ON CONFLICT (kind, counter_key) DO UPDATE SET \
      window_start = CASE WHEN limit_counters.window_end <= $3 THEN $3 \
                          ELSE limit_counters.window_start END, \
      window_end = CASE WHEN limit_counters.window_end <= $3 THEN $4 \
                        ELSE limit_counters.window_end END, \
      hits = CASE WHEN limit_counters.window_end <= $3 THEN 1 \
                  WHEN limit_counters.hits < $5 THEN limit_counters.hits + 1 \
                  ELSE limit_counters.hits END, \
      counted = CASE WHEN limit_counters.window_end <= $3 OR limit_counters.hits < $5 THEN 1 \
                     ELSE 0 END \
    RETURNING window_start, window_end, counted";

/// Deletes, per kind, the counters past the newest [`MAX_LIMIT_COUNTERS_PER_KIND`] (`$1`).
const CAP_COUNTERS: &str = "\
    DELETE FROM limit_counters WHERE (kind, counter_key) IN ( \
      SELECT kind, counter_key FROM ( \
        SELECT kind, counter_key, ROW_NUMBER() OVER ( \
          PARTITION BY kind ORDER BY window_start DESC, counter_key) AS newness \
        FROM limit_counters) AS ranked \
      WHERE newness > $1)";

#[async_trait]
impl LimitStore for SqlStore {
    async fn count_hits(&self, counters: &[LimitCounter], now: UnixTime) -> StoreResult<Hits> {
        let mut counted = Vec::with_capacity(counters.len());
        let mut refused_until = None;
        for counter in counters {
            if refused_until.is_some() {
                // Refused already: the others only say whether they would refuse later.
                if let Some(end) = self.limit_reached_until(counter, now).await? {
                    refused_until = refused_until.max(Some(end));
                }
                continue;
            }
            match self.count_hit(counter, now).await? {
                Ok(hit) => counted.push(hit),
                Err(end) => refused_until = Some(end),
            }
        }
        let Some(retry_at) = refused_until else {
            return Ok(Hits::Counted(counted));
        };
        for hit in &counted {
            self.give_back_hit(hit).await?;
        }
        Ok(Hits::Refused { retry_at })
    }

    async fn give_back_hit(&self, hit: &CountedHit) -> StoreResult<()> {
        sqlx::query(
            "UPDATE limit_counters SET hits = hits - 1 \
             WHERE kind = $1 AND counter_key = $2 AND window_start = $3 AND hits > 0",
        )
        .bind(hit.kind.as_str())
        .bind(hit.key.as_str())
        .bind(hit.window_start)
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn clear_limit_counter(&self, kind: LimitKind, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM limit_counters WHERE kind = $1 AND counter_key = $2")
            .bind(kind.as_str())
            .bind(key)
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn limit_reached_until(
        &self,
        counter: &LimitCounter,
        now: UnixTime,
    ) -> StoreResult<Option<UnixTime>> {
        if counter.limit == 0 {
            return Ok(Some(now.saturating_add(counter.window_secs())));
        }
        sqlx::query_scalar(
            "SELECT window_end FROM limit_counters \
             WHERE kind = $1 AND counter_key = $2 AND window_end > $3 AND hits >= $4",
        )
        .bind(counter.kind.as_str())
        .bind(counter.key.as_str())
        .bind(now)
        .bind(i64::from(counter.limit))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)
    }
}

impl SqlStore {
    /// Counts one hit on `counter` at `now`: the hit, or `Err(the end of the window)` when the
    /// counter has reached its limit.
    async fn count_hit(
        &self,
        counter: &LimitCounter,
        now: UnixTime,
    ) -> StoreResult<Result<CountedHit, UnixTime>> {
        let window_end = now.saturating_add(counter.window_secs());
        if counter.limit == 0 {
            return Ok(Err(window_end));
        }
        let row = sqlx::query(COUNT_HIT)
            .bind(counter.kind.as_str())
            .bind(counter.key.as_str())
            .bind(now)
            .bind(window_end)
            .bind(i64::from(counter.limit))
            .fetch_one(&self.writer)
            .await
            .map_err(db_error)?;
        if rows::get::<i64>(&row, "counted")? == 0 {
            return Ok(Err(rows::get(&row, "window_end")?));
        }
        Ok(Ok(CountedHit::new(
            counter.kind,
            counter.key.as_str(),
            rows::get(&row, "window_start")?,
        )))
    }
}

/// Deletes the counters whose window ended at `now`, then, of each kind, those past the newest
/// [`MAX_LIMIT_COUNTERS_PER_KIND`]; how many went.
pub(super) async fn purge(tx: &mut Transaction<'static, Any>, now: UnixTime) -> StoreResult<u64> {
    let expired = sqlx::query("DELETE FROM limit_counters WHERE window_end <= $1")
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    let excess = sqlx::query(CAP_COUNTERS)
        .bind(i64::from(MAX_LIMIT_COUNTERS_PER_KIND))
        .execute(&mut **tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    Ok(expired + excess)
}
