//! `mcp-oauth admin`: manage the authorization server's users, clients and signing keys
//! directly in its database (the server may be running), and read its audit trail.

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use mcp_oauth_authorization_server::{Admin, ClientSummary, Rejection, StaticClient};
use mcp_oauth_core::{CanonicalResource, ClientStatus, random_token};

use crate::audit_query::{self, AuditArgs};
use crate::auth_server::StorageArgs;
use crate::registry_admin::{self, CognitoRegistryArgs};

/// Flags of `mcp-oauth admin`.
#[derive(Args, Debug)]
pub struct AdminArgs {
    #[command(flatten)]
    storage: StorageArgs,

    #[command(flatten)]
    cognito: CognitoRegistryArgs,

    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Manage user accounts.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage clients: pre-register, list, and approve, reject or suspend registered ones.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Show the audit trail: sign-ins, registrations, consents, tokens issued, refresh-token
    /// reuse, revocations, key rotations and admin actions, newest last.
    Audit(AuditArgs),
}

#[derive(Subcommand, Debug)]
enum UsersCommand {
    /// Add a user. The password is read from standard input with --password-stdin, otherwise
    /// a random one is generated and printed once.
    Add {
        /// The user's e-mail address (their sign-in name).
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Remove a user's two-step verification (their TOTP app and recovery codes), e.g. after
    /// they lost their phone and their recovery codes: they sign in with their password alone,
    /// or set it up again at once where it is required.
    ResetMfa {
        /// The user's e-mail address.
        email: String,
    },
}

/// `mcp-oauth admin clients …`.
#[derive(Subcommand, Debug)]
pub enum ClientsCommand {
    /// Pre-register a client; prints its id (and secret, shown only once). Give redirect URIs
    /// for an application people sign in to, --introspect-for for a resource server (an MCP
    /// server that checks tokens by introspection), or both.
    Add {
        /// The name shown on the consent page.
        #[arg(long)]
        name: String,
        /// A redirect URI (repeatable).
        #[arg(
            long = "redirect-uri",
            required_unless_present = "introspection_resources"
        )]
        redirect_uris: Vec<String>,
        /// A public client (no secret; PKCE only).
        #[arg(long, conflicts_with = "introspection_resources")]
        public: bool,
        /// Use this client id instead of a random one.
        #[arg(long)]
        client_id: Option<String>,
        /// Let the client introspect (RFC 7662) the access tokens issued for this resource,
        /// the URL of the MCP server it runs (repeatable). No other client may introspect.
        #[arg(long = "introspect-for", value_name = "RESOURCE")]
        introspection_resources: Vec<String>,
    },
    /// List clients: id, origin, status (active, pending, suspended), how it registered
    /// (static, open, initial-access-token, software-statement, metadata-document), name.
    List {
        /// Only the clients waiting for approval (`--registration-approval`).
        #[arg(long, conflicts_with = "suspended")]
        pending: bool,
        /// Only the suspended clients.
        #[arg(long)]
        suspended: bool,
    },
    /// Delete a client with everything it was granted.
    Delete {
        /// The client id.
        client_id: String,
    },
    /// Approve a client waiting for approval (or a suspended one): it may sign people in at
    /// once, on every server on this database.
    Approve {
        /// The client id (for a metadata-document client, its URL).
        client_id: String,
    },
    /// Reject a client waiting for approval: it is deleted (a metadata-document client is
    /// kept as suspended, so its next sign-in request does not register it again).
    Reject {
        /// The client id (for a metadata-document client, its URL).
        client_id: String,
    },
    /// Suspend a client: it may no longer sign anyone in or get tokens, and every grant it
    /// holds is revoked (refresh tokens at once; access tokens where the MCP server checks
    /// revocations, else when they expire). `approve` lets it in again.
    Suspend {
        /// The client id (for a metadata-document client, its URL).
        client_id: String,
    },
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Make a new signing key current; the old one stays published until tokens expire.
    /// Running servers sign with it within their `--key-reload-interval-secs`.
    Rotate,
    /// List the published keys.
    List,
}

/// Runs an admin command.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    if args.cognito.selected() {
        return match args.command {
            AdminCommand::Clients(command) => registry_admin::clients(&args.cognito, command).await,
            _ => bail!(
                "with a Cognito registry (--cognito-registry-table or --cognito-registry-sqlite, \
                 or their environment variables) only `admin clients` applies; users and keys \
                 are Cognito's"
            ),
        };
    }
    let admin = Admin::new(args.storage.open().await?);
    match args.command {
        AdminCommand::Users(command) => users(&admin, command).await,
        AdminCommand::Clients(command) => clients(&admin, command).await,
        AdminCommand::Keys(command) => keys(&admin, command).await,
        AdminCommand::Audit(args) => audit_query::run(&admin, &args).await,
    }
}

