//! The development database: reach MariaDB at `ORDERLY_DB_ADMIN_URL`, or start a
//! project-local server under `target/mariadb`; migrate; provision component accounts
//! (per database: `migrate::user_prefix`) with passwords kept in
//! `target/orderly/credentials.env` (database `orderly`) or
//! `target/orderly/credentials-<database>.env` (any other).

use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use migrate::{
    AccountHost, AccountPassword, COMPONENT_ACCOUNTS, DEFAULT_DATABASE, DatabaseName, blocking,
    user_prefix,
};

use crate::process;
use crate::workspace;

const DEFAULT_ADMIN_URL: &str = "mysql://root@127.0.0.1:3306";
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the database is and what it is called.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The admin URL (`ORDERLY_DB_ADMIN_URL`).
    pub admin_url: String,
    /// The application database (`ORDERLY_DB_NAME`, default `orderly`).
    pub database: DatabaseName,
    /// Host of the server, from the admin URL.
    pub host: String,
    /// Port of the server, from the admin URL.
    pub port: u16,
    /// User in the admin URL (for `db shell`).
    user: String,
}

impl Settings {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<Self> {
        let admin_url =
            std::env::var("ORDERLY_DB_ADMIN_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let name = std::env::var("ORDERLY_DB_NAME").unwrap_or_else(|_| DEFAULT_DATABASE.to_owned());
        let database = DatabaseName::parse(&name)?;
        let (user, host, port) = parse_admin_url(&admin_url)?;
        Ok(Self {
            admin_url,
            database,
            host,
            port,
            user,
        })
    }

    /// The same server, another database (the test command's own).
    pub fn with_database(&self, database: DatabaseName) -> Self {
        Self {
            database,
            ..self.clone()
        }
    }

    /// `mysql://<prefix><component>:<password>@host:port/<database>`, the prefix being
    /// the database's own (`migrate::user_prefix`).
    pub fn component_url(&self, component: &str, credentials: &Credentials) -> Result<String> {
        let password = credentials
            .password(component)
            .ok_or_else(|| anyhow!("no password for component {component}"))?;
        Ok(format!(
            "mysql://{}{component}:{}@{}:{}/{}",
            user_prefix(&self.database),
            password.expose(),
            self.host,
            self.port,
            self.database
        ))
    }

    fn is_local(&self) -> bool {
        matches!(
            self.host.as_str(),
            "127.0.0.1" | "localhost" | "::1" | "[::1]"
        )
    }
}

/// `mysql://[user[:password]@]host[:port][/db]` → (user, host, port). Never echoes the URL.
fn parse_admin_url(url: &str) -> Result<(String, String, u16)> {
    let rest = url
        .strip_prefix("mysql://")
        .ok_or_else(|| anyhow!("ORDERLY_DB_ADMIN_URL must start with mysql://"))?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
    let user = userinfo.split(':').next().unwrap_or_default();
    let user = if user.is_empty() { "root" } else { user };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') => (
            host,
            port.parse::<u16>()
                .map_err(|_| anyhow!("ORDERLY_DB_ADMIN_URL has an invalid port"))?,
        ),
        _ => (hostport, 3306),
    };
    if host.is_empty() {
        bail!("ORDERLY_DB_ADMIN_URL has no host");
    }
    Ok((user.to_owned(), host.to_owned(), port))
}

