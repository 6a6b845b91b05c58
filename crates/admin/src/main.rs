//! `orderly-admin`: the operator's commands (see the crate documentation and
//! `docs/deploy.md`). Run `orderly-admin --help`.

#![forbid(unsafe_code)]

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use admin::clients::{self, AuthMethod, Grant, NewClient};
use admin::keys::KeySet;
use admin::users::{self, AdminOutcome};
use admin::{AdminError, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use zeroize::Zeroizing;

/// Operator commands for Orderly: signing keys, OAuth clients, the first admin.
#[derive(Parser, Debug)]
#[command(name = "orderly-admin", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct Database {
    /// MariaDB URL of an account that may write `oauth_clients` and `users` (the migration
    /// account; the component accounts may not).
    #[arg(
        long,
        env = "ORDERLY_DB_ADMIN_URL",
        default_value = "mysql://root@127.0.0.1:3306",
        hide_env_values = true
    )]
    admin_url: String,
    /// The application database.
    #[arg(long, env = "ORDERLY_DB_NAME", default_value = "orderly")]
    database: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Token signing keys as Spin variables (a keys file), and their rotation.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// OAuth clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// User accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Print a random secret (32 bytes, base64url): `cursor_key`, database passwords.
    Secret,
    /// GET an http:// URL; exit 0 on a 2xx status (the image's health check).
    Probe {
        /// e.g. http://127.0.0.1:3000/health
        url: String,
        /// Seconds allowed for connecting, writing and reading.
        #[arg(long, default_value_t = 3)]
        timeout_secs: u64,
    },
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// A first keys file: one current key.
    Init {
        /// Where to write the keys file (created with mode 0600; `-` for stdout).
        #[arg(long)]
        out: PathBuf,
        /// The key id (default `orderly-<date>-<random>`).
        #[arg(long)]
        kid: Option<String>,
    },
    /// Rotation step 1: a new key becomes `next` (published, not yet signing).
    Stage {
        /// The keys file in use.
        #[arg(long = "in")]
        input: PathBuf,
        /// Where to write the new keys file.
        #[arg(long)]
        out: PathBuf,
        /// The new key's id.
        #[arg(long)]
        kid: Option<String>,
    },
    /// Rotation step 2: `next` signs, the current key is retired (still published).
    Promote {
        /// The keys file in use.
        #[arg(long = "in")]
        input: PathBuf,
        /// Where to write the new keys file.
        #[arg(long)]
        out: PathBuf,
        /// Promote sooner than the JWKS cache lifetime after staging.
        #[arg(long)]
        force: bool,
    },
    /// Rotation step 3: stop publishing retired keys (all, or those named).
    Retire {
        /// The keys file in use.
        #[arg(long = "in")]
        input: PathBuf,
        /// Where to write the new keys file.
        #[arg(long)]
        out: PathBuf,
        /// Retire only this key (repeatable).
        #[arg(long)]
        kid: Vec<String>,
        /// Retire before every token the key signed has expired.
        #[arg(long)]
        force: bool,
    },
    /// Print the key ids by role and the public `token_jwks` (nothing secret).
    Show {
        /// The keys file.
        #[arg(long = "in")]
        input: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SecretAuth {
    /// HTTP Basic (RFC 6749 §2.3.1).
    Basic,
    /// Credentials in the form body.
    Post,
}

#[derive(Subcommand, Debug)]
enum ClientCommand {
    /// Register a client; a confidential client's secret is shown once.
    Create {
        #[command(flatten)]
        db: Database,
        /// The public client_id.
        #[arg(long)]
        id: String,
        /// A human-readable name.
        #[arg(long)]
        name: String,
        /// A public client (browser or native app, PKCE, no secret).
        #[arg(long)]
        public: bool,
        /// Grant type (repeatable): authorization_code, refresh_token, client_credentials.
        #[arg(long = "grant", required = true)]
        grants: Vec<String>,
        /// Space-separated scopes the client may ask for.
        #[arg(long)]
        scope: String,
        /// An exact redirect URI (repeatable; authorization_code only).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// How a confidential client authenticates.
        #[arg(long, value_enum, default_value_t = SecretAuth::Basic)]
        auth_method: SecretAuth,
        /// Let a client_credentials client hold `admin`.
        #[arg(long)]
        allow_admin_scope: bool,
        /// Write the secret to this file (mode 0600) instead of stdout.
        #[arg(long)]
        secret_out: Option<PathBuf>,
    },
    /// Replace a confidential client's secret (the old one stops working at once).
    RotateSecret {
        #[command(flatten)]
        db: Database,
        /// The client_id.
        #[arg(long)]
        id: String,
        /// Write the secret to this file (mode 0600) instead of stdout.
        #[arg(long)]
        secret_out: Option<PathBuf>,
    },
    /// Disable a client and revoke its refresh tokens.
    Disable {
        #[command(flatten)]
        db: Database,
        /// The client_id.
        #[arg(long)]
        id: String,
    },
    /// Enable a disabled client.
    Enable {
        #[command(flatten)]
        db: Database,
        /// The client_id.
        #[arg(long)]
        id: String,
    },
    /// List clients (no secrets).
    List {
        #[command(flatten)]
        db: Database,
    },
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create the first administrator (safe to run twice). The password comes from
    /// `--password-file` (`-` for stdin) or `ORDERLY_ADMIN_PASSWORD`, never the command line.
    CreateAdmin {
        #[command(flatten)]
        db: Database,
        /// The admin's email.
        #[arg(long)]
        email: String,
        /// A display name.
        #[arg(long)]
        display_name: Option<String>,
        /// A file whose first line is the password (`-`: standard input).
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Give an existing non-admin account the admin role.
        #[arg(long)]
        promote: bool,
    },
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> AdminError + '_ {
    move |source| AdminError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes a secret file: created new (never overwriting), mode 0600; `-` is stdout.
fn write_secret_file(path: &Path, text: &str) -> Result<()> {
    if path == Path::new("-") {
        let mut stdout = std::io::stdout().lock();
        return stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(io_error(path));
    }
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error(path))?;
    file.write_all(text.as_bytes()).map_err(io_error(path))?;
    file.sync_all().map_err(io_error(path))
}

fn read_keys(path: &Path) -> Result<KeySet> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io_error(path))?);
    KeySet::from_file(&text)
}

