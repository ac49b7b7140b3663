//! The client commands against a fake admin API that records what it is sent: the requests
//! follow docs/admin-api.md, and the answers are printed the way kubectl and glooctl print them.

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use common::{SEED_DIR, lockgate};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    query: String,
    content_type: String,
    authorization: String,
    body: String,
}

type Answer = fn(&Recorded) -> (u16, Value);

#[derive(Clone)]
struct Fake {
    requests: Arc<Mutex<Vec<Recorded>>>,
    answer: Answer,
}

/// A fake admin API on a free port, served until dropped.
struct FakeAdmin {
    server: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    _runtime: tokio::runtime::Runtime,
}

impl FakeAdmin {
    fn start(answer: Answer) -> FakeAdmin {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let fake = Fake {
            requests: requests.clone(),
            answer,
        };
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(handle).with_state(fake);
        runtime.spawn(async move { axum::serve(listener, app).await });
        FakeAdmin {
            server: format!("http://{address}"),
            requests,
            _runtime: runtime,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        lockgate()
            .args(args)
            .env("LOCKGATE_SERVER", &self.server)
            .output()
            .unwrap()
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn handle(
    State(fake): State<Fake>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let recorded = Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        content_type: header("content-type"),
        authorization: header("authorization"),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let (status, body) = (fake.answer)(&recorded);
    fake.requests.lock().unwrap().push(recorded);
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body.to_string(),
    )
}

fn texts(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn seed(name: &str) -> String {
    Path::new(SEED_DIR).join(name).display().to_string()
}

const TYPO: &str = "Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream {gloo-system.echo-typo} not found";

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
               "reason": reason, "message": message}),
    )
}

fn written(result: &str) -> (u16, Value) {
    (200, json!({"result": result, "object": {}, "problems": []}))
}

#[test]
fn apply_puts_each_resource_skips_other_kinds_and_prints_the_problems() {
    let admin = FakeAdmin::start(|request| {
        if request.path.ends_with("/routetables/echo-routes") {
            let problem = json!({"kind": "RouteTable", "namespace": "echo", "name": "echo-routes",
                                 "state": "Rejected", "reasons": [TYPO]});
            (
                200,
                json!({"result": "configured", "object": {}, "problems": [problem]}),
            )
        } else {
            (
                201,
                json!({"result": "created", "object": {}, "problems": []}),
            )
        }
    });
    let output = lockgate()
        .args([
            "apply",
            "-f",
            &seed("echo.yaml"),
            "-f",
            &seed("rt-echo-3.yaml"),
        ])
        .args(["--server", &admin.server, "--token", "s3cret-echo"])
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        format!(
            "routetable.gateway.solo.io/echo-routes configured\n  RouteTable echo.echo-routes: Rejected\n    {TYPO}\n"
        )
    );
    assert!(
        stderr.contains(
            "echo.yaml: skipped apps/v1 Deployment echo.echo-v1: not a lockgate resource"
        ),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        3,
        "one line per skipped document: {stderr}"
    );

    let requests = admin.requests();
    assert_eq!(requests.len(), 1);
    let put = &requests[0];
    assert_eq!(put.method, "PUT");
    assert_eq!(
        put.path,
        "/apis/gateway.solo.io/v1/namespaces/echo/routetables/echo-routes"
    );
    assert_eq!(put.query, "");
    assert_eq!(put.authorization, "Bearer s3cret-echo");
    assert!(
        put.content_type.starts_with("application/json"),
        "{}",
        put.content_type
    );
    let body: Value = serde_json::from_str(&put.body).unwrap();
    assert_eq!(body["apiVersion"], "gateway.solo.io/v1");
    assert_eq!(body["kind"], "RouteTable");
    assert_eq!(body["metadata"]["name"], "echo-routes");
    assert_eq!(
        body["spec"]["routes"][0]["routeAction"]["single"]["upstream"]["name"],
        "echo-typo"
    );
}

