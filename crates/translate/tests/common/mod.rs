//! Helpers the translation rule tests share: a snapshot from YAML, resource keys, reasons.

// Each test binary uses a different part of the helpers.
#![allow(dead_code, unreachable_pub)]

use lockgate_api::{Document, Kind, ResourceKey, Snapshot};
use lockgate_compiled::{Action, PathMatch, Target};
use lockgate_translate::{Outcome, PolicyState, translate};

/// Every document of `yaml`, decoded; a test's YAML that does not decode fails the test.
pub fn snapshot_of(yaml: &str) -> Snapshot {
    let mut snapshot = Snapshot::default();
    for doc in lockgate_api::decode_documents(yaml) {
        match doc.unwrap_or_else(|e| panic!("{e}")) {
            Document::Resource(r) => snapshot.insert(r),
            Document::Skipped(s) => panic!("{s}"),
        }
    }
    snapshot
}

pub fn translate_fresh(snapshot: &Snapshot) -> Outcome {
    translate(snapshot, &PolicyState::default())
}

/// `ns.name` as the key of a resource of `kind`.
pub fn key(kind: Kind, qualified: &str) -> ResourceKey {
    let (ns, name) = qualified.split_once('.').unwrap();
    ResourceKey::new(kind, ns, name)
}

pub fn vs(name: &str) -> ResourceKey {
    key(Kind::VirtualService, name)
}

pub fn rt(name: &str) -> ResourceKey {
    key(Kind::RouteTable, name)
}

/// The reasons reported on `k`, none when it has no report.
pub fn reasons(outcome: &Outcome, k: &ResourceKey) -> Vec<String> {
    outcome
        .reports
        .get(k)
        .map(|r| r.reasons())
        .unwrap_or_default()
}

// The rule tests' shared configuration: upstreams every rule test may route to, and builders.

pub const UPSTREAMS: &str = r#"
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

pub fn snapshot(yaml: &str) -> Snapshot {
    snapshot_of(&format!("{UPSTREAMS}\n---\n{yaml}"))
}

pub fn run(yaml: &str) -> Outcome {
    translate_fresh(&snapshot(yaml))
}

/// The served routes as `path -> action` lines, for compact assertions.
pub fn routes(outcome: &Outcome) -> Vec<String> {
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

pub fn vs_delegating(selector: &str) -> String {
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

pub fn table(ns: &str, name: &str, extra_meta: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {{name: {name}, namespace: {ns}{extra_meta}}}\nspec:\n{spec}\n"
    )
}

pub const DIRECT: &str = "directResponseAction: {status: 200, body: ok}";
