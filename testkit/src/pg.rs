//! Throwaway PostgreSQL clusters for the tests of the `postgres` feature (SPEC §11).
//!
//! [`Cluster::start`] makes a new cluster with Debian's `initdb` in a temporary directory and
//! starts it with `pg_ctl` on a free loopback port, owned by the test and removed when dropped:
//! the tests never depend on a server the machine happens to run. Run as root (as CI is), the
//! server runs as the `postgres` user, since PostgreSQL refuses to run as root. It is a real
//! server with `fsync` on, so a test can stop it under load and start it again
//! ([`Cluster::stop`], [`Cluster::start_again`]).
//!
//! Authentication is `trust` on loopback for the one superuser `tixgo`: the cluster lives for
//! one test run and listens only on 127.0.0.1.

use crate::TempDir;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A PostgreSQL cluster of the test's own.
#[derive(Debug)]
pub struct Cluster {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    /// Makes and starts a new cluster.
    ///
    /// # Panics
    /// When PostgreSQL's server programs are not installed (`apt-get install postgresql`; CI
    /// installs it), or the cluster cannot be made or started: a test of the database must fail
    /// without one, not pass.
    pub fn start() -> Cluster {
        let bin = server_programs().unwrap_or_else(|| {
            panic!(
                "PostgreSQL's server programs (initdb, pg_ctl) are not installed: \
                 apt-get install postgresql (looked in PATH and /usr/lib/postgresql/*/bin)"
            )
        });
        let dir = TempDir::new("pg");
        let as_postgres = is_root();
        if as_postgres {
            chown_to_postgres(dir.path());
        }
        let port = free_port();
        let cluster = Cluster {
            dir,
            bin,
            port,
            as_postgres,
        };
        let data = cluster.data_dir();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "tixgo",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-instructions",
            ],
        );
        cluster.start_again();
        cluster
    }

    /// The URL of database `db` on this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://tixgo@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates a new empty database `name` and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        self.url(name)
    }

    /// Runs `sql` in database `db` with `psql` and returns what it printed (unaligned, tuples
    /// only, `|` between columns).
    ///
    /// # Panics
    /// When psql fails.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        run_psql(&self.bin, &self.url(db), sql)
    }

    /// Stops the server at once, as a crash or a pulled cable would (`pg_ctl stop -m
    /// immediate`): connections break and nothing more is committed.
    pub fn stop(&self) {
        let data = self.data_dir();
        self.run("pg_ctl", &["stop", "-D", &data, "-m", "immediate", "-w"]);
    }

    /// Starts the server (again) on the same port and data, and waits until it accepts
    /// connections.
    pub fn start_again(&self) {
        let data = self.data_dir();
        let log = format!("{}/server.log", self.dir.path().display());
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        self.run(
            "pg_ctl",
            &[
                "start", "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &options,
            ],
        );
    }

    fn data_dir(&self) -> String {
        format!("{}/data", self.dir.path().display())
    }

    /// One of the server programs, to run as `postgres` when the test runs as root.
    fn server_program(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    /// Runs one of the server programs and fails the test, with the server's log, unless it
    /// succeeds.
    fn run(&self, program: &str, args: &[&str]) {
        let output = self
            .server_program(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"));
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        assert!(
            output.status.success(),
            "{program} {args:?}: {}\nserver log:\n{log}",
            text(&output)
        );
    }
}

/// Runs `sql` with `psql` in the database at `url` (a server the test did not start, such as
/// the one `TIXGO_TEST_DATABASE_URL` names) and returns what it printed, as [`Cluster::psql`].
///
/// # Panics
/// When psql is not installed or fails.
pub fn psql_at(url: &str, sql: &str) -> String {
    let bin = server_programs().unwrap_or_else(|| {
        panic!("PostgreSQL's programs (psql) are not installed: apt-get install postgresql")
    });
    run_psql(&bin, url, sql)
}

/// The variable that runs the in-process contract suites on PostgreSQL: the URL of a server's
/// admin database (`postgres://…/postgres`), from a cluster a test script started
/// (`scripts/lib/pg.sh`).
pub const TEST_DATABASE_URL: &str = "TIXGO_TEST_DATABASE_URL";

/// The database of the test data directory `dir` when [`TEST_DATABASE_URL`] is set: made empty
/// on first use, one per directory, and remembered in `dir` (`database-url`), so that a service
/// built again on the same directory (a restart) finds the same data. `None` without the
/// variable: the suite runs on the journal, the default.
///
/// # Panics
/// When the database cannot be made or remembered.
pub fn database_of(dir: &Path) -> Option<String> {
    static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let admin = std::env::var(TEST_DATABASE_URL).ok()?;
    let remembered = dir.join("database-url");
    if let Ok(url) = std::fs::read_to_string(&remembered) {
        return Some(url);
    }
    let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("c{}_{n}", std::process::id());
    psql_at(&admin, &format!("CREATE DATABASE {name}"));
    let (server, _) = admin
        .rsplit_once('/')
        .unwrap_or_else(|| panic!("{TEST_DATABASE_URL} ends in /<database>"));
    let url = format!("{server}/{name}");
    std::fs::write(&remembered, &url).expect("remember the test's database");
    Some(url)
}

/// `psql` of `bin` on `url`: unaligned, tuples only, stopping at the first error.
fn run_psql(bin: &Path, url: &str, sql: &str) -> String {
    let output = Command::new(bin.join("psql"))
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(url)
        .args(["-c", sql])
        .output()
        .expect("run psql");
    assert!(output.status.success(), "psql {sql:?}: {}", text(&output));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data_dir();
        let _ = self
            .server_program("pg_ctl")
            .args(["stop", "-D", &data, "-m", "immediate", "-w"])
            .output();
    }
}

/// The directory of `initdb` and `pg_ctl`: the one in `PATH`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (where Debian puts them, outside `PATH`).
fn server_programs() -> Option<PathBuf> {
    let in_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file());
    if let Some(dir) = in_path {
        // A symlink into Debian's directory: psql lives beside the real ones.
        let real = std::fs::canonicalize(dir.join("initdb")).ok()?;
        return real.parent().map(Path::to_path_buf);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn chown_to_postgres(dir: &Path) {
    let status = Command::new("chown")
        .args(["postgres:", &dir.display().to_string()])
        .status()
        .expect("run chown");
    assert!(status.success(), "chown postgres {}", dir.display());
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