#[test]
fn apply_reads_standard_input_and_dry_run_asks_the_server_to_store_nothing() {
    use std::io::Write;
    use std::process::Stdio;
    let admin = FakeAdmin::start(|_| written("created"));
    let mut child = lockgate()
        .args(["apply", "-f", "-", "--dry-run"])
        .env("LOCKGATE_SERVER", &admin.server)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let text = std::fs::read_to_string(seed("vs.yaml")).unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        "virtualservice.gateway.solo.io/app created (dry run)\n"
    );
    let requests = admin.requests();
    assert_eq!(requests[0].query, "dryRun=All");
    assert_eq!(
        requests[0].path,
        "/apis/gateway.solo.io/v1/namespaces/gloo-system/virtualservices/app"
    );
}

#[test]
fn apply_applies_the_valid_documents_and_fails_on_the_broken_one() {
    let admin = FakeAdmin::start(|_| written("created"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("team.yaml");
    let broken = std::fs::read_to_string(seed("rt-foxtrot-1.yaml"))
        .unwrap()
        .replace("prefix:", "prefx:");
    let good = std::fs::read_to_string(seed("upstream-echo.yaml")).unwrap();
    std::fs::write(&file, format!("{broken}\n---\n{good}")).unwrap();
    let output = admin.run(&["apply", "-f", &file.display().to_string()]);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(stdout, "upstream.gloo.solo.io/echo created\n");
    let expected = format!(
        "error: {}: document 1: RouteTable foxtrot.foxtrot-routes: spec.routes[0].matchers[0].prefx: unknown field `prefx`",
        file.display()
    );
    assert!(stderr.starts_with(&expected), "{stderr}");
    assert_eq!(admin.requests().len(), 1, "the broken document is not sent");
}

#[test]
fn a_refusal_from_the_server_is_shown_plainly_and_fails() {
    let admin = FakeAdmin::start(|_| {
        let (code, mut body) = status(422, "Invalid", "RouteTable echo.echo-routes: adds errors");
        body["details"] = json!({"problems": [{"kind": "RouteTable", "namespace": "echo",
            "name": "echo-routes", "state": "Rejected", "reasons": [TYPO]}]});
        (code, body)
    });
    let output = admin.run(&["apply", "-f", &seed("rt-echo-3.yaml")]);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        format!(
            "Error from server (Invalid): RouteTable echo.echo-routes: adds errors\n  RouteTable echo.echo-routes: Rejected\n    {TYPO}\n"
        )
    );
}

#[test]
fn delete_reports_each_deletion_and_a_missing_resource_unless_told_to_ignore_it() {
    let admin = FakeAdmin::start(|request| {
        if request.path.ends_with("/upstreams/echo") {
            written("deleted")
        } else {
            status(404, "NotFound", "routetables \"echo-routes\" not found")
        }
    });
    let file = |name: &str| seed(name);
    let output = admin.run(&[
        "delete",
        "-f",
        &file("upstream-echo.yaml"),
        "-f",
        &file("rt-echo-1.yaml"),
    ]);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout, "upstream.gloo.solo.io/echo deleted\n");
    assert_eq!(
        stderr,
        "Error from server (NotFound): routetables \"echo-routes\" not found\n"
    );

    let output = admin.run(&[
        "delete",
        "-f",
        &file("rt-echo-1.yaml"),
        "--ignore-not-found",
    ]);
    assert!(output.status.success(), "{:?}", texts(&output));

    let output = admin.run(&["delete", "upstream", "echo"]);
    assert_eq!(texts(&output).0, "upstream.gloo.solo.io/echo deleted\n");
    let requests = admin.requests();
    let last = requests.last().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str()),
        (
            "DELETE",
            "/apis/gloo.solo.io/v1/namespaces/gloo-system/upstreams/echo"
        )
    );
}

#[test]
fn patch_sends_a_json_merge_patch_from_a_yaml_file() {
    let admin = FakeAdmin::start(|_| written("configured"));
    let output = admin.run(&[
        "patch",
        "settings",
        "default",
        "-n",
        "gloo-system",
        "--type",
        "merge",
        "--patch-file",
        &seed("settings-patch.yaml"),
    ]);
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout, "settings.gloo.solo.io/default patched\n");
    let request = &admin.requests()[0];
    assert_eq!(request.method, "PATCH");
    assert_eq!(
        request.path,
        "/apis/gloo.solo.io/v1/namespaces/gloo-system/settings/default"
    );
    assert_eq!(request.content_type, "application/merge-patch+json");
    let patch: Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(
        patch["spec"]["gloo"]["invalidConfigPolicy"],
        json!({"invalidRouteResponseBody": "Gloo Gateway has invalid configuration. Administrators should run `glooctl check` to find and fix config errors.",
               "invalidRouteResponseCode": 404, "replaceInvalidRoutes": true})
    );

    let output = admin.run(&[
        "patch", "settings", "default", "--type", "json", "--patch", "{}",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        texts(&output).1.contains("--type merge"),
        "{:?}",
        texts(&output)
    );
}

