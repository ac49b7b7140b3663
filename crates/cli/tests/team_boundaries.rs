//! Issue 7's five cases, each replayed the way a hostile but authorised team would: through the
//! real `lockgate serve` binary with `--auth-file`, the team's own token, and real backends on
//! 127.0.0.1. Each test names the attack it replays and what must hold instead.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::mpsc;
use std::time::Duration;

use common::{Backend, Backends, Gateway, SEED_DIR, WAIT, fetch, http, run_cli, wait_for};

/// Ops hold everything; each team holds its own namespace. Team echo was even given
/// VirtualServices in its namespace: the boundary must hold where RBAC was generous.
const AUTH_FILE: &str = r#"
tokens:
  - token: ops-token
    subject: ops
    rules:
      - namespaces: ['*']
        kinds: ['*']
        verbs: [get, list, create, update, patch, delete]
  - token: echo-token
    subject: team-echo
    rules:
      - namespaces: [echo]
        kinds: [RouteTable, VirtualService]
        verbs: [get, list, create, update, patch, delete]
  - token: foxtrot-token
    subject: team-foxtrot
    rules:
      - namespaces: [foxtrot]
        kinds: [RouteTable]
        verbs: [get, list, create, update, patch, delete]
"#;

/// The seed's organisation after its first steps: `gloo-system.app` delegates `/echo` and
/// `/foxtrot` to the two teams, each served by its v1 backend.
struct Organisation {
    gateway: Gateway,
    _backends: Backends,
    files: PathBuf,
    _home: tempfile::TempDir,
}

