//! Mutual TLS at the embedded authorization server (RFC 8705), as a user runs `mcp-oauth
//! auth-server` and `mcp-oauth mcp-server` over TLS with client certificates:
//! - certificate-bound access tokens (§3): a client that registered
//!   `tls_client_certificate_bound_access_tokens` gets tokens bound to the certificate it
//!   presented at `/token`; the MCP server accepts them only from a connection presenting that
//!   certificate, and a refresh keeps the binding only with it;
//! - client authentication by certificate (§2): `tls_client_auth` (a certificate from the
//!   `--tls-client-ca` CA with the registered subject or alternative name) and
//!   `self_signed_tls_client_auth` (a registered self-signed certificate) at `/register`,
//!   `/token`, `/revoke` and `/introspect`; forged and foreign certificates are refused.

mod tls_support;

#[path = "../../client/tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use mcp_oauth_client::AuthorizationDriver as _;
use mcp_oauth_core::{ClientCertificate, challenge_s256};
use mcp_oauth_testkit::pki::{ClientSan, TestCa, TestCert, https_client};
use serde_json::{Value, json};
use support::{EMAIL, PASSWORD, Person, REDIRECT_URI, parameter};
use tls_support::{BINARY, Pki, Server, call_tool, free_port, path, pki};
use url::Url;

const VERIFIER: &str = "a-code-verifier-of-the-certificate-bound-tokens-test";

/// `mcp-oauth admin --data-dir DATA ARGS` with `stdin`: its output, once it succeeded.
fn admin(data: &Path, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(BINARY)
        .arg("admin")
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The TLS flags of a server with `pki`'s certificate that asks clients for theirs.
fn tls_flags(pki: &Pki) -> [&str; 6] {
    [
        "--tls-cert",
        path(&pki.server.cert),
        "--tls-key",
        path(&pki.server.key),
        "--tls-client-ca",
        path(&pki.ca_file),
    ]
}

/// The claims of a JWT, unverified (the MCP server verifies them).
fn claims(jwt: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode_claims(jwt).unwrap()
}

fn thumbprint(certificate: &TestCert) -> String {
    ClientCertificate::new(certificate.der.clone(), Vec::new()).thumbprint_s256()
}

/// The JSON body of the answer to `request`.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// `POST /token` over `http` with `fields` and the client's id; the status and body.
async fn token(
    http: &reqwest::Client,
    issuer: &str,
    client_id: &str,
    fields: &[(&str, &str)],
) -> (u16, Value) {
    authenticated(http, issuer, "token", client_id, fields).await
}

/// Client metadata for the code and refresh grants with `token_endpoint_auth_method`
/// `method`.
fn metadata(method: &str) -> Value {
    json!({
        "client_name": "agent",
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": method,
        "grant_types": ["authorization_code", "refresh_token"],
    })
}

/// Registers a public client (asking for bound tokens or not), signs `person` in for it, and
/// redeems the code over `http`: the client id and the token response, once it succeeded.
async fn sign_in(
    person: &Person,
    http: &reqwest::Client,
    issuer: &str,
    mcp_url: &str,
    bound: bool,
) -> (String, Value) {
    let mut metadata = metadata("none");
    if bound {
        metadata["tls_client_certificate_bound_access_tokens"] = json!(true);
    }
    let client = json_of(http.post(format!("{issuer}/register")).json(&metadata)).await;
    assert_eq!(
        client["tls_client_certificate_bound_access_tokens"],
        if bound { json!(true) } else { Value::Null },
        "{client}"
    );
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let tokens = sign_in_as(person, http, issuer, mcp_url, &client_id).await;
    (client_id, tokens)
}

/// Signs `person` in for the registered client `client_id` and redeems the code over `http`:
/// the token response, once it succeeded.
async fn sign_in_as(
    person: &Person,
    http: &reqwest::Client,
    issuer: &str,
    mcp_url: &str,
    client_id: &str,
) -> Value {
    let mut authorization_url = Url::parse(&format!("{issuer}/authorize")).unwrap();
    authorization_url
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("code_challenge", &challenge_s256(VERIFIER))
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "st")
        .append_pair("scope", "mcp:read")
        .append_pair("resource", mcp_url);
    let callback = person
        .authorize(&authorization_url, &Url::parse(REDIRECT_URI).unwrap())
        .await
        .unwrap();
    let code = parameter(&callback, "code").expect("a code");
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", VERIFIER),
    ];
    let (status, tokens) = token(http, issuer, client_id, &redeem).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

