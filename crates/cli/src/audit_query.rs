//! `mcp-oauth admin audit`: the authorization server's audit trail, filtered, as a table or
//! as JSON lines. A filter that cannot be read is a usage error naming its flag, before the
//! database is opened.

use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use mcp_oauth_authorization_server::Admin;
use mcp_oauth_authorization_server::store::{
    AuditEventKind, AuditFilter, AuditOutcome, AuditRecord, ClientId, UnixTime,
};
use serde_json::{Value, json};

/// The most records one query prints.
const MAX_LIMIT: u32 = 100_000;

/// Flags of `mcp-oauth admin audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Records at or after this time: RFC 3339 (`2026-12-01T08:00:00Z`) or an age (`90s`,
    /// `30m`, `24h`, `7d`, `2w`: that long ago).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    since: Option<TimeArg>,

    /// Records before this time: RFC 3339, or an age as for --since.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    until: Option<TimeArg>,

    /// Records of this event.
    #[arg(long, value_name = "EVENT", value_parser = one_of::<AuditEventKind>(AuditEventKind::ALL.map(AuditEventKind::as_str)))]
    event: Option<AuditEventKind>,

    /// Records with this outcome.
    #[arg(long, value_name = "OUTCOME", value_parser = one_of::<AuditOutcome>(AuditOutcome::ALL.map(AuditOutcome::as_str)))]
    outcome: Option<AuditOutcome>,

    /// Records concerning this client.
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,

    /// Records by or about this actor: an e-mail address, `admin`, `client:<client_id>`, or a
    /// user id.
    #[arg(long, value_name = "ACTOR")]
    actor: Option<String>,

    /// The most records shown: the newest that match, printed oldest first.
    #[arg(
        long,
        default_value_t = AuditFilter::DEFAULT_LIMIT,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_LIMIT))
    )]
    limit: u32,

    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

/// A time as given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeArg {
    /// A moment (Unix seconds).
    At(UnixTime),
    /// That many seconds before now.
    Ago(UnixTime),
}

impl TimeArg {
    fn resolve(self, now: UnixTime) -> UnixTime {
        match self {
            TimeArg::At(at) => at,
            TimeArg::Ago(seconds) => now.saturating_sub(seconds),
        }
    }
}

/// An RFC 3339 time, or an age: a whole number and a unit (`s`, `m`, `h`, `d`, `w`).
fn parse_time(text: &str) -> Result<TimeArg, String> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(TimeArg::At(at.timestamp()));
    }
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 24 * 3600,
        "w" => 7 * 24 * 3600,
        _ => 0,
    };
    match digits.parse::<UnixTime>() {
        Ok(count) if seconds > 0 && count >= 0 => count
            .checked_mul(seconds)
            .map(TimeArg::Ago)
            .ok_or_else(|| format!("{text:?} is too long ago")),
        _ => Err(format!(
            "{text:?} is neither an RFC 3339 time (2026-12-01T08:00:00Z) nor an age such as \
             90s, 30m, 24h, 7d or 2w"
        )),
    }
}

/// A flag that takes one of `names` (all the names of an enumeration, such as
/// [`AuditEventKind::ALL`]'s), which `--help` and a refusal list, so the list cannot fall
/// behind the enumeration.
fn one_of<T>(names: impl IntoIterator<Item = &'static str>) -> impl TypedValueParser<Value = T>
where
    T: FromStr + Clone + Send + Sync + 'static,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    PossibleValuesParser::new(names).try_map(|name| name.parse::<T>())
}

impl AuditArgs {
    /// The filter the flags describe, at `now`.
    fn filter(&self, now: UnixTime) -> anyhow::Result<AuditFilter> {
        let mut filter = AuditFilter::new().with_limit(self.limit);
        let since = self.since.map(|since| since.resolve(now));
        let until = self.until.map(|until| until.resolve(now));
        if let (Some(since), Some(until)) = (since, until)
            && since >= until
        {
            anyhow::bail!(
                "--since ({}) must be before --until ({})",
                format_time(since),
                format_time(until)
            );
        }
        if let Some(since) = since {
            filter = filter.with_since(since);
        }
        if let Some(until) = until {
            filter = filter.with_until(until);
        }
        if let Some(event) = self.event {
            filter = filter.with_event(event);
        }
        if let Some(outcome) = self.outcome {
            filter = filter.with_outcome(outcome);
        }
        if let Some(client_id) = &self.client_id {
            filter = filter.with_client_id(ClientId(client_id.clone()));
        }
        if let Some(actor) = &self.actor {
            filter = filter.with_actor(actor.clone());
        }
        Ok(filter)
    }
}

