//! `/apis/{group}/{version}/namespaces/{ns}/{plural}[/{name}]`: GET, PUT, PATCH, DELETE.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use lockgate_api::{Kind, Resource, ResourceKey};
use lockgate_store::{StoreKind, status_of};
use serde_json::{Value, json};

use crate::Admin;
use crate::access::Caller;
use crate::auth::Verb;
use crate::body::{Body, decode_merge_patch, decode_resource, merge_patch, off_thread};
use crate::error::ApiError;
use crate::write::{Written, delete_answer, object_json, options, put_answer};

pub(crate) type Params = HashMap<String, String>;

/// The kind a path names, if its group and version are the kind's.
fn kind_of(group: &str, version: &str, plural: &str) -> Result<Kind, ApiError> {
    Kind::ALL
        .into_iter()
        .find(|k| k.plural() == plural && k.group() == group && k.version() == version)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "the server has no resource {plural} in {group}/{version}"
            ))
        })
}

/// `?dryRun=All` (the only value Kubernetes defines).
pub(crate) fn dry_run(params: &Params) -> Result<bool, ApiError> {
    match params.get("dryRun").map(String::as_str) {
        None => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "dryRun must be All, not {other:?}"
        ))),
    }
}

fn item_json(resource: &Resource) -> Value {
    object_json(resource, status_of(resource).cloned())
}

pub(crate) async fn list_all(
    State(admin): State<Arc<Admin>>,
    Path((group, version, plural)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    list(&admin, kind_of(&group, &version, &plural)?, None).await
}

pub(crate) async fn list_namespaced(
    State(admin): State<Arc<Admin>>,
    Path((group, version, namespace, plural)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let kind = kind_of(&group, &version, &plural)?;
    list(&admin, kind, Some(&namespace)).await
}

async fn list(admin: &Admin, kind: Kind, namespace: Option<&str>) -> Result<Response, ApiError> {
    let items = admin.controller.store().list_kind(kind, namespace).await?;
    let items: Vec<Value> = items.iter().map(item_json).collect();
    Ok(Json(json!({
        "kind": format!("{kind}List"),
        "apiVersion": kind.api_version(),
        "items": items,
    }))
    .into_response())
}

type ObjectPath = Path<(String, String, String, String, String)>;

fn key_of(path: (String, String, String, String, String)) -> Result<ResourceKey, ApiError> {
    let (group, version, namespace, plural, name) = path;
    let kind = kind_of(&group, &version, &plural)?;
    Ok(ResourceKey::new(kind, namespace, name))
}

pub(crate) async fn get_one(
    State(admin): State<Arc<Admin>>,
    Path(path): ObjectPath,
) -> Result<Response, ApiError> {
    let key = key_of(path)?;
    match admin.controller.store().get(&key).await? {
        Some(resource) => Ok(Json(item_json(&resource)).into_response()),
        None => Err(ApiError::not_found(format!("{key} not found"))),
    }
}

impl Admin {
    /// Writes go to the embedded store only; a watched directory is changed through its files.
    pub(crate) fn ensure_writable(&self) -> Result<(), ApiError> {
        if self.controller.store().kind() == StoreKind::Dir {
            return Err(ApiError::method_not_allowed(format!(
                "this gateway serves the read-only directory {} (--config-dir): change the files there instead",
                self.config_dir
                    .as_deref()
                    .unwrap_or("given with --config-dir")
            )));
        }
        Ok(())
    }
}

/// The body's kind, namespace and name must be the path's.
fn check_identity(key: &ResourceKey, resource: &Resource) -> Result<(), ApiError> {
    let found = resource.key();
    if found.kind != key.kind {
        return Err(ApiError::bad_request(format!(
            "the body is a {} but the path is for {}",
            found.kind,
            key.kind.plural()
        )));
    }
    if found.namespace != key.namespace || found.name != key.name {
        return Err(ApiError::bad_request(format!(
            "metadata says {} but the path says {key}: they must be the same",
            found
        )));
    }
    Ok(())
}

pub(crate) fn expected_version(resource: &Resource) -> Option<String> {
    resource
        .metadata()
        .resource_version
        .clone()
        .filter(|v| !v.is_empty())
}

fn answer(written: Written) -> Response {
    let code = if written.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    tracing::debug!(result = written.result, "admin write");
    (code, Json(written.body)).into_response()
}

pub(crate) async fn put_one(
    State(admin): State<Arc<Admin>>,
    Path(path): ObjectPath,
    Query(params): Query<Params>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    admin.ensure_writable()?;
    let key = key_of(path)?;
    let dry_run = dry_run(&params)?;
    let resource = off_thread(move || decode_resource(&headers, &body)).await?;
    check_identity(&key, &resource)?;
    let options = options(expected_version(&resource), dry_run);
    let caller = caller.map(|Extension(caller)| caller);
    let stored = admin
        .controller
        .writes()
        .put_with(&key, &options, |existing| {
            // Create or update: decided against the stored object the write is validated
            // with, again whenever it is validated again.
            let verb = if existing.is_some() {
                Verb::Update
            } else {
                Verb::Create
            };
            let allowed = match (&admin.tokens, &caller) {
                (None, _) => Ok(()),
                (Some(_), Some(caller)) => caller.require(verb, &key),
                (Some(_), None) => Err(ApiError::internal("no authenticated caller for a PUT")),
            };
            let resource = resource.clone();
            async move { allowed.map(|()| resource) }
        })
        .await?;
    Ok(answer(put_answer(&key, stored)))
}

pub(crate) async fn patch_one(
    State(admin): State<Arc<Admin>>,
    Path(path): ObjectPath,
    Query(params): Query<Params>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    admin.ensure_writable()?;
    let key = key_of(path)?;
    let dry_run = dry_run(&params)?;
    let patch = off_thread(move || decode_merge_patch(&headers, &body)).await?;
    // Conditional only when the patch itself names a resourceVersion: the controller's status
    // writes move it, and a merge patch is meant to apply on top of whatever is there (the
    // write service applies it again to what is stored whenever another write came first).
    let expected = patch
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    let patch = Arc::new(patch);
    let stored = admin
        .controller
        .writes()
        .put_with(&key, &options(expected, dry_run), |existing| {
            let (patch, key) = (Arc::clone(&patch), key.clone());
            async move {
                let Some(existing) = existing else {
                    return Err(ApiError::not_found(format!("{key} not found")));
                };
                let mut document = existing.to_json();
                let resource = off_thread(move || {
                    merge_patch(&mut document, &patch);
                    let headers = HeaderMap::new(); // the patched document is JSON
                    let body = serde_json::to_vec(&document)
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                    decode_resource(&headers, &body)
                })
                .await?;
                check_identity(&key, &resource)?;
                Ok(resource)
            }
        })
        .await?;
    Ok(answer(put_answer(&key, stored)))
}

pub(crate) async fn delete_one(
    State(admin): State<Arc<Admin>>,
    Path(path): ObjectPath,
    Query(params): Query<Params>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    admin.ensure_writable()?;
    let key = key_of(path)?;
    let dry_run = dry_run(&params)?;
    // Kubernetes clients may send DeleteOptions with preconditions.
    let expected = if body.is_empty() {
        None
    } else {
        crate::body::parse_json(&body)?
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let stored = admin
        .controller
        .writes()
        .delete(&key, &options(expected, dry_run))
        .await?;
    Ok(answer(delete_answer(stored)))
}
