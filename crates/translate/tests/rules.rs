//! One test per translation rule, on small YAML configurations.

mod common;

use common::{key, reasons, rt, snapshot_of, translate_fresh, vs};
use lockgate_api::{Kind, Snapshot, Undecodable};
use lockgate_compiled::{Action, PathMatch, Target};
use lockgate_translate::{Outcome, PolicyState, State, translate};

const UPSTREAMS: &str = r#"
apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: app, namespace: gloo-system}
spec:
  kube:
    selector: {app: app}
    serviceNamespace: apps
    subsetSpec: {selectors: [{keys: [version]}]}
---
apiVersion: gloo.solo.io/v1
kind: Endpoint
metadata: {name: app-v1, namespace: apps, labels: {app: app, version: v1}}
spec: {address: 127.0.0.1, port: 9001}
---
apiVersion: gloo.solo.io/v1
kind: Endpoint
metadata: {name: app-v2, namespace: apps, labels: {app: app, version: v2}}
spec: {address: 127.0.0.1, port: 9002}
---
apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: static, namespace: gloo-system}
spec: {static: {hosts: [{addr: 127.0.0.1, port: 9009}]}}
"#;

fn snapshot(yaml: &str) -> Snapshot {
    snapshot_of(&format!("{UPSTREAMS}\n---\n{yaml}"))
}

fn run(yaml: &str) -> Outcome {
    translate_fresh(&snapshot(yaml))
}

/// The served routes as `path -> action` lines, for compact assertions.
fn routes(outcome: &Outcome) -> Vec<String> {
    let config = &outcome.config;
    config
        .virtual_hosts
        .iter()
        .flat_map(|vh| vh.routes.iter())
        .map(|r| {
            let path = match &r.matcher.path {
                PathMatch::Prefix { value, .. } => format!("prefix {value}"),
                PathMatch::Exact { value, .. } => format!("exact {value}"),
                PathMatch::Regex(p) => format!("regex {}", p.as_str()),
            };
            let extra = if r.matcher.headers.is_empty() && r.matcher.methods.is_empty() {
                String::new()
            } else {
                let h: Vec<&str> = r.matcher.headers.iter().map(|h| h.name.as_str()).collect();
                format!(" {h:?}{:?}", r.matcher.methods)
            };
            let action = match &r.action {
                Action::DirectResponse { status, body } => format!("{status} {body}"),
                Action::Redirect(rd) => format!("redirect {}", rd.status),
                Action::Forward(f) => f
                    .destinations
                    .iter()
                    .map(|d| match &d.target {
                        Target::Cluster(id) => format!("{}:{}", d.weight, config.cluster(*id).key),
                        Target::Invalid { status, .. } => format!("{}:invalid{status}", d.weight),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            };
            format!("{path}{extra} -> {action}")
        })
        .collect()
}

fn vs_delegating(selector: &str) -> String {
    format!(
        r#"
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: main, namespace: gloo-system}}
spec:
  virtualHost:
    domains: ['*']
    routes:
      - matchers: [{{prefix: /a}}]
        delegateAction: {selector}
"#
    )
}

fn table(ns: &str, name: &str, extra_meta: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {{name: {name}, namespace: {ns}{extra_meta}}}\nspec:\n{spec}\n"
    )
}

const DIRECT: &str = "directResponseAction: {status: 200, body: ok}";

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

#[test]
fn replace_invalid_routes_keeps_valid_destinations_and_weights() {
    let yaml = r#"
apiVersion: gloo.solo.io/v1
kind: Settings
metadata: {name: default, namespace: gloo-system}
spec: {gloo: {invalidConfigPolicy: {replaceInvalidRoutes: true, invalidRouteResponseCode: 503, invalidRouteResponseBody: broken}}}
---
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: main, namespace: gloo-system}
spec:
  virtualHost:
    routes:
      - matchers: [{prefix: /w}]
        routeAction:
          multi:
            destinations:
              - destination: {upstream: {name: app, namespace: gloo-system}, subset: {values: {version: v1}}}
                weight: 30
              - destination: {upstream: {name: typo, namespace: gloo-system}}
                weight: 70
      - matchers: [{prefix: /s}]
        routeAction: {single: {upstream: {name: typo, namespace: gloo-system}}}
      - matchers: [{prefix: /}]
        routeAction: {single: {upstream: {name: static, namespace: gloo-system}}}