async fn users(admin: &Admin, command: UsersCommand) -> anyhow::Result<()> {
    match command {
        UsersCommand::Add {
            email,
            password_stdin,
        } => {
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("cannot read the password")?;
                (line.trim_end_matches(['\r', '\n']).to_owned(), false)
            } else {
                (random_token(), true)
            };
            let user = admin.add_user(&email, &password).await?;
            println!("added user {} ({})", user.email, user.user_id);
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
        UsersCommand::List => {
            for user in admin.list_users().await? {
                println!("{}\t{}", user.user_id, user.email);
            }
            Ok(())
        }
        UsersCommand::ResetMfa { email } => match admin.reset_mfa(&email).await? {
            Some(true) => {
                println!("removed the two-step verification of {}", email.trim());
                Ok(())
            }
            Some(false) => {
                println!(
                    "{} had no two-step verification set up; nothing changed",
                    email.trim()
                );
                Ok(())
            }
            None => bail!("no user with the e-mail address {}", email.trim()),
        },
    }
}

async fn clients(admin: &Admin, command: ClientsCommand) -> anyhow::Result<()> {
    match command {
        ClientsCommand::Add {
            name,
            redirect_uris,
            public,
            client_id,
            introspection_resources,
        } => {
            let resources = introspection_resources
                .iter()
                .map(|resource| {
                    CanonicalResource::parse(resource)
                        .with_context(|| format!("--introspect-for {resource}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let client = match client_id {
                Some(client_id) => StaticClient::new(client_id, name),
                None => StaticClient::with_random_id(name),
            };
            let mut client = client
                .with_redirect_uris(redirect_uris)
                .with_introspection_resources(resources);
            if public {
                client = client.public();
            }
            let registered = admin.register_static_client(&client).await?;
            println!("client_id: {}", registered.client_id);
            if let Some(secret) = registered.secret {
                println!("client_secret: {} (shown only now)", secret.expose());
            }
            Ok(())
        }
        ClientsCommand::List { pending, suspended } => {
            let listed = match (pending, suspended) {
                (true, _) => {
                    admin
                        .list_clients_with_status(ClientStatus::Pending)
                        .await?
                }
                (_, true) => {
                    admin
                        .list_clients_with_status(ClientStatus::Suspended)
                        .await?
                }
                _ => admin.list_clients().await?,
            };
            for client in &listed {
                println!("{}", client_line(client));
            }
            Ok(())
        }
        ClientsCommand::Delete { client_id } => {
            let deleted = admin.delete_client(&client_id).await?;
            if !deleted {
                bail!("no client {client_id}");
            }
            println!("deleted client {client_id}");
            Ok(())
        }
        ClientsCommand::Approve { client_id } => {
            if !admin.approve_client(&client_id).await? {
                bail!("no client {client_id}");
            }
            println!("approved client {client_id}");
            Ok(())
        }
        ClientsCommand::Suspend { client_id } => {
            if !admin.suspend_client(&client_id).await? {
                bail!("no client {client_id}");
            }
            println!("suspended client {client_id}; its grants are revoked");
            Ok(())
        }
        ClientsCommand::Reject { client_id } => match admin.reject_client(&client_id).await? {
            Rejection::Deleted => {
                println!("rejected client {client_id}: deleted");
                Ok(())
            }
            Rejection::KeptSuspended => {
                println!(
                    "rejected client {client_id}: kept as suspended (a metadata document; \
                     `admin clients delete` removes it for good)"
                );
                Ok(())
            }
            Rejection::NotPending(status) => bail!(
                "client {client_id} is {status}, not waiting for approval: suspend or delete it \
                 instead"
            ),
            _ => bail!("no client {client_id}"),
        },
    }
}

/// A client as `clients list` prints it: id, origin, status, registration path, name, and
/// the resources it may introspect.
fn client_line(client: &ClientSummary) -> String {
    let name = client.name.as_deref().unwrap_or("-");
    let introspects = match client.introspection_resources.as_slice() {
        [] => String::new(),
        resources => format!(
            "\tintrospects {}",
            resources
                .iter()
                .map(CanonicalResource::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        ),
    };
    format!(
        "{}\t{:?}\t{}\t{}\t{name}{introspects}",
        client.client_id, client.origin, client.status, client.registration_path
    )
}

async fn keys(admin: &Admin, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Rotate => {
            let kid = admin.rotate_keys().await?;
            println!(
                "new current signing key: {kid} (running servers sign with it within their \
                 --key-reload-interval-secs, a minute by default)"
            );
        }
        KeysCommand::List => {
            for key in admin.list_keys().await? {
                println!(
                    "{}\t{}\t{:?}\t{}",
                    key.kid, key.algorithm, key.state, key.created_at
                );
            }
        }
    }
    Ok(())
}
