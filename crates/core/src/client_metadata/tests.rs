//! Tests of client metadata validation (RFC 7591 §2, §3.2.2).

use serde_json::json;

use super::*;

fn metadata(value: Value) -> ClientMetadata {
    ClientMetadata::from_value(value).unwrap()
}

fn validate(value: Value) -> Result<ValidatedClientMetadata, RegistrationError> {
    metadata(value).validate(&RegistrationPolicy::default())
}

#[test]
fn applies_the_rfc_7591_defaults() {
    let registered = validate(json!({"redirect_uris": ["https://app.example.com/cb"]})).unwrap();
    assert_eq!(
        registered.token_endpoint_auth_method(),
        TokenEndpointAuthMethod::ClientSecretBasic
    );
    assert_eq!(registered.grant_types(), [GrantType::AuthorizationCode]);
    assert_eq!(registered.response_types(), [ResponseType::Code]);
    assert_eq!(registered.application_type(), ApplicationType::Web);
    assert_eq!(registered.scope(), None);
    assert_eq!(
        registered.to_json(),
        json!({
            "redirect_uris": ["https://app.example.com/cb"],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "application_type": "web",
        })
    );
}

#[test]
fn registers_a_typical_mcp_public_client_without_application_type_as_native() {
    let registered = validate(json!({
        "client_name": "Claude Code (fs)",
        "redirect_uris": ["http://localhost:54321/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "mcp:read mcp:write",
    }))
    .unwrap();
    assert!(registered.is_public());
    assert_eq!(registered.application_type(), ApplicationType::Native);
    assert!(registered.allows_grant_type(GrantType::RefreshToken));
    assert!(registered.has_only_loopback_redirect_uris());
    assert_eq!(
        registered.matching_redirect_uri("http://localhost:61000/callback"),
        Some("http://localhost:54321/callback")
    );
    assert_eq!(
        registered.matching_redirect_uri("http://127.0.0.1:61000/callback"),
        None
    );
    assert_eq!(
        registered.scope().unwrap().to_string(),
        "mcp:read mcp:write"
    );
}

#[test]
fn keeps_unknown_members_and_drops_server_assigned_ones() {
    let registered = validate(json!({
        "redirect_uris": ["https://app.example.com/cb"],
        "client_id": "chosen-by-attacker",
        "client_secret": "s3cret",
        "client_secret_expires_at": 0,
        "registration_access_token": "x",
        "software_statement": "eyJ...",
        "jwks_uri": "https://app.example.com/jwks.json",
        "client_name#fr": "Appli",
    }))
    .unwrap();
    let json = registered.to_json();
    for member in [
        "client_id",
        "client_secret",
        "client_secret_expires_at",
        "registration_access_token",
        "software_statement",
    ] {
        assert!(json.get(member).is_none(), "{member} echoed");
    }
    assert_eq!(json["jwks_uri"], "https://app.example.com/jwks.json");
    assert_eq!(json["client_name#fr"], "Appli");
}

#[test]
fn round_trips_through_its_stored_json_form() {
    let registered = validate(json!({
        "redirect_uris": ["com.example.app:/cb", "http://127.0.0.1/cb"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "client_name": "Example",
        "client_uri": "https://example.com",
        "contacts": ["ops@example.com"],
        "scope": "b a",
        "extension": {"nested": true},
    }))
    .unwrap();
    let stored = serde_json::to_string(&registered).unwrap();
    let read: ValidatedClientMetadata = serde_json::from_str(&stored).unwrap();
    assert_eq!(read, registered);
    // Reading back still refuses what validation refuses.
    let tampered = stored.replace("http://127.0.0.1/cb", "javascript:alert(1)");
    assert!(serde_json::from_str::<ValidatedClientMetadata>(&tampered).is_err());
}

#[test]
fn refuses_invalid_metadata_with_the_rfc_7591_error_code() {
    let long_name = "n".repeat(201);
    let long_uri = format!("https://app.example.com/{}", "a".repeat(2000));
    let eleven: Vec<String> = (0..11)
        .map(|i| format!("https://app.example.com/cb{i}"))
        .collect();
    let redirect = OAuthErrorCode::InvalidRedirectUri;
    let metadata_code = OAuthErrorCode::InvalidClientMetadata;
    let base = || json!({"redirect_uris": ["https://app.example.com/cb"]});
    let with = |member: &str, value: Value| {
        let mut document = base();
        document[member] = value;
        document
    };
    let cases: Vec<(Value, OAuthErrorCode)> = vec![
        (json!({}), redirect.clone()),
        (json!({"redirect_uris": []}), redirect.clone()),
        (json!({"redirect_uris": eleven}), redirect.clone()),
        (json!({"redirect_uris": [long_uri]}), redirect.clone()),
        (
            json!({"redirect_uris": ["https://app.example.com/cb#x"]}),
            redirect.clone(),
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            redirect.clone(),
        ),
        (
            json!({"redirect_uris": ["http://evil.example/cb"]}),
            redirect.clone(),
        ),
        // Explicit web with a loopback URI; mixed https + loopback infers web.
        (
            json!({"redirect_uris": ["http://localhost/cb"], "application_type": "web"}),
            redirect.clone(),
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb", "http://localhost/cb"]}),
            redirect.clone(),
        ),
        (
            with("application_type", json!("browser")),
            metadata_code.clone(),
        ),
        (
            with("token_endpoint_auth_method", json!("private_key_jwt")),
            metadata_code.clone(),
        ),
        (
            with("token_endpoint_auth_method", json!("client_secret_jwt")),
            metadata_code.clone(),
        ),
        (
            with("token_endpoint_auth_method", json!("NONE")),
            metadata_code.clone(),
        ),
        (with("grant_types", json!([])), metadata_code.clone()),
        (
            with("grant_types", json!(["implicit"])),
            metadata_code.clone(),
        ),
        (
            with("grant_types", json!(["password", "authorization_code"])),
            metadata_code.clone(),
        ),
        (
            with("grant_types", json!(["client_credentials"])),
            metadata_code.clone(),
        ),
        (
            with("grant_types", json!(["refresh_token"])),
            metadata_code.clone(),
        ),
        (with("response_types", json!([])), metadata_code.clone()),
        (
            with("response_types", json!(["token"])),
            metadata_code.clone(),
        ),
        (
            with("response_types", json!(["code", "id_token"])),
            metadata_code.clone(),
        ),
        (with("client_name", json!(long_name)), metadata_code.clone()),
        (with("client_name", json!("")), metadata_code.clone()),
        (
            with("client_name", json!("Good\u{202e}evil")),
            metadata_code.clone(),
        ),
        (
            with("client_name", json!("two\nlines")),
            metadata_code.clone(),
        ),
        (
            with("client_uri", json!("javascript:alert(1)")),
            metadata_code.clone(),
        ),
        (
            with("logo_uri", json!("data:image/png;base64,AAAA")),
            metadata_code.clone(),
        ),
        (
            with("tos_uri", json!("https://user:pw@example.com/tos")),
            metadata_code.clone(),
        ),
        (
            with("policy_uri", json!("/relative")),
            metadata_code.clone(),
        ),
        (
            with(
                "client_uri",
                json!(format!("https://e.example/{}", "a".repeat(2000))),
            ),
            metadata_code.clone(),
        ),
        (
            with("contacts", json!(vec!["a@example.com"; 11])),
            metadata_code.clone(),
        ),
        (
            with("scope", json!("mcp:read bad\"scope")),
            metadata_code.clone(),
        ),
        (
            with("redirect_uris", json!("https://app.example.com/cb")),
            metadata_code.clone(),
        ),
        (with("client_name", json!(42)), metadata_code.clone()),
    ];
    for (document, expected) in cases {
        let result = ClientMetadata::from_value(document.clone())
            .and_then(|m| m.validate(&RegistrationPolicy::default()));
        let error = result.expect_err(&document.to_string());
        assert_eq!(error.error_code(), expected, "{document}: {error}");
        assert!(!error.to_string().is_empty());
    }
}

#[test]
fn refuses_bodies_that_are_not_json_objects() {
    for body in [&b"[]"[..], b"\"x\"", b"null", b"{", b""] {
        let error = ClientMetadata::from_json(body).unwrap_err();
        assert_eq!(error.error_code(), OAuthErrorCode::InvalidClientMetadata);
    }
}

#[test]
fn honours_the_auth_method_policy_including_the_defaulted_method() {
    let public_only =
        RegistrationPolicy::default().with_allowed_auth_methods([TokenEndpointAuthMethod::None]);
    let defaulted = metadata(json!({"redirect_uris": ["https://a.example/cb"]}));
    assert_eq!(
        defaulted.validate(&public_only),
        Err(RegistrationError::AuthMethodNotAllowed {
            method: TokenEndpointAuthMethod::ClientSecretBasic
        })
    );
    let public = metadata(json!({
        "redirect_uris": ["https://a.example/cb"],
        "token_endpoint_auth_method": "none",
    }));
    assert!(public.validate(&public_only).is_ok());
}

#[test]
fn narrows_scopes_to_the_policy_or_refuses_them() {
    let allowed = ScopeSet::parse("mcp:read mcp:write");
    let narrow = RegistrationPolicy::default().with_allowed_scopes(allowed.clone());
    let refuse = narrow.clone().with_scope_handling(ScopeHandling::Refuse);
    let request =
        |scope: &str| metadata(json!({"redirect_uris": ["https://a.example/cb"], "scope": scope}));
    let narrowed = request("mcp:read admin").validate(&narrow).unwrap();
    assert_eq!(narrowed.scope().unwrap().to_string(), "mcp:read");
    assert_eq!(
        request("admin root").validate(&narrow),
        Err(RegistrationError::ScopeNotAllowed {
            scopes: "admin root".to_owned()
        })
    );
    assert_eq!(
        request("mcp:read admin").validate(&refuse),
        Err(RegistrationError::ScopeNotAllowed {
            scopes: "admin".to_owned()
        })
    );
    assert!(request("mcp:write mcp:read").validate(&refuse).is_ok());
    assert_eq!(request("  ").validate(&refuse).unwrap().scope(), None);
}

#[test]
fn enforces_the_configured_limits() {
    let policy = RegistrationPolicy::default()
        .with_max_redirect_uris(1)
        .with_max_text_chars(5)
        .with_max_uri_len(30);
    let two = metadata(json!({"redirect_uris": ["https://a.example/1", "https://a.example/2"]}));
    assert_eq!(
        two.validate(&policy),
        Err(RegistrationError::TooManyRedirectUris { max: 1 })
    );
    // Duplicates are dropped before counting.
    let dup = metadata(json!({"redirect_uris": ["https://a.example/1", "https://a.example/1"]}));
    assert_eq!(dup.validate(&policy).unwrap().redirect_uris().len(), 1);
    let name = metadata(json!({"redirect_uris": ["https://a.example/1"], "client_name": "éééééé"}));
    assert!(matches!(
        name.validate(&policy),
        Err(RegistrationError::InvalidText {
            field: "client_name",
            ..
        })
    ));
    let long = metadata(json!({"redirect_uris": ["https://a.example/a-rather-long-path"]}));
    assert_eq!(
        long.validate(&policy),
        Err(RegistrationError::RedirectUriTooLong { max: 30 })
    );
}

#[test]
fn error_responses_carry_the_code_and_a_description() {
    let error = validate(json!({"redirect_uris": ["http://evil.example/cb"]})).unwrap_err();
    let body = serde_json::to_value(error.to_error_response()).unwrap();
    assert_eq!(body["error"], "invalid_redirect_uri");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("http://evil.example/cb"),
        "{body}"
    );
}

#[test]
fn trusted_redirect_hosts_refuse_other_hosts_naming_the_uri() {
    let hosts = crate::HostPatterns::parse(&["*.example.com"]).unwrap();
    let policy = RegistrationPolicy::default().with_trusted_redirects(TrustedRedirects::new(hosts));
    let validate = |value: Value| metadata(value).validate(&policy);
    assert!(validate(json!({"redirect_uris": ["https://app.example.com/cb"]})).is_ok());
    assert!(
        validate(
            json!({"redirect_uris": ["http://127.0.0.1:4000/cb"], "application_type": "native"})
        )
        .is_ok(),
        "loopback stays allowed for native clients"
    );
    let refused = validate(json!({
        "redirect_uris": ["https://app.example.com/cb", "https://evil.test/cb"]
    }))
    .unwrap_err();
    assert_eq!(
        refused,
        RegistrationError::UntrustedRedirectUri {
            uri: "https://evil.test/cb".to_owned()
        }
    );
    let response = refused.to_error_response();
    assert_eq!(response.error, OAuthErrorCode::InvalidRedirectUri);
    assert!(
        response
            .error_description
            .as_deref()
            .is_some_and(|text| text.contains("https://evil.test/cb"))
    );
    let private_use = validate(json!({
        "redirect_uris": ["com.example.app:/cb"], "application_type": "native"
    }));
    assert!(matches!(
        private_use,
        Err(RegistrationError::UntrustedRedirectUri { .. })
    ));
}

fn statement_claims(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(claims) => claims,
        _ => unreachable!("claims are an object"),
    }
}

