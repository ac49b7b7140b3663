//! `/check`, `/config_dump`, `/info`, `/healthz`, `/readyz`, `/metrics`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use lockgate_api::ResourceKey;
use lockgate_controller::{blocked_by_json, policy_name};
use lockgate_translate::State as ReportState;
use serde_json::{Value, json};

use crate::Admin;
use crate::error::ApiError;

pub(crate) async fn check(State(admin): State<Arc<Admin>>) -> Json<Value> {
    let reports = admin.controller.reports();
    let to_json = |r: &lockgate_controller::ResourceReport| {
        let mut out = json!({
            "kind": r.kind,
            "namespace": r.namespace,
            "name": r.name,
            "state": r.state.to_string(),
            "reasons": r.reasons,
        });
        if let Some(g) = r.generation {
            out["generation"] = json!(g);
        }
        if let Some(g) = r.served.generation {
            out["servedGeneration"] = json!(g);
        }
        if is_blocked(r) {
            out["blockedBy"] = blocked_by_json(&r.served.blocked_by);
        }
        out
    };
    let problems: Vec<Value> = reports
        .iter()
        .filter(|r| r.state != ReportState::Accepted)
        .map(to_json)
        .collect();
    // Changes that are stored but not served because of another resource's errors: whatever
    // their own state, the team that made them needs to know.
    let blocked: Vec<Value> = reports
        .iter()
        .filter(|r| {
            let Some(kind) = lockgate_api::Kind::parse(&r.kind) else {
                return false;
            };
            let own = ResourceKey::new(kind, &r.namespace, &r.name);
            r.served.is_held_back_by_others(&own, r.generation)
        })
        .map(to_json)
        .collect();
    let resources: Vec<Value> = reports.iter().map(to_json).collect();
    Json(json!({"problems": problems, "blocked": blocked, "resources": resources}))
}

fn is_blocked(r: &lockgate_controller::ResourceReport) -> bool {
    r.served.is_blocked(r.generation)
}

pub(crate) async fn config_dump(State(admin): State<Arc<Admin>>) -> Result<Response, ApiError> {
    let config = admin.controller.config();
    let latest = admin.controller.latest();
    let policy = if latest.generation == 0 {
        // Nothing translated yet (serving a restored configuration): read the settings.
        policy_name(&admin.controller.snapshot().await?.0.settings)
    } else {
        latest.policy
    };
    let mut dump = serde_json::to_value(config.as_ref())
        .map_err(|e| ApiError::internal(format!("cannot show the configuration: {e}")))?;
    if let Value::Object(map) = &mut dump {
        map.insert("policy".into(), json!(policy));
        map.insert(
            "generation".into(),
            json!(admin.controller.publications().borrow().generation),
        );
    }
    Ok(Json(dump).into_response())
}

pub(crate) async fn info(State(admin): State<Arc<Admin>>) -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "proxyAddress": admin.proxy_address,
        "store": admin.controller.store().kind().as_str(),
    }))
}

pub(crate) async fn healthz() -> &'static str {
    "ok"
}

pub(crate) async fn readyz(State(admin): State<Arc<Admin>>) -> Response {
    if admin.controller.is_ready() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no configuration published yet",
        )
            .into_response()
    }
}

pub(crate) async fn metrics(State(admin): State<Arc<Admin>>) -> Result<Response, ApiError> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &admin.registry)
        .map_err(|e| ApiError::internal(format!("cannot encode metrics: {e}")))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
