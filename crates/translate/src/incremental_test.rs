use std::sync::Arc;

use lockgate_api::{Document, Kind, ResourceKey, Snapshot};

use super::*;
use crate::translate;

const UPSTREAM: &str = "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: app, namespace: gloo-system}\nspec: {kube: {selector: {app: app}, serviceNamespace: apps, subsetSpec: {selectors: [{keys: [version]}]}}}\n";

fn resources(yaml: &str) -> Vec<lockgate_api::Resource> {
    lockgate_api::decode_documents(yaml)
        .into_iter()
        .map(|d| match d.unwrap_or_else(|e| panic!("{e}")) {
            Document::Resource(r) => r,
            Document::Skipped(s) => panic!("{s}"),
        })
        .collect()
}

fn table(team: usize, body: &str) -> String {
    format!(
        "---\napiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {{name: t, namespace: team{team}, labels: {{team: 'yes'}}}}\nspec:\n  routes:\n    - matchers: [{{prefix: /a/{team}}}]\n      {body}\n"
    )
}

fn forward() -> &'static str {
    "routeAction: {single: {upstream: {name: app, namespace: gloo-system}, subset: {values: {version: v1}}}}"
}

/// One virtual service delegating by selector (under `prefix`) to three leaf tables.
fn snapshot(prefix: &str) -> Snapshot {
    let mut yaml = format!(
        "{UPSTREAM}---\napiVersion: gloo.solo.io/v1\nkind: Endpoint\nmetadata: {{name: v1, namespace: apps, labels: {{app: app, version: v1}}}}\nspec: {{address: 127.0.0.1, port: 9001}}\n---\napiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {{name: main, namespace: gloo-system}}\nspec: {{virtualHost: {{domains: ['*'], routes: [{{matchers: [{{prefix: {prefix}}}], delegateAction: {{selector: {{namespaces: ['*'], labels: {{team: 'yes'}}}}}}}}]}}}}\n"
    );
    for team in 0..3 {
        yaml.push_str(&table(team, forward()));
    }
    Snapshot::from_resources(resources(&yaml))
}

fn replace(snapshot: &Snapshot, yaml: &str) -> Snapshot {
    let mut next = snapshot.clone();
    for r in resources(yaml) {
        next.insert(r);
    }
    next
}

/// Translates with `translator` and checks the outcome against a fresh translation.
fn check(translator: &mut Translator, snapshot: &Snapshot) -> Outcome {
    let previous = PolicyState::default();
    let got = translator.translate(snapshot, &previous);
    assert_eq!(got, translate(snapshot, &previous));
    got
}

fn hits_and_misses(translator: &Translator) -> (usize, usize) {
    (translator.leaves.hits, translator.leaves.misses)
}

#[test]
fn unchanged_tables_are_replayed_and_a_changed_one_walked() {
    let mut translator = Translator::default();
    let first = snapshot("/");
    check(&mut translator, &first);
    assert_eq!(hits_and_misses(&translator), (0, 3));
    check(&mut translator, &first);
    assert_eq!(hits_and_misses(&translator), (3, 0));
    let edited = replace(
        &first,
        &table(1, "directResponseAction: {status: 200, body: x}"),
    );
    check(&mut translator, &edited);
    assert_eq!(hits_and_misses(&translator), (2, 1));
}

/// Routes of `a` and `b`'s one virtual host: whether each is the same `Arc`.
fn shared_routes(a: &Outcome, b: &Outcome) -> Vec<bool> {
    let (a, b) = (
        &a.config.virtual_hosts[0].routes,
        &b.config.virtual_hosts[0].routes,
    );
    a.iter().zip(b).map(|(x, y)| Arc::ptr_eq(x, y)).collect()
}

#[test]
fn unchanged_routes_are_shared_between_outcomes_and_a_changed_one_is_new() {
    let mut translator = Translator::default();
    let first = snapshot("/");
    let before = check(&mut translator, &first);
    let again = check(&mut translator, &first);
    assert_eq!(shared_routes(&before, &again), [true, true, true]);
    let edited = replace(
        &first,
        &table(1, "directResponseAction: {status: 200, body: x}"),
    );
    let after = check(&mut translator, &edited);
    assert_eq!(shared_routes(&again, &after), [true, false, true]);
    // A new upstream numbers clusters anew: no route is taken from the last outcome.
    let renumbered = replace(
        &edited,
        "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: aaa, namespace: a}\nspec: {static: {hosts: [{addr: 127.0.0.1, port: 1}]}}\n---\napiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {name: t, namespace: team9, labels: {team: 'yes'}}\nspec: {routes: [{matchers: [{prefix: /a/9}], routeAction: {single: {upstream: {name: aaa, namespace: a}}}}]}\n",
    );
    let last = check(&mut translator, &renumbered);
    assert_eq!(last.config.clusters.len(), 2, "{:?}", last.config.clusters);
    assert!(shared_routes(&after, &last).iter().all(|s| !s));
}

#[test]
fn an_equal_copy_of_a_table_hits_like_the_shared_one() {
    let mut translator = Translator::default();
    let first = snapshot("/");
    check(&mut translator, &first);
    // Decoded again: new `Arc`s with the same content, as after a directory rescan.
    check(&mut translator, &snapshot("/"));
    assert_eq!(hits_and_misses(&translator), (3, 0));
}

#[test]
fn another_parent_walks_the_tables_again() {
    let mut translator = Translator::default();
    check(&mut translator, &snapshot("/"));
    check(&mut translator, &snapshot("/a"));
    assert_eq!(hits_and_misses(&translator), (0, 3));
}

