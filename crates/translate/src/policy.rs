//! The invalid-configuration policies.

use std::collections::BTreeMap;

use lockgate_api::{RouteTable, Snapshot};
use lockgate_compiled::CompiledConfig;
use serde::{Deserialize, Serialize};

use crate::{Outcome, Reports};

/// What the policies remember between translations. The controller persists it with every
/// publish so that a restart serves exactly what was served before.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyState {
    /// The configuration last published: per virtual service, the last known good.
    pub served: CompiledConfig,
    /// `namespace.name` of a route table to its last generation that translated without errors.
    #[serde(default)]
    pub last_valid_route_tables: BTreeMap<String, RouteTable>,
}

pub(crate) fn apply(snapshot: &Snapshot, previous: &PolicyState) -> Outcome {
    let _ = (snapshot, previous);
    Outcome { config: CompiledConfig::default(), reports: Reports::default(), state: PolicyState::default() }
}
