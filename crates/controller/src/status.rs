//! The status written on a resource and the name of the policy in force.

use lockgate_api::Settings;
use lockgate_translate::{Blocker, Report, Served, State};
use serde_json::{Value, json};

/// `{"state": "Rejected", "reasons": [...], "observedGeneration": 3, "servedGeneration": 2,
/// "blockedBy": [...]}`; a resource without a report is Accepted. `served` is what the data
/// plane serves of it, when known (a write answered before translation does not know yet).
pub fn status_json(
    report: Option<&Report>,
    generation: Option<i64>,
    served: Option<&Served>,
) -> Value {
    let state = report.map(Report::state).unwrap_or(State::Accepted);
    let reasons = report.map(Report::reasons).unwrap_or_default();
    let mut status = json!({"state": state.to_string(), "reasons": reasons});
    if let Some(generation) = generation {
        status["observedGeneration"] = json!(generation);
    }
    if let Some(served) = served {
        if let Some(g) = served.generation {
            status["servedGeneration"] = json!(g);
        }
        if served.is_blocked(generation) {
            status["blockedBy"] = blocked_by_json(&served.blocked_by);
        }
    }
    status
}

/// `[{"kind", "namespace", "name", "reason", "cause"}]`: `cause` marks the resources whose own
/// errors hold the change back, as opposed to the virtual services they freeze.
pub fn blocked_by_json(blockers: &[Blocker]) -> Value {
    blockers
        .iter()
        .map(|b| {
            json!({
                "kind": b.resource.kind.as_str(),
                "namespace": b.resource.namespace,
                "name": b.resource.name,
                "reason": b.reason.to_string(),
                "cause": b.reason.is_cause(),
            })
        })
        .collect()
}

/// Which invalid-configuration policy the settings put in force, as `/config_dump` names it.
pub fn policy_name(settings: &Settings) -> &'static str {
    let policy = &settings.spec.gloo.invalid_config_policy;
    if policy.keep_last_valid() {
        "keepLastValid"
    } else if policy.replace_invalid_routes() {
        "replaceInvalidRoutes"
    } else {
        "lastKnownGood"
    }
}
