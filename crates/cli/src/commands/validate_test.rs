use std::path::Path;

use super::*;

/// Validates the files as `validate -f` given each of them would.
fn validate(files: &[(&str, &str)]) -> Validation {
    let mut scan = Scan::default();
    for (name, text) in files {
        scan.add_file(Path::new(name), text.as_bytes());
    }
    validate_scan(&scan)
}

const TYPO_TABLE: &str = "\
apiVersion: gateway.solo.io/v1
kind: RouteTable
metadata:
  name: echo-routes
  namespace: echo
spec:
  routes:
    - matchers:
        - prefx: /echo
      routeAction:
        single:
          upstream:
            name: echo
            namespace: gloo-system
";

const ENDPOINT: &str = "\
apiVersion: gloo.solo.io/v1
kind: Endpoint
metadata:
  name: echo-v1
  namespace: echo
  labels: {app: echo, version: v1}
spec:
  address: 127.0.0.1
  port: 8081
";

#[test]
fn a_decode_error_rejects_its_resource_with_the_field_path() {
    let validation = validate(&[("rt.yaml", TYPO_TABLE), ("ep.yaml", ENDPOINT)]);
    let table = &validation.resources[0];
    assert_eq!(
        (
            table.kind.as_str(),
            table.namespace.as_str(),
            table.name.as_str(),
            table.state.as_str()
        ),
        ("RouteTable", "echo", "echo-routes", "Rejected")
    );
    assert!(
        table.reasons[0].starts_with("spec.routes[0].matchers[0]")
            && table.reasons[0].contains("prefx")
            && table.reasons[0].ends_with("(in rt.yaml)"),
        "{:?}",
        table.reasons
    );
    assert_eq!(validation.resources.len(), 2);
    assert_eq!(validation.resources[1].name, "echo-v1");
    assert!(validation.failed());
}

#[test]
fn a_document_that_cannot_be_named_is_a_problem_of_its_file_after_the_resources() {
    let text = format!("{ENDPOINT}---\nkind: RouteTable\nmetadata: {{name: x}}\n");
    let validation = validate(&[("team.yaml", &text), ("garbage.yaml", "kind: [unclosed\n")]);
    let kinds: Vec<(&str, &str, &str)> = validation
        .resources
        .iter()
        .map(|r| (r.kind.as_str(), r.name.as_str(), r.state.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("Endpoint", "echo-v1", "Accepted"),
            ("File", "team.yaml", "Rejected"),
            ("File", "garbage.yaml", "Rejected"),
        ]
    );
    let file = &validation.resources[1];
    assert_eq!(file.namespace, "");
    assert!(
        file.reasons.len() == 1 && file.reasons[0].starts_with("document 2: apiVersion: missing"),
        "{:?}",
        file.reasons
    );
    assert!(validation.failed(), "a file problem fails the run");
}

#[test]
fn only_the_files_resources_are_reported_and_other_groups_are_noticed() {
    let text = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: echo-v1, namespace: echo}}\n---\n{ENDPOINT}"
    );
    let validation = validate(&[("echo.yaml", &text)]);
    let names: Vec<&str> = validation
        .resources
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    // The implicit default Settings is translated but not reported.
    assert_eq!(names, ["echo-v1"]);
    assert_eq!(
        validation.notices,
        ["echo.yaml: skipped apps/v1 Deployment echo.echo-v1: not a lockgate resource"]
    );
}

#[test]
fn a_resource_defined_twice_is_reported_once_and_the_later_file_has_the_problem() {
    let validation = validate(&[
        ("a.yaml", TYPO_TABLE),
        ("b.yaml", ENDPOINT),
        ("c.yaml", ENDPOINT),
    ]);
    let names: Vec<(&str, &str)> = validation
        .resources
        .iter()
        .map(|r| (r.kind.as_str(), r.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("RouteTable", "echo-routes"),
            ("Endpoint", "echo-v1"),
            ("File", "c.yaml")
        ]
    );
    assert_eq!(
        validation.resources[2].reasons,
        ["Endpoint echo.echo-v1 is also defined in b.yaml; this definition is ignored"]
    );
    assert!(validation.notices.is_empty());
}

/// As the gateway serving them would: the first definition counts, even a broken one, so a fix
/// must go where the typo is, not into a copy elsewhere.
#[test]
fn a_later_valid_definition_does_not_hide_an_earlier_broken_one() {
    let fixed = TYPO_TABLE.replace("prefx", "prefix");
    let validation = validate(&[("a.yaml", TYPO_TABLE), ("b.yaml", &fixed)]);
    let table = &validation.resources[0];
    assert_eq!(table.state, "Rejected");
    assert!(table.reasons[0].contains("prefx"), "{table:?}");
    assert_eq!(validation.resources[1].kind, "File");
    assert_eq!(validation.resources[1].name, "b.yaml");
}
