//! Issue 9's "one way to read files": `lockgate validate -f DIR` and `lockgate serve
//! --config-dir DIR` read one directory by the same rules, so they report the same resources,
//! with the same states and reasons, and the same problems of the files. The directory holds
//! what tells readers apart: nested folders, hidden files and folders, a file of another
//! extension, a resource defined twice in one file and twice across folders, a file that does
//! not parse, a document with a typo, a document of another API group and (on Unix) a symbolic
//! link back up the tree.

mod common;

use std::path::Path;

use common::{Gateway, lockgate};
use serde_json::Value;

/// kind, namespace, name, state, reasons: the fields the contract gives every report.
type Row = (String, String, String, String, Vec<String>);

fn upstream(namespace: &str, name: &str, port: u16) -> String {
    format!(
        "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  static:\n    hosts:\n      - addr: 127.0.0.1\n        port: {port}\n"
    )
}

fn route_table(namespace: &str, prefix: &str, matcher: &str) -> String {
    format!(
        "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata:\n  name: {namespace}-routes\n  namespace: {namespace}\nspec:\n  routes:\n    - matchers:\n        - {matcher}: {prefix}\n      routeAction:\n        single:\n          upstream:\n            name: {namespace}\n            namespace: {namespace}\n"
    )
}

const VIRTUAL_SERVICE: &str = "\
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata:
  name: app
  namespace: gloo-system
spec:
  virtualHost:
    domains: ['*']
    routes:
      - matchers: [{prefix: /echo}]
        delegateAction:
          ref: {name: echo-routes, namespace: echo}
      - matchers: [{prefix: /foxtrot}]
        delegateAction:
          ref: {name: foxtrot-routes, namespace: foxtrot}
";

const DEPLOYMENT: &str =
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: foxtrot-v1\n  namespace: foxtrot\n";

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("creating folders");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

fn config_dir(root: &Path) {
    write(root, "vs.yaml", VIRTUAL_SERVICE);
    // Twice in one file: the first document counts.
    let twice = format!(
        "{}---\n{}",
        upstream("echo", "echo", 9001),
        upstream("echo", "echo", 9002)
    );
    write(root, "upstreams.yaml", &twice);
    write(
        root,
        "teams/echo/rt.yaml",
        &route_table("echo", "/echo", "prefx"),
    );
    write(
        root,
        "teams/foxtrot/rt.yaml",
        &route_table("foxtrot", "/foxtrot", "prefix"),
    );
    let foxtrot = format!("{}---\n{DEPLOYMENT}", upstream("foxtrot", "foxtrot", 9003));
    write(root, "teams/foxtrot/upstream.yaml", &foxtrot);
    // Twice across folders: `teams/foxtrot/` comes first in path order.
    write(
        root,
        "teams/old/foxtrot.yaml",
        &route_table("foxtrot", "/foxtrot-old", "prefix"),
    );
    write(
        root,
        "a/b/c/deep.yaml",
        &upstream("gloo-system", "deep", 9004),
    );
    write(root, "broken.yaml", "kind: [unclosed\n");
    // Nothing of these counts.
    write(
        root,
        ".hidden.yaml",
        &upstream("gloo-system", "hidden", 9005),
    );
    write(
        root,
        ".git/in-git.yaml",
        &upstream("gloo-system", "in-git", 9006),
    );
    write(root, "notes.txt", &upstream("gloo-system", "notes", 9007));
    #[cfg(unix)]
    std::os::unix::fs::symlink("..", root.join("teams/loop")).expect("a symbolic link");
}

fn rows(reports: &Value) -> Vec<Row> {
    let text = |report: &Value, field: &str| {
        report[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} of {report}"))
            .to_string()
    };
    let mut rows: Vec<Row> = reports
        .as_array()
        .unwrap_or_else(|| panic!("a list of reports: {reports}"))
        .iter()
        .map(|report| {
            let reasons = report["reasons"]
                .as_array()
                .unwrap_or_else(|| panic!("reasons of {report}"))
                .iter()
                .map(|r| r.as_str().expect("a reason is text").to_string())
                .collect();
            (
                text(report, "kind"),
                text(report, "namespace"),
                text(report, "name"),
                text(report, "state"),
                reasons,
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn validate_and_serve_read_one_directory_the_same_way() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let dir = home.path().join("config");
    config_dir(&dir);
    let dir_arg = dir.display().to_string();

    let output = lockgate()
        .args(["validate", "-f", &dir_arg, "-o", "json"])
        .output()
        .expect("running lockgate validate");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let body: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let validated = rows(&body["resources"]);
    assert!(
        stderr.contains("teams/foxtrot/upstream.yaml: skipped apps/v1 Deployment"),
        "{stderr}"
    );

    // The gateway's first translation is published before /readyz answers 200, and its
    // report is stored before it is published: /check says what it serves now.
    let gateway = Gateway::start(&["--config-dir".into(), dir_arg]);
    let check = gateway.check();
    let served = rows(&check["resources"]);

    assert_eq!(validated, served, "validate and serve disagree");

    // And what they agree on is what the directory holds.
    let mut expected: Vec<(&str, &str, &str, &str)> = vec![
        ("File", "", "broken.yaml", "Rejected"),
        ("File", "", "teams/old/foxtrot.yaml", "Rejected"),
        ("File", "", "upstreams.yaml", "Rejected"),
        ("RouteTable", "echo", "echo-routes", "Rejected"),
        ("RouteTable", "foxtrot", "foxtrot-routes", "Accepted"),
        ("Upstream", "echo", "echo", "Accepted"),
        ("Upstream", "foxtrot", "foxtrot", "Accepted"),
        ("Upstream", "gloo-system", "deep", "Accepted"),
        ("VirtualService", "gloo-system", "app", "Rejected"),
    ];
    if cfg!(unix) {
        expected.insert(1, ("File", "", "teams/loop", "Rejected"));
    }
    let found: Vec<(&str, &str, &str, &str)> = served
        .iter()
        .map(|(kind, ns, name, state, _)| {
            (kind.as_str(), ns.as_str(), name.as_str(), state.as_str())
        })
        .collect();
    assert_eq!(found, expected);

    let reasons = |kind: &str, name: &str| -> &Vec<String> {
        &served
            .iter()
            .find(|row| row.0 == kind && row.2 == name)
            .unwrap_or_else(|| panic!("{kind} {name} is reported"))
            .4
    };
    let typo = reasons("RouteTable", "echo-routes");
    assert!(
        typo[0].starts_with("spec.routes[0].matchers[0].prefx: unknown field")
            && typo[0].ends_with("(in teams/echo/rt.yaml)"),
        "{typo:?}"
    );
    assert_eq!(
        reasons("File", "teams/old/foxtrot.yaml"),
        &[
            "RouteTable foxtrot.foxtrot-routes is also defined in teams/foxtrot/rt.yaml; this definition is ignored"
        ]
    );
    assert_eq!(
        reasons("File", "upstreams.yaml"),
        &["Upstream echo.echo is also defined in upstreams.yaml; this definition is ignored"]
    );
    assert!(
        reasons("File", "broken.yaml")[0].contains("not valid YAML"),
        "{:?}",
        reasons("File", "broken.yaml")
    );
    if cfg!(unix) {
        assert_eq!(
            reasons("File", "teams/loop"),
            &["is the directory . again (through a symbolic link): not read twice"]
        );
    }
}
