use super::*;

fn report(
    kind: &str,
    namespace: &str,
    name: &str,
    state: &str,
    reasons: &[&str],
) -> ResourceReport {
    ResourceReport {
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
        state: state.into(),
        reasons: reasons.iter().map(|r| r.to_string()).collect(),
    }
}

#[test]
fn a_clean_gateway_says_so_in_every_section() {
    let (text, clean) = render(&[], &[], false);
    assert!(clean);
    assert_eq!(
        text,
        "Checking settings... OK\n\
         Checking upstreams... OK\n\
         Checking endpoints... OK\n\
         Checking virtual services... OK\n\
         Checking route tables... OK\n\
         No problems detected.\n"
    );
}

#[test]
fn each_problem_is_listed_with_its_namespace_name_and_every_reason() {
    let typo = "Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream {gloo-system.echo-typo} not found";
    let problems = [
        report("RouteTable", "echo", "echo-routes", "Rejected", &[typo]),
        report(
            "VirtualService",
            "gloo-system",
            "app",
            "Rejected",
            &[&format!("on sub route table echo.echo-routes: {typo}")],
        ),
        report(
            "RouteTable",
            "foxtrot",
            "foxtrot-routes",
            "Warning",
            &["warning: child route dropped"],
        ),
    ];
    let (text, clean) = render(&problems, &[], false);
    assert!(!clean);
    assert_eq!(
        text,
        format!(
            "Checking settings... OK\n\
             Checking upstreams... OK\n\
             Checking endpoints... OK\n\
             Checking virtual services... 1 Errors!\n\
             \x20 VirtualService gloo-system app: Rejected\n\
             \x20   on sub route table echo.echo-routes: {typo}\n\
             Checking route tables... 1 Errors! 1 Warnings!\n\
             \x20 RouteTable echo echo-routes: Rejected\n\
             \x20   {typo}\n\
             \x20 RouteTable foxtrot foxtrot-routes: Warning\n\
             \x20   warning: child route dropped\n\
             Problems detected!\n"
        )
    );
}

#[test]
fn a_kind_this_client_does_not_know_still_shows() {
    let (text, clean) = render(
        &[report("Canary", "echo", "echo", "Rejected", &["bad"])],
        &[],
        false,
    );
    assert!(!clean);
    assert!(
        text.contains(
            "Checking other resources... 1 Errors!\n  Canary echo echo: Rejected\n    bad\n"
        ),
        "{text}"
    );
}

#[test]
fn files_of_a_watched_directory_get_their_own_section() {
    let (text, clean) = render(&[], &[], true);
    assert!(clean);
    assert!(
        text.starts_with("Checking files... OK\nChecking settings... OK\n"),
        "{text}"
    );

    let broken = report(
        "File",
        "",
        "team/rt.yaml",
        "Rejected",
        &["not valid YAML: ..."],
    );
    let (text, clean) = render(&[broken], &[], true);
    assert!(!clean);
    assert!(
        text.starts_with(
            "Checking files... 1 Errors!\n  File team/rt.yaml: Rejected\n    not valid YAML: ...\n"
        ),
        "{text}"
    );
    assert!(!text.contains("other resources"), "{text}");
}

#[test]
fn changes_held_back_by_another_resource_are_listed_with_what_holds_them() {
    let blocked = serde_json::json!({
        "kind": "RouteTable", "namespace": "foxtrot", "name": "foxtrot-routes",
        "state": "Accepted", "generation": 2, "servedGeneration": 1,
        "blockedBy": [
            {"kind": "RouteTable", "namespace": "echo", "name": "echo-routes",
             "reason": "Rejected", "cause": true},
            {"kind": "VirtualService", "namespace": "gloo-system", "name": "app",
             "reason": "serving its last known good", "cause": false}
        ]
    });
    let (text, clean) = render(&[], &[blocked], false);
    assert!(!clean);
    assert!(
        text.ends_with(
            "Checking what is served... 1 Blocked!\n  \
             RouteTable foxtrot foxtrot-routes: generation 2 is not served (generation 1 is): \
             blocked by RouteTable echo.echo-routes, Rejected; VirtualService gloo-system.app, \
             serving its last known good\n\
             Problems detected!\n"
        ),
        "{text}"
    );
}
