//! The registry in a DynamoDB table, what AWS deployments use.
//!
//! Table layout (the CloudFormation template creates it; [`DynamoDbRegistry::create_table`]
//! does the same on emulators): partition key `client_id` (S); attributes `metadata` (S, JSON),
//! `registration_token_hash` (S), `created_at`, `last_used_at`, `expires_at` (N, Unix seconds)
//! and `ttl` (N), the table's TTL attribute; `client_status` and `registration_path` (S) and
//! `approved_at` (N) for registration governance (records without them are active clients of
//! open registration).
//!
//! `ttl` is `expires_at` plus [`TTL_GRACE_SECS`]: the sweeper, which deletes the Cognito app
//! client before the record, always sees an expired registration first; DynamoDB's TTL
//! (which deletes within days, not on the second) only removes records the sweeper could
//! not, for example while no gateway runs. Both attributes are removed when a client is used.
//!
//! Events ([`BridgeEvent`]) live in the same table, so deployments need no other table or
//! permission: each is an item whose key is `event#<occurred_at, 12 digits>#<written at, in
//! nanoseconds, 20 digits>#<random>` (never a Cognito app client id, which has no `#`), with the attributes `event`, `outcome`, `reason`,
//! `actor`, `event_client_id`, `address`, `occurred_at`, `event_expires_at` and `ttl`
//! (`event_expires_at` plus [`TTL_GRACE_SECS`]). Having no `expires_at`, an event is never
//! taken for an expired registration; the sweeper purges events past `event_expires_at`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TimeToLiveSpecification,
};

use mcp_oauth_core::{ClientStatus, RegistrationPath};

use super::{BridgeEvent, BridgeEventKind, Registration, Registry, RegistryError, UnixTime};

/// The partition key attribute.
pub const PARTITION_KEY: &str = "client_id";
/// The TTL attribute the table must be configured with.
pub const TTL_ATTRIBUTE: &str = "ttl";
/// How long after `expires_at` DynamoDB's TTL may delete a record (one day).
pub const TTL_GRACE_SECS: u64 = 24 * 3600;
/// The start of the key of every event item.
const EVENT_KEY_PREFIX: &str = "event#";

/// The [`Registry`] in a DynamoDB table (see the module documentation for its layout).
#[derive(Clone)]
pub struct DynamoDbRegistry {
    client: Client,
    table: String,
}

type Item = HashMap<String, AttributeValue>;

fn unavailable(error: impl std::error::Error) -> RegistryError {
    RegistryError::Unavailable(DisplayErrorContext(error).to_string())
}