fn write_keys(path: &Path, set: &KeySet) -> Result<()> {
    write_secret_file(path, &set.to_file()?)?;
    eprintln!("keys: {} -> {}", set.summary(), path.display());
    Ok(())
}

fn emit_secret(what: &str, secret: &str, out: Option<&Path>) -> Result<()> {
    match out {
        Some(path) => {
            write_secret_file(path, &format!("{secret}\n"))?;
            eprintln!("{what}: written to {}", path.display());
        }
        None => {
            eprintln!("{what} (shown once; store it now):");
            println!("{secret}");
        }
    }
    Ok(())
}

fn read_password(file: Option<&Path>) -> Result<Zeroizing<String>> {
    let first_line = |text: &str| Zeroizing::new(text.lines().next().unwrap_or("").to_owned());
    match file {
        Some(path) if path == Path::new("-") => {
            let mut line = Zeroizing::new(String::new());
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(io_error(path))?;
            Ok(first_line(&line))
        }
        Some(path) => {
            let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io_error(path))?);
            Ok(first_line(&text))
        }
        None => std::env::var("ORDERLY_ADMIN_PASSWORD")
            .map(Zeroizing::new)
            .map_err(|_| {
                AdminError::invalid(
                    "password",
                    "give --password-file FILE (or - for stdin) or set ORDERLY_ADMIN_PASSWORD",
                )
            }),
    }
}

async fn run_keys(command: KeysCommand) -> Result<()> {
    let now = now();
    match command {
        KeysCommand::Init { out, kid } => write_keys(&out, &KeySet::init(kid.as_deref(), now)?),
        KeysCommand::Stage { input, out, kid } => {
            write_keys(&out, &read_keys(&input)?.stage(kid.as_deref(), now)?)
        }
        KeysCommand::Promote { input, out, force } => {
            write_keys(&out, &read_keys(&input)?.promote(now, force)?)
        }
        KeysCommand::Retire {
            input,
            out,
            kid,
            force,
        } => write_keys(&out, &read_keys(&input)?.retire(&kid, now, force)?),
        KeysCommand::Show { input } => {
            let set = read_keys(&input)?;
            println!("{}", set.summary());
            println!("token_jwks={}", set.verifying_keys()?.to_jwks_json());
            Ok(())
        }
    }
}

