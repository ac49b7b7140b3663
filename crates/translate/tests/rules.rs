//! One test per translation rule, on small YAML configurations: delegation, selectors, weights,
//! inheritance, cycles.

mod common;

use common::*;
use lockgate_translate::State;

#[test]
fn delegation_by_ref_and_child_prefix() {
    let out = run(&format!(
        "{}{}",
        vs_delegating("{ref: {name: t, namespace: team}}"),
        table(
            "team",
            "t",
            "",
            &format!(
                "  routes:\n    - matchers: [{{prefix: /a/x}}]\n      {DIRECT}\n    - matchers: [{{exact: /a}}]\n      {DIRECT}"
            )
        )
    ));
    assert_eq!(
        routes(&out),
        ["prefix /a/x -> 200 ok", "exact /a -> 200 ok"],
        "a single table keeps its own order"
    );
    assert_eq!(out.reports.state(&vs("gloo-system.main")), State::Accepted);
}

#[test]
fn missing_ref_is_an_error() {
    let out = run(&vs_delegating("{ref: {name: nope, namespace: team}}"));
    assert_eq!(
        reasons(&out, &vs("gloo-system.main")),
        ["spec.virtualHost.routes[0].delegateAction.ref: route table team.nope not found"]
    );
    assert!(
        out.config.virtual_hosts.is_empty(),
        "never served: no last known good"
    );
}

#[test]
fn selector_defaults_to_owner_namespace_and_star_means_all() {
    let tables = format!(
        "{}{}",
        table(
            "gloo-system",
            "local",
            "",
            &format!("  routes:\n    - matchers: [{{prefix: /a/local}}]\n      {DIRECT}")
        ),
        table(
            "other",
            "far",
            "",
            &format!("  routes:\n    - matchers: [{{prefix: /a/far}}]\n      {DIRECT}")
        )
    );
    let own = run(&format!("{}{tables}", vs_delegating("{selector: {}}")));
    assert_eq!(routes(&own), ["prefix /a/local -> 200 ok"]);
    let all = run(&format!(
        "{}{tables}",
        vs_delegating("{selector: {namespaces: ['*']}}")
    ));
    assert_eq!(routes(&all).len(), 2);
}

#[test]
fn selector_labels_and_expressions() {
    let tables = format!(
        "{}{}{}",
        table(
            "t",
            "one",
            ", labels: {team: a, tier: '1'}",
            &format!("  routes:\n    - matchers: [{{prefix: /a/one}}]\n      {DIRECT}")
        ),
        table(
            "t",
            "two",
            ", labels: {team: a, tier: '3'}",
            &format!("  routes:\n    - matchers: [{{prefix: /a/two}}]\n      {DIRECT}")
        ),
        table(
            "t",
            "three",
            ", labels: {team: b}",
            &format!("  routes:\n    - matchers: [{{prefix: /a/three}}]\n      {DIRECT}")
        )
    );
    let out = run(&format!(
        "{}{tables}",
        vs_delegating(
            "{selector: {namespaces: [t], labels: {team: a}, expressions: [{key: tier, operator: GreaterThan, values: ['2']}]}}"
        )
    ));
    assert_eq!(routes(&out), ["prefix /a/two -> 200 ok"]);
}

#[test]
fn selector_matching_nothing_is_a_warning() {
    let out = run(&vs_delegating("{selector: {namespaces: [empty]}}"));
    assert_eq!(out.reports.state(&vs("gloo-system.main")), State::Warning);
    assert_eq!(
        reasons(&out, &vs("gloo-system.main")),
        ["warning: spec.virtualHost.routes[0].delegateAction.selector: matches no route tables"]
    );
    assert_eq!(
        out.config.virtual_hosts.len(),
        1,
        "warnings do not block serving"
    );
}

