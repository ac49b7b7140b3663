//! `lockgate apply -f DIR` against the real `lockgate serve`: the resources of a directory go
//! in batches, and every one is still answered on its own line, in file order, with refused
//! ones reported and the run failing.

mod common;

use common::{Gateway, run_cli};

fn table(namespace: &str, action: &str) -> String {
    format!(
        "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {{name: routes, namespace: {namespace}, labels: {{gateway: app}}}}\nspec:\n  routes:\n    - matchers: [{{prefix: /{namespace}}}]\n      {action}\n"
    )
}

const VIRTUAL_SERVICE: &str = "apiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {name: app, namespace: gloo-system}\nspec:\n  virtualHost:\n    domains: ['*']\n    routes:\n      - matchers: [{prefix: /}]\n        delegateAction: {selector: {namespaces: ['*'], labels: {gateway: app}}}\n";

const STRICT: &str = "apiVersion: gloo.solo.io/v1\nkind: Settings\nmetadata: {name: default, namespace: gloo-system}\nspec:\n  gateway:\n    validation: {alwaysAccept: false}\n";

#[test]
fn a_directory_is_applied_in_batches_and_each_resource_answered_in_order() {
    let state = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(&["--state-dir".into(), state.path().display().to_string()]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("00-settings.yaml"), STRICT).unwrap();
    std::fs::write(dir.path().join("01-vs.yaml"), VIRTUAL_SERVICE).unwrap();
    for t in 0..30 {
        let body = format!("directResponseAction: {{status: 200, body: team{t}}}");
        std::fs::write(
            dir.path().join(format!("team{t:02}.yaml")),
            table(&format!("team{t:02}"), &body),
        )
        .unwrap();
    }
    // Routes to an upstream that does not exist: refused under the strict Settings applied first.
    let broken = "routeAction: {single: {upstream: {name: missing, namespace: broken}}}";
    std::fs::write(dir.path().join("team99.yaml"), table("broken", broken)).unwrap();

    let output = run_cli(
        &gateway.server(),
        &["apply", "-f", &dir.path().display().to_string()],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the refused table fails the run\n{stdout}\n{stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0], "settings.gloo.solo.io/default configured",
        "{stdout}"
    );
    assert_eq!(
        lines[1], "virtualservice.gateway.solo.io/app created",
        "{stdout}"
    );
    for t in 0..30 {
        assert_eq!(
            lines[2 + t],
            "routetable.gateway.solo.io/routes created",
            "{stdout}"
        );
    }
    assert!(stderr.contains("Error from server (Invalid)"), "{stderr}");
    assert!(stderr.contains("RouteTable broken.routes"), "{stderr}");

    // Applied again: everything unchanged, the broken table still refused.
    let again = run_cli(
        &gateway.server(),
        &["apply", "-f", &dir.path().display().to_string()],
    );
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.ends_with(" unchanged")).count(),
        32,
        "{stdout}"
    );

    let check = gateway.check();
    let tables = check["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "RouteTable")
        .count();
    assert_eq!(tables, 30, "{check}");
}