"#;
    let out = run(yaml);
    assert_eq!(
        routes(&out),
        [
            "prefix /w -> 30:gloo-system.app{version=v1},70:invalid503",
            "prefix /s -> 503 broken",
            "prefix / -> 1:gloo-system.static",
        ]
    );
}

#[test]
fn last_known_good_per_virtual_service() {
    let good = r#"
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: main, namespace: gloo-system}
spec: {virtualHost: {domains: [a.example.com], routes: [{matchers: [{prefix: /}], routeAction: {single: {upstream: {name: static, namespace: gloo-system}}}}]}}
---
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: other, namespace: gloo-system}
spec: {virtualHost: {domains: [b.example.com], routes: [{matchers: [{prefix: /}], directResponseAction: {status: 200, body: v1}}]}}
"#;
    let first = run(good);
    let bad = good
        .replace("name: static", "name: typo")
        .replace("body: v1", "body: v2");
    let second = translate(&snapshot(&bad), &first.state);
    assert_eq!(
        second.reports.state(&vs("gloo-system.main")),
        State::Rejected
    );
    assert_eq!(
        routes(&second),
        ["prefix / -> 1:gloo-system.static", "prefix / -> 200 v2"],
        "main frozen, other moves on"
    );
    // The frozen host follows today's endpoints of its upstream.
    let mut moved = snapshot(&bad);
    let upstream = std::sync::Arc::make_mut(
        moved
            .upstreams
            .get_mut(&("gloo-system".into(), "static".into()))
            .unwrap(),
    );
    upstream.spec.static_.as_mut().unwrap().hosts[0].port = 9010;
    let third = translate(&moved, &second.state);
    let cluster = &third.config.clusters[0];
    assert_eq!(cluster.endpoints[0].port(), 9010);
}

#[test]
fn domain_conflicts_reject_only_the_newcomer() {
    let yaml = r#"
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: one, namespace: gloo-system}
spec: {virtualHost: {domains: [example.com], routes: []}}
---
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: two, namespace: gloo-system}
spec: {virtualHost: {domains: [Example.com, 'bad domain'], routes: []}}
"#;
    let out = run(yaml);
    // No creation times (as from the directory store): namespace and name decide.
    assert_eq!(reasons(&out, &vs("gloo-system.one")), Vec::<String>::new());
    let two = reasons(&out, &vs("gloo-system.two"));
    assert!(
        two.iter()
            .any(|r| r.starts_with("spec.virtualHost.domains[1]: \"bad domain\" is not a domain")),
        "{two:?}"
    );
    assert!(two.contains(&"domain conflict: domain \"example.com\" is held by virtual service gloo-system.one, the oldest claimant by metadata.creationTimestamp, then namespace and name".to_string()), "{two:?}");
    let served: Vec<&str> = out
        .config
        .virtual_hosts
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(served, ["gloo-system.one"]);
}

#[test]
fn redirects_direct_responses_and_options() {
    let yaml = r#"
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: main, namespace: gloo-system}
spec:
  virtualHost:
    routes:
      - matchers: [{prefix: /old}]
        redirectAction: {pathRedirect: /new, responseCode: FOUND}
      - matchers: [{prefix: /api}]
        routeAction: {single: {upstream: {name: static, namespace: gloo-system}}}
        options:
          prefixRewrite: /v2
          timeout: 2s
          retries: {retryOn: 'connect-failure,5xx', numRetries: 2, perTryTimeout: 0.5s}
          headerManipulation: {requestHeadersToAdd: [{header: {key: X-Team, value: a}, append: false}], responseHeadersToRemove: [server]}
      - matchers: [{regex: '/r/[0-9]+'}]
        directResponseAction: {status: 418}
"#;
    let out = run(yaml);
    assert_eq!(
        routes(&out),
        [
            "prefix /old -> redirect 302",
            "prefix /api -> 1:gloo-system.static",
            "regex /r/[0-9]+ -> 418 "
        ]
    );
    let options = &out.config.virtual_hosts[0].routes[1].options;
    assert_eq!(options.prefix_rewrite.as_deref(), Some("/v2"));
    assert_eq!(options.timeout_ms, Some(2000));
    let retries = options.retries.as_ref().unwrap();
    assert_eq!(
        (retries.attempts, retries.per_try_timeout_ms),
        (2, Some(500))
    );
    assert_eq!(options.request_headers_to_add[0].name, "x-team");
    assert!(!options.request_headers_to_add[0].append);
}