async fn run_client(command: ClientCommand) -> Result<()> {
    match command {
        ClientCommand::Create {
            db,
            id,
            name,
            public,
            grants,
            scope,
            redirect_uris,
            auth_method,
            allow_admin_scope,
            secret_out,
        } => {
            let grants = grants
                .iter()
                .map(|g| Grant::parse(g))
                .collect::<Result<Vec<_>>>()?;
            let client = NewClient {
                client_id: id,
                name,
                confidential: !public,
                auth_method: match (public, auth_method) {
                    (true, _) => AuthMethod::None,
                    (false, SecretAuth::Basic) => AuthMethod::ClientSecretBasic,
                    (false, SecretAuth::Post) => AuthMethod::ClientSecretPost,
                },
                grants,
                scope,
                redirect_uris,
                allow_admin_scope,
            };
            let mut conn = admin::connect(&db.admin_url, &db.database).await?;
            let registered = clients::create(&mut conn, &client).await?;
            let _ = conn.disconnect().await;
            eprintln!("client {}: created", registered.client_id);
            if let Some(secret) = &registered.secret {
                emit_secret("client secret", secret, secret_out.as_deref())?;
            }
            Ok(())
        }
        ClientCommand::RotateSecret { db, id, secret_out } => {
            let mut conn = admin::connect(&db.admin_url, &db.database).await?;
            let secret = clients::rotate_secret(&mut conn, &id).await?;
            let _ = conn.disconnect().await;
            eprintln!("client {id}: secret replaced");
            emit_secret("client secret", &secret, secret_out.as_deref())
        }
        ClientCommand::Disable { db, id } => set_status(db, id, false).await,
        ClientCommand::Enable { db, id } => set_status(db, id, true).await,
        ClientCommand::List { db } => {
            let mut conn = admin::connect(&db.admin_url, &db.database).await?;
            let rows = clients::list(&mut conn).await?;
            let _ = conn.disconnect().await;
            println!("client_id\tstatus\ttype\tgrants\tscopes\tname");
            for c in rows {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    c.client_id, c.status, c.client_type, c.grants, c.scopes, c.name
                );
            }
            Ok(())
        }
    }
}

async fn set_status(db: Database, id: String, active: bool) -> Result<()> {
    let mut conn = admin::connect(&db.admin_url, &db.database).await?;
    let change = clients::set_status(&mut conn, &id, active).await?;
    let _ = conn.disconnect().await;
    let state = if active { "enabled" } else { "disabled" };
    if change.changed {
        eprintln!("client {id}: {state}");
    } else {
        eprintln!("client {id}: already {state}");
    }
    if !active {
        eprintln!(
            "client {id}: {} refresh token(s) revoked; access tokens already issued expire within 15 minutes",
            change.refresh_tokens_revoked
        );
    }
    Ok(())
}

async fn run_user(command: UserCommand) -> Result<()> {
    match command {
        UserCommand::CreateAdmin {
            db,
            email,
            display_name,
            password_file,
            promote,
        } => {
            let password = read_password(password_file.as_deref())?;
            let mut conn = admin::connect(&db.admin_url, &db.database).await?;
            let outcome = users::create_admin(
                &mut conn,
                &email,
                &password,
                display_name.as_deref(),
                promote,
            )
            .await?;
            let _ = conn.disconnect().await;
            let what = match outcome {
                AdminOutcome::Created => "created",
                AdminOutcome::AlreadyAdmin => "already an active admin (unchanged)",
                AdminOutcome::Promoted => "given the admin role",
            };
            eprintln!("user {email}: {what}");
            Ok(())
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Keys(command) => run_keys(command).await,
        Command::Client(command) => run_client(command).await,
        Command::User(command) => run_user(command).await,
        Command::Secret => {
            println!("{}", admin::random_secret()?.as_str());
            Ok(())
        }
        Command::Probe { url, timeout_secs } => {
            let status = admin::probe::get_status(&url, Duration::from_secs(timeout_secs))?;
            if (200..300).contains(&status) {
                Ok(())
            } else {
                Err(AdminError::State(format!("{url}: HTTP {status}")))
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("orderly-admin: no async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("orderly-admin: {error}");
            ExitCode::FAILURE
        }
    }
}
