//! `cargo xtask <command>` — the project's commands, in plain Rust (std + anyhow).
//!
//! - `up`: build the components, make sure MariaDB and Redis are up, migrate, provision
//!   the component accounts, seed, and serve on `127.0.0.1:3000` with `spin` if it is
//!   installed, else with the bundled host (`tests/host`).
//! - `test`: the one command that runs every test (what `.ci/run` calls).
//! - `migrate`: migrate and provision accounts only.
//! - `db [start|status|stop|shell]`: the development database.
//!
//! Environment: `ORDERLY_DB_ADMIN_URL` (default `mysql://root@127.0.0.1:3306`),
//! `ORDERLY_DB_NAME` (default `orderly`), `ORDERLY_LISTEN` (default `127.0.0.1:3000`).

#![forbid(unsafe_code)]

mod database;
mod dev_secrets;
mod process;
mod services;
mod test_db;
mod workspace;

use std::process::ExitCode;

use anyhow::{Result, bail};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  up                         build, start MariaDB/Redis, migrate, seed, serve on $ORDERLY_LISTEN (127.0.0.1:3000)
  test [-- <test args>]      build every wasm component and run every test (then, unfiltered, tests/scale/three-hosts.sh)
  vars                       what up does before serving; prints the Spin variables (export SPIN_VARIABLE_...)
  migrate                    apply migrations and provision component accounts
  db [start|status|stop|shell|drop NAME]  manage the development MariaDB (drop: a database, its accounts, its credentials file)
  env                        migrate, then print the test environment (eval \"$(cargo xtask env)\")";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (command.as_str(), rest),
        None => {
            println!("{USAGE}");
            return Ok(());
        }
    };
    match command {
        "up" => up(),
        "vars" => vars(),
        "test" => test(rest),
        "migrate" => {
            let db = database::Settings::from_env()?;
            database::ensure_running(&db)?;
            database::migrate_and_provision(&db)?;
            Ok(())
        }
        "db" => database::command(rest),
        "env" => {
            let db = database::Settings::from_env()?;
            let db = db.with_database(test_db::env_database()?);
            database::ensure_running(&db)?;
            services::ensure_redis()?;
            let credentials = database::migrate_and_provision(&db)?;
            eprintln!(
                "env: the tests will use database {} (not {})",
                db.database,
                database::Settings::from_env()?.database
            );
            for (name, value) in test_env(&db, &credentials)? {
                println!("export {name}='{value}'");
            }
            Ok(())
        }
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

/// Build, start dependencies, migrate, seed, serve.
fn up() -> Result<()> {
    let listen = std::env::var("ORDERLY_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let variables = prepare_service("up", &listen)?;
    services::serve(&workspace::root(), &listen, &variables)
}

/// What `up` does before serving, printing the Spin variables (`export SPIN_VARIABLE_…`)
/// instead: for serving with `spin up` by hand, or several hosts on one database.
fn vars() -> Result<()> {
    let listen = std::env::var("ORDERLY_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    for (name, value) in prepare_service("vars", &listen)? {
        println!("export {name}='{}'", value.replace('\'', "'\\''"));
    }
    Ok(())
}

/// Builds the components, starts MariaDB and Redis if needed, migrates, provisions the
/// accounts and seeds `ORDERLY_DB_NAME`; returns the Spin variables that serve it.
/// Progress goes to stderr (`vars` prints the variables on stdout).
fn prepare_service(command: &str, listen: &str) -> Result<Vec<(String, String)>> {
    let root = workspace::root();
    workspace::ensure_wasm_target()?;
    workspace::build_wasm(&workspace::cdylib_packages(&root.join("components"))?)?;

    let db = database::Settings::from_env()?;
    eprintln!(
        "{command}: serving database {} at {}:{} (ORDERLY_DB_NAME); `cargo xtask test` uses its own",
        db.database, db.host, db.port
    );
    database::ensure_running(&db)?;
    services::ensure_redis()?;
    let credentials = database::migrate_and_provision(&db)?;
    let secrets = dev_secrets::DevSecrets::load_or_generate(&dev_secrets::path())?;
    seed(&db, &secrets, listen)?;

    let mut variables = database::spin_variables(&db, &credentials);
    variables.extend(secrets.spin_variables());
    Ok(variables)
}

/// Seeds the demo OAuth clients and accounts (`migrate::seed`, idempotent) and prints
/// how to use them. Secrets come from `target/orderly/dev-secrets.env`; the environment
/// (`ORDERLY_SEED_*`) overrides them, e.g. to choose the admin's email or password.
fn seed(db: &database::Settings, secrets: &dev_secrets::DevSecrets, listen: &str) -> Result<()> {
    let from_env = |name: &str, fallback: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| fallback.to_owned())
    };
    let config = migrate::seed::SeedConfig {
        machine_client_secret: from_env(
            "ORDERLY_SEED_MACHINE_CLIENT_SECRET",
            secrets.machine_client_secret(),
        ),
        admin_email: from_env(
            "ORDERLY_SEED_ADMIN_EMAIL",
            migrate::seed::DEFAULT_ADMIN_EMAIL,
        ),
        admin_password: from_env("ORDERLY_SEED_ADMIN_PASSWORD", secrets.admin_password()),
        demo: Some((
            from_env("ORDERLY_SEED_DEMO_EMAIL", migrate::seed::DEFAULT_DEMO_EMAIL),
            from_env("ORDERLY_SEED_DEMO_PASSWORD", secrets.demo_password()),
        )),
        catalogue: !matches!(
            std::env::var("ORDERLY_SEED_CATALOGUE").as_deref(),
            Ok("0" | "false" | "no")
        ),
    };
    let report = migrate::seed::seed_blocking(&db.admin_url, &db.database, &config)?;
    for (what, outcome) in &report.rows {
        eprintln!("seed: {what}: {outcome:?}");
    }
    // A development tool: print the demo credentials (they live in dev-secrets.env).
    eprintln!(
        "seed: machine client  {} / secret {}  (client_credentials; scopes {})",
        migrate::seed::MACHINE_CLIENT_ID,
        config.machine_client_secret,
        migrate::seed::MACHINE_SCOPES
    );
    eprintln!(
        "seed: browser client  {} (public, PKCE; redirect {})",
        migrate::seed::WEB_CLIENT_ID,
        migrate::seed::WEB_REDIRECT_URIS.join(", ")
    );
    eprintln!(
        "seed: admin login     {} / {}",
        config.admin_email, config.admin_password
    );
    if let Some((email, password)) = &config.demo {
        eprintln!("seed: demo login      {email} / {password}");
    }
    eprintln!(
        "seed: try  curl -u {}:{} -d grant_type=client_credentials http://{listen}/oauth2/token",
        migrate::seed::MACHINE_CLIENT_ID,
        config.machine_client_secret
    );
    eprintln!(
        "seed: secrets in {} (delete it to rotate)",
        dev_secrets::path().display()
    );
    Ok(())
}

