//! `lockgate check`: glooctl check's report of everything that is not Accepted.

use std::process::ExitCode;

use lockgate_api::Kind;
use serde::Deserialize;

use crate::client::{Client, ServerArgs};
use crate::output::ResourceReport;
use crate::served::ServedView;

#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CheckAnswer {
    #[serde(default)]
    pub(crate) problems: Vec<ResourceReport>,
    #[serde(default)]
    pub(crate) resources: Vec<ResourceReport>,
    /// Resources whose stored generation is not served because of something else.
    #[serde(default)]
    pub(crate) blocked: Vec<serde_json::Value>,
}

pub(crate) fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.server)?;
    let answer: CheckAnswer = serde_json::from_value(client.get("/check")?)?;
    // A gateway serving a directory also reports its files: then they get a section of their own.
    let with_files = answer
        .resources
        .iter()
        .chain(&answer.problems)
        .any(|r| r.kind == FILE);
    let (text, clean) = render(&answer.problems, &answer.blocked, with_files);
    print!("{text}");
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The sections glooctl prints, one per kind, in the order a request meets them.
const SECTIONS: [(Kind, &str); 5] = [
    (Kind::Settings, "settings"),
    (Kind::Upstream, "upstreams"),
    (Kind::Endpoint, "endpoints"),
    (Kind::VirtualService, "virtual services"),
    (Kind::RouteTable, "route tables"),
];

/// What `/check` calls a file of a `--config-dir` that holds no resource it can be matched to.
const FILE: &str = "File";

/// The report, and whether it is clean.
pub(crate) fn render(
    problems: &[ResourceReport],
    blocked: &[serde_json::Value],
    with_files: bool,
) -> (String, bool) {
    let mut out = String::new();
    let mut listed = 0;
    if with_files {
        let files: Vec<&ResourceReport> = problems.iter().filter(|p| p.kind == FILE).collect();
        listed += files.len();
        out.push_str(&section("files", &files));
    }
    for (kind, title) in SECTIONS {
        let of_kind: Vec<&ResourceReport> = problems
            .iter()
            .filter(|p| p.kind == kind.as_str())
            .collect();
        listed += of_kind.len();
        out.push_str(&section(title, &of_kind));
    }
    // A kind this client does not know yet (a newer server) still shows.
    let others: Vec<&ResourceReport> = problems
        .iter()
        .filter(|p| p.kind != FILE && !SECTIONS.iter().any(|(kind, _)| p.kind == kind.as_str()))
        .collect();
    if !others.is_empty() {
        listed += others.len();
        out.push_str(&section("other resources", &others));
    }
    // Only when there is something to say: a change held back by another resource.
    if !blocked.is_empty() {
        listed += blocked.len();
        out.push_str(&format!(
            "Checking what is served... {} Blocked!\n",
            blocked.len()
        ));
        for entry in blocked {
            let name = |field: &str| entry.get(field).and_then(|v| v.as_str()).unwrap_or("");
            out.push_str(&format!(
                "  {} {} {}: {}\n",
                name("kind"),
                name("namespace"),
                name("name"),
                ServedView::of_report(entry).check_text()
            ));
        }
    }
    let clean = listed == 0;
    out.push_str(if clean {
        "No problems detected.\n"
    } else {
        "Problems detected!\n"
    });
    (out, clean)
}

fn section(title: &str, problems: &[&ResourceReport]) -> String {
    let mut out = format!("Checking {title}... ");
    if problems.is_empty() {
        out.push_str("OK\n");
        return out;
    }
    let errors = problems.iter().filter(|p| p.is_rejected()).count();
    let warnings = problems.len() - errors;
    let mut counts = Vec::new();
    if errors > 0 {
        counts.push(format!("{errors} Errors!"));
    }
    if warnings > 0 {
        counts.push(format!("{warnings} Warnings!"));
    }
    out.push_str(&counts.join(" "));
    out.push('\n');
    for problem in problems {
        let namespace = if problem.namespace.is_empty() {
            String::new()
        } else {
            format!(" {}", problem.namespace)
        };
        out.push_str(&format!(
            "  {}{namespace} {}: {}\n",
            problem.kind, problem.name, problem.state
        ));
        for reason in &problem.reasons {
            out.push_str(&format!("    {reason}\n"));
        }
    }
    out
}

#[cfg(test)]
#[path = "check_test.rs"]
mod tests;
