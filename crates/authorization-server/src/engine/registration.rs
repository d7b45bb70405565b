//! Dynamic Client Registration (RFC 7591) and its management protocol (RFC 7592), as named
//! steps: [`Registrar::admit`] (the rate limit and the initial access token), then
//! [`Registrar::register`]; [`Registrar::managed`] (the registration access token), then
//! reading, updating or deleting the client it manages.

use std::net::IpAddr;
use std::sync::Arc;

use mcp_oauth_core::{
    ClientCertificate, ClientMetadata, ClientStatus, OAuthErrorCode, RegistrationGovernance,
    RegistrationPath, RegistrationPolicy, ScopeSet, ValidatedClientMetadata,
};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::certificate_auth::CertificateAuthenticator;
use super::fault::Fault;
use crate::audit::{Actor, Audit, SecurityEvent};
use crate::clock::Clock;
use crate::config::AuthorizationServerConfig;
use crate::rate_limit::{AddressRateLimit, Limited};
use crate::secrets::{ClientSecret, RegistrationAccessToken, random_id};
use crate::store::{
    AuditOutcome, ClientId, ClientOrigin, ClientRecord, ClientStore, LimitKind, RegisteredMetadata,
    Store,
};

/// Members of a client information response (RFC 7591 §3.2.1, RFC 7592 §3) a client may not
/// send back in an update (RFC 7592 §2.2).
const SERVER_ASSIGNED: [&str; 4] = [
    "registration_access_token",
    "registration_client_uri",
    "client_id_issued_at",
    "client_secret_expires_at",
];

/// The registration policy of this server: the scopes and client authentication methods it
/// supports.
pub(crate) fn policy(config: &AuthorizationServerConfig) -> RegistrationPolicy {
    RegistrationPolicy::default()
        .with_allowed_scopes(
            config
                .scopes_supported
                .iter()
                .map(String::as_str)
                .collect::<ScopeSet>(),
        )
        .with_allowed_auth_methods(config.client_auth_methods())
}

/// A client whose registration access token was presented (RFC 7592 §3).
pub(crate) struct ManagedClient(ClientRecord);

/// What a registration request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// `POST /register` (RFC 7591 §3.1).
    Register,
    /// `PUT /register/{client_id}` (RFC 7592 §2.2).
    Update,
    /// `DELETE /register/{client_id}` (RFC 7592 §2.3).
    Delete,
}

/// The registration endpoint's engine: a sub-state of `/register`.
#[derive(Clone)]
pub(crate) struct Registrar {
    clients: Arc<dyn ClientStore>,
    policy: Arc<RegistrationPolicy>,
    governance: Arc<RegistrationGovernance>,
    certificates: CertificateAuthenticator,
    #[cfg(feature = "software-statements")]
    software_statements: Option<Arc<mcp_oauth_resource::SoftwareStatements>>,
    initial_access_token: Option<Arc<str>>,
    registrations: AddressRateLimit,
    endpoint: Arc<str>,
    audit: Audit,
    clock: Clock,
}

impl Registrar {
    /// The engine over the clients of `store`, as `config` says, counting registrations per
    /// address in `store` (so the limit holds across instances) and recording them (and
    /// refusals) in `audit`; a mutual-TLS client proves its certificate to `certificates`.
    pub(crate) fn new(
        store: &Arc<dyn Store>,
        config: &AuthorizationServerConfig,
        certificates: CertificateAuthenticator,
        audit: Audit,
        clock: Clock,
    ) -> Self {
        Self {
            clients: store.clone(),
            policy: Arc::new(policy(config)),
            governance: Arc::new(config.governance.clone()),
            certificates,
            #[cfg(feature = "software-statements")]
            software_statements: config.software_statements.clone(),
            initial_access_token: config.initial_access_token.as_deref().map(Arc::from),
            registrations: AddressRateLimit::per_minute(
                store.clone(),
                LimitKind::Registration,
                config.registrations_per_minute,
            ),
            endpoint: Arc::from(config.endpoint("/register")),
            audit,
            clock,
        }
    }