/// Component account passwords, persisted in `target/orderly/credentials.env`.
#[derive(Debug)]
pub struct Credentials(Vec<(&'static str, AccountPassword)>);

impl Credentials {
    fn password(&self, component: &str) -> Option<&AccountPassword> {
        self.0.iter().find(|(c, _)| *c == component).map(|(_, p)| p)
    }

    fn env_name(component: &str) -> String {
        format!("ORDERLY_DB_PASSWORD_{}", component.to_ascii_uppercase())
    }

    /// Loads the file, generating (and saving) a password for any component without one.
    fn load_or_generate(path: &Path) -> Result<Self> {
        let existing = std::fs::read_to_string(path).unwrap_or_default();
        let mut changed = false;
        let mut passwords = Vec::new();
        for account in COMPONENT_ACCOUNTS {
            let key = Self::env_name(account.component);
            let stored = existing
                .lines()
                .filter_map(|line| line.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .and_then(|(_, v)| AccountPassword::parse(v.trim()).ok());
            let password = stored.unwrap_or_else(|| {
                changed = true;
                AccountPassword::generate()
            });
            passwords.push((account.component, password));
        }
        let credentials = Self(passwords);
        if changed {
            credentials.save(path)?;
        }
        Ok(credentials)
    }

    fn save(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut text = String::from(
            "# Generated by `cargo xtask`: MariaDB passwords of the component accounts.\n\
             # Under target/ (git-ignored); delete it to rotate them on the next run.\n",
        );
        for (component, password) in &self.0 {
            text.push_str(&format!(
                "{}={}\n",
                Self::env_name(component),
                password.expose()
            ));
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        file.write_all(text.as_bytes())?;
        Ok(())
    }
}

/// `target/orderly/credentials.env` for `orderly`, `credentials-<database>.env` else.
pub fn credentials_path(database: &DatabaseName) -> PathBuf {
    let file = if database.as_str() == DEFAULT_DATABASE {
        "credentials.env".to_owned()
    } else {
        format!("credentials-{database}.env")
    };
    workspace::root().join("target/orderly").join(file)
}

/// Migrates the database and (re)provisions every component account.
pub fn migrate_and_provision(db: &Settings) -> Result<Credentials> {
    let migrations = migrate::load_dir(&workspace::root().join("migrations"))?;
    let report = blocking::migrate(&db.admin_url, &db.database, &migrations)?;
    for name in &report.applied {
        eprintln!("migrate: applied {name}");
    }
    eprintln!(
        "migrate: database {} at {}:{} — {} applied, {} already applied",
        db.database,
        db.host,
        db.port,
        report.applied.len(),
        report.already_applied.len()
    );
    let path = credentials_path(&db.database);
    let credentials = Credentials::load_or_generate(&path)?;
    let accounts = blocking::provision(
        &db.admin_url,
        &db.database,
        &user_prefix(&db.database),
        &AccountHost::any(),
        &credentials.0,
    )?;
    eprintln!(
        "migrate: accounts {} (passwords in {})",
        accounts.join(", "),
        path.display()
    );
    Ok(credentials)
}

/// `SPIN_VARIABLE_*` for the app: each component's database URL and `db_host`.
pub fn spin_variables(db: &Settings, credentials: &Credentials) -> Vec<(String, String)> {
    let mut variables = vec![(
        "SPIN_VARIABLE_DB_HOST".to_owned(),
        format!("{}:{}", db.host, db.port),
    )];
    for account in COMPONENT_ACCOUNTS {
        if let Ok(url) = db.component_url(account.component, credentials) {
            variables.push((
                format!(
                    "SPIN_VARIABLE_{}_DB_URL",
                    account.component.to_ascii_uppercase()
                ),
                url,
            ));
        }
    }
    variables
}

/// Makes sure MariaDB answers at the admin URL, starting a project-local server when
/// it does not and the URL points at this machine.
pub fn ensure_running(db: &Settings) -> Result<()> {
    if blocking::ping(&db.admin_url).is_ok() {
        return Ok(());
    }
    if !db.is_local() {
        bail!(
            "MariaDB is not reachable at {}:{} (ORDERLY_DB_ADMIN_URL)",
            db.host,
            db.port
        );
    }
    if port_open(&db.host, db.port) {
        bail!(
            "something listens on {}:{} but MariaDB refuses ORDERLY_DB_ADMIN_URL: {}",
            db.host,
            db.port,
            blocking::ping(&db.admin_url)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        );
    }
    start_local(db)
}

fn port_open(host: &str, port: u16) -> bool {
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok())
}

struct LocalServer {
    dir: PathBuf,
}

impl LocalServer {
    fn new() -> Self {
        Self {
            dir: workspace::root().join("target/mariadb"),
        }
    }
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }
    fn pid_file(&self) -> PathBuf {
        self.dir.join("mariadb.pid")
    }
    fn log_file(&self) -> PathBuf {
        self.dir.join("mariadb.err")
    }
    fn socket(&self) -> PathBuf {
        self.dir.join("mariadb.sock")
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    process::which(name).or_else(|| {
        ["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"]
            .iter()
            .map(|dir| Path::new(dir).join(name))
            .find(|p| p.is_file())
    })
}

/// Initialises (first time) and starts `mariadbd` with its data directory, socket and
/// pid file under `target/mariadb`, listening on 127.0.0.1 at the admin URL's port.
fn start_local(db: &Settings) -> Result<()> {
    let (Some(mariadbd), Some(install_db)) =
        (find_program("mariadbd"), find_program("mariadb-install-db"))
    else {
        bail!(
            "MariaDB is not reachable at {}:{} and no MariaDB server is installed.\n\
             Install it:  sudo apt-get install -y mariadb-server\n\
             or point ORDERLY_DB_ADMIN_URL at a running server.",
            db.host,
            db.port
        );
    };
    let server = LocalServer::new();
    std::fs::create_dir_all(&server.dir)?;
    let as_root = process::output("id", &["-u"]).as_deref() == Some("0");
    let user_arg = as_root.then_some("--user=root");

    if !server.data().join("mysql").is_dir() {
        eprintln!(
            "db: initialising a project-local MariaDB in {}",
            server.data().display()
        );
        let datadir = format!("--datadir={}", server.data().display());
        let mut args = vec![
            "--no-defaults",
            datadir.as_str(),
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ];
        args.extend(user_arg);
        let install_db = install_db.display().to_string();
        let out = Command::new(&install_db)
            .args(&args)
            .output()
            .with_context(|| format!("cannot run {install_db}"))?;
        if !out.status.success() {
            bail!(
                "{install_db} failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    eprintln!(
        "db: starting project-local MariaDB on 127.0.0.1:{}",
        db.port
    );
    let mut command = Command::new(&mariadbd);
    command
        .arg("--no-defaults")
        .arg(format!("--datadir={}", server.data().display()))
        .arg(format!("--socket={}", server.socket().display()))
        .arg(format!("--pid-file={}", server.pid_file().display()))
        .arg(format!("--log-error={}", server.log_file().display()))
        .arg(format!("--port={}", db.port))
        .arg("--bind-address=127.0.0.1")
        .args(user_arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: Ctrl-C on `cargo xtask up` stops the app, not the database.
        .process_group(0);
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {}", mariadbd.display()))?;

    let started = Instant::now();
    while started.elapsed() < START_TIMEOUT {
        if blocking::ping(&db.admin_url).is_ok() {
            eprintln!("db: MariaDB is up (stop it with `cargo xtask db stop`)");
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            bail!(
                "mariadbd exited ({status}); see {}:\n{}",
                server.log_file().display(),
                tail(&server.log_file(), 15)
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!(
        "MariaDB did not answer within {START_TIMEOUT:?}; see {}",
        server.log_file().display()
    )
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn stop_local() -> Result<()> {
    let server = LocalServer::new();
    let Ok(pid) = std::fs::read_to_string(server.pid_file()) else {
        println!("db: no project-local MariaDB is running");
        return Ok(());
    };
    let pid = pid.trim();
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        bail!(
            "unexpected pid file contents in {}",
            server.pid_file().display()
        );
    }
    process::run("kill", &[pid])?;
    let started = Instant::now();
    while server.pid_file().exists() && started.elapsed() < START_TIMEOUT {
        std::thread::sleep(Duration::from_millis(250));
    }
    println!("db: stopped project-local MariaDB (pid {pid})");
    Ok(())
}

/// `cargo xtask db [start|status|stop|shell]`.
pub fn command(args: &[String]) -> Result<()> {
    let db = Settings::from_env()?;
    match args.first().map(String::as_str).unwrap_or("start") {
        "start" => {
            ensure_running(&db)?;
            println!(
                "db: MariaDB is up at {}:{} (database {})",
                db.host, db.port, db.database
            );
            Ok(())
        }
        "status" => {
            match blocking::ping(&db.admin_url) {
                Ok(()) => println!("db: up at {}:{}", db.host, db.port),
                Err(e) => println!("db: down at {}:{} ({e})", db.host, db.port),
            }
            Ok(())
        }
        "stop" => stop_local(),
        "shell" => {
            ensure_running(&db)?;
            let error = Command::new("mariadb")
                .args([
                    "--host",
                    &db.host,
                    "--port",
                    &db.port.to_string(),
                    "--user",
                    &db.user,
                ])
                .arg(db.database.as_str())
                .exec();
            Err(anyhow!("cannot run mariadb: {error}"))
        }
        "drop" => {
            // An explicit name only: never a default.
            let name = args.get(1).context("usage: cargo xtask db drop DATABASE")?;
            let name = DatabaseName::parse(name)?;
            blocking::remove(&db.admin_url, &name, &AccountHost::any())?;
            let _ = std::fs::remove_file(credentials_path(&name));
            println!("db: dropped database {name}, its component accounts and credentials file");
            Ok(())
        }
        other => bail!("unknown db command {other:?} (start, status, stop, shell, drop NAME)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_urls_give_user_host_and_port() {
        let cases = [
            ("mysql://root@127.0.0.1:3306", ("root", "127.0.0.1", 3306)),
            (
                "mysql://admin:secret@db.internal:3307/mysql",
                ("admin", "db.internal", 3307),
            ),
            ("mysql://localhost", ("root", "localhost", 3306)),
        ];
        for (url, (user, host, port)) in cases {
            assert_eq!(
                parse_admin_url(url).unwrap(),
                (user.to_owned(), host.to_owned(), port),
                "{url}"
            );
        }
    }

    #[test]
    fn bad_admin_urls_are_refused_without_echoing_them() {
        for url in ["postgres://u:secret@h", "mysql://u:secret@h:notaport"] {
            let error = parse_admin_url(url).unwrap_err().to_string();
            assert!(!error.contains("secret"), "{error}");
        }
    }

    #[test]
    fn credentials_are_generated_once_and_then_reused() {
        let dir = std::env::temp_dir().join(format!("xtask-cred-{}", std::process::id()));
        let path = dir.join("credentials.env");
        let first = Credentials::load_or_generate(&path).unwrap();
        let second = Credentials::load_or_generate(&path).unwrap();
        for account in COMPONENT_ACCOUNTS {
            assert_eq!(
                first.password(account.component),
                second.password(account.component)
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
