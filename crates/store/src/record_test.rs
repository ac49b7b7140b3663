use std::time::{Duration, UNIX_EPOCH};

use super::*;

#[test]
fn creation_times_are_rfc3339_utc_with_a_fixed_width() {
    assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
    let leap_day = UNIX_EPOCH + Duration::new(951_782_400 + 3_723, 5_000);
    assert_eq!(rfc3339_utc(leap_day), "2000-02-29T01:02:03.000005Z");
    let later = UNIX_EPOCH + Duration::from_secs(1_796_169_600);
    assert_eq!(rfc3339_utc(later), "2026-12-02T00:00:00.000000Z");
}

fn upstream(port: u16) -> Resource {
    let yaml = format!(
        "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {{name: u, namespace: echo}}\nspec:\n  static:\n    hosts: [{{addr: 127.0.0.1, port: {port}}}]\n"
    );
    match lockgate_api::decode_documents(&yaml).pop() {
        Some(Ok(Document::Resource(resource))) => resource,
        other => panic!("{other:?}"),
    }
}

#[test]
fn would_put_creates_at_generation_one_with_a_creation_time() {
    let (result, stored) = would_put(upstream(1), None, Some(Revision(7)), None);
    assert_eq!(result, PutResult::Created);
    let metadata = stored.metadata();
    assert_eq!(metadata.generation, Some(1));
    assert_eq!(metadata.resource_version.as_deref(), Some("7"));
    assert!(metadata.creation_timestamp.is_some());
}

#[test]
fn would_put_keeps_the_store_owned_fields_of_what_it_replaces() {
    let (_, mut existing) = would_put(upstream(1), None, Some(Revision(7)), None);
    existing.metadata_mut().creation_timestamp = Some("2000-01-01T00:00:00.000000Z".into());
    set_status(&mut existing, Some(json!({"state": "Accepted"})));

    let (result, same) = would_put(upstream(1), Some(&existing), Some(Revision(8)), None);
    assert_eq!(result, PutResult::Unchanged);
    assert_eq!(same, existing, "an unchanged write stores nothing");

    let mut forged = upstream(2);
    forged.metadata_mut().creation_timestamp = Some("1970-01-01T00:00:00.000000Z".into());
    set_status(&mut forged, Some(json!({"state": "forged"})));
    let (result, stored) = would_put(forged.clone(), Some(&existing), Some(Revision(8)), None);
    assert_eq!(result, PutResult::Configured);
    assert_eq!(stored.metadata().generation, Some(2));
    assert_eq!(stored.metadata().resource_version.as_deref(), Some("8"));
    assert_eq!(
        stored.metadata().creation_timestamp,
        existing.metadata().creation_timestamp
    );
    assert_eq!(status_of(&stored), Some(&json!({"state": "Accepted"})));

    // A dry run keeps the resourceVersion it would replace.
    let (_, rehearsed) = would_put(forged, Some(&existing), None, None);
    assert_eq!(rehearsed.metadata().resource_version.as_deref(), Some("7"));
}

#[test]
fn check_expected_wants_the_exact_stored_resource_version() {
    let key = upstream(1).key();
    let (_, stored) = would_put(upstream(1), None, Some(Revision(7)), None);
    assert!(check_expected(&key, Some(&stored), None).is_ok());
    assert!(check_expected(&key, None, None).is_ok());
    assert!(check_expected(&key, Some(&stored), Some("7")).is_ok());
    assert!(matches!(
        check_expected(&key, Some(&stored), Some("6")),
        Err(StoreError::Conflict { actual: Some(a), .. }) if a == "7"
    ));
    assert!(matches!(
        check_expected(&key, None, Some("7")),
        Err(StoreError::Conflict { actual: None, .. })
    ));
}
