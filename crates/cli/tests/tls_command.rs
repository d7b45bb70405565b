//! TLS termination of the serving commands as a user runs them: each answers https with the
//! certificate it is given, reloads changed certificate files while serving (and keeps the
//! served pair when the new files are broken), refuses bad files at start naming the file, and
//! never lets plain HTTP or a failed handshake reach a handler. With client certificates on,
//! the MCP server accepts a certificate-bound token (RFC 8705 §3) only from the client that
//! holds the certificate.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mcp_oauth_core::ClientCertificate;
use mcp_oauth_testkit::TestIssuer;
use mcp_oauth_testkit::pki::{ClientSan, TestCa, TestCert, https_client};
use serde_json::{Value, json};

mod tls_support;

use tls_support::{
    BINARY, Server, call_tool, command, exit_status, free_port, mcp_server, path, pki,
};

const TLS_FLAGS: [(&str, &str); 5] = [
    ("--tls-cert", "MCP_OAUTH_TLS_CERT"),
    ("--tls-key", "MCP_OAUTH_TLS_KEY"),
    ("--tls-client-ca", "MCP_OAUTH_TLS_CLIENT_CA"),
    ("--tls-client-certs", "MCP_OAUTH_TLS_CLIENT_CERTS"),
    ("--tls-reload-secs", "MCP_OAUTH_TLS_RELOAD_SECS"),
];

#[test]
fn every_serving_command_explains_the_tls_flags_and_dev_has_none() {
    for subcommand in ["auth-server", "mcp-server", "gateway", "proxy"] {
        let output = Command::new(BINARY)
            .args([subcommand, "--help"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{subcommand}");
        let help = String::from_utf8(output.stdout).unwrap();
        for (flag, variable) in TLS_FLAGS {
            assert!(help.contains(flag), "{subcommand} --help lacks {flag}");
            assert!(
                help.contains(variable),
                "{subcommand} --help lacks {variable}"
            );
        }
    }
    let output = Command::new(BINARY)
        .args(["dev", "--help"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8(output.stdout)
            .unwrap()
            .contains("--tls-cert")
    );
}

#[tokio::test]
async fn the_mcp_server_accepts_a_bound_token_only_from_the_client_holding_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "main");
    let issuer = TestIssuer::start().await;
    let server = mcp_server(
        &issuer,
        dir.path(),
        &pki,
        &["--tls-client-ca", path(&pki.ca_file)],
    )
    .await;
    let mcp_url = format!("{}/mcp", server.origin);
    let root = pki.ca.cert_pem();
    let cert_a = pki
        .ca
        .client_cert("client a", &[ClientSan::Dns("a.example".into())]);
    let cert_b = TestCert::self_signed_client("client b");
    let with_a = https_client(&root, Some(&cert_a));
    let with_b = https_client(&root, Some(&cert_b));
    let without = https_client(&root, None);

    // The metadata is served over https and names the https resource.
    let metadata: Value = without
        .get(format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            server.origin
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["resource"], mcp_url);

    let mut claims = issuer.claims(&mcp_url, "mcp:read");
    claims["cnf"] = json!({
        "x5t#S256": ClientCertificate::new(cert_a.der.clone(), Vec::new()).thumbprint_s256()
    });
    let bound = issuer.sign("rsa-1", &claims);
    assert_eq!(call_tool(&with_a, &mcp_url, &bound).await.0, 200);
    for (client, description) in [
        (
            &with_b,
            "the token is bound to a client certificate other than the one presented",
        ),
        (
            &without,
            "the token is bound to a client certificate, and the connection presented none",
        ),
    ] {
        let (status, challenge) = call_tool(client, &mcp_url, &bound).await;
        assert_eq!(status, 401, "{challenge}");
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
        assert!(
            challenge.contains(&format!(r#"error_description="{description}""#)),
            "{challenge}"
        );
    }
    // Still the same after the token was cached as verified.
    assert_eq!(call_tool(&with_a, &mcp_url, &bound).await.0, 200);
    assert_eq!(call_tool(&with_b, &mcp_url, &bound).await.0, 401);

    let unbound = issuer.access_token(&mcp_url, "mcp:read");
    for client in [&with_a, &with_b, &without] {
        assert_eq!(call_tool(client, &mcp_url, &unbound).await.0, 200);
    }
}

#[tokio::test]
async fn without_client_certificates_a_bound_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "main");
    let issuer = TestIssuer::start().await;
    // No --tls-client-ca: the server does not ask for certificates unless told to.
    let server = mcp_server(&issuer, dir.path(), &pki, &[]).await;
    let mcp_url = format!("{}/mcp", server.origin);
    let cert_a = pki.ca.client_cert("client a", &[]);
    let with_a = https_client(&pki.ca.cert_pem(), Some(&cert_a));
    let mut claims = issuer.claims(&mcp_url, "mcp:read");
    claims["cnf"] = json!({
        "x5t#S256": ClientCertificate::new(cert_a.der.clone(), Vec::new()).thumbprint_s256()
    });
    assert_eq!(
        call_tool(&with_a, &mcp_url, &issuer.sign("rsa-1", &claims))
            .await
            .0,
        401
    );
    let unbound = issuer.access_token(&mcp_url, "mcp:read");
    assert_eq!(call_tool(&with_a, &mcp_url, &unbound).await.0, 200);
}

#[tokio::test]
async fn changed_certificate_files_are_served_and_broken_ones_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let first = pki(dir.path(), "first");
    let second = TestCa::new("second test CA");
    let issuer = TestIssuer::start().await;
    let server = mcp_server(&issuer, dir.path(), &first, &["--tls-reload-secs", "1"]).await;
    let healthz = format!("{}/healthz", server.origin);
    // A new client per probe: a pooled connection would keep the certificate it was made with.
    let answers = |ca: &TestCa| {
        let http = https_client(&ca.cert_pem(), None);
        let url = healthz.clone();
        async move { http.get(url).send().await.is_ok() }
    };
    assert!(answers(&first.ca).await);
    assert!(!answers(&second).await);

    let replacement = second.server_cert();
    std::fs::write(&first.server.cert, &replacement.cert_pem).unwrap();
    std::fs::write(&first.server.key, &replacement.key_pem).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !answers(&second).await {
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served: {}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!answers(&first.ca).await);

    std::fs::write(&first.server.cert, "not a certificate\n").unwrap();
    server
        .wait_for_log("still serving the previous certificate")
        .await;
    assert!(
        server.log().contains(path(&first.server.cert)),
        "{}",
        server.log()
    );
    assert!(answers(&second).await);
    assert!(!server.log().contains("panicked"), "{}", server.log());
}

