//! Generated inputs for every parser of this crate: none panics on anything, and what is
//! built by one side parses back to the same value on the other.

use mcp_oauth_core::{
    ApplicationType, BearerChallenge, BearerErrorCode, CanonicalResource, ClientMetadata,
    RedirectUriKind, RegistrationPolicy, ScopeSet, ValidatedClientMetadata, is_client_id_url,
    redirect_uri_matches, validate_client_id_metadata_document, validate_client_id_url,
    validate_redirect_uri,
};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Text a hostile peer might send: mostly URI-ish ASCII, sometimes anything.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9:/?#\\[\\]@!$&'()*+,;=%._~\\\\ \"-]{0,40}",
        any::<String>(),
    ]
}

/// A host as a redirect URI or resource might name it.
fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("localhost".to_owned()),
        Just("127.0.0.1".to_owned()),
        Just("[::1]".to_owned()),
        "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){1,2}",
    ]
}

/// A path of URI-safe segments (possibly empty).
fn path() -> impl Strategy<Value = String> {
    "(/[a-zA-Z0-9._~-]{0,8}){0,3}"
}

/// A quoted-string value as RFC 6750 §3 allows it, or anything at all.
fn parameter_value() -> impl Strategy<Value = String> {
    prop_oneof!["[ !#-\\[\\]-~]{0,30}", any::<String>()]
}

/// Another challenge (RFC 9110 §11.6.1): a scheme other than Bearer, then a token68 or
/// auth-params whose values are tokens or quoted strings (with escapes, commas, `=`).
fn other_challenge() -> impl Strategy<Value = String> {
    let scheme = "[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,8}".prop_filter("not Bearer", |scheme| {
        !scheme.eq_ignore_ascii_case("bearer")
    });
    let quoted = "[ !#-\\[\\]-~]{0,12}".prop_map(|text| format!("\"{text}\""));
    let escaped = "[a-z\"\\\\, =]{0,12}"
        .prop_map(|text| format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"")));
    let value = prop_oneof!["[A-Za-z0-9!#$%&'*+.^_`|~-]{1,8}", quoted, escaped];
    let param =
        ("[A-Za-z][A-Za-z0-9_-]{0,8}", value).prop_map(|(name, value)| format!("{name}={value}"));
    let params = prop_oneof![
        proptest::collection::vec(param, 0..3).prop_map(|params| params.join(", ")),
        "[A-Za-z0-9._~+/-]{1,12}={0,2}",
    ];
    (scheme, params).prop_map(|(scheme, params)| {
        if params.is_empty() {
            scheme
        } else {
            format!("{scheme} {params}")
        }
    })
}

fn error_code() -> impl Strategy<Value = Option<BearerErrorCode>> {
    prop_oneof![
        Just(None),
        Just(Some(BearerErrorCode::InvalidRequest)),
        Just(Some(BearerErrorCode::InvalidToken)),
        Just(Some(BearerErrorCode::InsufficientScope)),
    ]
}

