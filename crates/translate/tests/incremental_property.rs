//! `Translator::translate` gives exactly what `translate` gives, over random sequences of
//! changes fed one after the other the way the controller feeds them: each outcome's state is the
//! next call's history, and resources that did not change stay the same shared `Arc`s.
//!
//! The changes cover what a remembered leaf walk could wrongly survive: a table edited, added,
//! removed, broken, made undecodable or made to delegate (cycles included); the delegating route
//! above it changed (prefix, inherited matchers, options) or a second virtual service walking the
//! same tables under another parent; an upstream changed; the invalid-configuration policy
//! switched between last known good, replaceInvalidRoutes and keepLastValid.

use std::collections::BTreeMap;

use lockgate_api::{Document, Kind, ResourceKey, Snapshot, Undecodable};
use lockgate_translate::{PolicyState, Translator, translate};
use proptest::prelude::*;

const SLOTS: usize = 5;

#[derive(Debug, Clone)]
struct TableSpec {
    labelled: bool,
    weight: i32,
    /// Path, then: 0 forward to `app` v1, 1 split v1/v2, 2 direct response, 3 a missing
    /// upstream, 4 a regex that does not compile.
    routes: Vec<(String, u8)>,
    /// Delegates its first route to the table in that slot (possibly itself: a cycle).
    delegate_to: Option<usize>,
}

#[derive(Debug, Clone)]
enum Slot {
    Absent,
    Table(TableSpec),
    Undecodable,
}

#[derive(Debug, Clone)]
enum Change {
    Table(usize, Slot),
    /// The upstream's subsets declared or not: subset destinations become valid or invalid.
    Subsets(bool),
    Policy(u8),
    /// The delegating route of the main virtual service: prefix, inheritableMatchers, a prefix
    /// rewrite in its options.
    Parent(u8, bool, bool),
    SecondService(bool),
}

#[derive(Debug, Clone)]
struct Model {
    slots: Vec<Slot>,
    subsets: bool,
    policy: u8,
    parent: (u8, bool, bool),
    second: bool,
}

fn table_spec() -> impl Strategy<Value = TableSpec> {
    (
        any::<bool>(),
        0i32..2,
        proptest::collection::vec(("/a(/[bc]{1,2})?", 0u8..5), 1..4),
        proptest::option::weighted(0.25, 0..SLOTS),
    )
        .prop_map(|(labelled, weight, routes, delegate_to)| TableSpec {
            labelled: labelled || delegate_to.is_none(),
            weight,
            routes,
            delegate_to,
        })
}

fn slot() -> impl Strategy<Value = Slot> {
    prop_oneof![
        1 => Just(Slot::Absent),
        6 => table_spec().prop_map(Slot::Table),
        1 => Just(Slot::Undecodable),
    ]
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        8 => (0..SLOTS, slot()).prop_map(|(i, s)| Change::Table(i, s)),
        1 => any::<bool>().prop_map(Change::Subsets),
        2 => (0u8..3).prop_map(Change::Policy),
        2 => (0u8..3, any::<bool>(), any::<bool>()).prop_map(|(p, i, o)| Change::Parent(p, i, o)),
        1 => any::<bool>().prop_map(Change::SecondService),
    ]
}

impl Model {
    fn apply(&mut self, change: &Change) {
        match change.clone() {
            Change::Table(i, s) => self.slots[i] = s,
            Change::Subsets(on) => self.subsets = on,
            Change::Policy(p) => self.policy = p,
            Change::Parent(p, i, o) => self.parent = (p, i, o),
            Change::SecondService(on) => self.second = on,
        }
    }

    /// Every resource as YAML by key, and the undecodable route tables.
    fn resources(&self) -> (BTreeMap<ResourceKey, String>, Vec<ResourceKey>) {
        let mut out = BTreeMap::new();
        let policy =
            ["", "replaceInvalidRoutes: true", "keepLastValid: true"][self.policy as usize];
        out.insert(
            ResourceKey::new(Kind::Settings, "gloo-system", "default"),
            format!("apiVersion: gloo.solo.io/v1\nkind: Settings\nmetadata: {{name: default, namespace: gloo-system}}\nspec: {{gloo: {{invalidConfigPolicy: {{{policy}}}}}}}\n"),
        );
        let subsets = if self.subsets {
            ", subsetSpec: {selectors: [{keys: [version]}]}"
        } else {
            ""
        };
        out.insert(
            ResourceKey::new(Kind::Upstream, "gloo-system", "app"),
            format!("apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {{name: app, namespace: gloo-system}}\nspec: {{kube: {{selector: {{app: app}}, serviceNamespace: apps{subsets}}}}}\n"),
        );
        for v in 1..=2 {
            out.insert(
                ResourceKey::new(Kind::Endpoint, "apps", format!("v{v}")),
                format!("apiVersion: gloo.solo.io/v1\nkind: Endpoint\nmetadata: {{name: v{v}, namespace: apps, labels: {{app: app, version: v{v}}}}}\nspec: {{address: 127.0.0.1, port: 900{v}}}\n"),
            );
        }
        let (prefix, inherit, rewrite) = self.parent;
        let prefix = ["/", "/a", "/a/b"][prefix as usize];
        let options = if rewrite {
            ", options: {prefixRewrite: /x}"
        } else {
            ""
        };
        out.insert(
            ResourceKey::new(Kind::VirtualService, "gloo-system", "main"),
            format!("apiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {{name: main, namespace: gloo-system}}\nspec: {{virtualHost: {{domains: ['*'], routes: [{{matchers: [{{prefix: {prefix}, headers: [{{name: h, value: v}}]}}], inheritableMatchers: {inherit}{options}, delegateAction: {{selector: {{namespaces: ['*'], labels: {{team: 'yes'}}}}}}}}]}}}}\n"),
        );
        if self.second {
            out.insert(
                ResourceKey::new(Kind::VirtualService, "gloo-system", "second"),
                "apiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {name: second, namespace: gloo-system}\nspec: {virtualHost: {domains: [second.example], routes: [{matchers: [{prefix: /a}], delegateAction: {selector: {namespaces: ['*'], labels: {team: 'yes'}}}}]}}\n".to_string(),
            );
        }
        let mut undecodable = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            let key = ResourceKey::new(Kind::RouteTable, format!("team{i}"), "t");
            match slot {
                Slot::Absent => {}
                Slot::Undecodable => undecodable.push(key),
                Slot::Table(t) => {
                    out.insert(key, table_yaml(i, t));
                }
            }
        }
        (out, undecodable)
    }
}

