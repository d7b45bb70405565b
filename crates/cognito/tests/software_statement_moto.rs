//! Software statements at the bridge's `POST /register` (RFC 7591 §2.3, §3.1.1, §3.2.1,
//! §3.2.2) against moto: a valid statement's claims take precedence and it is echoed
//! unmodified; invalid and unapproved statements get their errors and leave nothing in Cognito
//! or the registry; a policy can require one for open registration; without publishers a
//! statement is ignored. The publisher's keys are the test issuer's, served over HTTP.

mod support;

use std::sync::Arc;

use mcp_oauth_cognito::{GatewayConfig, RegistrationSettings, Registry};
use mcp_oauth_core::{
    AuditOutcome, RegistrationGovernance, RegistrationPath, ScopeCeilings, ScopeSet,
};
use mcp_oauth_resource::{SoftwareStatements, StatementPublisher};
use mcp_oauth_testkit::{TestIssuer, now};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Pool, ServedGateway, json_of};

const RESOURCE: &str = "https://mcp.example.com/mcp";
const SOFTWARE_ID: &str = "4NRB1-0XZABZI9E6-5SM3R";
const IAT: &str = "initial-access-token-for-tests";

/// moto, a pool, a DynamoDB registry, a test issuer as the statement publisher and a gateway
/// whose registration settings `settings` makes from the verifier of that publisher.
async fn setup(
    test: &str,
    settings: impl FnOnce(&Pool, SoftwareStatements) -> RegistrationSettings,
) -> Option<(Pool, Arc<dyn Registry>, ServedGateway, TestIssuer)> {
    let endpoint = support::moto(test)?;
    let aws = support::aws(&endpoint).await;
    let pool = Pool::create(&aws, RESOURCE).await;
    let (registry, _) = support::dynamodb_registry(&aws).await;
    let registry: Arc<dyn Registry> = Arc::new(registry);
    let publisher = TestIssuer::start().await;
    let statements = SoftwareStatements::new(
        [StatementPublisher::jwks_uri(
            publisher.issuer(),
            format!("{}/jwks.json", publisher.issuer()),
        )
        .unwrap()],
        reqwest::Client::new(),
    );
    let settings = settings(&pool, statements).with_registrations_per_minute(100);
    let gateway = ServedGateway::start(
        &aws,
        &pool.id,
        Arc::clone(&registry),
        |config: GatewayConfig| config.with_registration(settings),
        pool.scopes(),
    )
    .await;
    Some((pool, registry, gateway, publisher))
}

fn statement_claims(publisher: &TestIssuer) -> Value {
    json!({
        "iss": publisher.issuer(),
        "software_id": SOFTWARE_ID,
        "client_name": "Statement client",
        "redirect_uris": ["http://localhost:2222/callback"],
        "token_endpoint_auth_method": "none",
        "iat": now(),
        "exp": now() + 600,
    })
}

fn request_with(statement: &str) -> Value {
    json!({
        "client_name": "Asked name",
        "redirect_uris": ["http://localhost:1111/callback"],
        "token_endpoint_auth_method": "none",
        "software_statement": statement,
    })
}