#[test]
fn child_options_override_parent_options() {
    let parent = r#"
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: main, namespace: gloo-system}
spec:
  virtualHost:
    routes:
      - matchers: [{prefix: /a}]
        options: {timeout: 5s, prefixRewrite: /parent}
        delegateAction: {ref: {name: t, namespace: team}}
"#;
    let out = run(&format!(
        "{parent}{}",
        table(
            "team",
            "t",
            "",
            "  routes:\n    - matchers: [{prefix: /a/x}]\n      options: {timeout: 1s}\n      routeAction: {single: {upstream: {name: static, namespace: gloo-system}}}"
        )
    ));
    let options = &out.config.virtual_hosts[0].routes[0].options;
    assert_eq!(
        (options.timeout_ms, options.prefix_rewrite.as_deref()),
        (Some(1000), Some("/parent"))
    );
}

#[test]
fn subsets_fall_back_as_the_upstream_says() {
    let route_to = |version: &str| {
        format!(
            r#"
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: main, namespace: gloo-system}}
spec: {{virtualHost: {{routes: [{{matchers: [{{prefix: /}}], routeAction: {{single: {{upstream: {{name: app, namespace: gloo-system}}, subset: {{values: {{version: {version}}}}}}}}}}}]}}}}
"#
        )
    };
    let ports = |out: &Outcome| {
        out.config.clusters[0]
            .endpoints
            .iter()
            .map(|e| e.port())
            .collect::<Vec<_>>()
    };
    assert_eq!(ports(&run(&route_to("v2"))), [9002]);
    assert_eq!(
        ports(&run(&route_to("v9"))),
        [9001, 9002],
        "ANY_ENDPOINT by default"
    );
    let mut no_fallback = snapshot(&route_to("v9"));
    let upstream = std::sync::Arc::make_mut(
        no_fallback
            .upstreams
            .get_mut(&("gloo-system".into(), "app".into()))
            .unwrap(),
    );
    upstream
        .spec
        .kube
        .as_mut()
        .unwrap()
        .subset_spec
        .as_mut()
        .unwrap()
        .fallback_policy = Some(lockgate_api::FallbackPolicy::NoFallback);
    let out = translate(&no_fallback, &PolicyState::default());
    assert!(
        out.config.clusters[0].endpoints.is_empty(),
        "NO_FALLBACK: 503 rather than the wrong version"
    );
}

#[test]
fn subset_keys_must_be_declared() {
    let yaml = r#"
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: main, namespace: gloo-system}
spec: {virtualHost: {routes: [{matchers: [{prefix: /}], routeAction: {single: {upstream: {name: static, namespace: gloo-system}, subset: {values: {version: v1}}}}}]}}
"#;
    let r = reasons(&run(yaml), &vs("gloo-system.main"));
    assert!(
        r[0].contains("upstream gloo-system.static declares no subsetSpec"),
        "{r:?}"
    );
}

#[test]
fn undecodable_route_table_blocks_like_an_invalid_one() {
    let mut snap = snapshot(&vs_delegating(
        "{selector: {namespaces: [team], labels: {team: a}}}",
    ));
    snap.insert_undecodable(
        rt("team.t"),
        Undecodable {
            labels: [("team".to_string(), "a".to_string())].into(),
            errors: vec!["spec.routes[0].matchers[0].prefx: unknown field `prefx`".into()],
        },
    );
    let out = translate(&snap, &PolicyState::default());
    assert_eq!(
        reasons(&out, &rt("team.t")),
        ["spec.routes[0].matchers[0].prefx: unknown field `prefx`"]
    );
    assert_eq!(out.reports.state(&vs("gloo-system.main")), State::Rejected);
    snap.settings
        .spec
        .gloo
        .invalid_config_policy
        .replace_invalid_routes = Some(true);
    let replaced = translate(&snap, &PolicyState::default());
    assert_eq!(
        routes(&replaced)[0],
        format!(
            "prefix /a -> 404 {}",
            lockgate_api::DEFAULT_INVALID_ROUTE_BODY
        )
    );
}

#[test]
fn keep_last_valid_falls_back_to_replacement_without_a_valid_generation() {
    let yaml = format!(
        "---\napiVersion: gloo.solo.io/v1\nkind: Settings\nmetadata: {{name: default, namespace: gloo-system}}\nspec: {{gloo: {{invalidConfigPolicy: {{keepLastValid: true}}}}}}\n---\n{}{}",
        vs_delegating("{ref: {name: t, namespace: team}}"),
        table(
            "team",
            "t",
            "",
            "  routes:\n    - matchers: [{prefix: /a}]\n      routeAction: {single: {upstream: {name: typo, namespace: gloo-system}}}"
        )
    );
    let out = run(&yaml);
    assert_eq!(
        routes(&out),
        [format!(
            "prefix /a -> 404 {}",
            lockgate_api::DEFAULT_INVALID_ROUTE_BODY
        )]
    );
}