#[tokio::test]
async fn bad_files_at_start_stop_the_command_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = pki(dir.path(), "good");
    let other = pki(dir.path(), "other");
    let missing = dir.path().join("missing.crt");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let cases: [(&Path, &Path, Option<&Path>, &Path, &str); 6] = [
        (&missing, &good.server.key, None, &missing, "No such file"),
        (&garbage, &good.server.key, None, &garbage, "--tls-cert"),
        (
            &empty,
            &good.server.key,
            None,
            &empty,
            "no certificate found",
        ),
        (
            &good.server.cert,
            &good.server.cert,
            None,
            &good.server.cert,
            "no private key found",
        ),
        (
            &good.server.cert,
            &other.server.key,
            None,
            &other.server.key,
            "is not the key of the certificate",
        ),
        (
            &good.server.cert,
            &good.server.key,
            Some(&empty),
            &empty,
            "--tls-client-ca",
        ),
    ];
    for (cert, key, client_ca, named, reason) in cases {
        let log = dir.path().join("start.log");
        let port = free_port().to_string();
        let url = format!("https://127.0.0.1:{port}/mcp");
        let mut args = vec![
            "mcp-server",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--url",
            &url,
            "--issuer",
            "http://127.0.0.1:9",
            "--tls-cert",
            path(cert),
            "--tls-key",
            path(key),
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
        if let Some(client_ca) = client_ca {
            args.extend(["--tls-client-ca".to_owned(), path(client_ca).to_owned()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = command(&args, dir.path(), &log).spawn().unwrap();
        let status = exit_status(&mut child);
        let stderr = std::fs::read_to_string(&log).unwrap();
        assert!(!status.success(), "{named:?}: {stderr}");
        assert!(stderr.contains(path(named)), "{named:?}: {stderr}");
        assert!(stderr.contains(reason), "{named:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test]
async fn plain_http_and_failed_handshakes_never_reach_a_handler() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "main");
    let stranger = TestCa::new("another test CA");
    let issuer = TestIssuer::start().await;
    let server = mcp_server(&issuer, dir.path(), &pki, &[]).await;
    let address = server.origin.trim_start_matches("https://").to_owned();
    let answered_before = server.log().matches("answered").count();

    // Plain HTTP to the TLS port: no HTTP answer at all, let alone a 5xx.
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\n\r\n").as_bytes())
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // A client that does not trust the server's certificate gives up in the handshake.
    let distrustful = https_client(&stranger.cert_pem(), None);
    assert!(
        distrustful
            .get(format!("{}/healthz", server.origin))
            .send()
            .await
            .is_err()
    );

    // The server is still up, and the only request its handlers saw is this one.
    let response = https_client(&pki.ca.cert_pem(), None)
        .get(format!("{}/healthz", server.origin))
        .header("x-request-id", "after-the-failed-handshakes")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    server.wait_for_log("after-the-failed-handshakes").await;
    assert_eq!(
        server.log().matches("answered").count(),
        answered_before + 1,
        "{}",
        server.log()
    );
    assert!(!server.log().contains("panicked"), "{}", server.log());
}

/// Presents `certificate` signed for with `key`, whether or not they belong together.
#[derive(Debug)]
struct Presenting(std::sync::Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for Presenting {
    fn resolve(
        &self,
        _hints: &[&[u8]],
        _schemes: &[rustls::SignatureScheme],
    ) -> Option<std::sync::Arc<rustls::sign::CertifiedKey>> {
        Some(std::sync::Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Connects to `address` over TLS trusting `root`, presenting `certificate` with the private
/// key of `key_of` (a forgery unless it is the same certificate), and sends `GET /healthz`
/// with `request_id`; what came back, as text.
async fn get_presenting(
    address: &str,
    root: &TestCa,
    certificate: &TestCert,
    key_of: &TestCert,
    request_id: &str,
) -> String {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(root.cert_pem().as_bytes()).unwrap())
        .unwrap();
    let key = provider
        .key_provider
        .load_private_key(PrivateKeyDer::from_pem_slice(key_of.key_pem.as_bytes()).unwrap())
        .unwrap();
    let presented =
        rustls::sign::CertifiedKey::new(vec![CertificateDer::from(certificate.der.clone())], key);
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_cert_resolver(std::sync::Arc::new(Presenting(std::sync::Arc::new(
            presented,
        ))));
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let Ok(mut tls) = connector.connect(name, tcp).await else {
        return String::new();
    };
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: {address}\r\nx-request-id: {request_id}\r\n\
         Connection: close\r\n\r\n"
    );
    if tls.write_all(request.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_certificate_presented_without_its_private_key_fails_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "main");
    let issuer = TestIssuer::start().await;
    let server = mcp_server(
        &issuer,
        dir.path(),
        &pki,
        &["--tls-client-certs", "optional"],
    )
    .await;
    let address = server.origin.trim_start_matches("https://").to_owned();
    let victim = pki.ca.client_cert("victim", &[]);
    let attacker = TestCert::self_signed_client("attacker");
    let forged = get_presenting(&address, &pki.ca, &victim, &attacker, "forged").await;
    assert!(!forged.starts_with("HTTP/"), "{forged}");
    let genuine = get_presenting(&address, &pki.ca, &victim, &victim, "genuine").await;
    assert!(genuine.starts_with("HTTP/1.1 200"), "{genuine}");
    server.wait_for_log("genuine").await;
    assert!(!server.log().contains("forged"), "{}", server.log());
}

#[tokio::test]
async fn a_client_stalling_in_the_handshake_loses_its_slot() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "main");
    let issuer = TestIssuer::start().await;
    let server = mcp_server(
        &issuer,
        dir.path(),
        &pki,
        &["--max-connections", "1", "--header-timeout-secs", "1"],
    )
    .await;
    let address = server.origin.trim_start_matches("https://").to_owned();
    // Takes the only slot and never says a word: the server closes it after the headers'
    // deadline, and the next client is served.
    let mut stalled = std::net::TcpStream::connect(&address).unwrap();
    stalled
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut nothing = Vec::new();
    assert_eq!(stalled.read_to_end(&mut nothing).unwrap(), 0);
    let response = https_client(&pki.ca.cert_pem(), None)
        .get(format!("{}/healthz", server.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_authorization_server_serves_https_and_needs_an_https_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "main");
    let port = free_port();
    let issuer = format!("https://127.0.0.1:{port}");
    let tls = [
        "--tls-cert",
        path(&pki.server.cert),
        "--tls-key",
        path(&pki.server.key),
    ];
    let mut args = vec!["auth-server", "--issuer", &issuer, "--data-dir", "data"];
    args.extend(tls);
    let server = Server::start(&args, port, dir.path(), &[], &pki.ca).await;
    let http = https_client(&pki.ca.cert_pem(), None);
    let metadata: Value = http
        .get(format!("{issuer}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], issuer);
    let registration = http
        .post(metadata["registration_endpoint"].as_str().unwrap())
        .json(&json!({
            "client_name": "tls test",
            "redirect_uris": ["http://127.0.0.1:7777/callback"],
            "token_endpoint_auth_method": "none",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(registration.status(), 201);
    let client: Value = registration.json().await.unwrap();
    assert!(client["client_id"].is_string(), "{client}");
    drop(server);

    let log = dir.path().join("http-issuer.log");
    let plain_issuer = format!("http://127.0.0.1:{port}");
    let bind = format!("127.0.0.1:{port}");
    let mut args = vec!["auth-server", "--bind", &bind, "--issuer", &plain_issuer];
    args.extend(["--data-dir", "data"]);
    args.extend(tls);
    let mut child = command(&args, dir.path(), &log).spawn().unwrap();
    assert!(!exit_status(&mut child).success());
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(
        stderr.contains(&format!(
            "--issuer {plain_issuer}: this server terminates TLS"
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_proxy_serves_https() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "main");
    let port = free_port();
    let url = format!("https://127.0.0.1:{port}/mcp");
    let args = [
        "proxy",
        "--url",
        &url,
        "--issuer",
        "http://127.0.0.1:9",
        "--upstream-url",
        "http://127.0.0.1:9/mcp",
        "--tls-cert",
        path(&pki.server.cert),
        "--tls-key",
        path(&pki.server.key),
    ];
    let server = Server::start(&args, port, dir.path(), &[], &pki.ca).await;
    let metadata = server
        .json(&pki.ca, "/.well-known/oauth-protected-resource/mcp")
        .await;
    assert_eq!(metadata["resource"], url);
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn the_gateway_serves_https() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), "main");
    let port = free_port();
    let origin = format!("https://127.0.0.1:{port}");
    let url = format!("{origin}/mcp");
    let scope = format!("{url}/mcp.read");
    let args = [
        "gateway",
        "--public-url",
        &origin,
        "--url",
        &url,
        "--region",
        "us-east-1",
        "--user-pool-id",
        "us-east-1_Pool",
        "--cognito-domain",
        "https://demo.auth.us-east-1.amazoncognito.com",
        "--scope",
        &scope,
        "--sqlite-registry",
        "registry.db",
        "--aws-endpoint-url",
        "http://127.0.0.1:9",
        "--tls-cert",
        path(&pki.server.cert),
        "--tls-key",
        path(&pki.server.key),
    ];
    let env = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let server = Server::start(&args, port, dir.path(), &env, &pki.ca).await;
    let metadata = server
        .json(&pki.ca, "/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(metadata["issuer"], origin);
}
