//! The status written on a resource and the name of the policy in force.

use lockgate_api::Settings;
use lockgate_translate::{Report, State};
use serde_json::{Value, json};

/// `{"state": "Rejected", "reasons": [...], "observedGeneration": 3}`; a resource without a
/// report is Accepted.
pub fn status_json(report: Option<&Report>, generation: Option<i64>) -> Value {
    let state = report.map(Report::state).unwrap_or(State::Accepted);
    let reasons = report.map(Report::reasons).unwrap_or_default();
    let mut status = json!({"state": state.to_string(), "reasons": reasons});
    if let Some(generation) = generation {
        status["observedGeneration"] = json!(generation);
    }
    status
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
