//! A real S3 server for a test: Garage (crates.io `garage`, installed into
//! `target/lake-tools/garage` by tests/lake/garage.sh when missing), one
//! node on free ports of 127.0.0.1 in a temporary directory, with a bucket
//! and a key that may read and write it; stopped (SIGKILL) and removed when
//! dropped.
//!
//! There is no skipping: a test that asks for a server fails, saying why,
//! when none can be installed or started.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The region Garage signs in (its `s3_region`).
pub const REGION: &str = "garage";

/// A running Garage with one bucket.
pub struct Garage {
    binary: &'static Path,
    child: Child,
    dir: PathBuf,
    config: PathBuf,
    port: u16,
    /// The bucket's name.
    pub bucket: String,
    /// The key's id (`AWS_ACCESS_KEY_ID`).
    pub key_id: String,
    /// The key's secret (`AWS_SECRET_ACCESS_KEY`).
    pub secret: String,
}

static STARTED: AtomicUsize = AtomicUsize::new(0);

/// The garage binary in `tools/garage` (a test passes `target/lake-tools`),
/// installed there once per test process when missing (tests/lake/garage.sh).
pub fn binary(tools: &Path) -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let dir = tools.join("garage");
        crate::lake::install(
            concat!(env!("CARGO_MANIFEST_DIR"), "/lake/garage.sh"),
            &dir,
            "Garage (it needs cargo and crates.io)",
        );
        dir.join("bin/garage")
    })
}

impl Garage {
    /// Starts a server with the bucket `lake` (Garage installed in
    /// `tools`, see [`binary`]), or panics saying why it could not.
    pub fn start(tools: &Path) -> Garage {
        let dir = std::env::temp_dir().join(format!(
            "activitylog-garage-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create Garage's directory");
        let (s3, rpc) = (crate::postgres::free_port(), crate::postgres::free_port());
        let secret: String = random_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let config = dir.join("garage.toml");
        std::fs::write(
            &config,
            format!(
                "metadata_dir = \"{meta}\"\ndata_dir = \"{data}\"\ndb_engine = \"sqlite\"\n\
                 replication_factor = 1\nrpc_bind_addr = \"127.0.0.1:{rpc}\"\n\
                 rpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{secret}\"\n\
                 [s3_api]\ns3_region = \"{REGION}\"\napi_bind_addr = \"127.0.0.1:{s3}\"\n",
                meta = dir.join("meta").display(),
                data = dir.join("data").display(),
            ),
        )
        .expect("write garage.toml");
        let log = std::fs::File::create(dir.join("server.log")).expect("create the log");
        let child = Command::new(binary(tools))
            .arg("-c")
            .arg(&config)
            .arg("server")
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start garage: {e}"));
        let mut garage = Garage {
            binary: binary(tools),
            child,
            dir,
            config,
            port: s3,
            bucket: "lake".into(),
            key_id: String::new(),
            secret: String::new(),
        };
        let node = garage.wait_for_node();
        garage.run(&["layout", "assign", "-z", "dc1", "-c", "1G", &node]);
        garage.run(&["layout", "apply", "--version", "1"]);
        garage.run(&["bucket", "create", "lake"]);
        let key = garage.run(&["key", "create", "lake-key"]);
        let field = |name: &str| {
            key.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
                .unwrap_or_else(|| panic!("no {name} in garage's answer: {key}"))
        };
        garage.key_id = field("Key ID:");
        garage.secret = field("Secret key:");
        garage.run(&[
            "bucket", "allow", "--read", "--write", "--owner", "lake", "--key", "lake-key",
        ]);
        garage.wait_for_s3();
        garage
    }

    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment a client needs: the key, and the region.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", self.key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.clone()),
            ("AWS_REGION", REGION.to_string()),
        ]
    }

    /// The node's id, once the server answers its CLI.
    fn wait_for_node(&mut self) -> String {
        let start = Instant::now();
        loop {
            let output = self
                .command(&["node", "id", "-q"])
                .output()
                .expect("garage runs");
            if output.status.success() {
                let id = String::from_utf8_lossy(&output.stdout);
                return id.trim().split('@').next().unwrap_or_default().to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("garage exited ({status}): {}", self.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "garage did not start in 60 s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the S3 API answers (the layout takes a moment to apply).
    fn wait_for_s3(&self) {
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "garage's S3 API did not open in 60 s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.binary);
        command
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::null());
        command
    }

    /// Runs a garage CLI command; its stdout, or a panic with its stderr.
    pub fn run(&self, args: &[&str]) -> String {
        let output = self.command(args).output().expect("garage runs");
        assert!(
            output.status.success(),
            "garage {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// 32 bytes of the OS's randomness (the RPC secret).
fn random_bytes() -> [u8; 32] {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    bytes
}
