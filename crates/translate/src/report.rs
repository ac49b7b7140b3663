//! Reports: the state of every resource after translation, with the reasons.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use lockgate_api::{Kind, ResourceKey};
use serde::{Deserialize, Serialize};

use crate::problem::{Flaw, Origin, Problem, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum State {
    Accepted,
    Warning,
    Rejected,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Accepted => "Accepted",
            State::Warning => "Warning",
            State::Rejected => "Rejected",
        })
    }
}

/// What translation found about one resource. Errors make it `Rejected`; warnings alone make it
/// `Warning`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn state(&self) -> State {
        if self.has_errors() {
            State::Rejected
        } else if !self.problems.is_empty() {
            State::Warning
        } else {
            State::Accepted
        }
    }

    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| !p.is_error())
    }

    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    /// Errors in the resource itself, not in a route table it reaches: what decides whether
    /// this generation of it is valid.
    pub fn has_own_errors(&self) -> bool {
        self.errors().any(|p| p.origin == Origin::Own)
    }

    /// Errors then warnings, as text, each warning prefixed the way `check` prints them.
    pub fn reasons(&self) -> Vec<String> {
        let errors = self.errors().map(|e| e.to_string());
        let warnings = self.warnings().map(|w| format!("warning: {w}"));
        errors.chain(warnings).collect()
    }

    pub(crate) fn push_unique(&mut self, problem: Problem) {
        if !self.problems.contains(&problem) {
            self.problems.push(problem);
        }
    }
}

/// A report for every resource of the snapshot, in a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Reports(pub BTreeMap<ResourceKey, Report>);

impl Reports {
    /// Makes sure `key` has a report, so that clean resources show as Accepted.
    pub fn touch(&mut self, key: &ResourceKey) {
        self.0.entry(key.clone()).or_default();
    }

    /// [`Reports::touch`] for a key the caller has no more use for: one copy fewer for every
    /// resource of a large snapshot.
    pub(crate) fn touch_owned(&mut self, key: ResourceKey) {
        self.0.entry(key).or_default();
    }

    /// Places `flaw`, found in `key`, on its report as an error.
    pub(crate) fn error(&mut self, key: &ResourceKey, flaw: Flaw) {
        self.add(key, flaw.on(key, Severity::Error));
    }

    pub(crate) fn warning(&mut self, key: &ResourceKey, flaw: Flaw) {
        self.add(key, flaw.on(key, Severity::Warning));
    }

    /// Adds `problem` to the report of `key` (once).
    pub fn add(&mut self, key: &ResourceKey, problem: Problem) {
        self.0.entry(key.clone()).or_default().push_unique(problem);
    }

    pub fn get(&self, key: &ResourceKey) -> Option<&Report> {
        self.0.get(key)
    }

    pub fn state(&self, key: &ResourceKey) -> State {
        self.0
            .get(key)
            .map(Report::state)
            .unwrap_or(State::Accepted)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ResourceKey, &Report)> {
        self.0.iter()
    }

    /// Resources that are not Accepted.
    pub fn problems(&self) -> impl Iterator<Item = (&ResourceKey, &Report)> {
        self.0.iter().filter(|(_, r)| r.state() != State::Accepted)
    }

    pub fn any_rejected(&self) -> bool {
        self.0.values().any(|r| r.state() == State::Rejected)
    }

    /// Every error, with the report it is on, for comparing two translations (write validation
    /// refuses a change that *adds* errors).
    pub fn error_set(&self) -> BTreeSet<(ResourceKey, Problem)> {
        self.set(Severity::Error)
    }

    pub fn warning_set(&self) -> BTreeSet<(ResourceKey, Problem)> {
        self.set(Severity::Warning)
    }

    fn set(&self, severity: Severity) -> BTreeSet<(ResourceKey, Problem)> {
        self.0
            .iter()
            .flat_map(|(k, r)| {
                r.problems
                    .iter()
                    .filter(move |p| p.severity == severity)
                    .map(move |p| (k.clone(), p.clone()))
            })
            .collect()
    }

    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = (&ResourceKey, &Report)> {
        self.0.iter().filter(move |(k, _)| k.kind == kind)
    }
}
