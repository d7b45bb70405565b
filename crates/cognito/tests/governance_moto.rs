//! Registration governance on the bridge (issue 16) against moto: approval (pending app
//! clients with their flows off, the gateway's `/authorize` page, approve, suspend, reject),
//! trusted redirect hosts, scope ceilings, the limit on pending clients and the global
//! registration limit. Every refusal leaves nothing in Cognito or the registry.

mod support;

use std::collections::HashSet;
use std::sync::Arc;

use mcp_oauth_cognito::{GatewayConfig, RegistrationSettings, Registry, RegistryAdminError};
use mcp_oauth_core::{
    ClientStatus, HostPatterns, RegistrationGovernance, RegistrationPath, ScopeCeilings, ScopeSet,
    TrustedRedirects,
};
use mcp_oauth_resource::ClientAllowList;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Pool, ServedGateway, assert_oauth_error, json_of};

const RESOURCE: &str = "https://mcp.example.com/mcp";
const DOMAIN: &str = "https://example.auth.us-east-1.amazoncognito.com";

/// moto, a pool, a DynamoDB registry and a gateway with `governance`.
async fn setup(
    test: &str,
    governance: impl FnOnce(&Pool) -> RegistrationGovernance,
) -> Option<(Pool, Arc<dyn Registry>, ServedGateway)> {
    let endpoint = support::moto(test)?;
    let aws = support::aws(&endpoint).await;
    let pool = Pool::create(&aws, RESOURCE).await;
    let (registry, _) = support::dynamodb_registry(&aws).await;
    let registry: Arc<dyn Registry> = Arc::new(registry);
    let governance = governance(&pool);
    let gateway = ServedGateway::start(
        &aws,
        &pool.id,
        Arc::clone(&registry),
        |config: GatewayConfig| {
            config.with_registration(
                RegistrationSettings::default()
                    .with_registrations_per_minute(100)
                    .with_governance(governance),
            )
        },
        pool.scopes(),
    )
    .await;
    Some((pool, registry, gateway))
}

fn client(name: &str, redirect_uri: &str) -> Value {
    json!({
        "client_name": name,
        "redirect_uris": [redirect_uri],
        "token_endpoint_auth_method": "none",
    })
}

fn with_approval() -> RegistrationGovernance {
    let mut governance = RegistrationGovernance::default();
    governance.approval_required = true;
    governance
}