impl Organisation {
    fn start(extra: &[&str]) -> Organisation {
        let home = tempfile::tempdir().expect("a temporary directory");
        let files = home.path().join("files");
        std::fs::create_dir(&files).unwrap();
        let auth = home.path().join("tokens.yaml");
        std::fs::write(&auth, AUTH_FILE).unwrap();
        let mut args = vec![
            "--state-dir".to_string(),
            home.path().join("state").display().to_string(),
            "--auth-file".into(),
            auth.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let gateway = Gateway::start(&args);
        let mut organisation = Organisation {
            gateway,
            _backends: Backends::default(),
            files,
            _home: home,
        };
        for team in ["echo", "foxtrot"] {
            let backend = Backend {
                namespace: team.into(),
                name: format!("{team}-v1"),
                labels: [("app", team), ("version", "v1")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                text: format!("version:{team}-v1"),
            };
            let address = organisation._backends.start(&backend);
            let endpoint = organisation.write(
                &format!("endpoint-{team}.yaml"),
                &backend.endpoint_yaml(address),
            );
            organisation.apply_ok("ops-token", &endpoint);
        }
        for file in ["upstream-echo.yaml", "upstream-foxtrot.yaml", "vs.yaml"] {
            organisation.apply_ok("ops-token", &seed(file));
        }
        organisation.apply_ok("echo-token", &seed("rt-echo-1.yaml"));
        organisation.apply_ok("foxtrot-token", &seed("rt-foxtrot-1.yaml"));
        organisation.expect("/echo", 200, "version:echo-v1");
        organisation.expect("/foxtrot", 200, "version:foxtrot-v1");
        organisation
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.files.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    fn cli(&self, token: &str, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--token", token]);
        run_cli(&self.gateway.server(), &all)
    }

    fn apply(&self, token: &str, path: &str) -> (bool, String) {
        let output = self.cli(token, &["apply", "-f", path]);
        (output.status.success(), texts(&output))
    }

    fn apply_ok(&self, token: &str, path: &str) -> String {
        let (ok, text) = self.apply(token, path);
        assert!(ok, "apply -f {path} with {token}: {text}");
        text
    }

    /// The status of one resource, as `get -o json` shows it to ops, once it reports on the
    /// resource's current generation (statuses are written after each publish).
    fn status(&self, kind: &str, namespace: &str, name: &str) -> serde_json::Value {
        wait_for(
            WAIT,
            &format!("a status on {kind} {namespace}.{name}"),
            || {
                let output = self.cli(
                    "ops-token",
                    &["get", kind, name, "-n", namespace, "-o", "json"],
                );
                if !output.status.success() {
                    return Err(texts(&output));
                }
                let value: serde_json::Value =
                    serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
                let status = &value["status"];
                let current = status["observedGeneration"] == value["metadata"]["generation"];
                if status["state"].is_string() && current {
                    Ok(status.clone())
                } else {
                    Err(value.to_string())
                }
            },
        )
    }

    /// Waits (bounded) until the proxy answers `path` as expected.
    fn expect(&self, path: &str, status: u16, body: &str) {
        let client = http();
        let url = format!("http://{}{path}", self.gateway.listen);
        wait_for(
            WAIT,
            &format!("GET {path} answering {status} {body}"),
            || match fetch(&client, &url, &[])? {
                (s, b) if s == status && b == body => Ok(()),
                other => Err(format!("{other:?}")),
            },
        );
    }
}

fn seed(name: &str) -> String {
    Path::new(SEED_DIR).join(name).display().to_string()
}

fn texts(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

const ECHO_REGEX_ESCAPE: &str = r#"
apiVersion: gateway.solo.io/v1
kind: RouteTable
metadata:
  name: echo-routes
  namespace: echo
spec:
  routes:
    - matchers:
        - regex: "/echo|/foxtrot.*|/.*"
      routeAction:
        single:
          upstream: {name: echo, namespace: gloo-system}
"#;

/// Case 1: a route table escaping its delegated prefix with a regex.
#[test]
fn a_regex_in_a_delegated_table_never_matches_outside_its_prefix() {
    let org = Organisation::start(&[]);
    let file = org.write("rt-echo-escape.yaml", ECHO_REGEX_ESCAPE);
    org.apply_ok("echo-token", &file);
    // Foxtrot's traffic stays foxtrot's, and nothing else is opened.
    org.expect("/echo", 200, "version:echo-v1");
    org.expect("/foxtrot", 200, "version:foxtrot-v1");
    org.expect("/elsewhere", 404, "no route matched");
    // The echo team is told why its route is narrower than it wrote.
    let status = org.status("rt", "echo", "echo-routes");
    let reasons = status["reasons"].to_string();
    assert!(reasons.contains("/echo"), "{status}");
    assert_eq!(
        org.status("rt", "foxtrot", "foxtrot-routes")["state"],
        "Accepted"
    );
}

const ECHO_VS_STAR: &str = r#"
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata:
  name: grab
  namespace: echo
spec:
  virtualHost:
    domains: ['*']
    routes:
      - matchers: [{prefix: /}]
        routeAction:
          single:
            upstream: {name: echo, namespace: gloo-system}
"#;

const ECHO_VS_INTO_FOXTROT: &str = r#"
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata:
  name: reach
  namespace: echo
spec:
  virtualHost:
    domains: ['reach.example']
    routes:
      - matchers: [{prefix: /elsewhere}]
        delegateAction:
          selector:
            namespaces: [foxtrot]
"#;

const RT_FOXTROT_V2: &str = r#"
apiVersion: gateway.solo.io/v1
kind: RouteTable
metadata:
  name: foxtrot-routes
  namespace: foxtrot
spec:
  routes:
    - matchers:
        - prefix: /foxtrot
      directResponseAction:
        status: 200
        body: foxtrot-direct
"#;

/// Case 2: a team's VirtualService claiming the ops domain, or delegating into another team.
#[test]
fn a_teams_virtual_service_neither_blocks_the_ops_one_nor_reaches_into_another_team() {
    let org = Organisation::start(&[]);
    // Ops allow echo to hold virtual services, the most the team could be given.
    let allow = org.write(
        "settings-allow-echo.yaml",
        r#"{"spec":{"gateway":{"virtualServiceNamespaces":["gloo-system","echo"],"validation":{"allowWarnings":false}}}}"#,
    );
    let patched = org.cli(
        "ops-token",
        &[
            "patch",
            "settings",
            "default",
            "-n",
            "gloo-system",
            "--type",
            "merge",
            "--patch-file",
            &allow,
        ],
    );
    assert!(patched.status.success(), "{}", texts(&patched));

    let grab = org.write("vs-grab.yaml", ECHO_VS_STAR);
    let grabbed = org.apply("echo-token", &grab);
    let reach = org.write("vs-reach.yaml", ECHO_VS_INTO_FOXTROT);
    let reached = org.apply("echo-token", &reach);
    assert!(
        grabbed.0
            && grabbed
                .1
                .contains("held by virtual service gloo-system.app"),
        "{grabbed:?}"
    );
    assert!(
        reached.0 && reached.1.contains("delegatingNamespaces"),
        "{reached:?}"
    );

    // The ops virtual service keeps its domain and its state; the newcomer is the one refused.
    assert_eq!(org.status("vs", "gloo-system", "app")["state"], "Accepted");
    let grab_status = org.status("vs", "echo", "grab");
    assert_eq!(grab_status["state"], "Rejected", "{grab_status}");
    // Foxtrot's table is untouched by echo's delegation, and foxtrot's own change is served.
    assert_eq!(
        org.status("rt", "foxtrot", "foxtrot-routes")["state"],
        "Accepted"
    );
    let v2 = org.write("rt-foxtrot-v2.yaml", RT_FOXTROT_V2);
    let applied = org.apply_ok("foxtrot-token", &v2);
    assert!(!applied.contains("not served"), "{applied}");
    org.expect("/foxtrot", 200, "foxtrot-direct");
    org.expect("/echo", 200, "version:echo-v1");
}

/// An upstream that answers every request with the Host header it received and the request
/// line's target, so a test sees exactly what was forwarded.
fn host_reporting_upstream() -> (SocketAddr, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (seen, seen_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let target = head.split(' ').nth(1).unwrap_or_default().to_string();
                let hosts: Vec<&str> = head
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .filter(|(k, _)| k.eq_ignore_ascii_case("host"))
                    .map(|(_, v)| v.trim())
                    .collect();
                let body = format!("{target} host={}", hosts.join(","));
                let _ = seen.send(body.clone());
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    (address, seen_rx)
}

/// Sends raw bytes to the proxy and returns the status code of the answer (0 when the proxy
/// closed without answering) and the whole answer.
fn raw(proxy: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(proxy).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

fn two_hosts_yaml(upstream: SocketAddr) -> String {
    let mut yaml = format!(
        "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {{name: reporter, namespace: gloo-system}}\nspec:\n  static:\n    hosts: [{{addr: 127.0.0.1, port: {}}}]\n",
        upstream.port()
    );
    for (name, body) in [("a", "route-a"), ("b", "route-b")] {
        let action = if name == "a" {
            "routeAction: {single: {upstream: {name: reporter, namespace: gloo-system}}}"
                .to_string()
        } else {
            format!("directResponseAction: {{status: 200, body: {body}}}")
        };
        yaml.push_str(&format!(
            "---\napiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {{name: host-{name}, namespace: gloo-system}}\nspec:\n  virtualHost:\n    domains: ['{name}.example']\n    routes:\n      - matchers: [{{prefix: /}}]\n        {action}\n"
        ));
    }
    yaml
}

/// Case 3: routing and forwarding must agree on the host, and bad hosts are refused.
#[test]
fn routing_and_forwarding_agree_on_the_host() {
    let org = Organisation::start(&[]);
    let (upstream, _seen) = host_reporting_upstream();
    let file = org.write("hosts.yaml", &two_hosts_yaml(upstream));
    org.apply_ok("ops-token", &file);
    let proxy = org.gateway.listen;
    wait_for(WAIT, "host-a served", || {
        match raw(
            proxy,
            "GET /x HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n",
        ) {
            (200, answer) if answer.ends_with("/x host=a.example") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });

    // Absolute form wins over Host, and the upstream is told the host that was routed.
    let (status, answer) = raw(
        proxy,
        "GET http://a.example/admin HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{answer}");
    assert!(answer.ends_with("/admin host=a.example"), "{answer}");

    for (what, request) in [
        (
            "two Host headers",
            "GET /x HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n",
        ),
        ("no Host", "GET /x HTTP/1.1\r\nConnection: close\r\n\r\n"),
        (
            "a space",
            "GET /x HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n",
        ),
        (
            "user info",
            "GET /x HTTP/1.1\r\nHost: a@b\r\nConnection: close\r\n\r\n",
        ),
        (
            "a path",
            "GET /x HTTP/1.1\r\nHost: a/../b\r\nConnection: close\r\n\r\n",
        ),
    ] {
        let (status, answer) = raw(proxy, request);
        assert_eq!(status, 400, "{what}: {answer}");
    }
}

/// Case 4: deeply nested YAML is refused before it is parsed, and health answers meanwhile.
#[test]
fn deeply_nested_yaml_is_refused_without_freezing_the_admin_api() {
    let org = Organisation::start(&[]);
    let nested = format!(
        "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {{name: deep, namespace: echo}}\nspec:\n  routes: {}",
        "[".repeat(200_000)
    );
    let url = format!(
        "{}/apis/gateway.solo.io/v1/namespaces/echo/routetables/deep",
        org.gateway.server()
    );
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let sender = {
        let client = client.clone();
        std::thread::spawn(move || {
            client
                .put(&url)
                .bearer_auth("echo-token")
                .header("content-type", "application/yaml")
                .body(nested)
                .send()
                .map(|r| (r.status().as_u16(), r.text().unwrap_or_default()))
        })
    };
    let health = format!("{}/healthz", org.gateway.server());
    let answered = client.get(&health).send().map(|r| r.status().as_u16());
    assert_eq!(answered.ok(), Some(200));
    let (status, body) = sender
        .join()
        .unwrap()
        .expect("an answer to the nested body");
    assert!(status == 400 || status == 413, "{status} {body}");
    assert!(body.contains("depth") || body.contains("nest"), "{body}");
}

/// Case 5: connections that never send a byte are closed, and the admin API stays reachable
/// while the proxy's connection budget is exhausted.
#[test]
fn silent_connections_are_closed_and_the_admin_api_stays_reachable() {
    let org = Organisation::start(&["--max-connections", "4"]);
    let proxy = org.gateway.listen;
    // Twice the proxy's budget: the second half waits in the backlog until the first is closed.
    let silent: Vec<TcpStream> = (0..8).map(|_| TcpStream::connect(proxy).unwrap()).collect();
    let health = format!("{}/healthz", org.gateway.server());
    assert_eq!(
        http().get(&health).send().map(|r| r.status().as_u16()).ok(),
        Some(200)
    );
    for mut stream in silent {
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut byte = [0u8; 1];
        // EOF (0) or a reset: closed by the gateway, not by our timeout.
        match stream.read(&mut byte) {
            Ok(0) => {}
            Ok(_) => {}
            Err(e) => assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "a silent connection was left open: {e}"
            ),
        }
    }
    let health = format!("{}/healthz", org.gateway.server());
    assert_eq!(
        http().get(&health).send().map(|r| r.status().as_u16()).ok(),
        Some(200)
    );
}