#[test]
fn unreached_route_tables_are_still_checked() {
    let out = run(&table(
        "team",
        "t",
        "",
        "  routes:\n    - matchers: [{prefix: /a}]\n      routeAction: {single: {upstream: {name: typo, namespace: gloo-system}}}",
    ));
    assert_eq!(out.reports.state(&rt("team.t")), State::Rejected);
}

#[test]
fn invalid_endpoints_and_upstreams_are_reported() {
    let yaml = r#"
apiVersion: gloo.solo.io/v1
kind: Endpoint
metadata: {name: bad, namespace: apps, labels: {app: app}}
spec: {address: not-an-ip, port: 0}
---
apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: empty, namespace: gloo-system}
spec: {}
"#;
    let out = run(yaml);
    let ep = reasons(&out, &key(Kind::Endpoint, "apps.bad"));
    assert_eq!(
        ep,
        [
            "spec.address: \"not-an-ip\" is not an IP address",
            "spec.port: must be between 1 and 65535"
        ]
    );
    assert_eq!(
        reasons(&out, &key(Kind::Upstream, "gloo-system.empty")),
        ["spec: set either static or kube"]
    );
}

#[test]
fn undecodable_virtual_service_keeps_its_last_known_good() {
    let yaml = r#"
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: main, namespace: gloo-system}
spec: {virtualHost: {routes: [{matchers: [{prefix: /}], directResponseAction: {status: 200, body: ok}}]}}
"#;
    for settings in [None, Some("replaceInvalidRoutes"), Some("keepLastValid")] {
        let mut snap = snapshot(yaml);
        if let Some(policy) = settings {
            let p = &mut snap.settings.spec.gloo.invalid_config_policy;
            if policy == "keepLastValid" {
                p.keep_last_valid = Some(true);
            } else {
                p.replace_invalid_routes = Some(true);
            }
        }
        let first = translate(&snap, &PolicyState::default());
        snap.remove(&vs("gloo-system.main"));
        snap.insert_undecodable(
            vs("gloo-system.main"),
            Undecodable {
                labels: Default::default(),
                errors: vec!["spec.virtualHost.routez: unknown field `routez`".into()],
            },
        );
        let second = translate(&snap, &first.state);
        assert_eq!(
            second.reports.state(&vs("gloo-system.main")),
            State::Rejected,
            "{settings:?}"
        );
        assert_eq!(
            routes(&second),
            ["prefix / -> 200 ok"],
            "{settings:?}: still served"
        );
    }
}

#[test]
fn persisted_state_leaves_out_what_the_store_holds() {
    let good = format!(
        "{}{}",
        vs_delegating("{ref: {name: t, namespace: team}}"),
        table(
            "team",
            "t",
            "",
            &format!("  routes:\n    - matchers: [{{prefix: /a}}]\n      {DIRECT}")
        )
    );
    let first = run(&good);
    let snap = snapshot(&good);
    let kept = first.state.persistable(&snap);
    assert!(
        kept.last_valid_route_tables.is_empty(),
        "valid tables are in the store already"
    );
    assert!(kept.last_valid_virtual_services.is_empty());

    let bad = good.replace(
        DIRECT,
        "routeAction: {single: {upstream: {name: typo, namespace: gloo-system}}}",
    );
    let bad_snap = snapshot(&bad);
    let second = translate(&bad_snap, &first.state);
    let kept = second.state.persistable(&bad_snap);
    assert_eq!(
        kept.last_valid_route_tables.keys().collect::<Vec<_>>(),
        ["team.t"],
        "the older valid generation is kept"
    );
    // Restoring from the pruned state serves the same.
    let restored: PolicyState =
        serde_json::from_str(&serde_json::to_string(&kept).unwrap()).unwrap();
    let mut with_keep = bad_snap.clone();
    with_keep
        .settings
        .spec
        .gloo
        .invalid_config_policy
        .keep_last_valid = Some(true);
    assert_eq!(
        routes(&translate(&with_keep, &restored)),
        routes(&translate(&with_keep, &second.state)),
    );
}
