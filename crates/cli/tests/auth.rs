//! `lockgate serve --auth-file` with the client commands' `--token` / `LOCKGATE_TOKEN`, through
//! the real binary: team echo applies its seed route tables, and is refused foxtrot's.

mod common;

use std::path::Path;
use std::process::Output;

use common::{Gateway, SEED_DIR, lockgate, run_cli};

const AUTH_FILE: &str = r#"
tokens:
  - token: s3cret-echo
    subject: team-echo
    rules:
      - namespaces: [echo]
        kinds: [RouteTable]
        verbs: [get, list, create, update, patch, delete]
"#;

fn texts(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn seed(name: &str) -> String {
    Path::new(SEED_DIR).join(name).display().to_string()
}

#[test]
fn team_echo_applies_its_route_table_and_is_refused_foxtrots() {
    let dir = tempfile::tempdir().unwrap();
    let auth_file = dir.path().join("tokens.yaml");
    std::fs::write(&auth_file, AUTH_FILE).unwrap();
    let gateway = Gateway::start(&[
        "--state-dir".into(),
        dir.path().join("state").display().to_string(),
        "--auth-file".into(),
        auth_file.display().to_string(),
    ]);
    let server = gateway.server();
    let rt_echo = seed("rt-echo-1.yaml");
    let rt_foxtrot = seed("rt-foxtrot-1.yaml");

    let applied = run_cli(
        &server,
        &["apply", "-f", &rt_echo, "--token", "s3cret-echo"],
    );
    let (stdout, stderr) = texts(&applied);
    assert!(applied.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("routetable.gateway.solo.io/echo-routes created"),
        "{stdout}"
    );

    // The token from the environment, the way scripts pass it.
    let listed = lockgate()
        .args(["get", "rt", "echo-routes", "-n", "echo"])
        .env("LOCKGATE_SERVER", &server)
        .env("LOCKGATE_TOKEN", "s3cret-echo")
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&listed);
    assert!(listed.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("echo-routes"), "{stdout}");

    let refused = run_cli(
        &server,
        &["apply", "-f", &rt_foxtrot, "--token", "s3cret-echo"],
    );
    let (stdout, stderr) = texts(&refused);
    assert!(!refused.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains(
            r#"Error from server (Forbidden): subject "team-echo" may not create RouteTable in namespace "foxtrot""#
        ),
        "{stderr}"
    );

    let anonymous = run_cli(&server, &["apply", "-f", &rt_echo]);
    let (stdout, stderr) = texts(&anonymous);
    assert!(!anonymous.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("Error from server (Unauthorized): a bearer token is required"),
        "{stderr}"
    );
    let wrong = run_cli(&server, &["check", "--token", "s3cret-foxtrot"]);
    let (stdout, stderr) = texts(&wrong);
    assert!(!wrong.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("Error from server (Unauthorized): the token is not known"),
        "{stderr}"
    );
}

#[test]
fn serve_refuses_to_start_with_an_auth_file_it_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let auth_file = dir.path().join("tokens.yaml");
    std::fs::write(
        &auth_file,
        AUTH_FILE.replace("verbs: [get,", "verbs: [gett,"),
    )
    .unwrap();
    let output = lockgate()
        .args(["serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--auth-file")
        .arg(&auth_file)
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&output);
    assert!(!output.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot use --auth-file: {}: tokens[0].rules[0].verbs[0]: unknown verb \"gett\"",
            auth_file.display()
        )),
        "{stderr}"
    );
    assert!(
        !dir.path().join("state").exists(),
        "nothing was opened or served"
    );
}
