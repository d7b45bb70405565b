//! What the whole store reports about itself: [`Purged`] (what a purge deleted) and
//! [`ConnectionUse`] (its connection pool, for metrics).

/// What a purge deleted: the number of rows of each kind (the table they were in).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Purged {
    rows: Vec<(&'static str, u64)>,
}

impl Purged {
    /// Adds `count` rows of `kind`.
    pub fn add(&mut self, kind: &'static str, count: u64) {
        match self.rows.iter_mut().find(|(known, _)| *known == kind) {
            Some((_, total)) => *total += count,
            None => self.rows.push((kind, count)),
        }
    }

    /// The rows deleted, by kind, in the order the kinds were purged.
    pub fn by_kind(&self) -> &[(&'static str, u64)] {
        &self.rows
    }

    /// The rows of `kind` deleted.
    pub fn of(&self, kind: &str) -> u64 {
        self.rows
            .iter()
            .find(|(known, _)| *known == kind)
            .map_or(0, |(_, count)| *count)
    }

    /// Every row deleted.
    pub fn total(&self) -> u64 {
        self.rows.iter().map(|(_, count)| count).sum()
    }
}

/// The connections of a store's pool right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionUse {
    /// Connections open (idle or in use).
    pub open: u32,
    /// Open connections waiting for work.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

impl ConnectionUse {
    /// A pool with `open` connections, `idle` of them waiting, and at most `max`.
    pub fn new(open: u32, idle: u32, max: u32) -> Self {
        Self { open, idle, max }
    }

    /// Connections in use.
    pub fn in_use(&self) -> u32 {
        self.open.saturating_sub(self.idle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purged_rows_add_up_by_kind() {
        let mut purged = Purged::default();
        purged.add("sessions", 2);
        purged.add("refresh_tokens", 0);
        purged.add("sessions", 3);
        assert_eq!(purged.by_kind(), [("sessions", 5), ("refresh_tokens", 0)]);
        assert_eq!((purged.of("sessions"), purged.of("grants")), (5, 0));
        assert_eq!(purged.total(), 5);
    }
}
