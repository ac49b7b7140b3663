use lockgate_api::{Document, Kind, ResourceKey, Snapshot};

use super::*;
use crate::{Outcome, PolicyState, translate};

fn snapshot_of(yaml: &str) -> Snapshot {
    let mut snapshot = Snapshot::default();
    for doc in lockgate_api::decode_documents(yaml) {
        match doc.unwrap_or_else(|e| panic!("{e}")) {
            Document::Resource(r) => snapshot.insert(r),
            Document::Skipped(s) => panic!("{s}"),
        }
    }
    snapshot
}

fn key(kind: Kind, qualified: &str) -> ResourceKey {
    let (ns, name) = qualified.split_once('.').unwrap();
    ResourceKey::new(kind, ns, name)
}

fn vs(name: &str) -> ResourceKey {
    key(Kind::VirtualService, name)
}

fn rt(name: &str) -> ResourceKey {
    key(Kind::RouteTable, name)
}

const UPSTREAM: &str = r#"
apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: app, namespace: gloo-system, generation: 1}
spec: {static: {hosts: [{addr: 127.0.0.1, port: 8080}]}}
"#;

/// A virtual service delegating `/<table>` to each table `ns.name`, and the tables, each at
/// the generation given, routing to `upstream` (a missing one is the seed's typo).
fn config(vs_generation: i64, tables: &[(&str, i64, &str)], settings: &str) -> Snapshot {
    let mut yaml = format!("{UPSTREAM}{settings}");
    let routes: Vec<String> = tables
        .iter()
        .map(|(t, _, _)| {
            let (ns, name) = t.split_once('.').unwrap();
            format!("{{matchers: [{{prefix: /{name}}}], delegateAction: {{ref: {{name: {name}, namespace: {ns}}}}}}}")
        })
        .collect();
    yaml.push_str(&format!(
        "---\napiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {{name: app, namespace: gloo-system, generation: {vs_generation}}}\nspec: {{virtualHost: {{domains: ['*'], routes: [{}]}}}}\n",
        routes.join(", ")
    ));
    for (t, generation, upstream) in tables {
        let (ns, name) = t.split_once('.').unwrap();
        yaml.push_str(&format!(
            "---\napiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {{name: {name}, namespace: {ns}, generation: {generation}}}\nspec: {{routes: [{{matchers: [{{prefix: /{name}}}], routeAction: {{single: {{upstream: {{name: {upstream}, namespace: gloo-system}}}}}}}}]}}\n"
        ));
    }
    snapshot_of(&yaml)
}

fn served(outcome: &Outcome, key: &ResourceKey) -> (Option<i64>, Vec<(String, BlockReason)>) {
    let s = outcome
        .served
        .get(key)
        .expect("every decoded resource has a served state");
    let blockers = s
        .blocked_by
        .iter()
        .map(|b| (b.resource.to_string(), b.reason))
        .collect();
    (s.generation, blockers)
}

const KEEP_LAST_VALID: &str = r#"
---
apiVersion: gloo.solo.io/v1
kind: Settings
metadata: {name: default, namespace: gloo-system, generation: 1}
spec: {gloo: {invalidConfigPolicy: {keepLastValid: true}}}
"#;

const REPLACE_INVALID: &str = r#"
---
apiVersion: gloo.solo.io/v1
kind: Settings
metadata: {name: default, namespace: gloo-system, generation: 1}
spec: {gloo: {invalidConfigPolicy: {replaceInvalidRoutes: true}}}
"#;

#[test]
fn the_seeds_blocked_state_names_the_frozen_virtual_service_and_the_table_with_the_typo() {
    let valid = config(
        1,
        &[("echo.echo", 1, "app"), ("foxtrot.foxtrot", 1, "app")],
        "",
    );
    let first = translate(&valid, &PolicyState::default());
    for k in [
        vs("gloo-system.app"),
        rt("echo.echo"),
        rt("foxtrot.foxtrot"),
    ] {
        assert_eq!(served(&first, &k), (Some(1), vec![]), "{k}");
    }

    // echo makes the typo while foxtrot ships its canary.
    let blocked = config(
        1,
        &[("echo.echo", 2, "app-typo"), ("foxtrot.foxtrot", 2, "app")],
        "",
    );
    let second = translate(&blocked, &first.state);
    let expected = vec![
        ("RouteTable echo.echo".to_string(), BlockReason::Rejected),
        (
            "VirtualService gloo-system.app".to_string(),
            BlockReason::ServingLastKnownGood,
        ),
    ];
    assert_eq!(
        served(&second, &rt("foxtrot.foxtrot")),
        (Some(1), expected.clone())
    );
    assert_eq!(served(&second, &rt("echo.echo")), (Some(1), expected));
    // The virtual service itself has not changed: its generation is what is served.
    assert_eq!(served(&second, &vs("gloo-system.app")), (Some(1), vec![]));
    // Upstreams are read afresh on every translation.
    assert_eq!(
        served(&second, &key(Kind::Upstream, "gloo-system.app")),
        (Some(1), vec![])
    );

    // The fix unblocks both.
    let fixed = config(
        1,
        &[("echo.echo", 3, "app"), ("foxtrot.foxtrot", 2, "app")],
        "",
    );
    let third = translate(&fixed, &second.state);
    assert_eq!(served(&third, &rt("echo.echo")), (Some(3), vec![]));
    assert_eq!(served(&third, &rt("foxtrot.foxtrot")), (Some(2), vec![]));
}