#[test]
fn an_upstream_change_drops_every_remembered_walk() {
    let mut translator = Translator::default();
    let first = snapshot("/");
    check(&mut translator, &first);
    // The subset is no longer declared: every remembered destination would be wrong.
    let changed = replace(
        &first,
        "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: app, namespace: gloo-system}\nspec: {kube: {selector: {app: app}, serviceNamespace: apps}}\n",
    );
    let outcome = check(&mut translator, &changed);
    assert_eq!(hits_and_misses(&translator), (0, 3));
    assert!(outcome.reports.any_rejected());
}

#[test]
fn endpoints_and_settings_do_not_touch_leaf_walks() {
    let mut translator = Translator::default();
    let first = snapshot("/");
    check(&mut translator, &first);
    let moved = replace(
        &first,
        "apiVersion: gloo.solo.io/v1\nkind: Endpoint\nmetadata: {name: v1, namespace: apps, labels: {app: app, version: v1}}\nspec: {address: 127.0.0.2, port: 9001}\n---\napiVersion: gloo.solo.io/v1\nkind: Settings\nmetadata: {name: default, namespace: gloo-system}\nspec: {gloo: {invalidConfigPolicy: {replaceInvalidRoutes: true}}}\n",
    );
    let outcome = check(&mut translator, &moved);
    assert_eq!(hits_and_misses(&translator), (3, 0));
    let addresses = &outcome.config.clusters[0].endpoints;
    assert_eq!(addresses[0].ip().to_string(), "127.0.0.2");
}

#[test]
fn a_delegating_table_is_walked_but_its_leaf_children_hit() {
    let mut translator = Translator::default();
    let middle = "---\napiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {name: middle, namespace: team0, labels: {team: 'yes'}}\nspec:\n  routes:\n    - matchers: [{prefix: /a/m}]\n      delegateAction: {ref: {name: leaf, namespace: team0}}\n---\napiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {name: leaf, namespace: team0}\nspec:\n  routes:\n    - matchers: [{prefix: /a/m/x}]\n      directResponseAction: {status: 200, body: leaf}\n";
    let first = replace(&snapshot("/"), middle);
    check(&mut translator, &first);
    // The three leaves under the virtual service, and `leaf` under `middle`.
    assert_eq!(hits_and_misses(&translator), (0, 4));
    check(&mut translator, &first);
    assert_eq!(hits_and_misses(&translator), (4, 0));
}

#[test]
fn removed_tables_are_forgotten() {
    let mut translator = Translator::default();
    let first = snapshot("/");
    check(&mut translator, &first);
    assert_eq!(translator.remembered_routes(), 3);
    let mut smaller = first.clone();
    smaller.remove(&ResourceKey::new(Kind::RouteTable, "team2", "t"));
    check(&mut translator, &smaller);
    assert_eq!(translator.remembered_routes(), 2);
}

#[test]
fn problems_of_a_remembered_table_are_reported_again() {
    let mut translator = Translator::default();
    let broken = replace(
        &snapshot("/"),
        &table(
            1,
            "routeAction: {single: {upstream: {name: typo, namespace: gloo-system}}}",
        ),
    );
    check(&mut translator, &broken);
    let again = check(&mut translator, &broken);
    assert_eq!(hits_and_misses(&translator), (3, 0));
    let key = ResourceKey::new(Kind::RouteTable, "team1", "t");
    assert!(again.reports.get(&key).is_some_and(|r| r.has_errors()));
    let service = ResourceKey::new(Kind::VirtualService, "gloo-system", "main");
    assert!(again.reports.get(&service).is_some_and(|r| r.has_errors()));
}

#[test]
fn keep_last_valid_translates_its_substitute_from_the_cache_too() {
    let policy = "---\napiVersion: gloo.solo.io/v1\nkind: Settings\nmetadata: {name: default, namespace: gloo-system}\nspec: {gloo: {invalidConfigPolicy: {keepLastValid: true}}}\n";
    let mut translator = Translator::default();
    let valid = replace(&snapshot("/"), policy);
    let first = translator.translate(&valid, &PolicyState::default());
    let broken = replace(
        &valid,
        &table(
            1,
            "routeAction: {single: {upstream: {name: typo, namespace: gloo-system}}}",
        ),
    );
    let outcome = translator.translate(&broken, &first.state);
    assert_eq!(outcome, translate(&broken, &first.state));
    // The first pass walks the broken table; the substituted one replays its valid generation.
    assert_eq!(hits_and_misses(&translator), (2 + 3, 1));
}

#[test]
fn the_interner_is_rebuilt_when_it_holds_far_more_than_is_served() {
    let mut translator = Translator::default();
    let first = snapshot("/");
    check(&mut translator, &first);
    for n in 0..=SPARE_CLUSTERS + 8 {
        let key = lockgate_compiled::ClusterKey {
            upstream_namespace: "gone".into(),
            upstream_name: format!("u{n}"),
            subset: Default::default(),
        };
        translator.clusters.intern(key);
    }
    check(&mut translator, &first);
    // Rebuilt: only what this translation interned, and every table walked afresh.
    assert_eq!(translator.interned_clusters(), 1);
    assert_eq!(hits_and_misses(&translator), (0, 3));
    assert!(Arc::ptr_eq(
        &translator.upstreams[&("gloo-system".to_string(), "app".to_string())],
        &first.upstreams[&("gloo-system".to_string(), "app".to_string())]
    ));
}