/// Every test: wasm components built first, then the whole workspace.
fn test(extra: &[String]) -> Result<()> {
    let root = workspace::root();
    workspace::ensure_wasm_target()?;
    let mut packages = workspace::cdylib_packages(&root.join("components"))?;
    packages.extend(workspace::cdylib_packages(
        &root.join("tests/host/test-components"),
    )?);
    workspace::build_wasm(&packages)?;

    let base = database::Settings::from_env()?;
    database::ensure_running(&base)?;
    services::ensure_redis()?;
    // The run's own database, dropped with its accounts when `run` goes out of scope
    // (pass or fail); never `ORDERLY_DB_NAME`, the one `cargo xtask up` serves.
    let (run, credentials) = test_db::RunDatabase::create(&base)?;
    println!(
        "test: using database {} (created for this run, dropped after it; the dev service's {} is not touched)",
        run.settings().database,
        base.database
    );
    let env = test_env(run.settings(), &credentials)?;

    let extra = extra.strip_prefix(&["--".to_owned()]).unwrap_or(extra);
    if process::succeeds("cargo", &["nextest", "--version"]) {
        let mut args = vec!["nextest", "run", "--workspace", "--no-fail-fast"];
        args.extend(extra.iter().map(String::as_str));
        process::run_with_env("cargo", &args, &env)?;
        // nextest does not run doctests.
        process::run_with_env("cargo", &["test", "--workspace", "--doc"], &env)?;
    } else {
        println!("cargo-nextest not found; using cargo test");
        let mut args = vec!["test", "--workspace", "--no-fail-fast"];
        args.extend(extra.iter().map(String::as_str));
        process::run_with_env("cargo", &args, &env)?;
    }
    // The whole suite (no filter) ends with three hosts behind HAProxy (its own database).
    if extra.is_empty() {
        let script = root.join("tests/scale/three-hosts.sh");
        process::run_with_env(&script.to_string_lossy(), &[], &[])?;
    }
    Ok(())
}

/// What the tests read: the database's name (`ORDERLY_DB_NAME`, also
/// `ORDERLY_TEST_DB_NAME`), each component account's URL (`ORDERLY_TEST_<C>_DB_URL`)
/// and the admin URL.
fn test_env(
    db: &database::Settings,
    credentials: &database::Credentials,
) -> Result<Vec<(String, String)>> {
    let mut env = vec![
        ("ORDERLY_DB_NAME".to_owned(), db.database.to_string()),
        ("ORDERLY_TEST_DB_NAME".to_owned(), db.database.to_string()),
    ];
    for account in migrate::COMPONENT_ACCOUNTS {
        let name = format!(
            "ORDERLY_TEST_{}_DB_URL",
            account.component.to_ascii_uppercase()
        );
        env.push((name, db.component_url(account.component, credentials)?));
    }
    env.push(("ORDERLY_DB_ADMIN_URL".to_owned(), db.admin_url.clone()));
    Ok(env)
}