/// `GET /authorize` on the gateway, not following redirects.
async fn authorize(gateway: &ServedGateway, client_id: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!(
            "{}/authorize?response_type=code&client_id={client_id}&state=xyz",
            gateway.url
        ))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_pending_client_waits_until_approved_then_is_suspended_and_rejected() {
    let Some((pool, registry, gateway)) = setup("approval", |_| with_approval()).await else {
        return;
    };
    let metadata = gateway
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            gateway.url
        ))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        metadata["authorization_endpoint"],
        format!("{}/authorize", gateway.url),
        "with approval on, the gateway answers /authorize itself"
    );

    let (status, body) = json_of(
        gateway
            .register(&client("Waiting app", "http://localhost:8976/callback"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let client_id = body["client_id"].as_str().unwrap().to_owned();
    let record = registry.get(&client_id).await.unwrap().unwrap();
    assert_eq!(record.status, ClientStatus::Pending);
    assert_eq!(record.path, RegistrationPath::Open);
    let app = pool.app_client(&client_id).await.unwrap();
    assert_eq!(app.allowed_o_auth_flows_user_pool_client(), Some(false));

    let waiting = authorize(&gateway, &client_id).await;
    assert_eq!(waiting.status(), StatusCode::FORBIDDEN);
    assert!(waiting.headers().get("location").is_none());
    assert_eq!(waiting.headers()["cache-control"], "no-store");
    let page = waiting.text().await.unwrap();
    assert!(
        page.contains("Waiting app is waiting for approval"),
        "{page}"
    );
    assert!(page.contains(&gateway.url), "{page}");

    let allow_list = gateway.gateway.allow_list(HashSet::new());
    assert!(!allow_list.is_allowed(&client_id).await.unwrap());

    let admin = gateway.gateway.admin();
    let pending = admin.list(Some(ClientStatus::Pending)).await.unwrap();
    assert_eq!(
        pending
            .iter()
            .map(|r| r.client_id.as_str())
            .collect::<Vec<_>>(),
        [client_id.as_str()]
    );
    let approved = admin.approve(&client_id).await.unwrap();
    assert_eq!(approved.status, ClientStatus::Active);
    assert!(approved.approved_at.is_some());
    // moto merges updates where Cognito resets what is not sent: check every attribute.
    let app = pool.app_client(&client_id).await.unwrap();
    assert_eq!(app.allowed_o_auth_flows_user_pool_client(), Some(true));
    assert_eq!(
        app.allowed_o_auth_flows()
            .iter()
            .map(|flow| flow.as_str())
            .collect::<Vec<_>>(),
        ["code"]
    );
    assert_eq!(app.allowed_o_auth_scopes(), pool.scopes());
    assert_eq!(app.callback_urls(), ["http://localhost:8976/callback"]);
    assert_eq!(app.supported_identity_providers(), ["COGNITO"]);
    assert_eq!(app.enable_token_revocation(), Some(true));
    assert_eq!(app.client_name(), Some("Waiting app"));

    let on_to_cognito = authorize(&gateway, &client_id).await;
    assert_eq!(on_to_cognito.status(), StatusCode::FOUND);
    assert_eq!(
        on_to_cognito.headers()["location"],
        format!("{DOMAIN}/oauth2/authorize?response_type=code&client_id={client_id}&state=xyz")
            .as_str()
    );
    assert!(allow_list.is_allowed(&client_id).await.unwrap());

    admin.suspend(&client_id).await.unwrap();
    let app = pool.app_client(&client_id).await.unwrap();
    assert_eq!(app.allowed_o_auth_flows_user_pool_client(), Some(false));
    let suspended = authorize(&gateway, &client_id).await;
    assert_eq!(suspended.status(), StatusCode::FORBIDDEN);
    assert!(suspended.text().await.unwrap().contains("is suspended"));
    let fresh_allow_list = gateway.gateway.allow_list(HashSet::new());
    assert!(!fresh_allow_list.is_allowed(&client_id).await.unwrap());

    assert!(matches!(
        admin.reject(&client_id).await,
        Err(RegistryAdminError::NotPending {
            status: ClientStatus::Suspended,
            ..
        })
    ));
    admin.delete(&client_id).await.unwrap();
    assert!(pool.app_client(&client_id).await.is_none());
    assert!(registry.get(&client_id).await.unwrap().is_none());
    assert!(matches!(
        admin.approve(&client_id).await,
        Err(RegistryAdminError::UnknownClient(_))
    ));
    let events: Vec<(String, Option<String>)> = registry
        .events(0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|event| event.actor.as_deref() == Some("admin"))
        .map(|event| (event.event.to_string(), event.reason))
        .collect();
    assert_eq!(
        events,
        [
            (
                "client_status_changed".to_owned(),
                Some("active".to_owned())
            ),
            (
                "client_status_changed".to_owned(),
                Some("suspended".to_owned())
            ),
            (
                "client_deleted".to_owned(),
                Some("deleted_by_operator".to_owned())
            ),
        ]
    );
}

#[tokio::test]
async fn an_unknown_client_goes_on_to_cognito_and_exempt_paths_start_active() {
    let Some((pool, registry, gateway)) = setup("approval_exempt", |_| {
        let mut governance = with_approval();
        governance.approval_exempt = vec![RegistrationPath::InitialAccessToken];
        governance
    })
    .await
    else {
        return;
    };
    let unknown = authorize(&gateway, "static-app-client").await;
    assert_eq!(unknown.status(), StatusCode::FOUND);
    // Without an initial access token configured, registrations are open: they wait.
    let (status, body) = json_of(
        gateway
            .register(&client("Open app", "http://localhost:8976/callback"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["client_id"].as_str().unwrap();
    assert_eq!(
        registry.get(id).await.unwrap().unwrap().status,
        ClientStatus::Pending
    );
    assert_eq!(pool.app_client_count().await, 1);
    gateway.gateway.admin().reject(id).await.unwrap();
    assert_eq!(pool.app_client_count().await, 0);
    assert!(registry.get(id).await.unwrap().is_none());
    let rejected = registry.events(0, 100).await.unwrap().pop().unwrap();
    assert_eq!(
        (rejected.event.as_str(), rejected.reason.as_deref()),
        ("client_deleted", Some("rejected"))
    );
}

#[tokio::test]
async fn redirect_uris_outside_the_trusted_hosts_are_refused_and_nothing_is_kept() {
    let Some((pool, registry, gateway)) = setup("trusted_hosts", |_| {
        let mut governance = RegistrationGovernance::default();
        governance.trusted_redirects = Some(TrustedRedirects::new(
            HostPatterns::parse(&["*.example.com"]).unwrap(),
        ));
        governance
    })
    .await
    else {
        return;
    };
    assert_oauth_error(
        &json_of(
            gateway
                .register(&json!({
                    "redirect_uris": ["https://app.example.com/cb", "https://evil.test/cb"],
                }))
                .await,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_redirect_uri",
        "https://evil.test/cb",
    );
    assert_eq!(pool.app_client_count().await, 0);
    assert!(registry.list(None).await.unwrap().is_empty());

    let (status, body) = json_of(
        gateway
            .register(&client("Trusted", "https://app.example.com/cb"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = json_of(
        gateway
            .register(&client("Loopback", "http://127.0.0.1:5555/cb"))
            .await,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "loopback stays allowed: {body}"
    );
}

#[tokio::test]
async fn scope_ceilings_narrow_or_refuse_by_registration_path() {
    let Some((pool, registry, gateway)) = setup("ceilings", |pool| {
        let mut governance = RegistrationGovernance::default();
        let mut ceilings = ScopeCeilings::default();
        ceilings.open = Some(ScopeSet::parse(&pool.scopes()[0]));
        governance.ceilings = ceilings;
        governance
    })
    .await
    else {
        return;
    };
    let read = pool.scopes()[0].clone();
    let wide = json!({
        "redirect_uris": ["https://app.example.com/cb"],
        "scope": pool.scopes().join(" "),
    });
    let (status, body) = json_of(gateway.register(&wide).await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["scope"], read.as_str(), "narrowed to the open ceiling");
    let app = pool
        .app_client(body["client_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(app.allowed_o_auth_scopes(), std::slice::from_ref(&read));
    // No scope asked: the ceiling, not every scope of the resource server.
    let (status, body) = json_of(
        gateway
            .register(&client("Default scopes", "https://app.example.com/cb"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["scope"], read.as_str());
    assert_eq!(registry.list(None).await.unwrap().len(), 2);
}

#[tokio::test]
async fn registration_pauses_at_the_pending_limit() {
    let Some((pool, registry, gateway)) = setup("pending_limit", |_| {
        let mut governance = with_approval();
        governance.max_pending = Some(1);
        governance
    })
    .await
    else {
        return;
    };
    let first = gateway
        .register(&client("First", "https://app.example.com/cb"))
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_oauth_error(
        &json_of(
            gateway
                .register(&client("Second", "https://app.example.com/cb"))
                .await,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        "too many applications await approval",
    );
    assert_eq!(pool.app_client_count().await, 1);
    assert_eq!(registry.list(None).await.unwrap().len(), 1);
    let refusals: Vec<_> = registry
        .events(0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|event| event.reason)
        .collect();
    assert!(
        refusals.contains(&"pending_limit".to_owned()),
        "{refusals:?}"
    );
}

#[tokio::test]
async fn the_global_limit_counts_every_address_together() {
    let Some((pool, _, gateway)) = setup("global_limit", |_| {
        let mut governance = RegistrationGovernance::default();
        governance.global_registrations_per_minute = Some(1);
        governance
    })
    .await
    else {
        return;
    };
    let first = gateway
        .register(&client("First", "https://app.example.com/cb"))
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    // Another address (127.0.0.2 is loopback too): the per-address limit does not apply.
    let other_address = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    let (status, body) = json_of(
        other_address
            .post(format!("{}/register", gateway.url))
            .json(&client("Second", "https://app.example.com/cb"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("at this server"),
        "{body}"
    );
    assert_eq!(pool.app_client_count().await, 1);
}
