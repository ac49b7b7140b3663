//! `lockgate validate -f PATH... [-o json]`: the translator's verdict on a set of files, offline.
//!
//! The files are read by the rules `serve --config-dir` reads a directory by
//! (`lockgate_store::scan`: which files count, their order, what a document that does not
//! decode means, which definition of a resource defined twice counts), and translated as one
//! snapshot, exactly as a gateway holding them would translate them, so a route table is judged
//! together with the upstreams and virtual services beside it, and a CI check on a directory
//! sees what the gateway serving it would show on `/check`. Only the resources written in the
//! files are reported: the implicit default Settings is there for the translation, not for the
//! report. Problems of the files themselves come after the resources, one report of kind `File`
//! per file, as `/check` shows them.

use std::path::PathBuf;
use std::process::ExitCode;

use lockgate_store::SourceProblem;
use lockgate_store::scan::Scan;

use crate::output::ResourceReport;
use crate::sources;

#[derive(Debug, clap::Args)]
pub(crate) struct ValidateArgs {
    /// Files or directories to validate; a directory is read as `serve --config-dir` reads it
    /// (its .yaml, .yml and .json files at any depth, hidden names skipped); `-` reads stdin.
    #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
    files: Vec<PathBuf>,
    /// Output format: the default is for people, `json` for scripts.
    #[arg(short = 'o', long = "output", value_enum)]
    output: Option<Format>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Json,
}

/// What validation found, before it is printed.
#[derive(Debug, Default)]
pub(crate) struct Validation {
    /// The files' resources in the order they define them, then one report per file with
    /// problems (kind [`FILE`]).
    pub(crate) resources: Vec<ResourceReport>,
    /// Notices for people (documents of other API groups), printed on stderr.
    pub(crate) notices: Vec<String>,
}

/// The kind `/check` gives a file's own problems: the same here, so that one parser reads both.
pub(crate) const FILE: &str = "File";

impl Validation {
    pub(crate) fn failed(&self) -> bool {
        self.resources.iter().any(ResourceReport::is_rejected)
    }
}

pub(crate) fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let scan = sources::scan_paths(&args.files)?;
    let validation = validate_scan(&scan);
    for notice in &validation.notices {
        eprintln!("{notice}");
    }
    match args.output {
        Some(Format::Json) => {
            let body = serde_json::json!({ "resources": validation.resources });
            println!("{}", serde_json::to_string_pretty(&body)?);
        }
        None => print_for_people(&validation),
    }
    Ok(if validation.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_for_people(validation: &Validation) {
    let (files, resources): (Vec<&ResourceReport>, Vec<&ResourceReport>) =
        validation.resources.iter().partition(|r| r.kind == FILE);
    for report in &resources {
        println!("{}", report.indented(""));
    }
    for file in &files {
        println!("{FILE} {}: {}", file.name, file.state);
        for reason in &file.reasons {
            println!("  {reason}");
        }
    }
    let count = |state: &str| resources.iter().filter(|r| r.state == state).count();
    let total = resources.len();
    let files = match files.len() {
        0 => String::new(),
        1 => "; 1 file with problems".into(),
        n => format!("; {n} files with problems"),
    };
    eprintln!(
        "{total} resource{}: {} Accepted, {} Warning, {} Rejected{files}",
        if total == 1 { "" } else { "s" },
        count("Accepted"),
        count("Warning"),
        count("Rejected"),
    );
}

/// Translates what the scan defined and reports each resource of the files in the order the
/// files define them, then the files' own problems.
pub(crate) fn validate_scan(scan: &Scan) -> Validation {
    let notices = scan
        .skipped
        .iter()
        .map(|(file, skipped)| format!("{}: {skipped}", file.display()))
        .collect();
    let reports = lockgate_translate::validate(&scan.snapshot());
    let mut resources: Vec<ResourceReport> = scan
        .entries
        .iter()
        .map(|(key, _)| ResourceReport::new(key, &reports.get(key).cloned().unwrap_or_default()))
        .collect();
    resources.extend(file_reports(&scan.problems));
    Validation { resources, notices }
}

/// One Rejected report per file, its problems as reasons in the order they were found: what
/// `/check` makes of a watched directory's problems.
fn file_reports(problems: &[SourceProblem]) -> Vec<ResourceReport> {
    let mut out: Vec<ResourceReport> = Vec::new();
    for problem in problems {
        let name = problem.file.display().to_string();
        match out.iter_mut().find(|r| r.name == name) {
            Some(file) => file.reasons.push(problem.message.clone()),
            None => out.push(ResourceReport {
                kind: FILE.into(),
                namespace: String::new(),
                name,
                state: "Rejected".into(),
                reasons: vec![problem.message.clone()],
            }),
        }
    }
    out
}

#[cfg(test)]
#[path = "validate_test.rs"]
mod tests;