#[test]
fn a_verified_statement_takes_precedence_and_is_echoed_unmodified() {
    let request = metadata(json!({
        "redirect_uris": ["https://evil.example.net/cb"],
        "client_name": "Asked",
        "scope": "a b",
        "software_statement": "eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
    }));
    let claims = statement_claims(json!({
        "iss": "https://publisher.example.com",
        "sub": "subject",
        "aud": "https://as.example.com",
        "exp": 4_000_000_000u64,
        "nbf": 1,
        "iat": 1,
        "jti": "once",
        "client_id": "chosen-by-publisher",
        "software_statement": "nested",
        "redirect_uris": ["https://app.example.com/cb"],
        "software_id": "4NRB1-0XZABZI9E6-5SM3R",
        "client_name": "Example Statement-based Client",
    }));
    let registered = request
        .apply_statement(&claims)
        .unwrap()
        .validate(&RegistrationPolicy::default())
        .unwrap();
    assert_eq!(registered.redirect_uris(), ["https://app.example.com/cb"]);
    assert_eq!(
        registered.client_name(),
        Some("Example Statement-based Client")
    );
    assert_eq!(registered.software_id(), Some("4NRB1-0XZABZI9E6-5SM3R"));
    // Members the statement does not name stay as requested.
    assert_eq!(registered.scope().unwrap().to_string(), "a b");
    assert_eq!(
        registered.software_statement(),
        Some("eyJhbGciOiJFUzI1NiJ9.e30.c2ln")
    );
    let json = registered.to_json();
    assert_eq!(json["software_statement"], "eyJhbGciOiJFUzI1NiJ9.e30.c2ln");
    for claim in ["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id"] {
        assert!(json.get(claim).is_none(), "{claim} registered as metadata");
    }
    // The statement survives storage.
    let stored = serde_json::to_string(&registered).unwrap();
    let read: ValidatedClientMetadata = serde_json::from_str(&stored).unwrap();
    assert_eq!(read, registered);
    assert_eq!(
        read.software_statement(),
        Some("eyJhbGciOiJFUzI1NiJ9.e30.c2ln")
    );
}

