//! Reports: the state of every resource after translation, with the reasons.

use std::collections::BTreeMap;
use std::fmt;

use lockgate_api::{Kind, ResourceKey};
use serde::{Deserialize, Serialize};

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
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl Report {
    pub fn state(&self) -> State {
        if !self.errors.is_empty() {
            State::Rejected
        } else if !self.warnings.is_empty() {
            State::Warning
        } else {
            State::Accepted
        }
    }

    /// Errors then warnings, each prefixed the way `check` prints them.
    pub fn reasons(&self) -> Vec<String> {
        let errors = self.errors.iter().cloned();
        let warnings = self.warnings.iter().map(|w| format!("warning: {w}"));
        errors.chain(warnings).collect()
    }

    fn push_unique(list: &mut Vec<String>, message: String) {
        if !list.contains(&message) {
            list.push(message);
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

    pub fn error(&mut self, key: &ResourceKey, message: impl Into<String>) {
        Report::push_unique(
            &mut self.0.entry(key.clone()).or_default().errors,
            message.into(),
        );
    }

    pub fn warning(&mut self, key: &ResourceKey, message: impl Into<String>) {
        Report::push_unique(
            &mut self.0.entry(key.clone()).or_default().warnings,
            message.into(),
        );
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

    /// Every error message, with the resource it belongs to, for comparing two translations
    /// (write validation refuses a change that *adds* errors).
    pub fn error_set(&self) -> std::collections::BTreeSet<(ResourceKey, String)> {
        self.0
            .iter()
            .flat_map(|(k, r)| r.errors.iter().map(move |e| (k.clone(), e.clone())))
            .collect()
    }

    pub fn warning_set(&self) -> std::collections::BTreeSet<(ResourceKey, String)> {
        self.0
            .iter()
            .flat_map(|(k, r)| r.warnings.iter().map(move |e| (k.clone(), e.clone())))
            .collect()
    }

    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = (&ResourceKey, &Report)> {
        self.0.iter().filter(move |(k, _)| k.kind == kind)
    }
}