#[test]
fn weights_order_tables_and_equal_weights_merge_sorted() {
    let tables = format!(
        "{}{}{}",
        table(
            "t",
            "heavy",
            "",
            &format!("  weight: 10\n  routes:\n    - matchers: [{{prefix: /a}}]\n      {DIRECT}")
        ),
        table(
            "t",
            "light-b",
            "",
            &format!(
                "  weight: 1\n  routes:\n    - matchers: [{{prefix: /a/b}}]\n      {DIRECT}\n    - matchers: [{{prefix: /a/bbbb}}]\n      {DIRECT}"
            )
        ),
        table(
            "t",
            "light-a",
            "",
            &format!(
                "  weight: 1\n  routes:\n    - matchers: [{{prefix: /a/c}}]\n      {DIRECT}\n    - matchers: [{{exact: /a/x}}]\n      {DIRECT}\n    - matchers: [{{prefix: /a/d, methods: [GET]}}]\n      {DIRECT}"
            )
        )
    );
    let out = run(&format!(
        "{}{tables}",
        vs_delegating("{selector: {namespaces: [t]}}")
    ));
    assert_eq!(
        routes(&out),
        [
            "prefix /a/d [][\"GET\"] -> 200 ok",
            "exact /a/x -> 200 ok",
            "prefix /a/bbbb -> 200 ok",
            "prefix /a/c -> 200 ok",
            "prefix /a/b -> 200 ok",
            "prefix /a -> 200 ok",
        ]
    );
}

#[test]
fn child_outside_parent_is_dropped_with_a_warning_and_siblings_stay() {
    let out = run(&format!(
        "{}{}",
        vs_delegating("{ref: {name: t, namespace: team}}"),
        table(
            "team",
            "t",
            "",
            &format!(
                "  routes:\n    - matchers: [{{prefix: /elsewhere}}]\n      {DIRECT}\n    - matchers: [{{prefix: /a/ok}}]\n      {DIRECT}"
            )
        )
    ));
    assert_eq!(routes(&out), ["prefix /a/ok -> 200 ok"]);
    let warning = "spec.routes[0].matchers[0]: route dropped: prefix \"/elsewhere\" does not start with the parent route's prefix \"/a\"";
    assert_eq!(
        reasons(&out, &rt("team.t")),
        [format!("warning: {warning}")]
    );
    assert_eq!(
        reasons(&out, &vs("gloo-system.main")),
        [format!("warning: on sub route table team.t: {warning}")]
    );
    assert_eq!(out.reports.state(&rt("team.t")), State::Warning);
}

#[test]
fn headers_and_methods_must_be_carried_or_inherited() {
    let vs_with_header = |inherit: bool| {
        format!(
            r#"
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: main, namespace: gloo-system}}
spec:
  virtualHost:
    routes:
      - matchers: [{{prefix: /a, headers: [{{name: team, value: x}}], methods: [GET]}}]
        inheritableMatchers: {inherit}
        delegateAction: {{ref: {{name: t, namespace: team}}}}
"#
        )
    };
    let child = table(
        "team",
        "t",
        "",
        &format!("  routes:\n    - matchers: [{{prefix: /a/1}}]\n      {DIRECT}"),
    );
    let strict = run(&format!("{}{child}", vs_with_header(false)));
    assert!(routes(&strict).is_empty());
    assert!(
        reasons(&strict, &rt("team.t"))[0]
            .contains("does not carry the parent route's header matcher \"team\"")
    );
    let inherited = run(&format!("{}{child}", vs_with_header(true)));
    assert_eq!(
        routes(&inherited),
        ["prefix /a/1 [\"team\"][\"GET\"] -> 200 ok"]
    );
}

#[test]
fn child_without_matchers_takes_the_parent_prefix() {
    let out = run(&format!(
        "{}{}",
        vs_delegating("{ref: {name: t, namespace: team}}"),
        table("team", "t", "", &format!("  routes:\n    - {DIRECT}"))
    ));
    assert_eq!(routes(&out), ["prefix /a -> 200 ok"]);
}

