//! The harness the end-to-end tests share: the seed workflow read from `workflow.yaml`, the
//! real `lockgate` binary run as gateway and as echo backends, and bounded waits.
//!
//! Every child process is owned by a [`ChildGuard`] and killed when the test ends, however it
//! ends. Every wait is bounded by [`WAIT`] and fails with what was last seen.

// Each test binary uses a different part of the harness, and it is nobody's public API.
#![allow(dead_code, unused_imports, unreachable_pub)]

pub mod workflow;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use workflow::{Curl, Step, Workflow};

/// The seed scenario, kept in the repository (`seed/`, a copy of the shared seed).
pub const SEED_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../seed/two-phased-canary");

/// The longest any single wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);
/// Starting the gateway includes opening its store: allow a little more on a busy machine.
pub const START_WAIT: Duration = Duration::from_secs(30);

pub fn lockgate() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lockgate"));
    command
        .env_remove("LOCKGATE_SERVER")
        .env_remove("LOCKGATE_TOKEN")
        .env_remove("LOCKGATE_STATE_DIR");
    // The children write to the test's own stderr: only warnings, unless asked for more.
    if std::env::var_os("RUST_LOG").is_none() {
        command.env("RUST_LOG", "warn");
    }
    command
}

/// A child process that is killed (SIGKILL) and reaped when dropped.
pub struct ChildGuard {
    child: Child,
    what: String,
}

impl ChildGuard {
    pub fn spawn(mut command: Command, what: impl Into<String>) -> ChildGuard {
        let what = what.into();
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}"));
        ChildGuard { child, what }
    }

    /// Panics when the process has already ended: it was meant to keep running.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early: {status}", self.what);
        }
    }

    /// `kill -9`, and wait until it is gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nobody listens on right now. The listener is closed before the port is used, which
/// leaves a small window for another program to take it; on a test machine that is rare, and
/// the gateway would fail loudly rather than wrongly.
pub fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
}

/// Polls `probe` until it returns `Ok`, at most `within`; the panic shows the last `Err`.
pub fn wait_for<T>(
    within: Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + within;
    let mut pause = Duration::from_millis(10);
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("{what}: still not true after {within:?}; last seen: {last}")
            }
            Err(_) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
        }
    }
}

pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client")
}

/// The answer to one request: status and body, the body without its trailing newline (http-echo
/// ends its text with one; the workflow's expected bodies do not).
pub fn fetch(
    client: &reqwest::blocking::Client,
    url: &str,
    headers: &[(String, String)],
) -> Result<(u16, String), String> {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status().as_u16();
    let body = response.text().map_err(|e| format!("GET {url}: {e}"))?;
    Ok((status, body.strip_suffix('\n').unwrap_or(&body).to_string()))
}

/// The echo backends of the seed's Deployments, one `lockgate echo` process each.
#[derive(Default)]
pub struct Backends {
    running: BTreeMap<String, (ChildGuard, SocketAddr)>,
}

/// What a Deployment of http-echo in the seed stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub text: String,
}

impl Backend {
    /// The Endpoint resource that makes the backend reachable, as Kubernetes would list it.
    pub fn endpoint_yaml(&self, address: SocketAddr) -> String {
        let labels: String = self
            .labels
            .iter()
            .map(|(k, v)| format!("    {k}: {v}\n"))
            .collect();
        format!(
            "apiVersion: gloo.solo.io/v1\nkind: Endpoint\nmetadata:\n  name: {}\n  namespace: {}\n  labels:\n{labels}spec:\n  address: \"{}\"\n  port: {}\n",
            self.name,
            self.namespace,
            address.ip(),
            address.port()
        )
    }

    pub fn key(&self) -> String {
        format!("{}.{}", self.namespace, self.name)
    }
}

impl Backends {
    /// Starts the backend (or keeps it, when it already runs) and returns its address once it
    /// accepts connections.
    pub fn start(&mut self, backend: &Backend) -> SocketAddr {
        if let Some((_, address)) = self.running.get(&backend.key()) {
            return *address;
        }
        let address = free_address();
        let mut command = lockgate();
        command.args([
            "echo",
            "--text",
            &backend.text,
            "--listen",
            &address.to_string(),
        ]);
        let mut child = ChildGuard::spawn(command, format!("echo backend {}", backend.key()));
        wait_for(
            WAIT,
            &format!("echo backend {} listening", backend.key()),
            || {
                child.assert_running();
                TcpStream::connect(address)
                    .map(drop)
                    .map_err(|e| e.to_string())
            },
        );
        self.running.insert(backend.key(), (child, address));
        address
    }

    pub fn stop(&mut self, backend: &Backend) {
        self.running.remove(&backend.key());
    }
}

/// A `lockgate serve` process and its addresses.
pub struct Gateway {
    child: Option<ChildGuard>,
    pub listen: SocketAddr,
    pub admin: SocketAddr,
    args: Vec<String>,
}