/// What `Display` makes of a value: characters outside RFC 6750 §3's set become `?`.
fn as_rendered(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if matches!(c, ' '..='~') && c != '"' && c != '\\' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn challenge_parser_never_panics(header in hostile_text()) {
        let _ = BearerChallenge::parse(&header);
    }

    /// A challenge built by the resource server parses back, in a client, to the same
    /// parameters, also when other challenges come before or after it.
    #[test]
    fn built_challenges_parse_back_to_their_parameters(
        resource_metadata in proptest::option::of(parameter_value()),
        scope in proptest::option::of(parameter_value()),
        error in error_code(),
        description in proptest::option::of(parameter_value()),
        before in proptest::collection::vec(other_challenge(), 0..3),
        after in proptest::collection::vec(other_challenge(), 0..3),
    ) {
        let challenge = BearerChallenge {
            resource_metadata: resource_metadata.clone(),
            scope: scope.clone(),
            error,
            error_description: description.clone(),
        };
        let header = before
            .iter()
            .cloned()
            .chain([challenge.to_string()])
            .chain(after.iter().cloned())
            .collect::<Vec<_>>()
            .join(", ");
        let parsed = BearerChallenge::parse(&header).unwrap();
        prop_assert_eq!(parsed.resource_metadata, resource_metadata.as_deref().map(as_rendered));
        prop_assert_eq!(parsed.scope, scope.as_deref().map(as_rendered));
        prop_assert_eq!(parsed.error, error);
        prop_assert_eq!(parsed.error_description, description.as_deref().map(as_rendered));
    }

    #[test]
    fn redirect_uri_checks_never_panic(uri in hostile_text(), presented in hostile_text()) {
        let _ = validate_redirect_uri(&uri, ApplicationType::Native);
        let _ = validate_redirect_uri(&uri, ApplicationType::Web);
        let _ = redirect_uri_matches(&uri, &presented);
    }

    /// Matching is symmetric, every registrable URI matches itself, and whatever matches a
    /// registered URI is itself registrable: matching opens no way around validation.
    #[test]
    fn redirect_uri_matching_adds_no_uri_validation_would_refuse(
        registered in hostile_text(),
        presented in hostile_text(),
    ) {
        prop_assert_eq!(
            redirect_uri_matches(&registered, &presented),
            redirect_uri_matches(&presented, &registered)
        );
        if validate_redirect_uri(&registered, ApplicationType::Native).is_ok() {
            prop_assert!(redirect_uri_matches(&registered, &registered));
            if redirect_uri_matches(&registered, &presented) {
                prop_assert!(validate_redirect_uri(&presented, ApplicationType::Native).is_ok());
            }
        }
    }

    /// RFC 8252 §7.3: a loopback redirect URI matches on any port, and on nothing else.
    #[test]
    fn loopback_redirect_uris_match_on_any_port_only(
        host in prop_oneof![Just("localhost"), Just("127.0.0.1"), Just("[::1]")],
        first in proptest::option::of(1..=u16::MAX),
        second in proptest::option::of(1..=u16::MAX),
        path in path(),
        other_path in path(),
    ) {
        let uri = |port: Option<u16>, path: &str| match port {
            Some(port) => format!("http://{host}:{port}{path}"),
            None => format!("http://{host}{path}"),
        };
        let registered = uri(first, &path);
        prop_assert_eq!(
            validate_redirect_uri(&registered, ApplicationType::Native),
            Ok(RedirectUriKind::LoopbackHttp)
        );
        prop_assert!(redirect_uri_matches(&registered, &uri(second, &path)));
        prop_assert_eq!(
            redirect_uri_matches(&registered, &uri(second, &other_path)),
            path == other_path
        );
    }

    #[test]
    fn client_metadata_parsing_and_validation_never_panic(body in hostile_text()) {
        if let Ok(metadata) = ClientMetadata::from_json(body.as_bytes()) {
            let _ = metadata.validate(&RegistrationPolicy::default());
        }
    }

    /// Registered metadata is stored as JSON and read back (re-validated) unchanged.
    #[test]
    fn validated_client_metadata_round_trips_through_its_stored_form(
        hosts in proptest::collection::vec(host(), 1..4),
        paths in proptest::collection::vec(path(), 1..4),
        name in proptest::option::of(any::<String>()),
        scope in proptest::option::of("[a-z:]{1,8}( [a-z:]{1,8}){0,3}"),
        public in any::<bool>(),
        extension in proptest::option::of(any::<String>()),
    ) {
        let redirect_uris: Vec<String> = hosts
            .iter()
            .zip(paths.iter().cycle())
            .map(|(host, path)| match host.as_str() {
                "localhost" | "127.0.0.1" | "[::1]" => format!("http://{host}{path}"),
                _ => format!("https://{host}{path}"),
            })
            .collect();
        let mut document = json!({"redirect_uris": redirect_uris, "client_name": name, "scope": scope});
        if public {
            document["token_endpoint_auth_method"] = json!("none");
        }
        if let Some(extension) = extension {
            document["x_extension"] = json!(extension);
        }
        let metadata = ClientMetadata::from_value(document).unwrap();
        // Names with control characters and the like are refused; the rest must round-trip.
        if let Ok(registered) = metadata.validate(&RegistrationPolicy::default()) {
            let stored = serde_json::to_string(&registered).unwrap();
            let read: ValidatedClientMetadata = serde_json::from_str(&stored).unwrap();
            prop_assert_eq!(read, registered);
        }
    }

    /// Only canonical https URLs are client identifiers, and each is its own canonical form.
    #[test]
    fn accepted_client_id_urls_are_canonical_https_urls(value in prop_oneof![
        hostile_text(),
        (host(), path(), "(\\?[a-z=&]{0,8})?").prop_map(|(host, path, query)| format!("https://{host}{path}{query}")),
    ]) {
        if let Ok(url) = validate_client_id_url(&value) {
            prop_assert_eq!(url.as_str(), value.as_str());
            prop_assert!(is_client_id_url(&value));
            prop_assert!(!value.contains('#') && !value.contains('@'));
        }
    }

    #[test]
    fn client_id_metadata_documents_never_panic(document in hostile_text()) {
        let url = "https://app.example.com/client.json";
        let _ = validate_client_id_metadata_document(url, document.as_bytes(), &RegistrationPolicy::default());
        let wrapped = json!({"client_id": url, "client_name": document, "redirect_uris": [document]});
        let _ = validate_client_id_metadata_document(url, wrapped.to_string().as_bytes(), &RegistrationPolicy::default());
    }

    /// Canonicalising is idempotent, and a resource matches its own canonical text.
    #[test]
    fn canonical_resources_are_stable(value in prop_oneof![
        hostile_text(),
        ("(?i)https?", host(), proptest::option::of(1..=u16::MAX), path(), "/{0,2}")
            .prop_map(|(scheme, host, port, path, slashes)| match port {
                Some(port) => format!("{scheme}://{host}:{port}{path}{slashes}"),
                None => format!("{scheme}://{host}{path}{slashes}"),
            }),
    ]) {
        if let Ok(resource) = CanonicalResource::parse(&value) {
            let again = CanonicalResource::parse(resource.as_str()).unwrap();
            prop_assert_eq!(again.as_str(), resource.as_str());
            prop_assert!(resource.matches(&value));
            prop_assert!(resource.matches(resource.as_str()));
            prop_assert!(!resource.as_str().ends_with('/') || resource.url().query().is_some());
        }
    }

    /// A scope set prints as a space-separated string that parses back to the same set.
    #[test]
    fn scope_sets_round_trip_through_their_text(scopes in proptest::collection::vec("[!#-\\[\\]-~]{1,10}", 0..6)) {
        let set: ScopeSet = scopes.iter().map(String::as_str).collect();
        prop_assert_eq!(ScopeSet::parse(&set.to_string()), set.clone());
        let json = serde_json::to_value(&set).unwrap();
        prop_assert_eq!(serde_json::from_value::<ScopeSet>(json).unwrap(), set);
    }

    #[test]
    fn scope_parsing_never_panics(text in any::<String>()) {
        let set = ScopeSet::parse(&text);
        prop_assert!(set.iter().all(|scope| !scope.is_empty() && !scope.contains(' ')));
        let _ = serde_json::from_value::<ScopeSet>(Value::String(text));
    }
}
