//! What a build without one of the default features (`aws`, `postgres`, `federation`, `cimd`)
//! answers when a command or flag needs it: an error naming the feature to build with. Each
//! test exists only in a build that leaves its feature out (the default build has them all):
//!
//! ```sh
//! cargo nextest run -p mcp-oauth --no-default-features --test left_out
//! ```

#![cfg(not(all(
    feature = "aws",
    feature = "postgres",
    feature = "federation",
    feature = "cimd"
)))]

use std::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_mcp-oauth");

/// `mcp-oauth <args>` with a data directory of its own and no settings from the environment:
/// it must fail; returns what it printed on stderr.
fn refused(args: &[&str]) -> String {
    let data_dir = tempfile::tempdir().unwrap();
    let output = Command::new(BINARY)
        .args(args)
        .env("MCP_OAUTH_DATA_DIR", data_dir.path())
        .env("AUTH_SERVER_BIND", "127.0.0.1:0")
        .env_remove("DATABASE_URL")
        .env_remove("AUTH_SERVER_UPSTREAM_ISSUERS")
        .env_remove("AUTH_SERVER_CIMD_TRUSTED_LOCAL_DOCUMENTS")
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!output.status.success(), "{args:?} succeeded: {stderr}");
    stderr
}

/// Asserts `error` names `feature` as the one to build with.
fn names_the_feature(error: &str, feature: &str) {
    assert!(
        error.contains(&format!("without the `{feature}` feature"))
            && error.contains(&format!("--features {feature}")),
        "{error}"
    );
}

#[cfg(not(feature = "aws"))]
#[test]
fn without_aws_the_aws_commands_name_the_feature() {
    for command in ["deploy", "cleanup", "gateway"] {
        let error = refused(&[command, "--region", "eu-west-1"]);
        assert!(error.contains(&format!("`mcp-oauth {command}`")), "{error}");
        names_the_feature(&error, "aws");
    }
}

#[cfg(not(feature = "aws"))]
#[test]
fn without_aws_doctor_stack_fails_its_step_naming_the_feature() {
    let output = Command::new(BINARY)
        .args(["doctor", "http://127.0.0.1:9/mcp", "--stack", "mcp-oauth"])
        .args(["--region", "eu-west-1", "--timeout-secs", "1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report = String::from_utf8(output.stdout).unwrap();
    let line = report
        .lines()
        .find(|line| line.starts_with("FAIL  stack mcp-oauth:"))
        .unwrap_or_else(|| panic!("no stack step in:\n{report}"));
    assert!(
        line.contains("`doctor --stack` needs the AWS SDK"),
        "{line}"
    );
    names_the_feature(line, "aws");
}

#[cfg(not(feature = "postgres"))]
#[test]
fn without_postgres_a_postgres_database_url_names_the_feature_not_the_url() {
    let url = "postgres://mcp:s3cret@127.0.0.1:1/mcp";
    for args in [
        vec!["auth-server", "--database-url", url],
        vec!["admin", "--database-url", url, "users", "list"],
    ] {
        let error = refused(&args);
        names_the_feature(&error, "postgres");
        assert!(!error.contains("s3cret"), "{error}");
    }
}

#[cfg(not(feature = "federation"))]
#[test]
fn without_federation_the_upstream_flags_name_the_feature() {
    let error = refused(&[
        "auth-server",
        "--upstream-issuer",
        "https://idp.example",
        "--upstream-client-id",
        "mcp-oauth",
        "--upstream-client-secret",
        "s3cret",
    ]);
    assert!(error.contains("--upstream-issuer"), "{error}");
    names_the_feature(&error, "federation");
    assert!(!error.contains("s3cret"), "{error}");
}

#[cfg(not(feature = "cimd"))]
#[test]
fn without_cimd_a_trusted_local_document_names_the_feature() {
    let error = refused(&[
        "auth-server",
        "--cimd-trusted-local-document",
        "http://localhost:3003/client-metadata.json",
    ]);
    assert!(error.contains("--cimd-trusted-local-document"), "{error}");
    names_the_feature(&error, "cimd");
}
