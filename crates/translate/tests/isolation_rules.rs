//! The rules that keep teams apart, one test each, with the exact messages: a child route is
//! guarded inside its parent, domains stay with their holder, and Settings decide who may hold
//! virtual services and delegate across namespaces.

mod common;

use common::{reasons, rt, snapshot_of, translate_fresh, vs};
use lockgate_api::Snapshot;
use lockgate_compiled::PathMatch;
use lockgate_translate::{Outcome, PolicyState, State, translate};

fn snapshot(yaml: &str) -> Snapshot {
    snapshot_of(yaml)
}

fn run(yaml: &str) -> Outcome {
    translate_fresh(&snapshot(yaml))
}

fn served(outcome: &Outcome) -> Vec<&str> {
    outcome
        .config
        .virtual_hosts
        .iter()
        .map(|v| v.name.as_str())
        .collect()
}

fn virtual_service(ns: &str, name: &str, extra_meta: &str, domains: &str, routes: &str) -> String {
    format!(
        "---\napiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {{name: {name}, namespace: {ns}{extra_meta}}}\nspec:\n  virtualHost:\n    domains: {domains}\n    routes:\n{routes}\n"
    )
}

fn table(ns: &str, name: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{spec}\n"
    )
}

fn settings(gateway: &str) -> String {
    format!(
        "---\napiVersion: gloo.solo.io/v1\nkind: Settings\nmetadata: {{name: default, namespace: gloo-system}}\nspec:\n  gateway: {gateway}\n"
    )
}

fn delegate(prefix: &str, ns: &str, name: &str) -> String {
    format!(
        "      - matchers: [{{prefix: {prefix}}}]\n        delegateAction: {{ref: {{name: {name}, namespace: {ns}}}}}"
    )
}

const DIRECT: &str = "directResponseAction: {status: 200, body: ok}";

fn direct_route(matcher: &str) -> String {
    format!("  routes:\n    - matchers: [{matcher}]\n      {DIRECT}")
}

#[test]
fn a_regex_child_that_may_escape_is_warned_about_and_served_guarded() {
    let out = run(&format!(
        "{}{}",
        virtual_service(
            "gloo-system",
            "app",
            "",
            "['*']",
            &delegate("/echo", "echo", "routes")
        ),
        table(
            "echo",
            "routes",
            &direct_route("{regex: '/echo|/foxtrot.*|/.*'}")
        )
    ));
    let warning = "spec.routes[0].matchers[0]: regex \"/echo|/foxtrot.*|/.*\" is not provably inside the parent route's prefix \"/echo\": it is served only where the parent route matches";
    assert_eq!(
        reasons(&out, &rt("echo.routes")),
        [format!("warning: {warning}")]
    );
    assert_eq!(
        reasons(&out, &vs("gloo-system.app")),
        [format!(
            "warning: on sub route table echo.routes: {warning}"
        )]
    );
    let route = &out.config.virtual_hosts[0].routes[0];
    assert_eq!(
        route.matcher.within,
        [PathMatch::Prefix {
            value: "/echo".into(),
            case_sensitive: true
        }]
    );
}

#[test]
fn a_regex_child_proven_inside_needs_no_guard() {
    let out = run(&format!(
        "{}{}",
        virtual_service(
            "gloo-system",
            "app",
            "",
            "['*']",
            &delegate("/echo", "echo", "routes")
        ),
        table(
            "echo",
            "routes",
            &direct_route("{regex: '/echo/(v1|v2)/[a-z]+'}")
        )
    ));
    assert_eq!(out.reports.state(&rt("echo.routes")), State::Accepted);
    assert!(
        out.config.virtual_hosts[0].routes[0]
            .matcher
            .within
            .is_empty()
    );
}

#[test]
fn a_case_insensitive_regex_under_a_case_sensitive_parent_is_guarded() {
    let out = run(&format!(
        "{}{}",
        virtual_service(
            "gloo-system",
            "app",
            "",
            "['*']",
            &delegate("/echo", "echo", "routes")
        ),
        table(
            "echo",
            "routes",
            &direct_route("{regex: '/echo/x', caseSensitive: false}")
        )
    ));
    assert_eq!(
        reasons(&out, &rt("echo.routes")),
        [
            "warning: spec.routes[0].matchers[0]: regex \"/echo/x\" is not provably inside the parent route's prefix \"/echo\": it is served only where the parent route matches"
        ]
    );
    assert_eq!(
        out.config.virtual_hosts[0].routes[0].matcher.within.len(),
        1
    );
}

