//! Helpers the translation rule tests share: a snapshot from YAML, resource keys, reasons.

// Each test binary uses a different part of the helpers.
#![allow(dead_code, unreachable_pub)]

use lockgate_api::{Document, Kind, ResourceKey, Snapshot};
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