async fn register_with_token(gateway: &ServedGateway, body: &Value) -> (StatusCode, Value) {
    json_of(
        gateway
            .http
            .post(format!("{}/register", gateway.url))
            .bearer_auth(IAT)
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_valid_statement_takes_precedence_and_is_echoed_unmodified() {
    let Some((pool, registry, gateway, publisher)) =
        setup("statement_valid", |pool, statements| {
            let mut governance = RegistrationGovernance::default();
            let mut ceilings = ScopeCeilings::default();
            ceilings.open = Some(ScopeSet::parse(&pool.scopes()[0]));
            ceilings.software_statement = Some(ScopeSet::parse(&pool.scopes()[1]));
            governance.ceilings = ceilings;
            RegistrationSettings::default()
                .with_governance(governance)
                .with_software_statements(Arc::new(statements))
        })
        .await
    else {
        return;
    };
    let statement = publisher.sign_typed("ec-1", Some("JWT"), &statement_claims(&publisher));
    let (status, body) = json_of(gateway.register(&request_with(&statement)).await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["software_statement"], statement.as_str());
    assert_eq!(body["client_name"], "Statement client");
    assert_eq!(
        body["redirect_uris"],
        json!(["http://localhost:2222/callback"])
    );
    assert_eq!(body["software_id"], SOFTWARE_ID);
    assert!(
        body.get("iss").is_none() && body.get("exp").is_none(),
        "{body}"
    );
    // The software-statement ceiling, not the open one.
    assert_eq!(body["scope"], pool.scopes()[1].as_str());

    let client_id = body["client_id"].as_str().unwrap().to_owned();
    let record = registry.get(&client_id).await.unwrap().unwrap();
    assert_eq!(record.path, RegistrationPath::SoftwareStatement);
    let app = pool.app_client(&client_id).await.unwrap();
    assert_eq!(app.callback_urls(), ["http://localhost:2222/callback"]);
    assert_eq!(app.client_name(), Some("Statement client"));

    // RFC 7592 reads echo it too.
    let read = gateway
        .http
        .get(body["registration_client_uri"].as_str().unwrap())
        .bearer_auth(body["registration_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let (status, read) = json_of(read).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["software_statement"], statement.as_str());
}

#[tokio::test]
async fn invalid_and_unapproved_statements_are_refused_and_nothing_is_kept() {
    let Some((pool, registry, gateway, publisher)) = setup("statement_refused", |_, statements| {
        let statements = statements.with_allowed_software_ids([SOFTWARE_ID]);
        RegistrationSettings::default().with_software_statements(Arc::new(statements))
    })
    .await
    else {
        return;
    };
    let claims = statement_claims(&publisher);
    let with = |member: &str, value: Value| {
        let mut changed = claims.clone();
        changed[member] = value;
        changed
    };
    let cases = [
        (
            "forged",
            publisher.sign_naming_kid("rsa-2", "rsa-1", &claims),
            "invalid_software_statement",
        ),
        (
            "alg none",
            publisher.unsigned(&claims),
            "invalid_software_statement",
        ),
        (
            "HS256",
            publisher.hmac_with_public_key(&claims),
            "invalid_software_statement",
        ),
        (
            "expired",
            publisher.sign_typed("ec-1", None, &with("exp", json!(now() - 3600))),
            "invalid_software_statement",
        ),
        (
            "malformed",
            "not.a.jwt".to_owned(),
            "invalid_software_statement",
        ),
        (
            "claims that are not metadata",
            publisher.sign_typed("ec-1", None, &with("redirect_uris", json!(7))),
            "invalid_software_statement",
        ),
        (
            "unknown publisher",
            publisher.sign_typed(
                "ec-1",
                None,
                &with("iss", json!("https://elsewhere.example")),
            ),
            "unapproved_software_statement",
        ),
        (
            "software not approved",
            publisher.sign_typed("ec-1", None, &with("software_id", json!("other"))),
            "unapproved_software_statement",
        ),
    ];
    for (case, statement, code) in &cases {
        let (status, body) = json_of(gateway.register(&request_with(statement)).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {body}");
        assert_eq!(body["error"], *code, "{case}: {body}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }
    assert_eq!(pool.app_client_count().await, 0);
    assert!(registry.list(None).await.unwrap().is_empty());
    let reasons: Vec<Option<String>> = registry
        .events(0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|event| event.outcome == AuditOutcome::Refused)
        .map(|event| event.reason)
        .collect();
    let expected: Vec<Option<String>> = cases
        .iter()
        .map(|(_, _, code)| Some((*code).to_owned()))
        .collect();
    assert_eq!(reasons, expected);
}

#[tokio::test]
async fn a_required_statement_refuses_open_registration_without_one() {
    let Some((pool, registry, gateway, publisher)) =
        setup("statement_required", |_, statements| {
            let mut governance = RegistrationGovernance::default();
            governance.require_software_statement = true;
            RegistrationSettings::default()
                .with_governance(governance)
                .with_software_statements(Arc::new(statements))
        })
        .await
    else {
        return;
    };
    let (status, body) = json_of(
        gateway
            .register(&json!({"redirect_uris": ["http://localhost:1111/callback"]}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_software_statement");
    assert_eq!(
        body["error_description"],
        "a software statement is required to register"
    );
    assert_eq!(pool.app_client_count().await, 0);
    assert!(registry.list(None).await.unwrap().is_empty());

    let statement = publisher.sign_typed("ed-1", None, &statement_claims(&publisher));
    let (status, body) = json_of(gateway.register(&request_with(&statement)).await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(registry.list(None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_initial_access_token_path_wins_and_needs_no_statement() {
    let Some((_pool, registry, gateway, publisher)) = setup("statement_iat", |_, statements| {
        let mut governance = RegistrationGovernance::default();
        governance.require_software_statement = true;
        RegistrationSettings::default()
            .with_initial_access_token(IAT)
            .with_governance(governance)
            .with_software_statements(Arc::new(statements))
    })
    .await
    else {
        return;
    };
    let (status, body) = register_with_token(
        &gateway,
        &json!({"redirect_uris": ["http://localhost:1111/callback"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let plain = body["client_id"].as_str().unwrap().to_owned();
    assert_eq!(
        registry.get(&plain).await.unwrap().unwrap().path,
        RegistrationPath::InitialAccessToken
    );

    let statement = publisher.sign_typed("rsa-1", None, &statement_claims(&publisher));
    let (status, body) = register_with_token(&gateway, &request_with(&statement)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["client_name"], "Statement client");
    assert_eq!(body["software_statement"], statement.as_str());
    let with_statement = body["client_id"].as_str().unwrap();
    assert_eq!(
        registry.get(with_statement).await.unwrap().unwrap().path,
        RegistrationPath::InitialAccessToken
    );

    // A bad statement is refused even with the token.
    let forged = publisher.sign_naming_kid("rsa-2", "rsa-1", &statement_claims(&publisher));
    let (status, body) = register_with_token(&gateway, &request_with(&forged)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_software_statement");
    assert_eq!(registry.list(None).await.unwrap().len(), 2);
}

#[tokio::test]
async fn without_publishers_a_statement_is_ignored() {
    let Some((_pool, registry, gateway, _publisher)) =
        setup("statement_ignored", |_, _| RegistrationSettings::default()).await
    else {
        return;
    };
    let (status, body) = json_of(gateway.register(&request_with("not.even.checked")).await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.get("software_statement").is_none(), "{body}");
    assert_eq!(body["client_name"], "Asked name");
    let record = registry
        .get(body["client_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.path, RegistrationPath::Open);
    assert!(record.metadata.get("software_statement").is_none());
}
