//! `mcp-oauth dev --env-dir DIR`: the AWS Cognito mode's local side in one process, configured
//! by the `.env` files `mcp-oauth deploy` wrote under DIR. For a gateway-mode deployment: the
//! gateway (`gateway/.env`) and the three demo web clients (`client/.env`, `auto-client/.env`,
//! `cimd-client/.env`). For a serverless one, whose gateway and MCP server run on AWS Lambda:
//! the three clients, and the function's URLs. The files are read without touching the
//! process environment (each sets its own `MCP_SERVER_URL`): their values win, and what they
//! leave out comes from the environment, as for each command.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::{Args, CommandFactory, FromArgMatches};
use serde::Deserialize;

use super::env_file::EnvFile;
use crate::runtime::{ServeArgs, serve_all};
use crate::web_client::{self, AutoClientArgs, CimdClientArgs, ClientArgs};

// The name of deploy's manifest in DIR.
#[cfg(feature = "aws")]
use mcp_oauth_cognito::MANIFEST_FILE;
/// The name of deploy's manifest in DIR (the cognito crate's `MANIFEST_FILE`, which a build
/// without `aws` leaves out).
#[cfg(not(feature = "aws"))]
const MANIFEST_FILE: &str = "mcp-oauth-deploy.json";

/// The `mode` of a manifest whose gateway and MCP server run on AWS Lambda.
const SERVERLESS: &str = "serverless";

/// What this command reads of deploy's manifest; every field may be absent (manifests of
/// older releases), and the rest of the manifest is ignored.
#[derive(Debug, Default, Deserialize)]
struct Manifest {
    /// The stack the files describe.
    #[serde(default)]
    stack: String,
    /// Its region.
    #[serde(default)]
    region: String,
    /// `gateway`, `federated` or `serverless`; absent before serverless deployments existed.
    #[serde(default)]
    mode: String,
    /// The Lambda function URL of a serverless deployment (`null` for the other modes).
    #[serde(default)]
    serverless_url: Option<String>,
    /// The files deploy wrote, relative to DIR.
    #[serde(default)]
    files: Vec<PathBuf>,
}

/// What runs here for a deployment.
enum Deployment {
    /// `mcp-oauth gateway` from `gateway/.env`, and the clients.
    Gateway,
    /// Only the clients: the gateway and the MCP server answer at this function URL.
    Serverless { url: String },
}