#[tokio::test]
async fn tokens_are_bound_to_the_certificate_presented_at_the_token_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pki = pki(dir.path(), "main");
    admin(
        &data,
        &["users", "add", "--email", EMAIL, "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    let (auth_port, mcp_port) = (free_port(), free_port());
    let issuer = format!("https://127.0.0.1:{auth_port}");
    let mcp_url = format!("https://127.0.0.1:{mcp_port}/mcp");
    let introspector = [
        "clients",
        "add",
        "--name",
        "MCP server",
        "--client-id",
        "mcp-server",
    ];
    let added = admin(
        &data,
        &[&introspector[..], &["--introspect-for", &mcp_url]].concat(),
        "",
    );
    let secret = added
        .lines()
        .find_map(|line| line.strip_prefix("client_secret: "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("a client secret: {added}"))
        .to_owned();
    let mut args = vec!["auth-server", "--issuer", &issuer, "--resource", &mcp_url];
    args.extend(["--data-dir", path(&data)]);
    args.extend(tls_flags(&pki));
    let _auth = Server::start(&args, auth_port, dir.path(), &[], &pki.ca).await;
    let mut args = vec!["mcp-server", "--url", &mcp_url, "--issuer", &issuer];
    args.extend(tls_flags(&pki));
    // The MCP server reaches the issuer over https: it trusts the test CA as a system root.
    let trust = [("SSL_CERT_FILE", path(&pki.ca_file))];
    let _mcp = Server::start(&args, mcp_port, dir.path(), &trust, &pki.ca).await;

    let root = pki.ca.cert_pem();
    let cert_a = pki.ca.client_cert("client a", &[]);
    let cert_b = pki.ca.client_cert("client b", &[]);
    let with_a = https_client(&root, Some(&cert_a));
    let with_b = https_client(&root, Some(&cert_b));
    let without = https_client(&root, None);

    let metadata =
        json_of(without.get(format!("{issuer}/.well-known/oauth-authorization-server"))).await;
    assert_eq!(
        metadata["tls_client_certificate_bound_access_tokens"], true,
        "{metadata}"
    );

    // The client asks for bound tokens and redeems its code presenting certificate A.
    let person = Person::browsing_with(https_client(&root, None));
    let (client_id, tokens) = sign_in(&person, &with_a, &issuer, &mcp_url, true).await;
    let client_id = client_id.as_str();
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        claims(access_token)["cnf"],
        json!({ "x5t#S256": thumbprint(&cert_a) })
    );
    let introspection = json_of(
        without
            .post(format!("{issuer}/introspect"))
            .basic_auth("mcp-server", Some(&secret))
            .form(&[("token", access_token)]),
    )
    .await;
    assert_eq!(introspection["active"], true, "{introspection}");
    assert_eq!(
        introspection["cnf"],
        json!({ "x5t#S256": thumbprint(&cert_a) })
    );
    assert_eq!(call_tool(&with_a, &mcp_url, access_token).await.0, 200);
    for other in [&with_b, &without] {
        let (status, challenge) = call_tool(other, &mcp_url, access_token).await;
        assert_eq!(status, 401, "{challenge}");
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
    }

    // The refresh token is bound too: refused with certificate B (and not used up), then
    // rotated with A, and the new access token is bound to A.
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    for other in [&with_b, &without] {
        let (status, refused) = token(other, &issuer, client_id, &refresh).await;
        assert_eq!((status, &refused["error"]), (400, &json!("invalid_grant")));
    }
    let (status, refreshed) = token(&with_a, &issuer, client_id, &refresh).await;
    assert_eq!(status, 200, "{refreshed}");
    let access_token = refreshed["access_token"].as_str().unwrap();
    assert_eq!(
        claims(access_token)["cnf"]["x5t#S256"],
        json!(thumbprint(&cert_a))
    );
    assert_eq!(call_tool(&with_a, &mcp_url, access_token).await.0, 200);
    assert_eq!(call_tool(&with_b, &mcp_url, access_token).await.0, 401);

    // A client that did not ask for bound tokens gets unbound ones, certificate or not.
    let (client_id, tokens) = sign_in(&person, &with_a, &issuer, &mcp_url, false).await;
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(claims(access_token).get("cnf"), None);
    assert_eq!(call_tool(&with_b, &mcp_url, access_token).await.0, 200);
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ];
    let (status, refreshed) = token(&with_b, &issuer, &client_id, &refresh).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(
        claims(refreshed["access_token"].as_str().unwrap()).get("cnf"),
        None
    );
}

