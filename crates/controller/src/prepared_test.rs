use std::sync::Arc;

use lockgate_api::{Document, Resource, Snapshot, decode_documents};
use lockgate_translate::{PolicyState, translate};

use super::{Prepared, same_content};

fn resource(yaml: &str) -> Resource {
    match decode_documents(yaml).pop() {
        Some(Ok(Document::Resource(resource))) => resource,
        other => panic!("test resource does not decode: {other:?}"),
    }
}

fn table(name: &str, prefix: &str) -> Resource {
    resource(&format!(
        "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {{name: {name}, namespace: team}}\nspec:\n  routes:\n    - matchers: [{{prefix: {prefix}}}]\n      directResponseAction: {{status: 200, body: hi}}\n"
    ))
}

fn base() -> Snapshot {
    Snapshot::from_resources([table("a", "/a"), table("b", "/b")])
}

#[test]
fn snapshots_sharing_their_resources_have_the_same_content() {
    let snapshot = base();
    assert!(same_content(&snapshot, &snapshot.clone()));
}

#[test]
fn a_resource_replaced_by_an_equal_one_is_the_same_content() {
    let snapshot = base();
    let mut replaced = snapshot.clone();
    replaced.insert(table("a", "/a"));
    assert!(!Arc::ptr_eq(
        &snapshot.route_tables[&("team".into(), "a".into())],
        &replaced.route_tables[&("team".into(), "a".into())]
    ));
    assert!(same_content(&snapshot, &replaced));
}

#[test]
fn a_changed_added_or_removed_resource_or_settings_is_another_content() {
    let snapshot = base();
    let mut changed = snapshot.clone();
    changed.insert(table("a", "/other"));
    assert!(!same_content(&snapshot, &changed));

    let mut added = snapshot.clone();
    added.insert(table("c", "/c"));
    assert!(!same_content(&snapshot, &added));
    assert!(!same_content(&added, &snapshot));

    let mut removed = snapshot.clone();
    removed.remove(&table("b", "/b").key());
    assert!(!same_content(&snapshot, &removed));

    let mut settings = snapshot.clone();
    settings
        .settings
        .spec
        .gloo
        .invalid_config_policy
        .replace_invalid_routes = Some(true);
    assert!(!same_content(&snapshot, &settings));
}

#[test]
fn a_preparation_is_for_its_snapshot_and_its_history_only() {
    let snapshot = Arc::new(base());
    let previous = Arc::new(PolicyState::default());
    let outcome = translate(&snapshot, &previous);
    let prepared = Prepared::new(Arc::clone(&snapshot), Arc::clone(&previous), outcome);
    assert!(prepared.is_for(&snapshot.as_ref().clone(), &previous));
    // The same history by value is not enough: the policy state handed on must be the very
    // one the worker holds, so that nothing was translated in between.
    assert!(!prepared.is_for(&snapshot, &Arc::new(PolicyState::default())));
    let mut changed = (*snapshot).clone();
    changed.insert(table("b", "/changed"));
    assert!(!prepared.is_for(&changed, &previous));
}
