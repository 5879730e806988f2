//! A real PostgreSQL server for a test: initdb and pg_ctl from the
//! machine's `postgresql` package into a temporary directory, listening on
//! a free port of 127.0.0.1 (trust authentication), stopped and removed
//! when dropped. As root, the server runs as the `postgres` user.
//! [`Postgres::start_tls`] starts one that takes TCP connections only over
//! TLS, with a password; [`Postgres::stop`] and [`Postgres::restart`] stop
//! and start it again (a restart in the middle of a sync).
//!
//! There is no skipping: a test that asks for a server fails, saying why,
//! when none can be started (`.ci/run` installs the package).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A running server; stopped and its directory removed on drop.
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
    /// The server's options (`pg_ctl -o`), for a restart.
    options: String,
    /// Whether TCP connections must use TLS (then `psql` uses the socket).
    tls: bool,
}

/// The password of the user `postgres` on a server of [`Postgres::start_tls`].
pub const PASSWORD: &str = "s3cret-over-tls";

static STARTED: AtomicUsize = AtomicUsize::new(0);

impl Postgres {
    /// Starts a server, or panics saying why it could not.
    pub fn start() -> Postgres {
        Postgres::launch(None)
    }

    /// Starts a server that takes TCP connections only over TLS (`hostssl`
    /// in `pg_hba.conf`, with a password: [`PASSWORD`]), presenting the
    /// certificate `cert_pem` (with its chain) and its key `key_pem`.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Postgres {
        Postgres::launch(Some((cert_pem, key_pem)))
    }

    fn launch(tls: Option<(&str, &str)>) -> Postgres {
        let bin = binaries().unwrap_or_else(|| {
            panic!(
                "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): \
                 apt-get install -y postgresql"
            )
        });
        let as_postgres = is_root();
        let dir = std::env::temp_dir().join(format!(
            "activitylog-pg-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the server's directory");
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown postgres {}", dir.display());
        }
        let port = free_port();
        let mut server = Postgres {
            bin,
            dir,
            port,
            as_postgres,
            options: String::new(),
            tls: tls.is_some(),
        };
        let data = server.dir.join("data");
        server.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--auth=trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        let mut options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {}",
            server.dir.display()
        );
        if let Some((cert, key)) = tls {
            server.write(&data.join("server.crt"), cert);
            server.write(&data.join("server.key"), key);
            server.write(
                &data.join("pg_hba.conf"),
                "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
            );
            options.push_str(" -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key");
        }
        server.options = options;
        server.restart();
        if tls.is_some() {
            server.psql(
                "postgres",
                &format!("ALTER USER postgres PASSWORD '{PASSWORD}'"),
            );
        }
        server
    }

    /// Writes a file of the server's data directory, readable by it alone.
    fn write(&self, path: &Path, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, text).expect("write a server file");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        if self.as_postgres {
            let status = Command::new("chown")
                .arg("postgres:postgres")
                .arg(path)
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown postgres {}", path.display());
        }
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`: connections
    /// drop as in a crash); [`Postgres::restart`] starts it again.
    pub fn stop(&self) {
        let data = self.dir.join("data");
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        );
    }

    /// Starts the (stopped) server, on the same port, and waits until it takes connections.
    pub fn restart(&self) {
        let data = self.dir.join("data");
        let log = self.dir.join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                self.options.as_ref(),
                "-w".as_ref(),
                "start".as_ref(),
            ],
        );
    }

    /// Runs one SQL command in database `database` with `psql`; panics on failure.
    fn psql(&self, database: &str, sql: &str) {
        let psql = self.bin.join("psql");
        // Over TCP when it takes plain connections, else over the socket.
        let host = if self.tls {
            self.dir.display().to_string()
        } else {
            "127.0.0.1".to_string()
        };
        let output = Command::new(&psql)
            .args(["-h", &host, "-U", "postgres", "-d", database])
            .args(["-v", "ON_ERROR_STOP=1"])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-c")
            .arg(sql)
            .output()
            .expect("psql runs");
        assert!(
            output.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The URL of database `name` (created by [`Postgres::database`]).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates an empty database and returns its URL.
    pub fn database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        self.url(name)
    }

    /// Runs one of the package's programs, as `postgres` when root; panics on failure.
    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&path);
            command
        } else {
            Command::new(&path)
        };
        command.args(args).current_dir(&self.dir);
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        if !output.status.success() {
            let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            panic!(
                "{program} failed: {}{}\n{log}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let path = self.bin.join("pg_ctl");
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&path);
            command
        } else {
            Command::new(&path)
        };
        let _ = command
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest installed version's `bin` directory.
fn binaries() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| Path::new(&bin.join("initdb")).exists())
        .collect();
    versions.sort_by_key(|bin| {
        bin.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A port of 127.0.0.1 that nothing listens on now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
