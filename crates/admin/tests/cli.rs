//! `orderly-admin` as the operator runs it: the binary. The database commands run against
//! the real MariaDB (`ORDERLY_DB_ADMIN_URL`, default `mysql://root@127.0.0.1:3306`) with the
//! migration URL and a database name, on a fresh database migrated with the repository's
//! migrations (dropped afterwards, also when the test fails). The stored rows are read back
//! and secrets checked the way identity checks them (Argon2id).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "integration tests: a failure should stop the test loudly"
)]

use std::path::Path;
use std::process::{Command, Output};

use migrate::DatabaseName;
use mysql_async::prelude::Queryable;
use rand::Rng;

fn admin_url() -> String {
    std::env::var("ORDERLY_DB_ADMIN_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
}

/// A fresh, migrated database, dropped on drop.
struct Scratch {
    database: DatabaseName,
    runtime: tokio::runtime::Runtime,
}

impl Scratch {
    fn migrated() -> Self {
        let tag: u64 = rand::rng().random();
        let database = DatabaseName::parse(&format!("orderly_admin_{tag:016x}")).unwrap();
        let migrations =
            migrate::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations"))
                .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime
            .block_on(migrate::migrate(&admin_url(), &database, &migrations))
            .unwrap();
        Self { database, runtime }
    }

    /// Runs `orderly-admin <args>` against this database.
    fn admin(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_orderly-admin"));
        command
            .args(args)
            .env("ORDERLY_DB_ADMIN_URL", admin_url())
            .env("ORDERLY_DB_NAME", self.database.as_str())
            .env_remove("ORDERLY_ADMIN_PASSWORD");
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().unwrap()
    }

    fn query<T: mysql_async::prelude::FromRow + Send + 'static>(
        &self,
        sql: &str,
        params: impl Into<mysql_async::Params> + Send,
    ) -> Vec<T> {
        self.runtime.block_on(async {
            let mut conn = migrate::connect(&admin_url(), Some(&self.database))
                .await
                .unwrap();
            let rows = conn.exec(sql, params).await.unwrap();
            let _ = conn.disconnect().await;
            rows
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let database = self.database.clone();
        self.runtime.block_on(async {
            if let Ok(mut conn) = migrate::connect(&admin_url(), None).await {
                let _ = migrate::drop_database(&mut conn, &database).await;
                let _ = conn.disconnect().await;
            }
        });
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn ok(output: Output) -> Output {
    assert!(
        output.status.success(),
        "orderly-admin failed: {}",
        stderr(&output)
    );
    output
}

type ClientRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    u32,
);

fn client_row(scratch: &Scratch, id: &str) -> ClientRow {
    scratch
        .query(
            "SELECT client_type, token_endpoint_auth_method, secret_hash, \
             CAST(redirect_uris AS CHAR), grant_types, scopes, status, version \
             FROM oauth_clients WHERE client_id = ?",
            (id,),
        )
        .pop()
        .expect("client row")
}

#[test]
fn a_machine_client_is_created_with_a_secret_shown_once_and_stored_as_a_sha256_digest() {
    let scratch = Scratch::migrated();
    let out = ok(scratch.admin(
        &[
            "client",
            "create",
            "--id",
            "billing",
            "--name",
            "Billing export",
            "--grant",
            "client_credentials",
            "--scope",
            "orders:read products:read",
        ],
        &[],
    ));
    let secret = stdout(&out).trim().to_owned();
    assert_eq!(secret.len(), 43, "32 random bytes, base64url");
    let (kind, method, hash, uris, grants, scopes, status, version) =
        client_row(&scratch, "billing");
    assert_eq!(
        (
            kind.as_str(),
            method.as_str(),
            uris.as_str(),
            grants.as_str(),
            status.as_str(),
            version
        ),
        (
            "confidential",
            "client_secret_basic",
            "[]",
            "client_credentials",
            "active",
            1
        )
    );
    assert_eq!(scopes, "orders:read products:read");
    let hash = hash.unwrap();
    assert!(hash.starts_with("$sha256$"), "{hash}");
    assert!(!hash.contains(secret.as_str()));
    assert!(credentials::verify_client_secret(&secret, &hash).unwrap());
    assert!(
        !stderr(&out).contains(&secret),
        "the secret appears once, on stdout"
    );

    // A second registration of the id is a conflict and changes nothing.
    let again = scratch.admin(
        &[
            "client",
            "create",
            "--id",
            "billing",
            "--name",
            "x",
            "--grant",
            "client_credentials",
            "--scope",
            "orders:read",
        ],
        &[],
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(client_row(&scratch, "billing").7, 1);
}

#[test]
fn a_public_browser_client_gets_no_secret_and_exact_redirect_uris() {
    let scratch = Scratch::migrated();
    let out = ok(scratch.admin(
        &[
            "client",
            "create",
            "--public",
            "--id",
            "shop-web",
            "--name",
            "Shop",
            "--grant",
            "authorization_code",
            "--grant",
            "refresh_token",
            "--scope",
            "openid email orders:read orders:write",
            "--redirect-uri",
            "https://shop.example/callback",
        ],
        &[],
    ));
    assert_eq!(stdout(&out), "", "a public client has no secret to print");
    let (kind, method, hash, uris, grants, _, _, _) = client_row(&scratch, "shop-web");
    assert_eq!((kind.as_str(), method.as_str()), ("public", "none"));
    assert_eq!(hash, None);
    assert_eq!(uris, r#"["https://shop.example/callback"]"#);
    assert_eq!(grants, "authorization_code,refresh_token");
    // What the rules refuse never reaches the table.
    let refused = scratch.admin(
        &[
            "client",
            "create",
            "--public",
            "--id",
            "bad",
            "--name",
            "Bad",
            "--grant",
            "client_credentials",
            "--scope",
            "orders:read",
        ],
        &[],
    );
    assert!(!refused.status.success());
    let count: Vec<u64> = scratch.query(
        "SELECT COUNT(*) FROM oauth_clients WHERE client_id = ?",
        ("bad",),
    );
    assert_eq!(count, [0]);
}

#[test]
fn rotating_a_secret_replaces_it_and_the_old_one_stops_verifying() {
    let scratch = Scratch::migrated();
    let secret_file = tempfile::tempdir().unwrap();
    let first = secret_file.path().join("first");
    ok(scratch.admin(
        &[
            "client",
            "create",
            "--id",
            "erp",
            "--name",
            "ERP",
            "--grant",
            "client_credentials",
            "--scope",
            "products:write",
            "--secret-out",
            first.to_str().unwrap(),
        ],
        &[],
    ));
    let old = std::fs::read_to_string(&first).unwrap().trim().to_owned();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&first).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let out = ok(scratch.admin(&["client", "rotate-secret", "--id", "erp"], &[]));
    let new = stdout(&out).trim().to_owned();
    assert_ne!(new, old);
    let (_, _, hash, _, _, _, _, version) = client_row(&scratch, "erp");
    let hash = hash.unwrap();
    assert!(credentials::verify_client_secret(&new, &hash).unwrap());
    assert!(!credentials::verify_client_secret(&old, &hash).unwrap());
    assert_eq!(version, 2);
    // Unknown and public clients have nothing to rotate.
    let unknown = scratch.admin(&["client", "rotate-secret", "--id", "nobody"], &[]);
    assert!(
        stderr(&unknown).contains("not found"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn disabling_a_client_revokes_its_live_refresh_tokens_and_enabling_restores_it() {
    let scratch = Scratch::migrated();
    ok(scratch.admin(
        &[
            "client",
            "create",
            "--public",
            "--id",
            "app",
            "--name",
            "App",
            "--grant",
            "authorization_code",
            "--grant",
            "refresh_token",
            "--scope",
            "openid",
            "--redirect-uri",
            "http://127.0.0.1:8400/cb",
        ],
        &[],
    ));
    // A user and two live refresh tokens of this client, one already revoked.
    scratch.query::<u8>(
        "INSERT INTO users (id, email, password_hash) VALUES (UNHEX(REPLACE(UUID(), '-', '')), 'u@example.com', 'x')",
        (),
    );
    for (n, revoked) in [(1_u8, false), (2, false), (3, true)] {
        scratch.query::<u8>(
            &format!(
                "INSERT INTO refresh_tokens (id, token_hash, family_id, client_id, user_id, scope, expires_at, revoked_at) \
                 SELECT UNHEX(REPLACE(UUID(), '-', '')), UNHEX(SHA2('t{n}', 256)), UNHEX(REPLACE(UUID(), '-', '')), \
                 c.id, u.id, 'openid', NOW(6) + INTERVAL 1 DAY, {} FROM oauth_clients c, users u WHERE c.client_id = 'app'",
                if revoked { "NOW(6) - INTERVAL 1 HOUR" } else { "NULL" }
            ),
            (),
        );
    }
    let out = ok(scratch.admin(&["client", "disable", "--id", "app"], &[]));
    assert!(
        stderr(&out).contains("2 refresh token(s) revoked"),
        "{}",
        stderr(&out)
    );
    assert_eq!(client_row(&scratch, "app").6, "disabled");
    let live: Vec<u64> = scratch.query(
        "SELECT COUNT(*) FROM refresh_tokens WHERE revoked_at IS NULL",
        (),
    );
    assert_eq!(live, [0]);
    // Twice is fine and says so.
    let again = ok(scratch.admin(&["client", "disable", "--id", "app"], &[]));
    assert!(stderr(&again).contains("already disabled"));
    ok(scratch.admin(&["client", "enable", "--id", "app"], &[]));
    let row = client_row(&scratch, "app");
    assert_eq!((row.6.as_str(), row.7), ("active", 3));
    let list = ok(scratch.admin(&["client", "list"], &[]));
    assert!(
        stdout(&list)
            .lines()
            .any(|l| l.starts_with("app\tactive\tpublic\t")),
        "{}",
        stdout(&list)
    );
}

#[test]
fn the_first_admin_is_created_once_with_a_policy_checked_argon2id_password() {
    let scratch = Scratch::migrated();
    let password = "violet tram sings loud";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("password");
    std::fs::write(&file, format!("{password}\n")).unwrap();
    let out = ok(scratch.admin(
        &[
            "user",
            "create-admin",
            "--email",
            "Ops@Example.com",
            "--display-name",
            "Ops",
            "--password-file",
            file.to_str().unwrap(),
        ],
        &[],
    ));
    assert!(stderr(&out).contains("created"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(password) && !stdout(&out).contains(password));
    let rows: Vec<(String, String, String, String)> =
        scratch.query("SELECT email, password_hash, roles, status FROM users", ());
    let [(email, hash, roles, status)] = rows.as_slice() else {
        panic!("{rows:?}")
    };
    assert_eq!(email.to_ascii_lowercase(), "ops@example.com");
    assert_eq!(
        (roles.as_str(), status.as_str()),
        ("customer,admin", "active")
    );
    assert!(credentials::verify_secret(password, hash).unwrap());

    // Running the same command again (a redeployed Job) changes nothing.
    let again = ok(scratch.admin(
        &["user", "create-admin", "--email", "ops@example.com"],
        &[("ORDERLY_ADMIN_PASSWORD", "a different long passphrase")],
    ));
    assert!(stderr(&again).contains("unchanged"), "{}", stderr(&again));
    let after: Vec<String> = scratch.query("SELECT password_hash FROM users", ());
    assert_eq!(after, std::slice::from_ref(hash));

    // A weak password is refused by the same rules as a registration, and not echoed.
    let weak = scratch.admin(
        &["user", "create-admin", "--email", "second@example.com"],
        &[("ORDERLY_ADMIN_PASSWORD", "password123")],
    );
    assert!(!weak.status.success());
    assert!(
        stderr(&weak).contains("password: refused"),
        "{}",
        stderr(&weak)
    );
    assert!(!stderr(&weak).contains("password123"));
}

#[test]
fn an_existing_customer_becomes_admin_only_when_asked() {
    let scratch = Scratch::migrated();
    scratch.query::<u8>(
        "INSERT INTO users (id, email, password_hash, roles) VALUES (UNHEX(REPLACE(UUID(), '-', '')), 'c@example.com', 'kept', 'customer')",
        (),
    );
    let env = [("ORDERLY_ADMIN_PASSWORD", "violet tram sings loud")];
    let refused = scratch.admin(&["user", "create-admin", "--email", "c@example.com"], &env);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("--promote"),
        "{}",
        stderr(&refused)
    );
    ok(scratch.admin(
        &[
            "user",
            "create-admin",
            "--email",
            "c@example.com",
            "--promote",
        ],
        &env,
    ));
    let rows: Vec<(String, String)> = scratch.query("SELECT roles, password_hash FROM users", ());
    assert_eq!(rows, [("customer,admin".to_owned(), "kept".to_owned())]);
}

#[test]
fn keys_commands_write_0600_files_and_rotate_through_the_documented_steps() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_orderly-admin"))
            .args(args)
            .output()
            .unwrap()
    };
    ok(run(&[
        "keys",
        "init",
        "--out",
        &path("0.env"),
        "--kid",
        "k1",
    ]));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(path("0.env"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    // Never overwrites a keys file.
    let clobber = run(&["keys", "init", "--out", &path("0.env")]);
    assert!(!clobber.status.success());
    ok(run(&[
        "keys",
        "stage",
        "--in",
        &path("0.env"),
        "--out",
        &path("1.env"),
        "--kid",
        "k2",
    ]));
    let early = run(&[
        "keys",
        "promote",
        "--in",
        &path("1.env"),
        "--out",
        &path("2.env"),
    ]);
    assert!(!early.status.success(), "promotion waits for JWKS caches");
    ok(run(&[
        "keys",
        "promote",
        "--in",
        &path("1.env"),
        "--out",
        &path("2.env"),
        "--force",
    ]));
    let show = ok(run(&["keys", "show", "--in", &path("2.env")]));
    let text = stdout(&show);
    assert!(text.starts_with("current=k2 next=- retired=k1\n"), "{text}");
    assert!(
        !text.contains("\"d\""),
        "show prints no private key: {text}"
    );
    let early = run(&[
        "keys",
        "retire",
        "--in",
        &path("2.env"),
        "--out",
        &path("3.env"),
    ]);
    assert!(stderr(&early).contains("Retire in"), "{}", stderr(&early));
}