#[test]
fn a_table_two_levels_down_blocks_the_siblings_its_virtual_service_freezes() {
    // app -> mid.mid -> mid.deep (where the error comes), and app -> side.side, a sibling that
    // changes meanwhile.
    let chain = |deep: (i64, &str), side_generation: i64| {
        let mut s = config(
            1,
            &[("mid.mid", 1, "app"), ("side.side", side_generation, "app")],
            "",
        );
        let (deep_generation, deep_upstream) = deep;
        let tables = format!(
            r#"
apiVersion: gateway.solo.io/v1
kind: RouteTable
metadata: {{name: mid, namespace: mid, generation: 1}}
spec: {{routes: [{{matchers: [{{prefix: /mid}}], delegateAction: {{ref: {{name: deep, namespace: mid}}}}}}]}}
---
apiVersion: gateway.solo.io/v1
kind: RouteTable
metadata: {{name: deep, namespace: mid, generation: {deep_generation}}}
spec: {{routes: [{{matchers: [{{prefix: /mid/deep}}], routeAction: {{single: {{upstream: {{name: {deep_upstream}, namespace: gloo-system}}}}}}}}]}}
"#
        );
        for doc in lockgate_api::decode_documents(&tables) {
            match doc.unwrap_or_else(|e| panic!("{e}")) {
                Document::Resource(r) => s.insert(r),
                Document::Skipped(k) => panic!("{k}"),
            }
        }
        s
    };
    let first = translate(&chain((1, "app"), 1), &PolicyState::default());
    assert_eq!(served(&first, &rt("side.side")), (Some(1), vec![]));
    assert_eq!(served(&first, &rt("mid.deep")), (Some(1), vec![]));

    let second = translate(&chain((2, "gone"), 2), &first.state);
    let frozen = (
        "VirtualService gloo-system.app".to_string(),
        BlockReason::ServingLastKnownGood,
    );
    let cause = ("RouteTable mid.deep".to_string(), BlockReason::Rejected);
    assert_eq!(
        served(&second, &rt("side.side")),
        (Some(1), vec![cause.clone(), frozen.clone()])
    );
    assert_eq!(
        served(&second, &rt("mid.deep")),
        (Some(1), vec![cause, frozen])
    );
    // The middle table has no error and has not changed: nothing to report on it.
    assert_eq!(served(&second, &rt("mid.mid")), (Some(1), vec![]));
}

#[test]
fn replacing_invalid_routes_serves_every_current_generation() {
    let valid = config(
        1,
        &[("echo.echo", 1, "app"), ("foxtrot.foxtrot", 1, "app")],
        REPLACE_INVALID,
    );
    let first = translate(&valid, &PolicyState::default());
    let broken = config(
        1,
        &[("echo.echo", 2, "app-typo"), ("foxtrot.foxtrot", 2, "app")],
        REPLACE_INVALID,
    );
    let second = translate(&broken, &first.state);
    assert_eq!(served(&second, &rt("foxtrot.foxtrot")), (Some(2), vec![]));
    // Its invalid route answers with the configured response: this generation is what runs.
    assert_eq!(served(&second, &rt("echo.echo")), (Some(2), vec![]));
}

#[test]
fn keep_last_valid_holds_back_only_the_invalid_table_by_its_own_errors() {
    let valid = config(
        1,
        &[("echo.echo", 1, "app"), ("foxtrot.foxtrot", 1, "app")],
        KEEP_LAST_VALID,
    );
    let first = translate(&valid, &PolicyState::default());
    let broken = config(
        1,
        &[("echo.echo", 2, "app-typo"), ("foxtrot.foxtrot", 2, "app")],
        KEEP_LAST_VALID,
    );
    let second = translate(&broken, &first.state);
    assert_eq!(served(&second, &rt("foxtrot.foxtrot")), (Some(2), vec![]));
    assert_eq!(
        served(&second, &rt("echo.echo")),
        (
            Some(1),
            vec![("RouteTable echo.echo".to_string(), BlockReason::Rejected)]
        )
    );
}

#[test]
fn a_virtual_service_never_valid_serves_nothing_and_says_why() {
    let broken = config(
        1,
        &[("echo.echo", 1, "app-typo"), ("foxtrot.foxtrot", 1, "app")],
        "",
    );
    let outcome = translate(&broken, &PolicyState::default());
    assert_eq!(
        served(&outcome, &rt("foxtrot.foxtrot")),
        (
            None,
            vec![
                ("RouteTable echo.echo".to_string(), BlockReason::Rejected),
                (
                    "VirtualService gloo-system.app".to_string(),
                    BlockReason::NotServed
                ),
            ]
        )
    );
    assert_eq!(
        served(&outcome, &vs("gloo-system.app")),
        (
            None,
            vec![("RouteTable echo.echo".to_string(), BlockReason::Rejected)]
        )
    );
}

#[test]
fn a_table_no_virtual_service_reaches_is_not_served_and_blocked_by_nothing() {
    let mut snapshot = config(1, &[("echo.echo", 1, "app")], "");
    let orphan = r#"
apiVersion: gateway.solo.io/v1
kind: RouteTable
metadata: {name: orphan, namespace: echo, generation: 4}
spec: {routes: [{matchers: [{prefix: /o}], routeAction: {single: {upstream: {name: app, namespace: gloo-system}}}}]}
"#;
    for doc in lockgate_api::decode_documents(orphan) {
        if let Ok(Document::Resource(r)) = doc {
            snapshot.insert(r);
        }
    }
    let outcome = translate(&snapshot, &PolicyState::default());
    assert_eq!(served(&outcome, &rt("echo.orphan")), (None, vec![]));
}