#[test]
fn inheritable_path_matchers_replace_the_child_path() {
    let parent = r#"
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: main, namespace: gloo-system}
spec:
  virtualHost:
    routes:
      - matchers: [{prefix: /a}]
        inheritablePathMatchers: true
        delegateAction: {ref: {name: t, namespace: team}}
"#;
    let out = run(&format!(
        "{parent}{}",
        table(
            "team",
            "t",
            "",
            &format!(
                "  routes:\n    - matchers: [{{prefix: /zzz, headers: [{{name: h}}]}}]\n      {DIRECT}"
            )
        )
    ));
    assert_eq!(routes(&out), ["prefix /a [\"h\"][] -> 200 ok"]);
}

#[test]
fn cycles_name_the_whole_chain() {
    let out = run(&format!(
        "{}{}{}",
        vs_delegating("{ref: {name: x, namespace: ns}}"),
        table(
            "ns",
            "x",
            "",
            "  routes:\n    - matchers: [{prefix: /a/b}]\n      delegateAction: {ref: {name: y, namespace: ns}}"
        ),
        table(
            "ns",
            "y",
            "",
            "  routes:\n    - matchers: [{prefix: /a/b/c}]\n      delegateAction: {ref: {name: x, namespace: ns}}"
        )
    ));
    let cycle =
        "spec.routes[0].delegateAction: delegation cycle detected: [ns.x] -> [ns.y] -> [ns.x]";
    assert_eq!(reasons(&out, &rt("ns.y")), [cycle]);
    assert_eq!(
        reasons(&out, &vs("gloo-system.main")),
        [format!("on sub route table ns.y: {cycle}")]
    );
    assert_eq!(out.reports.state(&vs("gloo-system.main")), State::Rejected);
}

#[test]
fn deep_delegation_is_allowed() {
    let mut yaml = vs_delegating("{ref: {name: t0, namespace: deep}}");
    let mut prefix = "/a".to_string();
    for i in 0..20 {
        prefix.push_str("/x");
        let spec = format!(
            "  routes:\n    - matchers: [{{prefix: {prefix}}}]\n      delegateAction: {{ref: {{name: t{}, namespace: deep}}}}",
            i + 1
        );
        yaml.push_str(&table("deep", &format!("t{i}"), "", &spec));
    }
    yaml.push_str(&table(
        "deep",
        "t20",
        "",
        &format!("  routes:\n    - matchers: [{{prefix: {prefix}/end}}]\n      {DIRECT}"),
    ));
    let out = run(&yaml);
    assert_eq!(routes(&out), [format!("prefix {prefix}/end -> 200 ok")]);
    assert!(!out.reports.any_rejected());
}

#[test]
fn delegating_route_needs_one_prefix_matcher() {
    let parent = r#"
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: main, namespace: gloo-system}
spec:
  virtualHost:
    routes:
      - matchers: [{exact: /a}]
        delegateAction: {selector: {}}
"#;
    let out = run(parent);
    assert_eq!(
        reasons(&out, &vs("gloo-system.main")),
        [
            "spec.virtualHost.routes[0].matchers: a delegating route needs exactly one prefix matcher (or none, for \"/\")"
        ]
    );
}

#[test]
fn weights_summing_to_zero_are_an_error() {
    let parent = r#"
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: main, namespace: gloo-system}
spec:
  virtualHost:
    routes:
      - matchers: [{prefix: /}]
        routeAction:
          multi:
            destinations:
              - destination: {upstream: {name: app, namespace: gloo-system}, subset: {values: {version: v1}}}
              - destination: {upstream: {name: app, namespace: gloo-system}, subset: {values: {version: v2}}}
                weight: 0
"#;
    let out = run(parent);
    assert_eq!(
        reasons(&out, &vs("gloo-system.main")),
        [
            "spec.virtualHost.routes[0].routeAction.multi.destinations: the weights sum to 0; at least one destination needs a weight of 1 or more"
        ]
    );
}
