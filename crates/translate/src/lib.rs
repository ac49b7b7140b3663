//! Translation: a pure function from a [`Snapshot`] of resources to the [`CompiledConfig`] the
//! proxy executes, plus a [`Report`] for every resource.
//!
//! Nothing here does I/O, reads a clock or keeps global state, so every rule is unit- and
//! property-tested. The modules follow the concerns: `matcher` compiles and checks one route's
//! conditions, `guard` keeps a delegated route inside its parents whatever it writes,
//! `delegation` flattens route tables into their virtual services, `destination`
//! resolves upstreams to clusters, `virtual_service` compiles a domain, and `policy` decides
//! what is served when something is invalid.

mod delegation;
mod destination;
mod finish;
mod guard;
mod incremental;
mod matcher;
mod policy;
mod problem;
mod report;
mod route_options;
mod served;
mod upstream_options;
mod virtual_service;

use lockgate_api::Snapshot;
use lockgate_compiled::CompiledConfig;

pub use incremental::Translator;
pub use policy::PolicyState;
pub use problem::{Code, Origin, Problem, Severity};
pub use report::{Report, Reports, State};
pub use served::{BlockReason, Blocker, Served};

/// The result of one translation.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// What the proxy should serve now, after the invalid-configuration policy.
    pub config: std::sync::Arc<CompiledConfig>,
    /// The state of every resource of the snapshot.
    pub reports: Reports,
    /// Which generation of each resource is served, and what holds back the ones that are not.
    pub served: std::collections::BTreeMap<lockgate_api::ResourceKey, Served>,
    /// What to remember for the next translation (and persist): the last known good virtual
    /// hosts and the last valid generation of each route table.
    pub state: PolicyState,
}

/// Translates `snapshot` and applies the invalid-configuration policy its Settings name, against
/// what was served before (`previous`). Deterministic: the same inputs give the same outcome.
/// A one-off translation; [`Translator`] gives the same outcome faster when it is called again
/// with a snapshot that changed little.
pub fn translate(snapshot: &Snapshot, previous: &PolicyState) -> Outcome {
    let memory = policy::Memory {
        clusters: &mut destination::ClusterInterner::default(),
        leaves: None,
        compiled: None,
        finished: &mut finish::FinishedRoutes::forgetful(),
    };
    policy::apply(snapshot, previous, memory)
}

/// Translates `snapshot` with no history: the reports are the same as [`translate`]'s, which is
/// what offline validation and write validation need.
pub fn validate(snapshot: &Snapshot) -> Reports {
    translate(snapshot, &PolicyState::default()).reports
}
