//! `orderly-migrate`: apply migrations and provision component accounts.
//!
//! ```text
//! orderly-migrate [--admin-url URL] [--database NAME] [--dir DIR] [--accounts]
//! ```
//! `--accounts` reads each component's password from `ORDERLY_DB_PASSWORD_<COMPONENT>`
//! (e.g. `ORDERLY_DB_PASSWORD_HEALTH`). Defaults: `$ORDERLY_DB_ADMIN_URL` or
//! `mysql://root@127.0.0.1:3306`, database `orderly`, directory `migrations`.
//!
//! Accounts are per database ([`migrate::user_prefix`]): `orderly` keeps
//! `orderly_<component>`, any other database `<database>_<component>` (hashed when the
//! name is long or not lower case), so several databases can share one server.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use migrate::{
    AccountHost, AccountPassword, COMPONENT_ACCOUNTS, DatabaseName, blocking, user_prefix,
};

struct Args {
    admin_url: String,
    database: String,
    dir: PathBuf,
    accounts: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        admin_url: std::env::var("ORDERLY_DB_ADMIN_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned()),
        database: "orderly".to_owned(),
        dir: PathBuf::from("migrations"),
        accounts: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--admin-url" => args.admin_url = value("--admin-url")?,
            "--database" => args.database = value("--database")?,
            "--dir" => args.dir = PathBuf::from(value("--dir")?),
            "--accounts" => args.accounts = true,
            "-h" | "--help" => {
                return Err("usage: orderly-migrate [--admin-url URL] [--database NAME] [--dir DIR] [--accounts]".to_owned());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let database = DatabaseName::parse(&args.database).map_err(|e| e.to_string())?;
    let migrations = migrate::load_dir(&args.dir).map_err(|e| e.to_string())?;
    let report =
        blocking::migrate(&args.admin_url, &database, &migrations).map_err(|e| e.to_string())?;
    for name in &report.applied {
        println!("applied {name}");
    }
    println!(
        "{} applied, {} already applied",
        report.applied.len(),
        report.already_applied.len()
    );
    if args.accounts {
        let mut passwords = Vec::new();
        for account in COMPONENT_ACCOUNTS {
            let var = format!(
                "ORDERLY_DB_PASSWORD_{}",
                account.component.to_ascii_uppercase()
            );
            let value = std::env::var(&var).map_err(|_| format!("{var} is not set"))?;
            let password = AccountPassword::parse(&value).map_err(|e| format!("{var}: {e}"))?;
            passwords.push((account.component, password));
        }
        let users = blocking::provision(
            &args.admin_url,
            &database,
            &user_prefix(&database),
            &AccountHost::any(),
            &passwords,
        )
        .map_err(|e| e.to_string())?;
        println!("accounts: {}", users.join(", "));
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("orderly-migrate: {message}");
            ExitCode::FAILURE
        }
    }
}
