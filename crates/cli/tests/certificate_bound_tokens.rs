//! Certificate-bound access tokens from the embedded authorization server (RFC 8705 §3), as a
//! user runs `mcp-oauth auth-server` and `mcp-oauth mcp-server` over TLS with client
//! certificates: a client that registered `tls_client_certificate_bound_access_tokens` gets
//! tokens bound to the certificate it presented at `/token`; the MCP server accepts them only
//! from a connection presenting that certificate, and a refresh keeps the binding only with it.

mod tls_support;

#[path = "../../client/tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use mcp_oauth_client::AuthorizationDriver as _;
use mcp_oauth_core::{ClientCertificate, challenge_s256};
use mcp_oauth_testkit::pki::{TestCert, https_client};
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

/// `POST /token` over `http` with `fields` and the public client's id; the status and body.
async fn token(
    http: &reqwest::Client,
    issuer: &str,
    client_id: &str,
    fields: &[(&str, &str)],
) -> (u16, Value) {
    let mut fields = fields.to_vec();
    fields.push(("client_id", client_id));
    let response = http
        .post(format!("{issuer}/token"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
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
    let mut metadata = json!({
        "client_name": "agent",
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
    });
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
    let mut authorization_url = Url::parse(&format!("{issuer}/authorize")).unwrap();
    authorization_url
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
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
    let (status, tokens) = token(http, issuer, &client_id, &redeem).await;
    assert_eq!(status, 200, "{tokens}");
    (client_id, tokens)
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