fn table_yaml(i: usize, t: &TableSpec) -> String {
    let labels = if t.labelled {
        ", labels: {team: 'yes'}"
    } else {
        ""
    };
    let mut yaml = format!(
        "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {{name: t, namespace: team{i}{labels}}}\nspec:\n  weight: {}\n  routes:\n",
        t.weight
    );
    for (j, (path, action)) in t.routes.iter().enumerate() {
        if j == 0
            && let Some(target) = t.delegate_to
        {
            yaml.push_str(&format!("    - matchers: [{{prefix: {path}}}]\n      delegateAction: {{ref: {{name: t, namespace: team{target}}}}}\n"));
            continue;
        }
        let matcher = if *action == 4 {
            "regex: '/a(['".to_string()
        } else {
            format!("prefix: {path}")
        };
        let action = match action {
            0 | 4 => "routeAction: {single: {upstream: {name: app, namespace: gloo-system}, subset: {values: {version: v1}}}}".to_string(),
            1 => "routeAction: {multi: {destinations: [{weight: 3, destination: {upstream: {name: app, namespace: gloo-system}, subset: {values: {version: v1}}}}, {weight: 1, destination: {upstream: {name: app, namespace: gloo-system}}}]}}".to_string(),
            2 => format!("directResponseAction: {{status: 200, body: team{i}-{j}}}"),
            _ => "routeAction: {single: {upstream: {name: typo, namespace: gloo-system}}}".to_string(),
        };
        yaml.push_str(&format!(
            "    - matchers: [{{{matcher}}}]\n      {action}\n"
        ));
    }
    yaml
}

/// Brings `snapshot` to `model`, replacing only the resources whose text changed, so that the
/// others keep their `Arc`s as a store's snapshots do.
fn update(snapshot: &mut Snapshot, written: &mut BTreeMap<ResourceKey, String>, model: &Model) {
    let (wanted, undecodable) = model.resources();
    for key in written.keys() {
        if !wanted.contains_key(key) {
            snapshot.remove(key);
        }
    }
    for (key, yaml) in &wanted {
        if written.get(key) != Some(yaml) {
            for doc in lockgate_api::decode_documents(yaml) {
                match doc.unwrap_or_else(|e| panic!("{e}\n{yaml}")) {
                    Document::Resource(r) => snapshot.insert(r),
                    Document::Skipped(s) => panic!("{s}"),
                }
            }
        }
    }
    for key in undecodable {
        snapshot.insert_undecodable(
            key,
            Undecodable {
                labels: [("team".to_string(), "yes".to_string())].into(),
                errors: vec!["spec.routes[0].matchers: invalid type".to_string()],
            },
        );
    }
    *written = wanted;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn translator_equals_fresh_translation_after_every_change(
        start in proptest::collection::vec(slot(), SLOTS),
        policy in 0u8..3,
        changes in proptest::collection::vec(change(), 1..14),
    ) {
        let mut model = Model {
            slots: start,
            subsets: true,
            policy,
            parent: (1, false, false),
            second: false,
        };
        let mut snapshot = Snapshot::default();
        let mut written = BTreeMap::new();
        update(&mut snapshot, &mut written, &model);
        let mut translator = Translator::default();
        let mut previous = PolicyState::default();
        for (step, change) in std::iter::once(None).chain(changes.iter().map(Some)).enumerate() {
            if let Some(change) = change {
                model.apply(change);
                update(&mut snapshot, &mut written, &model);
            }
            let expected = translate(&snapshot, &previous);
            let got = translator.translate(&snapshot, &previous);
            prop_assert_eq!(&got, &expected, "step {} ({:?})", step, change);
            previous = expected.state;
        }
    }
}
