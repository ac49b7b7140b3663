//! Writes: requests mapped to the controller's validated-write service
//! (`lockgate_controller::Writes`), and its results to answers.
//!
//! Validation, the refusal rules, what the store keeps and the compare-and-swap that makes a
//! validated write hold against other writers all live in the service and the store; this
//! module only says what to write and how to answer. A refused, failed or dry-run write
//! stores nothing.

use lockgate_api::{Resource, ResourceKey};
use lockgate_controller::{WriteOptions, WriteResult, Written as Stored, status_json};
use lockgate_store::status_of;
use lockgate_translate::{Report, Reports, State};
use serde_json::{Value, json};

/// A successful write: `{"result", "object", "problems"}`.
pub(crate) struct Written {
    pub(crate) result: &'static str,
    pub(crate) created: bool,
    pub(crate) body: Value,
}

/// `{"kind", "namespace", "name", "state", "reasons"}`.
pub(crate) fn report_json(key: &ResourceKey, report: &Report) -> Value {
    json!({
        "kind": key.kind.as_str(),
        "namespace": key.namespace,
        "name": key.name,
        "state": report.state().to_string(),
        "reasons": report.reasons(),
    })
}

/// The resource as the API shows it: its JSON plus its status.
pub(crate) fn object_json(resource: &Resource, status: Option<Value>) -> Value {
    let mut object = resource.to_json();
    if let (Some(status), Value::Object(map)) = (status, &mut object) {
        map.insert("status".into(), status);
    }
    object
}

/// Every resource whose report changed with the write and is not Accepted.
pub(crate) fn problems(before: &Reports, after: &Reports) -> Vec<Value> {
    after
        .iter()
        .filter(|(key, report)| {
            report.state() != State::Accepted && before.get(key) != Some(*report)
        })
        .map(|(key, report)| report_json(key, report))
        .collect()
}

pub(crate) fn options(expected: Option<String>, dry_run: bool) -> WriteOptions {
    WriteOptions {
        dry_run,
        expected_resource_version: expected,
    }
}

/// The answer to a put (PUT and PATCH): the object with the status it has with the change
/// applied, and what the change made not Accepted.
pub(crate) fn put_answer(key: &ResourceKey, stored: Stored) -> Written {
    answer(stored.result, &stored, Some(put_status(key, &stored)))
}

/// The status a put's resource has with the change applied.
pub(crate) fn put_status(key: &ResourceKey, stored: &Stored) -> Value {
    status_json(
        stored.validation.after.get(key),
        stored.resource.metadata().generation,
        stored.validation.served.get(key),
    )
}

/// The answer to a delete: the object as it was, with the status it had.
pub(crate) fn delete_answer(stored: Stored) -> Written {
    let status = status_of(&stored.resource).cloned();
    answer(WriteResult::Deleted, &stored, status)
}

fn answer(result: WriteResult, stored: &Stored, status: Option<Value>) -> Written {
    let validation = &stored.validation;
    Written {
        result: result.as_str(),
        created: result == WriteResult::Created,
        body: json!({
            "result": result.as_str(),
            "object": object_json(&stored.resource, status),
            "problems": problems(&validation.before, &validation.after),
        }),
    }
}