fn number(value: UnixTime) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl DynamoDbRegistry {
    /// The registry in `table`, reached with `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The registry in `table`, reached with the AWS configuration `config`.
    pub fn connect(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }

    /// Creates the table (on-demand capacity) and enables its TTL: for emulators and local
    /// runs. Deployments get the table from the CloudFormation template.
    pub async fn create_table(&self) -> Result<(), RegistryError> {
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(PARTITION_KEY)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(unavailable)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(PARTITION_KEY)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(unavailable)?,
            )
            .send()
            .await
            .map_err(unavailable)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TTL_ATTRIBUTE)
                    .build()
                    .map_err(unavailable)?,
            )
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    fn key(client_id: &str) -> Item {
        HashMap::from([(
            PARTITION_KEY.to_owned(),
            AttributeValue::S(client_id.to_owned()),
        )])
    }

    fn to_item(registration: &Registration) -> Item {
        let mut item = Self::key(&registration.client_id);
        item.insert(
            "metadata".to_owned(),
            AttributeValue::S(registration.metadata.to_string()),
        );
        item.insert(
            "registration_token_hash".to_owned(),
            AttributeValue::S(registration.registration_token_hash.clone()),
        );
        item.insert("created_at".to_owned(), number(registration.created_at));
        if let Some(used) = registration.last_used_at {
            item.insert("last_used_at".to_owned(), number(used));
        }
        item.insert(
            "client_status".to_owned(),
            AttributeValue::S(registration.status.as_str().to_owned()),
        );
        item.insert(
            "registration_path".to_owned(),
            AttributeValue::S(registration.path.as_str().to_owned()),
        );
        if let Some(approved) = registration.approved_at {
            item.insert("approved_at".to_owned(), number(approved));
        }
        if let Some(expires) = registration.expires_at {
            item.insert("expires_at".to_owned(), number(expires));
            item.insert(
                TTL_ATTRIBUTE.to_owned(),
                number(expires.saturating_add(TTL_GRACE_SECS)),
            );
        }
        item
    }

    fn event_item(event: &BridgeEvent) -> Item {
        // Within a second, events sort by when they were written (nanoseconds), then by a
        // random part that keeps the keys of simultaneous writers apart.
        let written = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        let key = format!(
            "{EVENT_KEY_PREFIX}{:012}#{written:020}#{}",
            event.occurred_at,
            &mcp_oauth_core::random_token()[..8]
        );
        let mut item = Self::key(&key);
        item.insert(
            "event".to_owned(),
            AttributeValue::S(event.event.as_str().to_owned()),
        );
        item.insert(
            "outcome".to_owned(),
            AttributeValue::S(event.outcome.as_str().to_owned()),
        );
        for (name, value) in [
            ("reason", &event.reason),
            ("actor", &event.actor),
            ("event_client_id", &event.client_id),
            ("address", &event.address),
        ] {
            if let Some(value) = value {
                item.insert(name.to_owned(), AttributeValue::S(value.clone()));
            }
        }
        item.insert("occurred_at".to_owned(), number(event.occurred_at));
        item.insert("event_expires_at".to_owned(), number(event.expires_at));
        item.insert(
            TTL_ATTRIBUTE.to_owned(),
            number(event.expires_at.saturating_add(TTL_GRACE_SECS)),
        );
        item
    }

    fn event_from_item(item: &Item) -> Result<BridgeEvent, RegistryError> {
        let corrupt = |reason: String| RegistryError::Corrupt {
            client_id: "(event)".to_owned(),
            reason,
        };
        let text = |name: &str| match item.get(name) {
            None => Ok(None),
            Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
            Some(_) => Err(corrupt(format!("{name} is not a string"))),
        };
        let time = |name: &str| match item.get(name) {
            Some(AttributeValue::N(value)) => value
                .parse::<UnixTime>()
                .map_err(|_| corrupt(format!("{name} is not a whole number"))),
            _ => Err(corrupt(format!("{name} is missing or not a number"))),
        };
        let required = |name: &str| text(name)?.ok_or_else(|| corrupt(format!("no {name}")));
        Ok(BridgeEvent {
            occurred_at: time("occurred_at")?,
            event: required("event")?
                .parse::<BridgeEventKind>()
                .map_err(corrupt)?,
            outcome: required("outcome")?
                .parse()
                .map_err(|error| corrupt(format!("{error}")))?,
            reason: text("reason")?,
            actor: text("actor")?,
            client_id: text("event_client_id")?,
            address: text("address")?,
            expires_at: time("event_expires_at")?,
        })
    }

    /// Every event item matching `filter` (with `:prefix` bound to the event key prefix and
    /// `values` bound), by a paginated scan.
    async fn scan_events(
        &self,
        filter: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<Vec<Item>, RegistryError> {
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut scan = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(format!(
                    "begins_with({PARTITION_KEY}, :prefix) AND {filter}"
                ))
                .expression_attribute_values(
                    ":prefix",
                    AttributeValue::S(EVENT_KEY_PREFIX.to_owned()),
                )
                .set_exclusive_start_key(start.take())
                .consistent_read(true);
            for (name, value) in values {
                scan = scan.expression_attribute_values(*name, value.clone());
            }
            let output = scan.send().await.map_err(unavailable)?;
            found.extend(output.items().iter().cloned());
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(found),
            }
        }
    }

    fn from_item(item: &Item) -> Result<Registration, RegistryError> {
        let client_id = match item.get(PARTITION_KEY) {
            Some(AttributeValue::S(id)) => id.clone(),
            _ => {
                return Err(RegistryError::Corrupt {
                    client_id: "?".to_owned(),
                    reason: format!("no {PARTITION_KEY}"),
                });
            }
        };
        let corrupt = |reason: String| RegistryError::Corrupt {
            client_id: client_id.clone(),
            reason,
        };
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(value)) => Ok(value.clone()),
            _ => Err(corrupt(format!("{name} is missing or not a string"))),
        };
        let time = |name: &str| match item.get(name) {
            None => Ok(None),
            Some(AttributeValue::N(value)) => value
                .parse()
                .map(Some)
                .map_err(|_| corrupt(format!("{name} is not a whole number"))),
            Some(_) => Err(corrupt(format!("{name} is not a number"))),
        };
        let metadata = serde_json::from_str(&text("metadata")?)
            .map_err(|error| corrupt(format!("metadata: {error}")))?;
        let optional_text = |name: &str| match item.get(name) {
            None => Ok(None),
            Some(AttributeValue::S(value)) => Ok(Some(value.as_str())),
            Some(_) => Err(corrupt(format!("{name} is not a string"))),
        };
        let status = optional_text("client_status")?
            .map(str::parse::<ClientStatus>)
            .transpose()
            .map_err(|error| corrupt(error.to_string()))?
            .unwrap_or(ClientStatus::Active);
        let path = optional_text("registration_path")?
            .map(str::parse::<RegistrationPath>)
            .transpose()
            .map_err(|error| corrupt(error.to_string()))?
            .unwrap_or(RegistrationPath::Open);
        Ok(Registration {
            status,
            path,
            approved_at: time("approved_at")?,
            metadata,
            registration_token_hash: text("registration_token_hash")?,
            created_at: time("created_at")?.ok_or_else(|| corrupt("no created_at".to_owned()))?,
            last_used_at: time("last_used_at")?,
            expires_at: time("expires_at")?,
            client_id: client_id.clone(),
        })
    }
}

