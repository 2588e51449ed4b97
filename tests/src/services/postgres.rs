//! A real PostgreSQL server for a test: `initdb` in a temporary directory,
//! `postgres` on a free loopback port (TCP only, trust authentication,
//! durability off — the data is thrown away), ready when `pg_isready` says
//! so, shut down when dropped. [`PostgresServer::stop`]
//! and [`PostgresServer::restart`] (same data, same port) test what clients
//! do while it is away; [`PostgresServer::lock_table`] makes queries on a
//! table wait, for what clients do when the database does not answer.
//!
//! Debian keeps the server programs off `PATH`, in
//! `/usr/lib/postgresql/VERSION/bin`; they are taken from `PATH` when there,
//! else from the newest such directory. PostgreSQL refuses to run as root,
//! so under root (as in CI) both run as the `postgres` system user (through
//! `setpriv`) on a directory it owns.
//!
//! ```no_run
//! use tests::services::postgres::PostgresServer;
//! let Some(server) = PostgresServer::start() else {
//!     return; // skipped, with a note (a failure under TETHER_REQUIRE_TOOLS=1)
//! };
//! let url = server.create_database("tether");
//! assert!(url.starts_with("postgres://postgres@127.0.0.1:"));
//! ```

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::Duration;

use crate::tools::{find_tool, require};
use crate::wait::{poll_blocking, DEADLINE};

/// Where Debian installs the server programs, one directory per version.
const DEBIAN_DIR: &str = "/usr/lib/postgresql";

/// The programs this harness runs.
const PROGRAMS: [&str; 5] = ["initdb", "postgres", "pg_isready", "createdb", "psql"];

/// Tries at starting the server (another process may take the free port
/// between our look and the server's bind).
const START_TRIES: usize = 3;

/// A running PostgreSQL server, stopped when dropped.
pub struct PostgresServer {
    child: Option<Child>,
    port: u16,
    bin: PathBuf,
    user: Option<ServerUser>,
    /// Holds `data/` (the cluster) and `postgres.log`; removed on drop.
    dir: tempfile::TempDir,
}

/// A table lock held by an open `psql` transaction
/// ([`PostgresServer::lock_table`]); dropping it ends `psql`, and the lock
/// with it.
pub struct TableLock {
    psql: Child,
    /// Open while the lock is held: `psql` ends when its input does.
    _stdin: ChildStdin,
}

impl Drop for TableLock {
    fn drop(&mut self) {
        let _ = self.psql.kill();
        let _ = self.psql.wait();
    }
}

/// The user the server runs as when we are root: uid and gid.
#[derive(Clone, Copy)]
struct ServerUser {
    uid: u32,
    gid: u32,
}

