//! `POST /apply[?dryRun=All]`: many resources in one request, as `lockgate apply -f DIR` sends
//! them. The body is a Kubernetes `List` (`{"apiVersion": "v1", "kind": "List", "items":
//! [...]}`); each item is a resource, written as a PUT of it would be (same authorisation, same
//! validation rules, same answer), but validated together and stored in one transaction by
//! the controller's batch service (`lockgate_controller::BatchItem`).
//!
//! The answer is `200` with one entry per item, in order: `{"result", "object"}` for a written
//! item, `{"error": Status}` (the `Status` the PUT would have answered) for one that was not;
//! and `problems`, every resource the writes made not Accepted, once for the whole request.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Query, State};
use axum::response::{IntoResponse, Response};
use lockgate_api::{Resource, decode_value};
use lockgate_controller::{BatchItem, WriteResult, Written};
use serde_json::{Value, json};

use crate::Admin;
use crate::access::Caller;
use crate::auth::Verb;
use crate::body::{Body, off_thread, one_resource, parse_json};
use crate::error::ApiError;
use crate::resources::{Params, dry_run, expected_version};
use crate::write::{object_json, options, problems, put_status};

pub(crate) async fn apply(
    State(admin): State<Arc<Admin>>,
    Query(params): Query<Params>,
    caller: Option<Extension<Caller>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    admin.ensure_writable()?;
    let dry_run = dry_run(&params)?;
    let decoded = off_thread(move || decode_list(&body)).await?;
    let caller = caller.map(|Extension(caller)| caller);
    let tokens = admin.tokens.is_some();
    let check = |resource: &Resource, existing: Option<&Resource>| {
        let verb = if existing.is_some() {
            Verb::Update
        } else {
            Verb::Create
        };
        match (tokens, &caller) {
            (false, _) => Ok(()),
            (true, Some(caller)) => caller.require(verb, &resource.key()),
            (true, None) => Err(ApiError::internal("no authenticated caller for an apply")),
        }
    };

    let mut answers: Vec<Option<Value>> = Vec::with_capacity(decoded.len());
    let mut items = Vec::new();
    for item in decoded {
        match item {
            Ok(resource) => {
                answers.push(None);
                items.push(BatchItem {
                    expected_resource_version: expected_version(&resource),
                    resource,
                });
            }
            Err(error) => answers.push(Some(error_item(error))),
        }
    }
    let written = admin
        .controller
        .writes()
        .put_batch(items, &options(None, dry_run), check)
        .await?;

    let mut validations = Vec::new();
    let mut results = written.into_iter();
    for answer in answers.iter_mut().filter(|a| a.is_none()) {
        let result = results.next().expect("one answer per decoded item");
        *answer = Some(match result {
            Ok(stored) => {
                let key = stored.resource.key();
                let status = put_status(&key, &stored);
                let item = json!({
                    "result": WriteResult::as_str(stored.result),
                    "object": object_json(&stored.resource, Some(status)),
                });
                validations.push(stored);
                item
            }
            Err(error) => error_item(error),
        });
    }
    tracing::debug!(items = answers.len(), "admin apply");
    Ok(Json(json!({
        "kind": "ApplyResult",
        "apiVersion": "lockgate.dev/v1",
        "items": answers,
        "problems": batch_problems(&validations, dry_run),
    }))
    .into_response())
}

fn error_item(error: ApiError) -> Value {
    json!({ "error": error.status().1 })
}

/// The items of a `List` body, each decoded on its own (one that does not decode is that
/// item's error, not the request's).
fn decode_list(body: &[u8]) -> Result<Vec<Result<Resource, ApiError>>, ApiError> {
    let list = parse_json(body)?;
    let Some(Value::Array(items)) = list.get("items") else {
        return Err(ApiError::bad_request(
            "POST /apply takes a List: {\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [...]}",
        ));
    };
    Ok(items
        .iter()
        .map(|item| one_resource(decode_value(item.clone())))
        .collect())
}

/// What the writes made not Accepted. Stored writes happened one after the other, so that is
/// what changed from the first one's "before" to the last one's "after". Dry runs each
/// validated against the same stored state: what any of them found, each resource once.
fn batch_problems(written: &[Written], dry_run: bool) -> Vec<Value> {
    if !dry_run {
        let first = written.iter().min_by_key(|w| w.validation.content_revision);
        let last = written.iter().max_by_key(|w| w.validation.content_revision);
        return match (first, last) {
            (Some(first), Some(last)) => problems(&first.validation.before, &last.validation.after),
            _ => Vec::new(),
        };
    }
    let mut seen = BTreeSet::new();
    let mut read: Vec<&Arc<lockgate_translate::Reports>> = Vec::new();
    let mut out = Vec::new();
    for stored in written {
        let validation = &stored.validation;
        // The items validated together share one validation: read it once.
        if read
            .iter()
            .any(|after| Arc::ptr_eq(after, &validation.after))
        {
            continue;
        }
        read.push(&validation.after);
        for problem in problems(&validation.before, &validation.after) {
            let id = (
                problem["kind"].to_string(),
                problem["namespace"].to_string(),
                problem["name"].to_string(),
            );
            if seen.insert(id) {
                out.push(problem);
            }
        }
    }
    out
}