/// `POST {issuer}/register` of `metadata` over `http`: the status and body.
async fn register(http: &reqwest::Client, issuer: &str, metadata: &Value) -> (u16, Value) {
    let response = http
        .post(format!("{issuer}/register"))
        .json(metadata)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// The status and JSON body (null when there is none) of `POST {issuer}/{endpoint}` over
/// `http` with `fields` and `client_id`.
async fn authenticated(
    http: &reqwest::Client,
    issuer: &str,
    endpoint: &str,
    client_id: &str,
    fields: &[(&str, &str)],
) -> (u16, Value) {
    let mut fields = fields.to_vec();
    fields.push(("client_id", client_id));
    let response = http
        .post(format!("{issuer}/{endpoint}"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// A bad code at `/token`, a token at `/revoke` and at `/introspect`: authenticated, the
/// client gets `invalid_grant`, 200 and `unauthorized_client` (it may not introspect);
/// otherwise 401 `invalid_client` at each.
async fn assert_authenticates(http: &reqwest::Client, issuer: &str, client_id: &str, yes: bool) {
    let code = [
        ("grant_type", "authorization_code"),
        ("code", "not-a-code"),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", VERIFIER),
    ];
    let token = [("token", "not-a-token")];
    let answers = [
        authenticated(http, issuer, "token", client_id, &code).await,
        authenticated(http, issuer, "revoke", client_id, &token).await,
        authenticated(http, issuer, "introspect", client_id, &token).await,
    ];
    let expected = if yes {
        [
            (400, json!("invalid_grant")),
            (200, Value::Null),
            (400, json!("unauthorized_client")),
        ]
    } else {
        [
            (401, json!("invalid_client")),
            (401, json!("invalid_client")),
            (401, json!("invalid_client")),
        ]
    };
    let got: Vec<(u16, Value)> = answers
        .iter()
        .map(|(status, body)| (*status, body["error"].clone()))
        .collect();
    assert_eq!(got, expected, "{client_id}: {answers:?}");
}

/// The x5c JWKS that registers `certificate` for `self_signed_tls_client_auth`.
fn jwks_of(certificate: &TestCert) -> Value {
    use base64::Engine as _;
    let x5c = base64::engine::general_purpose::STANDARD.encode(&certificate.der);
    json!({"keys": [{"kty": "EC", "use": "sig", "x5c": [x5c]}]})
}

#[tokio::test]
async fn clients_authenticate_with_their_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pki = pki(dir.path(), "main");
    admin(
        &data,
        &["users", "add", "--email", EMAIL, "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    let auth_port = free_port();
    let issuer = format!("https://127.0.0.1:{auth_port}");
    let mcp_url = "https://127.0.0.1:1/mcp";
    let mut args = vec!["auth-server", "--issuer", &issuer, "--resource", mcp_url];
    args.extend(["--data-dir", path(&data)]);
    args.extend(tls_flags(&pki));
    let _auth = Server::start(&args, auth_port, dir.path(), &[], &pki.ca).await;

    let root = pki.ca.cert_pem();
    let metadata_document = json_of(
        https_client(&root, None).get(format!("{issuer}/.well-known/oauth-authorization-server")),
    )
    .await;
    let all = json!([
        "none",
        "client_secret_basic",
        "client_secret_post",
        "tls_client_auth",
        "self_signed_tls_client_auth"
    ]);
    assert_eq!(
        metadata_document["token_endpoint_auth_methods_supported"],
        all
    );
    assert_eq!(
        metadata_document["revocation_endpoint_auth_methods_supported"],
        all
    );
    assert_eq!(
        metadata_document["introspection_endpoint_auth_methods_supported"],
        json!([
            "client_secret_basic",
            "client_secret_post",
            "tls_client_auth",
            "self_signed_tls_client_auth"
        ])
    );

    // tls_client_auth by subject: the CA's certificate for "client a"; a certificate with the
    // same subject from another CA (forged) and another subject are refused.
    let cert_a = pki.ca.client_cert("client a", &[]);
    let forged_a = TestCa::new("attacker CA").client_cert("client a", &[]);
    let cert_b = pki.ca.client_cert("client b", &[]);
    let with_a = https_client(&root, Some(&cert_a));
    let with_forged_a = https_client(&root, Some(&forged_a));
    let with_b = https_client(&root, Some(&cert_b));
    let without = https_client(&root, None);
    let mut by_subject = metadata("tls_client_auth");
    by_subject["tls_client_auth_subject_dn"] = json!("cn=Client A");
    for (http, why) in [
        (&without, "must come over a connection that presents"),
        (&with_forged_a, "not trusted"),
        (&with_b, "its subject is `CN=client b`"),
    ] {
        let (status, refused) = register(http, &issuer, &by_subject).await;
        assert_eq!(
            (status, &refused["error"]),
            (400, &json!("invalid_client_metadata"))
        );
        let description = refused["error_description"].as_str().unwrap();
        assert!(description.contains(why), "{description}");
    }
    let (status, client) = register(&with_a, &issuer, &by_subject).await;
    assert_eq!(status, 201, "{client}");
    assert_eq!(client.get("client_secret"), None, "{client}");
    assert_eq!(client["tls_client_auth_subject_dn"], "cn=Client A");
    let subject_client = client["client_id"].as_str().unwrap();
    assert_authenticates(&with_a, &issuer, subject_client, true).await;
    for other in [&with_forged_a, &with_b, &without] {
        assert_authenticates(other, &issuer, subject_client, false).await;
    }
    // A secret is no credential for it.
    let (status, refused) = token(
        &with_a,
        &issuer,
        subject_client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_secret", "guess"),
        ],
    )
    .await;
    assert_eq!((status, &refused["error"]), (401, &json!("invalid_client")));

    // The whole sign-in: the code grant and a refresh authenticated by the certificate.
    let person = Person::browsing_with(https_client(&root, None));
    let tokens = sign_in_as(&person, &with_a, &issuer, mcp_url, subject_client).await;
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ];
    let (status, refused) = token(&with_b, &issuer, subject_client, &refresh).await;
    assert_eq!((status, &refused["error"]), (401, &json!("invalid_client")));
    let (status, refreshed) = token(&with_a, &issuer, subject_client, &refresh).await;
    assert_eq!(status, 200, "{refreshed}");

    // tls_client_auth by a DNS subject alternative name.
    let agent = pki
        .ca
        .client_cert("whatever", &[ClientSan::Dns("agent.example.com".into())]);
    let with_agent = https_client(&root, Some(&agent));
    let mut by_dns = metadata("tls_client_auth");
    by_dns["tls_client_auth_san_dns"] = json!("Agent.Example.com");
    let (status, refused) = register(&with_a, &issuer, &by_dns).await;
    assert_eq!(
        (status, &refused["error"]),
        (400, &json!("invalid_client_metadata"))
    );
    let (status, client) = register(&with_agent, &issuer, &by_dns).await;
    assert_eq!(status, 201, "{client}");
    let dns_client = client["client_id"].as_str().unwrap();
    assert_authenticates(&with_agent, &issuer, dns_client, true).await;
    assert_authenticates(&with_a, &issuer, dns_client, false).await;

    // self_signed_tls_client_auth: the registered certificate only, not another one with the
    // same subject, nor a CA-issued one.
    let own = TestCert::self_signed_client("self signed");
    let impostor = TestCert::self_signed_client("self signed");
    let with_own = https_client(&root, Some(&own));
    let with_impostor = https_client(&root, Some(&impostor));
    let mut self_signed = metadata("self_signed_tls_client_auth");
    self_signed["jwks"] = jwks_of(&own);
    let (status, refused) = register(&with_impostor, &issuer, &self_signed).await;
    assert_eq!(
        (status, &refused["error"]),
        (400, &json!("invalid_client_metadata"))
    );
    let (status, client) = register(&with_own, &issuer, &self_signed).await;
    assert_eq!(status, 201, "{client}");
    assert_eq!(client.get("client_secret"), None, "{client}");
    let self_signed_client = client["client_id"].as_str().unwrap();
    assert_authenticates(&with_own, &issuer, self_signed_client, true).await;
    for other in [&with_impostor, &with_a, &without] {
        assert_authenticates(other, &issuer, self_signed_client, false).await;
    }

    // Malformed certificate members get invalid_client_metadata, and nothing is stored.
    let mut two_names = by_subject.clone();
    two_names["tls_client_auth_san_dns"] = json!("agent.example.com");
    let mut bad_dn = metadata("tls_client_auth");
    bad_dn["tls_client_auth_subject_dn"] = json!("not a name");
    let mut jwks_uri = metadata("self_signed_tls_client_auth");
    jwks_uri["jwks_uri"] = json!("https://client.example/jwks");
    for bad in [two_names, bad_dn, jwks_uri] {
        let (status, refused) = register(&with_a, &issuer, &bad).await;
        assert_eq!(
            (status, &refused["error"]),
            (400, &json!("invalid_client_metadata")),
            "{bad}"
        );
    }
    let listed = admin(&data, &["clients", "list"], "");
    assert_eq!(listed.matches("agent").count(), 3, "{listed}");
}

#[tokio::test]
async fn without_a_client_ca_only_self_signed_certificates_authenticate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "main");
    let auth_port = free_port();
    let issuer = format!("https://127.0.0.1:{auth_port}");
    let data = dir.path().join("data");
    let args = [
        "auth-server",
        "--issuer",
        &issuer,
        "--resource",
        "https://127.0.0.1:1/mcp",
        "--data-dir",
        path(&data),
        "--tls-cert",
        path(&pki.server.cert),
        "--tls-key",
        path(&pki.server.key),
        "--tls-client-certs",
        "optional",
    ];
    let _auth = Server::start(&args, auth_port, dir.path(), &[], &pki.ca).await;
    let root = pki.ca.cert_pem();
    let metadata_document = json_of(
        https_client(&root, None).get(format!("{issuer}/.well-known/oauth-authorization-server")),
    )
    .await;
    assert_eq!(
        metadata_document["token_endpoint_auth_methods_supported"],
        json!([
            "none",
            "client_secret_basic",
            "client_secret_post",
            "self_signed_tls_client_auth"
        ])
    );
    let cert = pki.ca.client_cert("client a", &[]);
    let mut by_subject = metadata("tls_client_auth");
    by_subject["tls_client_auth_subject_dn"] = json!("CN=client a");
    let (status, refused) = register(&https_client(&root, Some(&cert)), &issuer, &by_subject).await;
    assert_eq!(
        (status, &refused["error"]),
        (400, &json!("invalid_client_metadata"))
    );
    assert!(
        refused["error_description"]
            .as_str()
            .unwrap()
            .contains("not allowed"),
        "{refused}"
    );
}