impl PostgresServer {
    /// Starts a fresh server; `None` (after [`require`]'s note) when
    /// PostgreSQL is not installed. Panics, with the server's log, if it is
    /// installed but does not start.
    pub fn start() -> Option<Self> {
        let Some(bin) = server_programs() else {
            require(&[format!(
                "PostgreSQL ({} in PATH or {DEBIAN_DIR}/*/bin; scripts/setup installs it)",
                PROGRAMS.join(", ")
            )]);
            return None;
        };
        let user = if running_as_root() {
            let user = postgres_user();
            let mut missing = Vec::new();
            if user.is_none() {
                missing.push("a `postgres` system user to run PostgreSQL as (we are root)".into());
            }
            if find_tool("setpriv").is_none() {
                missing.push("setpriv (util-linux), to run PostgreSQL as `postgres`".into());
            }
            if !require(&missing) {
                return None;
            }
            user
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("tether-postgres-")
            .tempdir()
            .expect("temp dir for PostgreSQL");
        let data = dir.path().join("data");
        prepare_data_dir(dir.path(), &data, user);
        let mut initdb = as_server_user(user, &bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8"])
            .args(["--locale=C", "--no-sync"]);
        let out = run(&mut initdb, dir.path());
        assert!(
            out.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut last_log = String::new();
        for _ in 0..START_TRIES {
            let port = free_port();
            let mut child = spawn_server(&bin, user, dir.path(), &data, port);
            if wait_ready(&bin, &mut child, port) {
                return Some(Self {
                    child: Some(child),
                    port,
                    bin,
                    user,
                    dir,
                });
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = read_log(dir.path());
        }
        panic!("PostgreSQL did not start ({START_TRIES} tries); its log:\n{last_log}");
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` (as the superuser `postgres`, no password).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates an empty database `name` and returns its [`url`](Self::url).
    pub fn create_database(&self, name: &str) -> String {
        let out = Command::new(self.bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg(name)
            .stdin(Stdio::null())
            .output()
            .expect("run createdb");
        assert!(
            out.status.success(),
            "createdb {name} failed: {}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        self.url(name)
    }

    /// Stops the server: open connections break, committed data stays
    /// (fast shutdown, SIGINT: without durability, only a clean stop keeps
    /// the last commits).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(child.id().to_string())
            .status();
        if poll_blocking(Duration::from_secs(10), || child.try_wait().ok().flatten()).is_none() {
            let _ = child.kill();
        }
        let _ = child.wait();
    }

    /// Starts the server again, after [`stop`](Self::stop), with the same
    /// data on the same port; panics with its log if it does not get ready.
    pub fn restart(&mut self) {
        self.stop();
        let data = self.dir.path().join("data");
        // The old socket may hold the port for a moment: retry until ready.
        let child = poll_blocking(DEADLINE, || {
            let mut child = spawn_server(&self.bin, self.user, self.dir.path(), &data, self.port);
            if wait_ready(&self.bin, &mut child, self.port) {
                return Some(child);
            }
            let _ = child.kill();
            let _ = child.wait();
            None
        });
        match child {
            Some(child) => self.child = Some(child),
            None => panic!("PostgreSQL did not restart; its log:\n{}", self.log()),
        }
    }

    /// Takes `LOCK TABLE table IN ACCESS EXCLUSIVE MODE` in an open
    /// transaction on database `name` (through `psql`), held until the
    /// returned guard is dropped: until then every query that touches the
    /// table waits, as on a database that stopped answering.
    pub fn lock_table(&self, name: &str, table: &str) -> TableLock {
        let mut psql = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .args(["-d", name, "-qAt", "-v", "ON_ERROR_STOP=1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run psql");
        let mut stdin = psql.stdin.take().expect("psql's stdin");
        writeln!(
            stdin,
            "BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE; SELECT 'locked';"
        )
        .expect("write to psql");
        let mut line = String::new();
        let stdout = psql.stdout.take().expect("psql's stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read from psql");
        assert_eq!(line.trim(), "locked", "psql did not take the lock");
        TableLock {
            psql,
            _stdin: stdin,
        }
    }

    /// From now on accepts only TLS connections, with `cert_pem` and
    /// `key_pem` (`ssl = on`, `pg_hba.conf` only `hostssl`): restarts the
    /// server, same data, same port.
    pub fn require_tls(&mut self, cert_pem: &str, key_pem: &str) {
        let data = self.dir.path().join("data");
        let write = |name: &str, text: &str, mode: u32| {
            let path = data.join(name);
            std::fs::write(&path, text).expect("write a PostgreSQL file");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .expect("chmod a PostgreSQL file");
            if let Some(user) = self.user {
                std::os::unix::fs::chown(&path, Some(user.uid), Some(user.gid))
                    .expect("chown a PostgreSQL file to postgres");
            }
        };
        write("server.crt", cert_pem, 0o644);
        write("server.key", key_pem, 0o600);
        write("pg_hba.conf", "hostssl all all 127.0.0.1/32 trust\n", 0o600);
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .expect("open postgresql.conf");
        writeln!(conf, "ssl = on").expect("write postgresql.conf");
        self.restart();
    }

    /// What the server logged so far, for failure messages.
    pub fn log(&self) -> String {
        read_log(self.dir.path())
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The directory holding all of [`PROGRAMS`]: the one in `PATH`, else the
/// newest version under [`DEBIAN_DIR`].
fn server_programs() -> Option<PathBuf> {
    let has_all = |dir: &Path| PROGRAMS.iter().all(|p| dir.join(p).is_file());
    if let Some(dir) = find_tool("initdb").and_then(|p| p.parent().map(Path::to_path_buf)) {
        if has_all(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(DEBIAN_DIR)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_all(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    // The owner of /proc/self is the process's effective user.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The `postgres` system user, from /etc/passwd.
fn postgres_user() -> Option<ServerUser> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 4 || fields[0] != "postgres" {
            return None;
        }
        Some(ServerUser {
            uid: fields[2].parse().ok()?,
            gid: fields[3].parse().ok()?,
        })
    })
}

/// Makes `data` (0700) for the server user, inside `dir`, which that user
/// must be able to enter.
fn prepare_data_dir(dir: &Path, data: &Path, user: Option<ServerUser>) {
    std::fs::create_dir(data).expect("create the PostgreSQL data dir");
    std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o700))
        .expect("chmod the data dir");
    if let Some(user) = user {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the temp dir");
        std::os::unix::fs::chown(data, Some(user.uid), Some(user.gid))
            .expect("chown the data dir to postgres");
    }
}

/// `program`, run as the server user when there is one (`setpriv` execs
/// it, so the child's pid is the program's).
fn as_server_user(user: Option<ServerUser>, program: &Path) -> Command {
    match user {
        None => Command::new(program),
        Some(user) => {
            let mut command = Command::new("setpriv");
            command
                .arg(format!("--reuid={}", user.uid))
                .arg(format!("--regid={}", user.gid))
                .arg("--clear-groups")
                .arg("--")
                .arg(program);
            command
        }
    }
}

fn run(command: &mut Command, cwd: &Path) -> Output {
    command
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"))
}

/// A loopback port free at the time of asking.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("bound address").port()
}

fn spawn_server(bin: &Path, user: Option<ServerUser>, dir: &Path, data: &Path, port: u16) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("postgres.log"))
        .expect("postgres.log");
    let mut command = as_server_user(user, &bin.join("postgres"));
    command
        .arg("-D")
        .arg(data)
        .arg("-p")
        .arg(port.to_string())
        .args(["-c", "listen_addresses=127.0.0.1"])
        .args(["-c", "unix_socket_directories="])
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off", "-c", "shared_buffers=16MB"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("postgres.log"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("starting postgres: {e}"))
}

/// Waits until the server accepts connections; `false` if it exited first
/// (or did not get ready within [`DEADLINE`]).
fn wait_ready(bin: &Path, child: &mut Child, port: u16) -> bool {
    let ready = poll_blocking(DEADLINE, || {
        if child.try_wait().ok().flatten().is_some() {
            return Some(false);
        }
        let status = Command::new(bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(port.to_string())
            .stdin(Stdio::null())
            .status();
        status.is_ok_and(|s| s.success()).then_some(true)
    });
    ready == Some(true)
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default()
}