/// Prints the records that match `args`.
pub async fn run(admin: &Admin, args: &AuditArgs) -> anyhow::Result<()> {
    let filter = args.filter(unix_now())?;
    let records = admin
        .audit_records(&filter)
        .await
        .context("cannot read the audit trail")?;
    if args.json {
        for record in &records {
            println!("{}", to_json(record));
        }
    } else if records.is_empty() {
        eprintln!("no audit records match");
    } else {
        print!("{}", table(&records));
    }
    Ok(())
}

fn unix_now() -> UnixTime {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            UnixTime::try_from(elapsed.as_secs()).unwrap_or(UnixTime::MAX)
        })
}

/// `time` as RFC 3339 in UTC, to the second.
fn format_time(time: UnixTime) -> String {
    DateTime::<Utc>::from_timestamp(time, 0).map_or_else(
        || time.to_string(),
        |at| at.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// A record as one JSON object.
fn to_json(record: &AuditRecord) -> Value {
    json!({
        "id": record.id,
        "time": format_time(record.occurred_at),
        "occurred_at": record.occurred_at,
        "event": record.event.as_str(),
        "outcome": record.outcome.as_str(),
        "reason": record.reason,
        "actor": record.actor,
        "user_id": record.user_id.as_ref().map(|id| id.as_str()),
        "client_id": record.client_id.as_ref().map(ClientId::as_str),
        "address": record.address,
        "details": record.details,
    })
}

/// The records as a table with a header, columns aligned, `-` for what is not known.
fn table(records: &[AuditRecord]) -> String {
    const HEADER: [&str; 8] = [
        "TIME", "EVENT", "OUTCOME", "REASON", "ACTOR", "CLIENT", "ADDRESS", "DETAILS",
    ];
    let known = |value: Option<&str>| value.unwrap_or("-").to_owned();
    let rows: Vec<[String; 8]> = records
        .iter()
        .map(|record| {
            let details = record
                .details
                .iter()
                .map(|(name, value)| match value {
                    Value::String(text) => format!("{name}={text}"),
                    other => format!("{name}={other}"),
                })
                .collect::<Vec<_>>()
                .join(" ");
            [
                format_time(record.occurred_at),
                record.event.as_str().to_owned(),
                record.outcome.as_str().to_owned(),
                known(record.reason.as_deref()),
                known(record.actor.as_deref()),
                known(record.client_id.as_ref().map(ClientId::as_str)),
                known(record.address.as_deref()),
                if details.is_empty() {
                    "-".to_owned()
                } else {
                    details
                },
            ]
        })
        .collect();
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header = HEADER.map(str::to_owned);
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc_3339_or_an_age() {
        assert_eq!(
            parse_time("2026-12-01T08:00:00Z"),
            Ok(TimeArg::At(1_796_112_000))
        );
        assert_eq!(
            parse_time("2026-12-01T09:00:00+01:00"),
            Ok(TimeArg::At(1_796_112_000))
        );
        assert_eq!(parse_time("90s"), Ok(TimeArg::Ago(90)));
        assert_eq!(parse_time("24h"), Ok(TimeArg::Ago(86_400)));
        assert_eq!(parse_time("2w"), Ok(TimeArg::Ago(1_209_600)));
        assert_eq!(TimeArg::Ago(60).resolve(1_000), 940);
        for bad in [
            "",
            "yesterday",
            "24",
            "h",
            "-5m",
            "5 m",
            "1.5h",
            "2026-12-01",
            "99999999999999999w",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_table_aligns_its_columns_and_marks_what_is_unknown() {
        let mut record =
            AuditRecord::new(1_796_112_000, AuditEventKind::SignIn, AuditOutcome::Failed);
        record.reason = Some("wrong_credentials".into());
        record.details.insert("method".into(), json!("password"));
        let text = table(&[record]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("TIME                  EVENT    OUTCOME  REASON"));
        assert!(
            lines[1].starts_with("2026-12-01T08:00:00Z  sign_in  failed   wrong_credentials"),
            "{text}"
        );
        assert!(
            lines[1].ends_with("-       -        method=password"),
            "{text}"
        );
    }
}