    /// Records that `operation` on the client `client_id` (none for a new registration) was
    /// refused with `fault`, from `address`: throttled for a rate limit, refused otherwise.
    pub(crate) async fn refused(
        &self,
        operation: Operation,
        client_id: Option<&str>,
        fault: &Fault,
        address: Option<IpAddr>,
    ) {
        let outcome = if fault.is_throttled() {
            AuditOutcome::Throttled
        } else {
            AuditOutcome::Refused
        };
        let reason = fault.reason();
        let reason = Some(reason.as_str());
        let client = client_id.unwrap_or_default();
        let event = match operation {
            Operation::Register => SecurityEvent::ClientRegistered {
                by: Actor::Anonymous,
                outcome,
                reason,
                client_id: None,
                name: None,
            },
            Operation::Update => SecurityEvent::ClientUpdated {
                client_id: client,
                outcome,
                reason,
            },
            Operation::Delete => SecurityEvent::ClientDeleted {
                by: Actor::Client(client),
                client_id: client,
                outcome,
                reason,
            },
        };
        self.audit.record(event, address).await;
    }

    /// Whether a registration from `client_ip` bearing `bearer` may go on: within the rate
    /// limit, and with the initial access token when one is required (RFC 7591 §3). The path
    /// it takes: with the initial access token, or open.
    pub(crate) async fn admit(
        &self,
        client_ip: Option<IpAddr>,
        bearer: Option<&str>,
    ) -> Result<RegistrationPath, Fault> {
        let global = self.governance.global_registrations_per_minute;
        match self
            .registrations
            .admit_within(client_ip, global, (self.clock)())
            .await?
        {
            None => {}
            Some(Limited::Address) => {
                return Err(Fault::SlowDown(
                    "too many registrations from this address; try again in a minute".to_owned(),
                ));
            }
            Some(Limited::Global) => {
                return Err(Fault::governed(
                    "global_limit",
                    Fault::SlowDown(
                        "too many registrations right now; try again in a minute".to_owned(),
                    ),
                ));
            }
        }
        if let Some(expected) = &self.initial_access_token {
            let presented = bearer.unwrap_or_default();
            if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
                return Err(Fault::InvalidToken(
                    "a valid initial access token is required to register".to_owned(),
                ));
            }
            return Ok(RegistrationPath::InitialAccessToken);
        }
        Ok(RegistrationPath::Open)
    }

    /// Registers a client with `metadata` (RFC 7591 §3.1), admitted by `path`, for a request
    /// from `address` over a connection that presented `certificate`: its client
    /// information, with its secret (for a client that uses one) and registration access
    /// token, shown this once. With approval required it starts pending.
    pub(crate) async fn register(
        &self,
        metadata: ClientMetadata,
        path: RegistrationPath,
        address: Option<IpAddr>,
        certificate: Option<&ClientCertificate>,
    ) -> Result<Value, Fault> {
        let (metadata, path) = self.apply_software_statement(metadata, path).await?;
        let validated = self.validate(metadata, path)?;
        self.prove_certificate(&validated, certificate)?;
        let status = self.governance.initial_status(path);
        if status == ClientStatus::Pending {
            self.check_pending_limit().await?;
        }
        let now = (self.clock)();
        let secret = validated.uses_secret().then(ClientSecret::generate);
        let registration_token = RegistrationAccessToken::generate();
        let name = validated.client_name().map(str::to_owned);
        let record = ClientRecord::new(
            ClientId(random_id()),
            RegisteredMetadata::Application(validated),
            ClientOrigin::Dynamic,
            now,
        )
        .with_secret_hash(secret.as_ref().map(ClientSecret::hash))
        .with_registration_token_hash(Some(registration_token.hash()))
        .with_registration(path, status);
        self.clients.insert_client(&record).await?;
        let outcome = if status == ClientStatus::Pending {
            self.audit
                .metrics()
                .count_pending_clients(self.clients.as_ref())
                .await;
            AuditOutcome::Pending
        } else {
            AuditOutcome::Succeeded
        };
        let registered = SecurityEvent::ClientRegistered {
            by: Actor::Anonymous,
            outcome,
            reason: None,
            client_id: Some(&record.client_id),
            name: name.as_deref(),
        };
        self.audit.record(registered, address).await;
        Ok(self.information(&record, secret.as_ref(), Some(&registration_token)))
    }

    /// `metadata` with its software statement verified and applied, and the path that results
    /// (the shared step [`mcp_oauth_resource::apply_registration_statement`]).
    #[cfg(feature = "software-statements")]
    async fn apply_software_statement(
        &self,
        metadata: ClientMetadata,
        path: RegistrationPath,
    ) -> Result<(ClientMetadata, RegistrationPath), Fault> {
        mcp_oauth_resource::apply_registration_statement(
            self.software_statements.as_deref(),
            self.governance.require_software_statement,
            metadata,
            path,
        )
        .await
        .map_err(|refusal| Fault::new(refusal.code, refusal.description))
    }

    /// Without software statement support, a statement is ignored (validation drops it).
    #[cfg(not(feature = "software-statements"))]
    async fn apply_software_statement(
        &self,
        metadata: ClientMetadata,
        path: RegistrationPath,
    ) -> Result<(ClientMetadata, RegistrationPath), Fault> {
        Ok((metadata, path))
    }

    /// Registration is paused while as many clients as the operator allows wait for approval.
    async fn check_pending_limit(&self) -> Result<(), Fault> {
        let Some(limit) = self.governance.max_pending else {
            return Ok(());
        };
        let waiting = self
            .clients
            .count_clients_with_status(ClientStatus::Pending)
            .await?;
        if waiting >= u64::from(limit) {
            return Err(Fault::governed(
                "pending_limit",
                Fault::new(
                    OAuthErrorCode::InvalidClientMetadata,
                    "registration is paused: too many applications await approval",
                ),
            ));
        }
        Ok(())
    }

    /// The client `client_id` manages with `bearer`, its registration access token (RFC 7592
    /// §3). An unknown client and a wrong token look the same (RFC 7592 §2.1).
    pub(crate) async fn managed(
        &self,
        client_id: &str,
        bearer: Option<&str>,
    ) -> Result<ManagedClient, Fault> {
        let token = bearer.ok_or_else(|| {
            Fault::InvalidToken("the registration access token is missing".to_owned())
        })?;
        let record = self
            .clients
            .get_client(&ClientId(client_id.to_owned()))
            .await?;
        match record {
            Some(record)
                if record
                    .registration_token_hash
                    .as_ref()
                    .is_some_and(|stored| {
                        RegistrationAccessToken::from_presented(token).matches(stored)
                    }) =>
            {
                Ok(ManagedClient(record))
            }
            _ => Err(Fault::InvalidToken(
                "the registration access token is invalid".to_owned(),
            )),
        }
    }

    /// The client's information (RFC 7592 §2.1).
    pub(crate) fn read(&self, client: &ManagedClient) -> Value {
        self.information(&client.0, None, None)
    }

    /// Replaces the client's metadata (RFC 7592 §2.2). The body must name the client and
    /// leave out what the server assigns. A client that starts using a secret gets one; a
    /// client without one keeps none; a mutual-TLS client proves its (new) certificate. The
    /// request came from `address` over a connection that presented `certificate`.
    pub(crate) async fn update(
        &self,
        client: ManagedClient,
        metadata: ClientMetadata,
        address: Option<IpAddr>,
        certificate: Option<&ClientCertificate>,
    ) -> Result<Value, Fault> {
        let mut record = client.0;
        let named = metadata.other.get("client_id").and_then(Value::as_str);
        if named != Some(record.client_id.as_str()) {
            return Err(Fault::invalid_request(
                "the body's client_id must be the client's",
            ));
        }
        if let Some(forbidden) = SERVER_ASSIGNED
            .iter()
            .find(|member| metadata.other.contains_key(**member))
        {
            return Err(Fault::invalid_request(format!(
                "`{forbidden}` must not be sent"
            )));
        }
        let validated = self.validate(metadata, record.registration_path)?;
        self.prove_certificate(&validated, certificate)?;
        let new_secret =
            (validated.uses_secret() && record.secret_hash.is_none()).then(ClientSecret::generate);
        if !validated.uses_secret() {
            record.secret_hash = None;
        } else if let Some(secret) = &new_secret {
            record.secret_hash = Some(secret.hash());
        }
        record.metadata = RegisteredMetadata::Application(validated);
        record.updated_at = (self.clock)();
        if !self.clients.update_client(&record).await? {
            return Err(Fault::InvalidToken(
                "the registration access token is invalid".to_owned(),
            ));
        }
        let updated = SecurityEvent::ClientUpdated {
            client_id: record.client_id.as_str(),
            outcome: AuditOutcome::Succeeded,
            reason: None,
        };
        self.audit.record(updated, address).await;
        Ok(self.information(&record, new_secret.as_ref(), None))
    }

    /// Deletes the client and all it was granted (RFC 7592 §2.3), for a request from `address`.
    pub(crate) async fn delete(
        &self,
        client: ManagedClient,
        address: Option<IpAddr>,
    ) -> Result<(), Fault> {
        let client_id = client.0.client_id;
        self.clients.delete_client(&client_id).await?;
        let deleted = SecurityEvent::ClientDeleted {
            by: Actor::Client(client_id.as_str()),
            client_id: client_id.as_str(),
            outcome: AuditOutcome::Succeeded,
            reason: None,
        };
        self.audit.record(deleted, address).await;
        Ok(())
    }

    /// `metadata` checked against the server's policy with the governance of a client that
    /// registered by `path`: its scope ceiling, the trusted redirect hosts.
    fn validate(
        &self,
        metadata: ClientMetadata,
        path: RegistrationPath,
    ) -> Result<ValidatedClientMetadata, Fault> {
        let policy = self.governance.registration_policy(&self.policy, path);
        metadata.validate(&policy).map_err(|error| {
            let fault = Fault::new(error.error_code(), error.to_string());
            match error.governance_rule() {
                Some(rule) => Fault::governed(rule, fault),
                None => fault,
            }
        })
    }

    /// For a client registering a mutual-TLS method (RFC 8705 §2): the connection presented
    /// a certificate the registration accepts, so nobody registers a name or certificate that
    /// is not theirs (`invalid_client_metadata` otherwise).
    fn prove_certificate(
        &self,
        metadata: &ValidatedClientMetadata,
        certificate: Option<&ClientCertificate>,
    ) -> Result<(), Fault> {
        let Some(identity) = metadata.certificate_identity() else {
            return Ok(());
        };
        let certificate = certificate.ok_or_else(|| {
            Fault::new(
                OAuthErrorCode::InvalidClientMetadata,
                format!(
                    "{} registration must come over a connection that presents the client's certificate",
                    metadata.token_endpoint_auth_method()
                ),
            )
        })?;
        self.certificates
            .check(identity, certificate, (self.clock)())
            .map_err(|reason| Fault::new(OAuthErrorCode::InvalidClientMetadata, reason))
    }

    /// The registered metadata plus the server-assigned members (RFC 7591 §3.2.1).
    fn information(
        &self,
        record: &ClientRecord,
        secret: Option<&ClientSecret>,
        registration_token: Option<&RegistrationAccessToken>,
    ) -> Value {
        let mut body = record.metadata.to_json();
        body["client_id"] = json!(record.client_id.as_str());
        body["client_id_issued_at"] = json!(record.created_at);
        if let Some(secret) = secret {
            body["client_secret"] = json!(secret.expose());
            body["client_secret_expires_at"] = json!(0);
        }
        if let Some(token) = registration_token {
            body["registration_access_token"] = json!(token.expose());
        }
        body["registration_client_uri"] = json!(format!("{}/{}", self.endpoint, record.client_id));
        body
    }
}
