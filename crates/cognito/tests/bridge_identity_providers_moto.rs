//! The app clients the registration bridge creates offer the pool's identity providers
//! (`deploy --identity-provider/--oidc-provider/--saml-provider` passes their names to the
//! gateway as COGNITO_IDENTITY_PROVIDERS), against moto: at registration (CreateUserPoolClient)
//! and when the operator suspends and approves a client (UpdateUserPoolClient, which resets
//! every attribute not sent).
//!
//! ```sh
//! source scripts/services/moto.sh && moto_install && moto_start && trap moto_stop EXIT
//! MCP_OAUTH_REQUIRE_SERVICES=1 cargo nextest run -p mcp-oauth-cognito --test bridge_identity_providers_moto
//! ```

mod support;

use std::sync::Arc;

use aws_sdk_cognitoidentityprovider::types::IdentityProviderTypeType;
use mcp_oauth_cognito::{AppClients, RegistrationSettings, Registry, RegistryAdmin};
use reqwest::StatusCode;
use serde_json::json;
use support::{Pool, ServedGateway, json_of};

const RESOURCE: &str = "https://mcp.example.com/mcp";

/// Creates the providers `deploy` would (Google with a client, a SAML provider by metadata).
async fn add_providers(pool: &Pool) {
    for (name, kind, details) in [
        (
            "Google",
            IdentityProviderTypeType::Google,
            [
                ("client_id", "google-client"),
                ("client_secret", "google-secret"),
                ("authorize_scopes", "openid email profile"),
            ]
            .as_slice(),
        ),
        (
            "Corp",
            IdentityProviderTypeType::Saml,
            [("MetadataURL", "https://idp.example.com/metadata.xml")].as_slice(),
        ),
    ] {
        let mut request = pool
            .cognito
            .create_identity_provider()
            .user_pool_id(&pool.id)
            .provider_name(name)
            .provider_type(kind)
            .attribute_mapping("email", "email");
        for (key, value) in details {
            request = request.provider_details(*key, *value);
        }
        request.send().await.expect("CreateIdentityProvider");
    }
}

async fn providers_of(pool: &Pool, client_id: &str) -> Vec<String> {
    pool.app_client(client_id)
        .await
        .expect("the app client exists")
        .supported_identity_providers()
        .to_vec()
}

#[tokio::test]
async fn registered_app_clients_offer_the_configured_identity_providers() {
    let Some(endpoint) = support::moto("registered_app_clients_offer_identity_providers") else {
        return;
    };
    let aws = support::aws(&endpoint).await;
    let pool = Pool::create(&aws, RESOURCE).await;
    add_providers(&pool).await;
    let (registry, _) = support::dynamodb_registry(&aws).await;
    let registry: Arc<dyn Registry> = Arc::new(registry);
    // As the gateway reads COGNITO_IDENTITY_PROVIDERS=Google,Corp (COGNITO is always there).
    let app_clients = AppClients::connect(&aws, &pool.id).with_identity_providers([
        "Google".to_owned(),
        "Corp".to_owned(),
        "COGNITO".to_owned(),
    ]);
    let gateway = ServedGateway::start_with(
        app_clients.clone(),
        Arc::clone(&registry),
        |config| config,
        pool.scopes(),
    )
    .await;

    let request = json!({
        "client_name": "Federated MCP client",
        "redirect_uris": ["http://localhost:8976/callback"],
        "token_endpoint_auth_method": "none",
    });
    let (status, body) = json_of(gateway.register(&request).await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let client_id = body["client_id"].as_str().unwrap().to_owned();
    assert_eq!(
        providers_of(&pool, &client_id).await,
        ["COGNITO", "Google", "Corp"]
    );

    // Suspending and approving again send every setting anew: the providers stay.
    let admin = RegistryAdmin::new(app_clients, registry, RegistrationSettings::default());
    admin.suspend(&client_id).await.expect("suspend");
    assert_eq!(
        providers_of(&pool, &client_id).await,
        ["COGNITO", "Google", "Corp"]
    );
    admin.approve(&client_id).await.expect("approve");
    let app = pool.app_client(&client_id).await.unwrap();
    assert_eq!(app.allowed_o_auth_flows_user_pool_client(), Some(true));
    assert_eq!(
        app.supported_identity_providers(),
        ["COGNITO", "Google", "Corp"]
    );

    // Without the setting, a gateway's clients offer Cognito accounts only.
    let (plain_registry, _) = support::dynamodb_registry(&aws).await;
    let plain = ServedGateway::start(
        &aws,
        &pool.id,
        Arc::new(plain_registry),
        |config| config,
        pool.scopes(),
    )
    .await;
    let (status, body) = json_of(plain.register(&request).await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let plain_id = body["client_id"].as_str().unwrap();
    assert_eq!(providers_of(&pool, plain_id).await, ["COGNITO"]);
}
