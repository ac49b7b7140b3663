use super::*;
use crate::sources::Source;

fn source(name: &str, text: &str) -> Source {
    Source {
        name: name.into(),
        text: text.into(),
    }
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
    let validation =
        validate_sources(&[source("rt.yaml", TYPO_TABLE), source("ep.yaml", ENDPOINT)]);
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
            && table.reasons[0].contains("prefx"),
        "{:?}",
        table.reasons
    );
    assert_eq!(validation.resources[1].name, "echo-v1");
    assert!(validation.failed());
    assert!(validation.unnamed_errors.is_empty());
}

#[test]
fn a_document_that_cannot_be_named_fails_the_run_naming_file_and_document() {
    let text = format!("{ENDPOINT}---\nkind: RouteTable\nmetadata: {{name: x}}\n");
    let validation = validate_sources(&[source("team.yaml", &text)]);
    assert_eq!(validation.resources.len(), 1);
    assert_eq!(validation.unnamed_errors.len(), 1);
    let error = &validation.unnamed_errors[0];
    assert!(error.starts_with("team.yaml: document 2: "), "{error}");
    assert!(error.contains("apiVersion"), "{error}");
    assert!(validation.failed());
}

#[test]
fn only_the_files_resources_are_reported_and_other_groups_are_noticed() {
    let text = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: echo-v1, namespace: echo}}\n---\n{ENDPOINT}"
    );
    let validation = validate_sources(&[source("echo.yaml", &text)]);
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
fn a_resource_defined_twice_is_reported_once_with_a_notice() {
    let validation = validate_sources(&[
        source("a.yaml", TYPO_TABLE),
        source("b.yaml", ENDPOINT),
        source("c.yaml", ENDPOINT),
    ]);
    assert_eq!(validation.resources.len(), 2);
    assert_eq!(
        validation.notices,
        [
            "c.yaml: Endpoint echo.echo-v1 is also defined in b.yaml; the later definition is validated"
        ]
    );
}

#[test]
fn a_later_valid_definition_replaces_an_earlier_broken_one() {
    let fixed = TYPO_TABLE.replace("prefx", "prefix");
    let validation = validate_sources(&[source("a.yaml", TYPO_TABLE), source("b.yaml", &fixed)]);
    assert_eq!(validation.resources.len(), 1);
    assert!(
        !validation.resources[0]
            .reasons
            .iter()
            .any(|r| r.contains("prefx")),
        "{:?}",
        validation.resources[0]
    );
}
