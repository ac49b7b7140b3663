//! `lockgate validate` run as a person runs it: the real binary on the seed's files.

mod common;

use std::path::Path;
use std::process::Output;

use common::{SEED_DIR, lockgate};
use serde_json::Value;

fn validate(args: &[&str]) -> Output {
    lockgate()
        .arg("validate")
        .args(args)
        .output()
        .expect("running lockgate validate")
}

fn seed(name: &str) -> String {
    Path::new(SEED_DIR).join(name).display().to_string()
}

fn texts(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_typo_rejects_echos_route_table_naming_the_missing_upstream() {
    let files = [
        "upstream-echo.yaml",
        "upstream-foxtrot.yaml",
        "vs.yaml",
        "rt-echo-3.yaml",
        "rt-foxtrot-4.yaml",
    ];
    let mut args = Vec::new();
    for file in files {
        args.push("-f".to_string());
        args.push(seed(file));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = validate(&args);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let table = stdout
        .lines()
        .position(|l| l == "RouteTable echo.echo-routes: Rejected")
        .unwrap_or_else(|| panic!("no rejected echo-routes line:\n{stdout}"));
    assert!(
        stdout
            .lines()
            .nth(table + 1)
            .is_some_and(|reason| reason.starts_with("  ") && reason.contains("echo-typo")),
        "the reason under it names echo-typo:\n{stdout}"
    );
    assert!(
        stdout.contains("RouteTable foxtrot.foxtrot-routes: Accepted"),
        "{stdout}"
    );
    // Only what the files hold: the implicit default Settings is not reported.
    assert!(!stdout.contains("Settings"), "{stdout}");
}

#[test]
fn json_output_has_exactly_the_contracts_shape() {
    let output = validate(&[
        "-f",
        &seed("upstream-echo.yaml"),
        "-f",
        &seed("vs.yaml"),
        "-f",
        &seed("rt-echo-3.yaml"),
        "-o",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let body: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let object = body.as_object().expect("an object");
    assert_eq!(object.keys().collect::<Vec<_>>(), ["resources"]);
    let resources = body["resources"].as_array().expect("resources is a list");
    assert_eq!(resources.len(), 3);
    for resource in resources {
        let keys: Vec<&String> = resource.as_object().expect("an object").keys().collect();
        assert_eq!(
            keys,
            ["kind", "namespace", "name", "state", "reasons"],
            "{resource}"
        );
        assert!(resource["reasons"].is_array());
    }
    let table = resources
        .iter()
        .find(|r| r["kind"] == "RouteTable")
        .expect("the route table is reported");
    assert_eq!(
        (&table["namespace"], &table["name"], &table["state"]),
        (&"echo".into(), &"echo-routes".into(), &"Rejected".into())
    );
    assert!(
        table["reasons"].to_string().contains("echo-typo"),
        "{table}"
    );
}

#[test]
fn the_clean_seed_state_passes_and_other_kinds_are_noticed_on_stderr() {
    let output = validate(&[
        "-f",
        &seed("echo.yaml"),
        "-f",
        &seed("upstream-echo.yaml"),
        "-f",
        &seed("upstream-foxtrot.yaml"),
        "-f",
        &seed("vs.yaml"),
        "-f",
        &seed("rt-echo-2.yaml"),
        "-f",
        &seed("rt-foxtrot-5.yaml"),
    ]);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains("skipped apps/v1 Deployment echo.echo-v1: not a lockgate resource"),
        "{stderr}"
    );
    assert!(!stdout.contains("Deployment"), "{stdout}");
    assert!(
        stdout.contains("VirtualService gloo-system.app: Accepted"),
        "{stdout}"
    );
}

#[test]
fn a_decode_error_names_the_resource_and_field_path_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rt.yaml");
    let text = std::fs::read_to_string(seed("rt-echo-2.yaml"))
        .unwrap()
        .replace(
            "prefix: /echo\n      routeAction",
            "prefx: /echo\n      routeAction",
        );
    assert!(text.contains("prefx"));
    std::fs::write(&file, text).unwrap();
    let output = validate(&["-f", &file.display().to_string(), "-o", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let body: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let table = &body["resources"][0];
    assert_eq!(table["name"], "echo-routes");
    assert_eq!(table["state"], "Rejected");
    let reason = table["reasons"][0].as_str().unwrap();
    assert!(
        reason.starts_with("spec.routes[0].matchers[0]") && reason.contains("prefx"),
        "{reason}"
    );
}

#[test]
fn a_document_that_names_no_resource_is_a_problem_of_its_file_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    let rt = std::fs::read_to_string(seed("rt-echo-2.yaml")).unwrap();
    std::fs::write(
        &file,
        format!("{rt}\n---\nkind: RouteTable\nmetadata:\n  name: x\n"),
    )
    .unwrap();
    let output = validate(&["-f", &file.display().to_string()]);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    // The file's problem comes after the resources, as `/check` shows a watched file's.
    let expected = format!(
        "File {}: Rejected\n  document 2: apiVersion: missing",
        file.display()
    );
    assert!(stdout.contains(&expected), "{stdout}");
    assert!(stdout.contains("RouteTable echo.echo-routes: "), "{stdout}");
    assert!(stderr.contains("; 1 file with problems"), "{stderr}");
}

#[test]
fn a_directory_is_read_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["vs.yaml", "upstream-echo.yaml", "rt-echo-2.yaml"] {
        std::fs::copy(seed(name), dir.path().join(name)).unwrap();
    }
    let output = validate(&["-f", &dir.path().display().to_string(), "-o", "json"]);
    let body: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let kinds: Vec<&str> = body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["RouteTable", "Upstream", "VirtualService"]);
}