#[async_trait]
impl Registry for DynamoDbRegistry {
    async fn insert(&self, registration: &Registration) -> Result<(), RegistryError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::to_item(registration)))
            .condition_expression("attribute_not_exists(client_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => {
                let error = error.into_service_error();
                if error.is_conditional_check_failed_exception() {
                    Err(RegistryError::Duplicate(registration.client_id.clone()))
                } else {
                    Err(unavailable(error))
                }
            }
        }
    }

    async fn get(&self, client_id: &str) -> Result<Option<Registration>, RegistryError> {
        if client_id.starts_with(EVENT_KEY_PREFIX) {
            return Ok(None);
        }
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(client_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output.item().map(Self::from_item).transpose()
    }

    async fn delete(&self, client_id: &str) -> Result<bool, RegistryError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(client_id)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.attributes().is_some_and(|old| !old.is_empty()))
    }

    async fn mark_used(&self, client_id: &str, now: UnixTime) -> Result<(), RegistryError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(client_id)))
            .update_expression(
                "SET last_used_at = if_not_exists(last_used_at, :now) REMOVE expires_at, #ttl",
            )
            .condition_expression("attribute_exists(client_id)")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", number(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => {
                let error = error.into_service_error();
                if error.is_conditional_check_failed_exception() {
                    Ok(())
                } else {
                    Err(unavailable(error))
                }
            }
        }
    }

    async fn set_status(
        &self,
        client_id: &str,
        status: ClientStatus,
        now: UnixTime,
        expires_at: Option<UnixTime>,
    ) -> Result<bool, RegistryError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(client_id)))
            .condition_expression("attribute_exists(registration_token_hash)")
            .expression_attribute_values(":status", AttributeValue::S(status.as_str().to_owned()));
        let mut set = vec!["client_status = :status"];
        if status == ClientStatus::Active {
            set.push("approved_at = :now");
            update = update.expression_attribute_values(":now", number(now));
        }
        let expression = match expires_at {
            Some(expires) => {
                set.push("expires_at = :expires");
                set.push("#ttl = :ttl");
                update = update
                    .expression_attribute_values(":expires", number(expires))
                    .expression_attribute_values(
                        ":ttl",
                        number(expires.saturating_add(TTL_GRACE_SECS)),
                    );
                format!("SET {}", set.join(", "))
            }
            None => format!("SET {} REMOVE expires_at, #ttl", set.join(", ")),
        };
        let result = update
            .update_expression(expression)
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => {
                let error = error.into_service_error();
                if error.is_conditional_check_failed_exception() {
                    Ok(false)
                } else {
                    Err(unavailable(error))
                }
            }
        }
    }

    /// A filtered scan over the registrations (never the event items, which have no
    /// `registration_token_hash`), sorted by creation.
    async fn list(&self, status: Option<ClientStatus>) -> Result<Vec<Registration>, RegistryError> {
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        let filter = match status {
            None => "attribute_exists(registration_token_hash)",
            Some(ClientStatus::Active) => {
                "attribute_exists(registration_token_hash) AND \
                 (attribute_not_exists(client_status) OR client_status = :status)"
            }
            Some(_) => "attribute_exists(registration_token_hash) AND client_status = :status",
        };
        loop {
            let mut scan = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(filter)
                .set_exclusive_start_key(start.take())
                .consistent_read(true);
            if let Some(status) = status {
                scan = scan.expression_attribute_values(
                    ":status",
                    AttributeValue::S(status.as_str().to_owned()),
                );
            }
            let output = scan.send().await.map_err(unavailable)?;
            for item in output.items() {
                found.push(Self::from_item(item)?);
            }
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        found.sort_by(|a, b| (a.created_at, &a.client_id).cmp(&(b.created_at, &b.client_id)));
        Ok(found)
    }

    /// A filtered scan: the table holds at most one record per app client of the pool (a
    /// Cognito quota of 1,000 by default), so a sweep reads little.
    async fn expired(
        &self,
        now: UnixTime,
        limit: usize,
    ) -> Result<Vec<Registration>, RegistryError> {
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("expires_at <= :now")
                .expression_attribute_values(":now", number(now))
                .set_exclusive_start_key(start.take())
                .consistent_read(true)
                .send()
                .await
                .map_err(unavailable)?;
            for item in output.items() {
                if found.len() == limit {
                    return Ok(found);
                }
                found.push(Self::from_item(item)?);
            }
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(found),
            }
        }
    }

    async fn append_event(&self, event: &BridgeEvent) -> Result<(), RegistryError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::event_item(event)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// A filtered scan of the event items, sorted by key (the time, then a random part).
    async fn events(
        &self,
        since: UnixTime,
        limit: usize,
    ) -> Result<Vec<BridgeEvent>, RegistryError> {
        let mut items = self
            .scan_events("occurred_at >= :since", &[(":since", number(since))])
            .await?;
        let key = |item: &Item| match item.get(PARTITION_KEY) {
            Some(AttributeValue::S(key)) => key.clone(),
            _ => String::new(),
        };
        items.sort_by_key(key);
        let newest = items.len().saturating_sub(limit);
        items[newest..].iter().map(Self::event_from_item).collect()
    }

    async fn purge_events(&self, now: UnixTime) -> Result<u64, RegistryError> {
        let expired = self
            .scan_events("event_expires_at <= :now", &[(":now", number(now))])
            .await?;
        let mut deleted = 0;
        for item in expired {
            let Some(key) = item.get(PARTITION_KEY).cloned() else {
                continue;
            };
            self.client
                .delete_item()
                .table_name(&self.table)
                .key(PARTITION_KEY, key)
                .send()
                .await
                .map_err(unavailable)?;
            deleted += 1;
        }
        Ok(deleted)
    }
}
