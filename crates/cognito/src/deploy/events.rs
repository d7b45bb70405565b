//! Stack events: the progress lines shown while CloudFormation works, and the failure reasons.

use std::fmt;

/// One CloudFormation stack event (a resource or the stack changing status).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StackEvent {
    /// CloudFormation's unique id of the event.
    pub id: String,
    /// When it happened, as CloudFormation reports it (RFC 3339, UTC).
    pub timestamp: String,
    /// The template's name of the resource (the stack name for the stack itself).
    pub logical_id: String,
    /// The resource type, e.g. `AWS::Cognito::UserPool`.
    pub resource_type: String,
    /// The status, e.g. `CREATE_IN_PROGRESS` or `CREATE_FAILED`.
    pub status: String,
    /// Why, when CloudFormation says (AWS's error for failures).
    pub reason: Option<String>,
}

impl StackEvent {
    /// Builds an event from fields CloudFormation reports.
    pub fn new(
        id: impl Into<String>,
        logical_id: impl Into<String>,
        resource_type: impl Into<String>,
        status: impl Into<String>,
        reason: Option<String>,
    ) -> Self {
        Self {
            id: id.into(),
            timestamp: String::new(),
            logical_id: logical_id.into(),
            resource_type: resource_type.into(),
            status: status.into(),
            reason,
        }
    }

    /// Whether the event reports a failure (`CREATE_FAILED`, `UPDATE_FAILED`, `DELETE_FAILED`…).
    pub fn is_failure(&self) -> bool {
        self.status.ends_with("_FAILED")
    }

    pub(crate) fn from_sdk(event: &aws_sdk_cloudformation::types::StackEvent) -> Self {
        let timestamp = event
            .timestamp()
            .and_then(|time| {
                time.fmt(aws_sdk_cloudformation::primitives::DateTimeFormat::DateTime)
                    .ok()
            })
            .unwrap_or_default();
        Self {
            id: event.event_id().unwrap_or_default().to_owned(),
            timestamp,
            logical_id: event.logical_resource_id().unwrap_or_default().to_owned(),
            resource_type: event.resource_type().unwrap_or_default().to_owned(),
            status: event
                .resource_status()
                .map(|status| status.as_str().to_owned())
                .unwrap_or_default(),
            reason: event
                .resource_status_reason()
                .filter(|reason| !reason.is_empty())
                .map(str::to_owned),
        }
    }
}

impl fmt::Display for StackEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.timestamp.is_empty() {
            write!(f, "{}  ", self.timestamp)?;
        }
        write!(
            f,
            "{:<28} {} ({})",
            self.status, self.logical_id, self.resource_type
        )?;
        if let Some(reason) = &self.reason {
            write!(f, ": {reason}")?;
        }
        Ok(())
    }
}

/// The events of one stack operation, in the order they happened, each reported once.
///
/// CloudFormation lists events newest first, and keeps the events of earlier operations: the
/// log remembers where the operation started and which events it has already reported.
#[derive(Debug, Default)]
pub(crate) struct EventLog {
    /// The newest event before the operation started; it and older events are not reported.
    baseline: Option<String>,
    /// Ids of the events reported so far, and the events themselves, oldest first.
    seen: Vec<StackEvent>,
}

impl EventLog {
    /// A log that reports only events newer than `baseline` (`None`: every event).
    pub(crate) fn after(baseline: Option<String>) -> Self {
        Self {
            baseline,
            seen: Vec::new(),
        }
    }

    /// Takes a listing (newest first, possibly only its first pages) and returns the events
    /// not reported before, oldest first.
    pub(crate) fn take_new(&mut self, newest_first: Vec<StackEvent>) -> Vec<StackEvent> {
        let mut fresh: Vec<StackEvent> = newest_first
            .into_iter()
            .take_while(|event| Some(&event.id) != self.baseline.as_ref())
            .filter(|event| !self.seen.iter().any(|seen| seen.id == event.id))
            .collect();
        fresh.reverse();
        self.seen.extend(fresh.iter().cloned());
        fresh
    }

    /// Whether `event_id` was reported, or is the baseline (so older pages need not be read).
    pub(crate) fn knows(&self, event_id: &str) -> bool {
        self.baseline.as_deref() == Some(event_id) || self.seen.iter().any(|e| e.id == event_id)
    }

    /// `resource (type): reason` for each failed event of this operation, oldest first.
    pub(crate) fn failure_reasons(&self) -> Vec<String> {
        self.seen
            .iter()
            .filter(|event| event.is_failure())
            .map(|event| {
                format!(
                    "{} ({}): {}",
                    event.logical_id,
                    event.resource_type,
                    event.reason.as_deref().unwrap_or("no reason given")
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, logical: &str, status: &str, reason: Option<&str>) -> StackEvent {
        StackEvent::new(
            id,
            logical,
            "AWS::Test::Thing",
            status,
            reason.map(str::to_owned),
        )
    }

    #[test]
    fn reports_new_events_oldest_first_and_each_once() {
        let mut log = EventLog::after(Some("old".into()));
        let first = log.take_new(vec![
            event("2", "Table", "CREATE_IN_PROGRESS", None),
            event("1", "stack", "UPDATE_IN_PROGRESS", None),
            event("old", "stack", "CREATE_COMPLETE", None),
            event("older", "stack", "CREATE_IN_PROGRESS", None),
        ]);
        assert_eq!(
            first.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["1", "2"]
        );
        let second = log.take_new(vec![
            event("3", "stack", "UPDATE_COMPLETE", None),
            event("2", "Table", "CREATE_IN_PROGRESS", None),
            event("1", "stack", "UPDATE_IN_PROGRESS", None),
            event("old", "stack", "CREATE_COMPLETE", None),
        ]);
        assert_eq!(
            second.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["3"]
        );
        assert!(log.knows("old") && log.knows("2") && !log.knows("older"));
    }

    #[test]
    fn failure_reasons_name_the_resource_and_keep_the_order() {
        let mut log = EventLog::after(None);
        log.take_new(vec![
            event("4", "stack", "ROLLBACK_COMPLETE", None),
            event("3", "Pool", "DELETE_COMPLETE", None),
            event(
                "2",
                "Domain",
                "CREATE_FAILED",
                Some("Resource creation cancelled"),
            ),
            event(
                "1",
                "Pool",
                "CREATE_FAILED",
                Some("Domain already associated"),
            ),
        ]);
        assert_eq!(
            log.failure_reasons(),
            [
                "Pool (AWS::Test::Thing): Domain already associated",
                "Domain (AWS::Test::Thing): Resource creation cancelled",
            ]
        );
    }

    #[test]
    fn a_line_shows_status_resource_and_reason() {
        let line = event("1", "Pool", "CREATE_FAILED", Some("quota")).to_string();
        assert!(line.contains("CREATE_FAILED") && line.contains("Pool (AWS::Test::Thing): quota"));
    }
}
