//! Problems: what translation finds wrong, as data. Text is made only at the edges (the CLI,
//! statuses, `/check`): the policies and write refusal decide on the fields, never on wording.

use std::fmt;

use lockgate_api::ResourceKey;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// Makes the resource Rejected.
    Error,
    /// Drops only what it concerns; the resource is Warning.
    Warning,
}

/// Whose problem it is, seen from the report it is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Origin {
    /// The resource's own.
    Own,
    /// A route table this virtual service reaches (`Problem::resource` names it); reported here
    /// too because it decides what the virtual service serves.
    SubRouteTable,
}

/// What kind of problem, in Gloo's words where Gloo has them (its route and virtual host report
/// types), so that people find them in Gloo's documentation and issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Code {
    /// A destination names an upstream (or subset) that does not exist.
    InvalidDestinationWarning,
    /// A matcher that does not compile (a bad regex, a path without `/`, ...).
    InvalidMatcherError,
    /// Two virtual services claim one domain, or a domain is malformed.
    DomainsNotUniqueError,
    /// A route's action is malformed (no action, two actions, weights summing to 0, ...).
    InvalidRouteActionError,
    /// A route's options are malformed.
    InvalidRouteOptionsError,
    /// A delegate action that cannot be followed: a bad delegating matcher, neither ref nor
    /// selector, a selector that cannot be evaluated.
    InvalidDelegationError,
    /// Delegation loops back to a route table already on the path.
    DelegationCycleError,
    /// A delegation the target or Settings do not allow (refused, nothing delegated).
    DelegationRefusedWarning,
    /// A delegate ref or selector that reaches no route table.
    RouteTableMissingWarning,
    /// A child route that reaches outside its parent route: dropped, or served only inside.
    RouteOutsideParentWarning,
    /// A virtual service in a namespace Settings do not serve.
    NamespaceNotServedError,
    /// An Upstream or Endpoint that cannot be used as written.
    InvalidUpstreamError,
    /// Settings that cannot be used as written.
    InvalidSettingsError,
    /// A field that does not decode (a typo, a wrong type, an unknown field).
    DecodeError,
    /// Served from an older generation while the current one is invalid (`keepLastValid`).
    ServingLastValidWarning,
    /// Valid, but probably not what was meant (an upstream without hosts, ...).
    ProcessingWarning,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidDestinationWarning => "InvalidDestinationWarning",
            Code::InvalidMatcherError => "InvalidMatcherError",
            Code::DomainsNotUniqueError => "DomainsNotUniqueError",
            Code::InvalidRouteActionError => "InvalidRouteActionError",
            Code::InvalidRouteOptionsError => "InvalidRouteOptionsError",
            Code::InvalidDelegationError => "InvalidDelegationError",
            Code::DelegationCycleError => "DelegationCycleError",
            Code::DelegationRefusedWarning => "DelegationRefusedWarning",
            Code::RouteTableMissingWarning => "RouteTableMissingWarning",
            Code::RouteOutsideParentWarning => "RouteOutsideParentWarning",
            Code::NamespaceNotServedError => "NamespaceNotServedError",
            Code::InvalidUpstreamError => "InvalidUpstreamError",
            Code::InvalidSettingsError => "InvalidSettingsError",
            Code::DecodeError => "DecodeError",
            Code::ServingLastValidWarning => "ServingLastValidWarning",
            Code::ProcessingWarning => "ProcessingWarning",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A problem on one resource's report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Problem {
    pub severity: Severity,
    pub origin: Origin,
    /// The resource the problem is in: the report's own, or the sub route table.
    pub resource: ResourceKey,
    /// Where in that resource, as a field path (`spec.routes[1].matchers[0].prefix`); empty
    /// when it concerns the resource as a whole.
    pub field: String,
    pub code: Code,
    /// What is wrong, without the field path.
    pub message: String,
}

impl Problem {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The same problem as the virtual service that reaches `self.resource` reports it.
    pub fn via_sub_route_table(&self) -> Problem {
        Problem {
            origin: Origin::SubRouteTable,
            ..self.clone()
        }
    }
}

/// `spec.routes[0]: message`, and `on sub route table ns.name: ...` when it is not the
/// report's own.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.origin == Origin::SubRouteTable {
            write!(f, "on sub route table {}: ", self.resource.qualified_name())?;
        }
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// A problem found in part of a resource, before it is placed on a report: the checks that find
/// them (matchers, actions, options) do not know whose resource they look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flaw {
    pub(crate) code: Code,
    pub(crate) field: String,
    pub(crate) message: String,
}

impl Flaw {
    pub(crate) fn new(code: Code, field: impl Into<String>, message: impl Into<String>) -> Flaw {
        Flaw {
            code,
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn on(self, resource: &ResourceKey, severity: Severity) -> Problem {
        Problem {
            severity,
            origin: Origin::Own,
            resource: resource.clone(),
            field: self.field,
            code: self.code,
            message: self.message,
        }
    }
}

/// A decode error of a resource that exists but does not decode (its text names the field).
pub(crate) fn undecodable(resource: &ResourceKey, error: &str) -> Problem {
    Problem {
        severity: Severity::Error,
        origin: Origin::Own,
        resource: resource.clone(),
        field: String::new(),
        code: Code::DecodeError,
        message: error.to_string(),
    }
}

impl fmt::Display for Flaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

#[cfg(test)]
#[path = "problem_test.rs"]
mod tests;
