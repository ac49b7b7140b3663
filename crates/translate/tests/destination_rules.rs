//! One test per translation rule, on small YAML configurations: destinations, subsets, options,
//! domains, undecodable resources and the invalid-configuration policies.

mod common;

use common::*;
use lockgate_api::{Kind, Undecodable};
use lockgate_translate::{Outcome, PolicyState, State, translate};

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
fn use_http2_reaches_every_cluster_of_its_upstream_subsets_included() {
    let yaml = r#"
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: main, namespace: gloo-system}
spec:
  virtualHost:
    routes:
      - matchers: [{prefix: /v1}]
        routeAction: {single: {upstream: {name: app, namespace: gloo-system}, subset: {values: {version: v1}}}}
      - matchers: [{prefix: /any}]
        routeAction: {single: {upstream: {name: app, namespace: gloo-system}}}
      - matchers: [{prefix: /}]
        routeAction: {single: {upstream: {name: static, namespace: gloo-system}}}
"#;
    let http2 = |out: &Outcome| {
        out.config
            .clusters
            .iter()
            .map(|c| (c.key.to_string(), c.http2))
            .collect::<Vec<_>>()
    };
    let unset = run(yaml);
    assert!(
        http2(&unset).iter().all(|(_, on)| !on),
        "{:?}",
        http2(&unset)
    );
    let mut on = snapshot(yaml);
    let upstream = std::sync::Arc::make_mut(
        on.upstreams
            .get_mut(&("gloo-system".into(), "app".into()))
            .unwrap(),
    );
    upstream.spec.use_http2 = Some(true);
    let mut clusters = http2(&translate(&on, &PolicyState::default()));
    clusters.sort();
    assert_eq!(
        clusters,
        [
            ("gloo-system.app".to_string(), true),
            ("gloo-system.app{version=v1}".to_string(), true),
            ("gloo-system.static".to_string(), false),
        ]
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