#[test]
fn get_prints_a_table_or_the_objects() {
    let admin = FakeAdmin::start(|request| {
        let item = |ns: &str, name: &str, state: &str| {
            json!({"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
                   "metadata": {"name": name, "namespace": ns, "generation": 2},
                   "spec": {"routes": [{"matchers": [{"prefix": "/x"}]}]},
                   "status": {"state": state, "reasons": [], "observedGeneration": 2,
                              "servedGeneration": 2}})
        };
        if request.path == "/apis/gateway.solo.io/v1/routetables" {
            (
                200,
                json!({"kind": "RouteTableList", "items": [item("echo", "echo-routes", "Rejected"), item("foxtrot", "foxtrot-routes", "Accepted")]}),
            )
        } else {
            (200, item("echo", "echo-routes", "Rejected"))
        }
    });
    let output = admin.run(&["get", "rt"]);
    assert_eq!(
        texts(&output).0,
        "NAMESPACE   NAME             STATE      SERVED   ROUTES\n\
         echo        echo-routes      Rejected   yes      1\n\
         foxtrot     foxtrot-routes   Accepted   yes      1\n"
    );
    let output = admin.run(&[
        "get",
        "routetables",
        "echo-routes",
        "-n",
        "echo",
        "-o",
        "yaml",
    ]);
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.starts_with(
            "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata:\n  name: echo-routes\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("status:\n  state: Rejected\n"), "{stdout}");
    assert_eq!(
        admin.requests().last().unwrap().path,
        "/apis/gateway.solo.io/v1/namespaces/echo/routetables/echo-routes"
    );
    // A name without -n is looked up in every namespace.
    let output = admin.run(&["get", "rt", "foxtrot-routes", "-o", "json"]);
    let object: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(object["metadata"]["namespace"], "foxtrot");
}

#[test]
fn check_lists_every_problem_and_fails_or_says_no_problems() {
    let admin = FakeAdmin::start(|_| {
        let problem = json!({"kind": "RouteTable", "namespace": "echo", "name": "echo-routes",
                             "state": "Rejected", "reasons": [TYPO]});
        (
            200,
            json!({"problems": [problem.clone()], "resources": [problem]}),
        )
    });
    let output = admin.run(&["check"]);
    let (stdout, _) = texts(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout.contains(&format!("Checking route tables... 1 Errors!\n  RouteTable echo echo-routes: Rejected\n    {TYPO}\n")), "{stdout}");
    assert!(stdout.ends_with("Problems detected!\n"), "{stdout}");

    let clean = FakeAdmin::start(|_| (200, json!({"problems": [], "resources": []})));
    let output = clean.run(&["check"]);
    assert!(output.status.success());
    assert!(
        texts(&output)
            .0
            .ends_with("Checking route tables... OK\nNo problems detected.\n")
    );
}

#[test]
fn proxy_url_prints_the_proxy_address() {
    let admin = FakeAdmin::start(|_| {
        (
            200,
            json!({"version": "0.1.0", "proxyAddress": "127.0.0.1:18080", "store": "embedded"}),
        )
    });
    let output = admin.run(&["proxy", "url"]);
    assert_eq!(texts(&output).0, "http://127.0.0.1:18080\n");
    assert_eq!(admin.requests()[0].path, "/info");
}

#[test]
fn an_unreachable_server_is_named_and_serve_suggested() {
    let address = common::free_address();
    let output = lockgate()
        .args(["check", "--server", &address.to_string()])
        .output()
        .unwrap();
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains(&format!(
            "cannot reach the lockgate admin API at http://{address}"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("lockgate serve"), "{stderr}");
}
