//! What the commands print: reports, tables and objects, in the shapes people and scripts expect.

use std::fmt::Write as _;

use lockgate_api::ResourceKey;
use lockgate_translate::Report;
use serde::{Deserialize, Serialize};

/// The state of one resource, as `validate -o json`, `/check` and the write answers spell it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ResourceReport {
    pub(crate) kind: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) state: String,
    #[serde(default)]
    pub(crate) reasons: Vec<String>,
}

impl ResourceReport {
    pub(crate) fn new(key: &ResourceKey, report: &Report) -> ResourceReport {
        ResourceReport {
            kind: key.kind.to_string(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            state: report.state().to_string(),
            reasons: report.reasons(),
        }
    }

    pub(crate) fn is_rejected(&self) -> bool {
        self.state == "Rejected"
    }

    /// `RouteTable echo.echo-routes: Rejected`, then one indented line per reason.
    pub(crate) fn indented(&self, indent: &str) -> String {
        let mut out = format!(
            "{indent}{} {}.{}: {}",
            self.kind, self.namespace, self.name, self.state
        );
        for reason in &self.reasons {
            let _ = write!(out, "\n{indent}  {reason}");
        }
        out
    }
}

/// Columns aligned the way kubectl aligns them: each as wide as its widest cell, three spaces
/// apart, no trailing spaces.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(i) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("   ");
            }
            let width = widths.get(i).copied().unwrap_or(0);
            let _ = write!(line, "{cell:<width$}");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// An object or a list as YAML, keys in the order the server sent them.
pub(crate) fn yaml(value: &serde_json::Value) -> anyhow::Result<String> {
    Ok(serde_yaml_ng::to_string(value)?)
}

#[cfg(test)]
#[path = "output_test.rs"]
mod tests;