#[test]
fn the_parents_headers_and_methods_are_compiled_into_the_child() {
    let parent = "      - matchers: [{prefix: /echo, headers: [{name: x-team, value: echo}], methods: [GET, POST]}]\n        inheritableMatchers: true\n        delegateAction: {ref: {name: routes, namespace: echo}}";
    let out = run(&format!(
        "{}{}",
        virtual_service("gloo-system", "app", "", "['*']", parent),
        table(
            "echo",
            "routes",
            &direct_route("{prefix: /echo/a, methods: [post]}")
        )
    ));
    let m = &out.config.virtual_hosts[0].routes[0].matcher;
    assert_eq!(m.methods, ["POST"]);
    assert_eq!(m.headers.len(), 1);
    assert_eq!(m.headers[0].name, "x-team");
}

#[test]
fn virtual_services_outside_the_allowed_namespaces_are_rejected_and_claim_nothing() {
    let ops = virtual_service(
        "gloo-system",
        "app",
        "",
        "['*']",
        &format!("      - matchers: [{{prefix: /}}]\n        {DIRECT}"),
    );
    let team = virtual_service(
        "echo",
        "grab",
        "",
        "['*']",
        &format!("      - matchers: [{{prefix: /}}]\n        {DIRECT}"),
    );
    let out = run(&format!("{ops}{team}"));
    assert_eq!(
        reasons(&out, &vs("echo.grab")),
        [
            "metadata.namespace: virtual services in namespace \"echo\" are not served: Settings gloo-system.default spec.gateway.virtualServiceNamespaces is [\"gloo-system\"]; add \"echo\" there to allow them"
        ]
    );
    assert_eq!(out.reports.state(&vs("gloo-system.app")), State::Accepted);
    assert_eq!(served(&out), ["gloo-system.app"]);

    let allowed = run(&format!(
        "{}{ops}{}",
        settings("{virtualServiceNamespaces: [gloo-system, echo]}"),
        team.replace("['*']", "[echo.example]")
    ));
    assert_eq!(allowed.reports.state(&vs("echo.grab")), State::Accepted);
    assert_eq!(served(&allowed), ["echo.grab", "gloo-system.app"]);
}

#[test]
fn a_refused_delegation_is_a_warning_on_the_delegator_only() {
    let foxtrot = table("foxtrot", "routes", &direct_route("{prefix: /foxtrot}"));
    let alone = run(&foxtrot);
    let echo = table(
        "echo",
        "routes",
        "  routes:\n    - matchers: [{prefix: /}]\n      delegateAction: {ref: {name: routes, namespace: foxtrot}}",
    );
    let out = run(&format!("{foxtrot}{echo}"));
    assert_eq!(
        reasons(&out, &rt("echo.routes")),
        [
            "warning: spec.routes[0].delegateAction.ref: delegation to route table foxtrot.routes refused: namespace \"echo\" may not delegate to other namespaces (Settings gloo-system.default spec.gateway.delegatingNamespaces is [\"gloo-system\"])"
        ]
    );
    assert_eq!(
        out.reports.get(&rt("foxtrot.routes")),
        alone.reports.get(&rt("foxtrot.routes"))
    );
    // Ops may allow it.
    let allowed = run(&format!(
        "{}{foxtrot}{echo}",
        settings("{delegatingNamespaces: [gloo-system, echo]}")
    ));
    assert_eq!(allowed.reports.state(&rt("echo.routes")), State::Accepted);
}

