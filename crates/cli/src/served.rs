//! What the server says is served of a resource, and the words every command uses for it:
//! `apply`'s `(not served: blocked by RouteTable echo.echo-routes, Rejected)`, `get`'s SERVED
//! column and `check`'s list of blocked resources.

use serde::Deserialize;
use serde_json::Value;

/// One entry of `status.blockedBy` (or of `/check`'s `blockedBy`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Blocker {
    pub(crate) kind: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) reason: String,
    /// Its own errors hold the change back (rather than it being a virtual service they freeze).
    #[serde(default)]
    pub(crate) cause: bool,
}

/// What is served of one resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ServedView {
    pub(crate) generation: Option<i64>,
    pub(crate) served_generation: Option<i64>,
    pub(crate) blocked_by: Vec<Blocker>,
}

impl ServedView {
    /// From an object as the API shows it (`metadata.generation`, `status`).
    pub(crate) fn of_object(object: &Value) -> ServedView {
        let status = object.get("status");
        ServedView {
            generation: object
                .pointer("/metadata/generation")
                .and_then(Value::as_i64),
            served_generation: status
                .and_then(|s| s.get("servedGeneration"))
                .and_then(Value::as_i64),
            blocked_by: status
                .and_then(|s| s.get("blockedBy"))
                .and_then(|b| serde_json::from_value(b.clone()).ok())
                .unwrap_or_default(),
        }
    }

    /// From an entry of `/check` (`generation`, `servedGeneration`, `blockedBy` beside the state).
    pub(crate) fn of_report(entry: &Value) -> ServedView {
        ServedView {
            generation: entry.get("generation").and_then(Value::as_i64),
            served_generation: entry.get("servedGeneration").and_then(Value::as_i64),
            blocked_by: entry
                .get("blockedBy")
                .and_then(|b| serde_json::from_value(b.clone()).ok())
                .unwrap_or_default(),
        }
    }

    pub(crate) fn is_blocked(&self) -> bool {
        !self.blocked_by.is_empty() && self.served_generation != self.generation
    }

    /// `blocked by RouteTable echo.echo-routes, Rejected`: the causes (all blockers when the
    /// server marks none), as the team that is held back needs to read them.
    pub(crate) fn blocked_text(&self) -> String {
        let causes: Vec<&Blocker> = self.blocked_by.iter().filter(|b| b.cause).collect();
        if causes.is_empty() {
            blocked_by(self.blocked_by.iter())
        } else {
            blocked_by(causes.into_iter())
        }
    }

    /// `check`'s line: the generation waiting, what is served instead, and every blocker.
    pub(crate) fn check_text(&self) -> String {
        let waiting = match self.generation {
            Some(g) => format!("generation {g} is not served"),
            None => "not served".to_string(),
        };
        let instead = match self.served_generation {
            Some(g) => format!(" (generation {g} is)"),
            None => String::new(),
        };
        format!("{waiting}{instead}: {}", blocked_by(self.blocked_by.iter()))
    }

    /// `apply`'s note after `configured`: empty when the change is served or the server does
    /// not say.
    pub(crate) fn apply_note(&self) -> String {
        if self.is_blocked() {
            format!(" (not served: {})", self.blocked_text())
        } else {
            String::new()
        }
    }

    /// `get`'s SERVED column: `yes`, `no`, or the generation served and why not the newest.
    pub(crate) fn column(&self) -> String {
        match (self.served_generation, self.generation) {
            (Some(served), Some(stored)) if served == stored => "yes".into(),
            (Some(served), _) if self.is_blocked() => {
                format!("generation {served} ({})", self.blocked_text())
            }
            (None, _) if self.is_blocked() => format!("no ({})", self.blocked_text()),
            (Some(served), _) => format!("generation {served}"),
            (None, _) => "no".into(),
        }
    }
}

fn blocked_by<'a>(blockers: impl Iterator<Item = &'a Blocker>) -> String {
    let names: Vec<String> = blockers
        .map(|b| format!("{} {}.{}, {}", b.kind, b.namespace, b.name, b.reason))
        .collect();
    format!("blocked by {}", names.join("; "))
}

#[cfg(test)]
#[path = "served_test.rs"]
mod tests;