impl Gateway {
    /// Starts `lockgate serve` with `extra` flags (`--config-dir` or `--state-dir`) and waits
    /// until `/readyz` answers 200.
    pub fn start(extra: &[String]) -> Gateway {
        let listen = free_address();
        let admin = free_address();
        let mut args = vec![
            "serve".to_string(),
            "--listen".into(),
            listen.to_string(),
            "--admin".into(),
            admin.to_string(),
        ];
        args.extend(extra.iter().cloned());
        let mut gateway = Gateway {
            child: None,
            listen,
            admin,
            args,
        };
        gateway.restart();
        gateway
    }

    /// `kill -9` (when it runs), then starts it again with the same flags and waits until it
    /// is ready.
    pub fn restart(&mut self) {
        // Dropping the guard kills and reaps the old process.
        self.child = None;
        let mut command = lockgate();
        command.args(&self.args);
        let mut child = ChildGuard::spawn(command, "lockgate serve");
        let client = http();
        let url = format!("http://{}/readyz", self.admin);
        wait_for(START_WAIT, "the gateway answering /readyz with 200", || {
            child.assert_running();
            match client.get(&url).send() {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("{}", r.status())),
                Err(e) => Err(e.to_string()),
            }
        });
        self.child = Some(child);
    }

    pub fn server(&self) -> String {
        format!("http://{}", self.admin)
    }

    pub fn check(&self) -> Value {
        let url = format!("http://{}/check", self.admin);
        let response = http()
            .get(&url)
            .send()
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        response
            .json()
            .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
    }

    /// Waits until `/check` lists `Upstream gloo-system.{name}`: the barrier written after a
    /// change. Every change made before the barrier is in the snapshot that contains it.
    pub fn wait_for_barrier(&self, name: &str) {
        let client = http();
        let url = format!("http://{}/check", self.admin);
        wait_for(WAIT, &format!("the gateway seeing barrier {name}"), || {
            let check: Value = client
                .get(&url)
                .send()
                .and_then(|r| r.json())
                .map_err(|e| e.to_string())?;
            let seen = check["resources"].as_array().is_some_and(|resources| {
                resources.iter().any(|r| {
                    r["kind"] == "Upstream" && r["namespace"] == "gloo-system" && r["name"] == name
                })
            });
            if seen { Ok(()) } else { Err(check.to_string()) }
        });
    }

    /// Checks one curl of the workflow: the first answer must be the expected one. Callers
    /// first wait for the change to be taken in (`wait_for_barrier`, `/readyz`); the controller
    /// publishes a configuration before it reports on it, so no second chance is needed, and
    /// none is given: a frozen route that wrongly moved on must not pass by luck of timing.
    /// Only a failure to connect is retried, within [`WAIT`].
    pub fn expect(&self, curl: &Curl, context: &str) {
        let client = http();
        let url = format!("http://{}{}", self.listen, curl.path);
        let (status, body) = wait_for(WAIT, &format!("{context}: reaching the proxy"), || {
            fetch(&client, &url, &curl.headers)
        });
        assert!(
            status == curl.status && body == curl.body,
            "{context}: {curl}, but the gateway answered {status} {body:?}"
        );
    }
}

/// An Upstream that nothing routes to: writing a new one after each change, and waiting until
/// `/check` shows it, proves the gateway has taken in everything written before it (including
/// changes that alter nothing observable, like a route table frozen behind a broken one).
pub fn barrier_yaml(name: &str) -> String {
    format!(
        "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata:\n  name: {name}\n  namespace: gloo-system\nspec:\n  static:\n    hosts:\n      - addr: 127.0.0.1\n        port: 9\n"
    )
}

/// Runs a `lockgate` client command; returns its output, whatever the exit status.
pub fn run_cli(server: &str, args: &[&str]) -> Output {
    lockgate()
        .args(args)
        .env("LOCKGATE_SERVER", server)
        .output()
        .unwrap_or_else(|e| panic!("running lockgate {args:?}: {e}"))
}

/// Like [`run_cli`], failing the test unless the command succeeds; returns its stdout.
pub fn run_cli_ok(server: &str, args: &[&str]) -> String {
    let output = run_cli(server, args);
    assert!(
        output.status.success(),
        "lockgate {} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Writes `text` to `path` atomically: written beside it under another directory of the same
/// file system, then renamed over it, so a watcher never reads half a file.
pub fn write_atomically(staging: &Path, path: &Path, text: &str) {
    let name = path.file_name().expect("a file name");
    let temporary: PathBuf = staging.join(name);
    std::fs::write(&temporary, text).expect("writing the staged file");
    std::fs::rename(&temporary, path).expect("renaming the staged file into place");
}

/// RFC 7386 JSON merge patch: what `kubectl patch --type merge` does to the stored object.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Value::Object(target) = target else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}