#[test]
fn a_route_table_can_refuse_delegation_from_other_namespaces() {
    let foxtrot = table(
        "foxtrot",
        "routes",
        &format!(
            "  acceptDelegationFrom: [ops-only]\n{}",
            direct_route("{prefix: /foxtrot}")
        ),
    );
    let by_ref = run(&format!(
        "{}{foxtrot}",
        virtual_service(
            "gloo-system",
            "app",
            "",
            "['*']",
            &delegate("/foxtrot", "foxtrot", "routes")
        )
    ));
    assert_eq!(
        reasons(&by_ref, &vs("gloo-system.app")),
        [
            "warning: spec.virtualHost.routes[0].delegateAction.ref: delegation to route table foxtrot.routes refused: it accepts delegation only from [\"ops-only\"] (its spec.acceptDelegationFrom)"
        ]
    );
    assert_eq!(by_ref.reports.state(&rt("foxtrot.routes")), State::Accepted);
    assert!(by_ref.config.virtual_hosts[0].routes.is_empty());

    // A selector simply does not pick it.
    let by_selector = run(&format!(
        "{}{foxtrot}",
        virtual_service(
            "gloo-system",
            "app",
            "",
            "['*']",
            "      - matchers: [{prefix: /}]\n        delegateAction: {selector: {namespaces: ['*']}}"
        )
    ));
    assert_eq!(
        reasons(&by_selector, &vs("gloo-system.app")),
        ["warning: spec.virtualHost.routes[0].delegateAction.selector: matches no route tables"]
    );
}

#[test]
fn a_selector_of_a_namespace_that_may_not_delegate_stays_in_its_namespace() {
    let out = run(&format!(
        "{}{}{}",
        table(
            "foxtrot",
            "routes, labels: {pick: 'yes'}",
            // Selected, it would be warned about for leaving /echo.
            &direct_route("{prefix: /elsewhere}")
        ),
        table(
            "echo",
            "mine, labels: {pick: 'yes'}",
            &direct_route("{prefix: /echo/mine}")
        ),
        table(
            "echo",
            "routes",
            "  routes:\n    - matchers: [{prefix: /echo}]\n      delegateAction: {selector: {namespaces: ['*'], labels: {pick: 'yes'}}}",
        )
    ));
    assert_eq!(
        reasons(&out, &rt("echo.routes")),
        [
            "warning: spec.routes[0].delegateAction.selector.namespaces: only route tables in namespace \"echo\" are selected: it may not delegate to other namespaces (Settings gloo-system.default spec.gateway.delegatingNamespaces is [\"gloo-system\"])"
        ]
    );
    assert_eq!(out.reports.state(&rt("foxtrot.routes")), State::Accepted);
    assert_eq!(out.reports.state(&rt("echo.mine")), State::Accepted);
}

fn claimant(name: &str, created: &str) -> String {
    virtual_service(
        "gloo-system",
        name,
        &format!(", creationTimestamp: '{created}'"),
        "[example.com]",
        &format!("      - matchers: [{{prefix: /}}]\n        {DIRECT}"),
    )
}

#[test]
fn the_oldest_claimant_gets_a_new_domain() {
    let out = run(&format!(
        "{}{}",
        claimant("aa-newer", "2026-12-01T10:00:00.000002Z"),
        claimant("zz-older", "2026-12-01T10:00:00.000001Z")
    ));
    assert_eq!(
        reasons(&out, &vs("gloo-system.aa-newer")),
        [
            "domain conflict: domain \"example.com\" is held by virtual service gloo-system.zz-older, the oldest claimant by metadata.creationTimestamp, then namespace and name"
        ]
    );
    assert_eq!(
        out.reports.state(&vs("gloo-system.zz-older")),
        State::Accepted
    );
    assert_eq!(served(&out), ["gloo-system.zz-older"]);
}

#[test]
fn the_virtual_service_that_served_a_domain_keeps_it() {
    let first = translate(
        &snapshot(&claimant("zz-first", "2026-12-01T10:00:00Z")),
        &PolicyState::default(),
    );
    // Older by its timestamp and first by name, but the domain is already served.
    let both = format!(
        "{}{}",
        claimant("zz-first", "2026-12-01T10:00:00Z"),
        claimant("aa-second", "2000-01-01T00:00:00Z")
    );
    let out = translate(&snapshot(&both), &first.state);
    assert_eq!(
        reasons(&out, &vs("gloo-system.aa-second")),
        [
            "domain conflict: domain \"example.com\" is held by virtual service gloo-system.zz-first, which served it first"
        ]
    );
    assert_eq!(
        out.reports.state(&vs("gloo-system.zz-first")),
        State::Accepted
    );
    assert_eq!(served(&out), ["gloo-system.zz-first"]);
}