#[test]
fn statement_claims_are_validated_like_the_request() {
    let request = || {
        metadata(json!({
            "redirect_uris": ["https://app.example.com/cb"],
            "software_statement": "a.b.c",
        }))
    };
    let wrong_type = request()
        .apply_statement(&statement_claims(
            json!({"redirect_uris": "https://app.example.com/cb"}),
        ))
        .unwrap_err();
    assert_eq!(
        wrong_type.error_code(),
        OAuthErrorCode::InvalidSoftwareStatement
    );
    let refused = request()
        .apply_statement(&statement_claims(
            json!({"redirect_uris": ["javascript:alert(1)"]}),
        ))
        .unwrap()
        .validate(&RegistrationPolicy::default())
        .unwrap_err();
    assert_eq!(refused.error_code(), OAuthErrorCode::InvalidRedirectUri);
}

#[test]
fn an_unapplied_statement_is_ignored() {
    let registered = validate(json!({
        "redirect_uris": ["https://app.example.com/cb"],
        "software_statement": "a.b.c",
    }))
    .unwrap();
    assert_eq!(registered.software_statement(), None);
    assert!(registered.to_json().get("software_statement").is_none());
}

#[test]
fn models_certificate_bound_access_tokens_as_a_boolean() {
    let uri = "https://app.example.com/cb";
    let unbound = validate(json!({"redirect_uris": [uri]})).unwrap();
    assert!(!unbound.certificate_bound_access_tokens());
    assert!(
        unbound
            .to_json()
            .get("tls_client_certificate_bound_access_tokens")
            .is_none()
    );

    let bound = validate(json!({
        "redirect_uris": [uri],
        "tls_client_certificate_bound_access_tokens": true,
    }))
    .unwrap();
    assert!(bound.certificate_bound_access_tokens());
    assert!(bound.other().is_empty());
    let stored: ValidatedClientMetadata = serde_json::from_value(bound.to_json()).unwrap();
    assert!(stored.certificate_bound_access_tokens());

    let not_a_boolean = ClientMetadata::from_value(json!({
        "redirect_uris": [uri],
        "tls_client_certificate_bound_access_tokens": "true",
    }));
    assert_eq!(
        not_a_boolean.unwrap_err().error_code(),
        OAuthErrorCode::InvalidClientMetadata
    );
}
