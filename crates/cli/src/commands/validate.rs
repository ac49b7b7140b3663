//! `lockgate validate -f PATH... [-o json]`: the translator's verdict on a set of files, offline.
//!
//! The files are read as one snapshot, exactly as a gateway holding them would translate them,
//! so a route table is judged together with the upstreams and virtual services beside it. Only
//! the resources written in the files are reported: the implicit default Settings is there for
//! the translation, not for the report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use lockgate_api::{ResourceKey, Snapshot, Undecodable};

use crate::output::ResourceReport;
use crate::sources::{self, Item};

#[derive(Debug, clap::Args)]
pub(crate) struct ValidateArgs {
    /// Files or directories (their .yaml, .yml and .json files) to validate; `-` reads stdin.
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
    pub(crate) resources: Vec<ResourceReport>,
    /// Documents that failed before they could be named: they fail the run on their own.
    pub(crate) unnamed_errors: Vec<String>,
    /// Notices for people (skipped documents, duplicates), printed on stderr.
    pub(crate) notices: Vec<String>,
}

impl Validation {
    pub(crate) fn failed(&self) -> bool {
        !self.unnamed_errors.is_empty() || self.resources.iter().any(ResourceReport::is_rejected)
    }
}

pub(crate) fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let sources = sources::read_sources(&args.files)?;
    let validation = validate_sources(&sources);
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
    for error in &validation.unnamed_errors {
        eprintln!("error: {error}");
    }
    Ok(if validation.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_for_people(validation: &Validation) {
    for report in &validation.resources {
        println!("{}", report.indented(""));
    }
    let count = |state: &str| {
        validation
            .resources
            .iter()
            .filter(|r| r.state == state)
            .count()
    };
    let total = validation.resources.len();
    eprintln!(
        "{total} resource{}: {} Accepted, {} Warning, {} Rejected",
        if total == 1 { "" } else { "s" },
        count("Accepted"),
        count("Warning"),
        count("Rejected"),
    );
}

/// Decodes every source into one snapshot, translates it, and reports each resource of the
/// files in the order the files name them.
pub(crate) fn validate_sources(sources: &[sources::Source]) -> Validation {
    let mut validation = Validation::default();
    let mut snapshot = Snapshot::default();
    // Every resource of the files, first appearance first; where it was defined; and the
    // decode errors of the ones that did not decode.
    let mut order: Vec<ResourceKey> = Vec::new();
    let mut defined_in: BTreeMap<ResourceKey, String> = BTreeMap::new();
    let mut decode_errors: BTreeMap<ResourceKey, Vec<String>> = BTreeMap::new();

    for source in sources {
        for item in sources::decode(&source.text) {
            let key = match item {
                Item::Skipped(skipped) => {
                    validation
                        .notices
                        .push(format!("{}: {skipped}", source.name));
                    continue;
                }
                Item::Invalid(invalid) => {
                    let Some(key) = invalid.error.resource.clone() else {
                        validation
                            .unnamed_errors
                            .push(invalid.describe(&source.name));
                        continue;
                    };
                    decode_errors
                        .entry(key.clone())
                        .or_default()
                        .push(invalid.reason());
                    snapshot.insert_undecodable(
                        key.clone(),
                        Undecodable {
                            labels: invalid.labels.clone(),
                            errors: vec![invalid.reason()],
                        },
                    );
                    key
                }
                Item::Resource(resource) => {
                    let key = resource.key();
                    // A later definition replaces an earlier one, as applying the files in order
                    // would; a decode error of the earlier one no longer applies.
                    decode_errors.remove(&key);
                    snapshot.insert(*resource);
                    key
                }
            };
            if let Some(previous) = defined_in.insert(key.clone(), source.name.clone()) {
                validation.notices.push(format!(
                    "{}: {key} is also defined in {previous}; the later definition is validated",
                    source.name
                ));
            } else {
                order.push(key);
            }
        }
    }

    let reports = lockgate_translate::validate(&snapshot);
    for key in order {
        let mut report = reports.get(&key).cloned().unwrap_or_default();
        if decode_errors.contains_key(&key) {
            // The decode errors first: they are why everything else about it is unknown.
            report
                .problems
                .sort_by_key(|p| p.code != lockgate_translate::Code::DecodeError);
        }
        validation
            .resources
            .push(ResourceReport::new(&key, &report));
    }
    validation
}

#[cfg(test)]
#[path = "validate_test.rs"]
mod tests;