impl Manifest {
    /// The manifest in `dir`, refusing a directory deploy did not write.
    fn read(dir: &Path) -> anyhow::Result<Self> {
        let write_it = format!(
            "give the directory `mcp-oauth deploy` wrote its .env files to (its --env-dir), \
             or run `mcp-oauth deploy --env-dir {}` first",
            dir.display()
        );
        if !dir.is_dir() {
            return Err(anyhow!("{} is not a directory: {write_it}", dir.display()));
        }
        let path = dir.join(MANIFEST_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(anyhow!(
                    "{} has no {MANIFEST_FILE}, so `mcp-oauth deploy` did not write it: \
                     {write_it}",
                    dir.display()
                ));
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        serde_json::from_slice(&bytes).map_err(|error| {
            anyhow!(
                "{}: not a manifest written by `mcp-oauth deploy` ({error}): run \
                 `mcp-oauth deploy --env-dir {}` again to rewrite it",
                path.display(),
                dir.display()
            )
        })
    }

    /// What the manifest describes, if this command can run it.
    fn deployment(&self, dir: &Path) -> anyhow::Result<Deployment> {
        let federated = self.mode == "federated"
            || (self.mode.is_empty()
                && self.files.contains(&Path::new("auth-server").join(".env")));
        if federated {
            return Err(anyhow!(
                "{} holds a federated-mode deployment (the embedded authorization server signs \
                 people in at Cognito); `dev --env-dir` runs the gateway mode and serverless \
                 deployments: run `mcp-oauth auth-server`, `mcp-oauth mcp-server` and the \
                 clients each in its subdirectory, or deploy again without `--mode federated`",
                dir.display()
            ));
        }
        match self.mode.as_str() {
            "" | "gateway" => Ok(Deployment::Gateway),
            SERVERLESS => match self.serverless_url.as_deref().map(str::trim) {
                Some(url) if !url.is_empty() => Ok(Deployment::Serverless {
                    url: url.to_owned(),
                }),
                _ => Err(anyhow!(
                    "{}: a serverless deployment without its `serverless_url`: run `mcp-oauth \
                     deploy --serverless --env-dir {}` again to rewrite it",
                    dir.join(MANIFEST_FILE).display(),
                    dir.display()
                )),
            },
            other => Err(anyhow!(
                "{}: mode `{other}` is not one this mcp-oauth knows (gateway, federated, \
                 serverless): use the release of mcp-oauth that deployed it",
                dir.join(MANIFEST_FILE).display()
            )),
        }
    }
}

/// Runs the deployment in `dir` until Ctrl-C or SIGTERM; the auto-client keeps its
/// registration in `data_dir`.
pub async fn run(dir: &Path, data_dir: &Path, serve: &ServeArgs) -> anyhow::Result<()> {
    let manifest = Manifest::read(dir)?;
    let deployment = manifest.deployment(dir)?;
    // Every file is read and checked before anything starts.
    #[cfg(feature = "aws")]
    let gateway = match deployment {
        Deployment::Gateway => Some(component::<crate::gateway::GatewayArgs>(
            dir,
            "gateway",
            &[],
        )?),
        Deployment::Serverless { .. } => None,
    };
    #[cfg(not(feature = "aws"))]
    if let Deployment::Gateway = deployment {
        return Err(crate::left_out::needs_feature(
            &format!(
                "`mcp-oauth dev --env-dir` on a gateway-mode deployment ({})",
                dir.display()
            ),
            "the AWS SDK (it runs `mcp-oauth gateway`)",
            "aws",
        ));
    }
    let client: ClientArgs = component(dir, "client", &[])?;
    let data_dir = data_dir.to_string_lossy().into_owned();
    let auto_client: AutoClientArgs =
        component(dir, "auto-client", &[("MCP_OAUTH_DATA_DIR", data_dir)])?;
    let cimd_client: CimdClientArgs = component(dir, "cimd-client", &[])?;

    let mut services = Vec::new();
    #[cfg(feature = "aws")]
    if let Some(gateway) = &gateway {
        services.push(crate::gateway::bind(gateway).await?);
    }
    services.push(web_client::client_service(&client).await?);
    services.push(web_client::auto_client_service(&auto_client).await?);
    services.push(web_client::cimd_client_service(&cimd_client).await?);

    println!();
    let stack = format!("stack {} in {}", manifest.stack, manifest.region);
    match &deployment {
        Deployment::Gateway => println!(
            "The Cognito mode ({stack}) runs here, configured by {}. Next:",
            dir.display()
        ),
        Deployment::Serverless { url } => {
            let base = url.trim_end_matches('/');
            println!("The gateway and the MCP server run on AWS Lambda ({stack}):");
            println!("  MCP server:              {}", client.mcp.mcp_url);
            println!(
                "  its resource metadata:   {}",
                resource_metadata_url(&client.mcp.mcp_url)
            );
            println!("  authorization metadata:  {base}/.well-known/oauth-authorization-server");
            println!("  registration:            {base}/register");
            println!(
                "The demo clients run here, configured by {}. Next:",
                dir.display()
            );
        }
    }
    println!("  1. Open a demo client and press \"Log in\":");
    println!(
        "       {}  pre-registered confidential client (the stack's app client {})",
        client.listen.url, client.client_id
    );
    println!(
        "       {}  discovers the gateway and registers itself (a new app client in the pool)",
        auto_client.listen.url
    );
    println!(
        "       {}  uses a Client ID Metadata Document, which Cognito cannot read: its login \
         fails in this mode (deploy --mode federated has it)",
        cimd_client.listen.url
    );
    println!(
        "  2. Sign in on Cognito's hosted page (or sign up: Cognito mails a verification code)"
    );
    println!("  3. Press \"Fetch MCP Data\": the tools and the whoami result");
    println!(
        "  - Any MCP client can use {}: it discovers the gateway, registers itself and sends \
         you to Cognito",
        client.mcp.mcp_url
    );
    println!("  - Ctrl-C stops everything");
    serve_all(services, serve).await
}

/// The flags of `mcp-oauth <name>` from `dir/<name>/.env`, with `defaults` for what the file
/// leaves out; warns of variables no command of mcp-oauth reads (they do not reach the
/// environment here).
fn component<T: Args + FromArgMatches>(
    dir: &Path,
    name: &'static str,
    defaults: &[(&str, String)],
) -> anyhow::Result<T> {
    let file = EnvFile::read(
        &dir.join(name).join(".env"),
        &format!(
            "run `mcp-oauth deploy --env-dir {}` again to write it",
            dir.display()
        ),
    )?;
    let parsed = file.parse::<T>(name, defaults)?;
    let known = variables_read();
    for variable in parsed.unread.iter().filter(|name| !known.contains(*name)) {
        tracing::warn!(
            "{}: no flag of mcp-oauth reads {variable}, and `dev --env-dir` keeps the files out \
             of the environment: set it in the environment if something else needs it",
            file.path().display()
        );
    }
    Ok(parsed.args)
}

/// Every environment variable some flag of some `mcp-oauth` command reads.
fn variables_read() -> HashSet<String> {
    fn collect(command: &clap::Command, into: &mut HashSet<String>) {
        for arg in command.get_arguments() {
            if let Some(env) = arg.get_env() {
                into.insert(env.to_string_lossy().into_owned());
            }
        }
        for sub in command.get_subcommands() {
            collect(sub, into);
        }
    }
    let mut variables = HashSet::new();
    collect(&crate::Cli::command(), &mut variables);
    variables
}

/// The RFC 9728 §3.1 metadata URL of the resource `mcp_url`: the well-known path inserted
/// between its origin and its path.
fn resource_metadata_url(mcp_url: &str) -> String {
    match url::Url::parse(mcp_url) {
        Ok(url) => format!(
            "{}/.well-known/oauth-protected-resource{}",
            url.origin().ascii_serialization(),
            url.path().trim_end_matches('/')
        ),
        Err(_) => format!("{mcp_url} (not a URL)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resource_metadata_sits_between_origin_and_path() {
        assert_eq!(
            resource_metadata_url("https://abc.lambda-url.eu-west-1.on.aws/mcp"),
            "https://abc.lambda-url.eu-west-1.on.aws/.well-known/oauth-protected-resource/mcp"
        );
    }

    #[test]
    fn a_manifest_is_read_leniently_and_its_mode_decides() {
        let manifest: Manifest = serde_json::from_str(
            r#"{"stack": "s", "region": "r", "mode": "gateway", "serverless_url": null,
                "files": [], "created_dirs": [], "later": 1}"#,
        )
        .unwrap();
        let dir = Path::new("env");
        assert!(matches!(manifest.deployment(dir), Ok(Deployment::Gateway)));
        let serverless: Manifest = serde_json::from_str(
            r#"{"mode": "serverless", "serverless_url": "https://f.lambda-url.r.on.aws/"}"#,
        )
        .unwrap();
        assert!(matches!(
            serverless.deployment(dir),
            Ok(Deployment::Serverless { url }) if url == "https://f.lambda-url.r.on.aws/"
        ));
        let old_federated: Manifest =
            serde_json::from_str(r#"{"files": ["auth-server/.env"]}"#).unwrap();
        let refused = old_federated.deployment(dir).err().unwrap().to_string();
        assert!(refused.contains("federated"), "{refused}");
        let unknown: Manifest = serde_json::from_str(r#"{"mode": "edge"}"#).unwrap();
        assert!(manifest_error(&unknown).contains("mode `edge`"));
        let no_url: Manifest = serde_json::from_str(r#"{"mode": "serverless"}"#).unwrap();
        assert!(manifest_error(&no_url).contains("serverless_url"));
    }

    fn manifest_error(manifest: &Manifest) -> String {
        manifest
            .deployment(Path::new("env"))
            .err()
            .unwrap()
            .to_string()
    }
}
