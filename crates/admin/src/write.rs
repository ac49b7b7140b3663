//! Writes: validation like Gloo's webhook, then the store, and the answer.
//!
//! Every write runs under one lock, so that the snapshot a change is validated against is the
//! one it is stored on top of. A refused, failed or dry-run write stores nothing.

use lockgate_api::{Resource, ResourceKey};
use lockgate_controller::{Change, ChangeValidation, status_json};
use lockgate_store::{PutResult, next_generation, same_content, stamp_creation, status_of};
use lockgate_translate::{Problem, Report, Reports, State};
use serde_json::{Value, json};

use crate::Admin;
use crate::error::ApiError;

/// How many added problems a 422 message spells out; `details.problems` has them all.
const MESSAGE_PROBLEMS: usize = 10;

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
fn problems(before: &Reports, after: &Reports) -> Vec<Value> {
    after
        .iter()
        .filter(|(key, report)| {
            report.state() != State::Accepted && before.get(key) != Some(*report)
        })
        .map(|(key, report)| report_json(key, report))
        .collect()
}

/// Refuses the change when the stored Settings say so and it adds errors (or warnings) to
/// resources of the written resource's `namespace` (the written one included). Problems it
/// would add elsewhere do not count, so that no team's write is held hostage by another
/// team's resources; translation keeps what a namespace does from reaching other namespaces'
/// reports in the first place (a refused delegation is the delegator's warning).
fn refuse_if_invalid(
    validation: &ChangeValidation,
    problems: &[Value],
    namespace: &str,
) -> Result<(), ApiError> {
    let rules = &validation.snapshot.settings.spec.gateway.validation;
    if rules.always_accept() {
        return Ok(());
    }
    let (before, after) = (&validation.before, &validation.after);
    let owned = |(key, _): &(ResourceKey, Problem)| key.namespace == namespace;
    let added_errors: Vec<_> = after
        .error_set()
        .difference(&before.error_set())
        .filter(|p| owned(p))
        .cloned()
        .collect();
    let added_warnings: Vec<_> = if rules.allow_warnings() {
        Vec::new()
    } else {
        after
            .warning_set()
            .difference(&before.warning_set())
            .filter(|p| owned(p))
            .cloned()
            .collect()
    };
    if added_errors.is_empty() && added_warnings.is_empty() {
        return Ok(());
    }
    let what = if added_errors.is_empty() {
        "warnings"
    } else {
        "errors"
    };
    let added = added_errors.len() + added_warnings.len();
    let mut listed: Vec<String> = added_errors
        .iter()
        .chain(added_warnings.iter())
        .take(MESSAGE_PROBLEMS)
        .map(|(key, reason)| format!("{key}: {reason}"))
        .collect();
    if added > MESSAGE_PROBLEMS {
        listed.push(format!(
            "and {} more (see details.problems)",
            added - MESSAGE_PROBLEMS
        ));
    }
    Err(ApiError::invalid(
        format!(
            "the change is refused because it adds {what} (Settings gloo-system.default has validation.alwaysAccept: false): {}",
            listed.join("; ")
        ),
        problems.to_vec(),
    ))
}

impl Admin {
    /// Creates or replaces `resource` (PUT and PATCH), after validation.
    pub(crate) async fn write_put(
        &self,
        mut resource: Resource,
        existing: Option<Resource>,
        expected: Option<String>,
        dry_run: bool,
    ) -> Result<Written, ApiError> {
        let key = resource.key();
        // The creation time is the store's: validate with the one it will keep (none yet for
        // a new resource, which then counts as the newest), never the client's.
        resource.metadata_mut().creation_timestamp = existing
            .as_ref()
            .and_then(|e| e.metadata().creation_timestamp.clone());
        check_expected(&key, existing.as_ref(), expected.as_deref())?;
        let validation = self
            .controller
            .validate(Change::Put(resource.clone()))
            .await?;
        let problems = problems(&validation.before, &validation.after);
        refuse_if_invalid(&validation, &problems, &key.namespace)?;

        let (result, stored) = if dry_run {
            would_put(resource, existing)
        } else {
            let outcome = self
                .controller
                .store()
                .put(resource, expected.as_deref())
                .await?;
            (outcome.result, outcome.resource)
        };
        let status = status_json(
            validation.after.get(&key),
            stored.metadata().generation,
            None,
        );
        Ok(Written {
            result: result.as_str(),
            created: result == PutResult::Created,
            body: json!({
                "result": result.as_str(),
                "object": object_json(&stored, Some(status)),
                "problems": problems,
            }),
        })
    }

    pub(crate) async fn write_delete(
        &self,
        existing: Resource,
        expected: Option<String>,
        dry_run: bool,
    ) -> Result<Written, ApiError> {
        let key = existing.key();
        check_expected(&key, Some(&existing), expected.as_deref())?;
        let validation = self
            .controller
            .validate(Change::Delete(key.clone()))
            .await?;
        let problems = problems(&validation.before, &validation.after);
        refuse_if_invalid(&validation, &problems, &key.namespace)?;
        let deleted = if dry_run {
            existing
        } else {
            self.controller
                .store()
                .delete(&key, expected.as_deref())
                .await?
        };
        let status = status_of(&deleted).cloned();
        Ok(Written {
            result: "deleted",
            created: false,
            body: json!({
                "result": "deleted",
                "object": object_json(&deleted, status),
                "problems": problems,
            }),
        })
    }
}

/// What a put would store, without storing it.
fn would_put(mut resource: Resource, existing: Option<Resource>) -> (PutResult, Resource) {
    match existing {
        Some(existing) if same_content(&existing, &resource) => (PutResult::Unchanged, existing),
        existing => {
            let generation = next_generation(existing.as_ref(), &resource);
            stamp_creation(&mut resource, existing.as_ref());
            let metadata = resource.metadata_mut();
            metadata.generation = Some(generation);
            metadata.resource_version = existing
                .as_ref()
                .and_then(|e| e.metadata().resource_version.clone());
            let result = if existing.is_some() {
                PutResult::Configured
            } else {
                PutResult::Created
            };
            (result, resource)
        }
    }
}

/// The same check the store makes, done first so that a dry run answers 409 too.
fn check_expected(
    key: &ResourceKey,
    existing: Option<&Resource>,
    expected: Option<&str>,
) -> Result<(), ApiError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let actual = existing.and_then(|r| r.metadata().resource_version.clone());
    if actual.as_deref() == Some(expected) {
        return Ok(());
    }
    Err(lockgate_store::StoreError::Conflict {
        key: key.clone(),
        expected: expected.to_string(),
        actual,
    }
    .into())
}
