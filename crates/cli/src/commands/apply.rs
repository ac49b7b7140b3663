//! `lockgate apply -f FILE|DIR|- [--dry-run]`: create or replace resources, like kubectl.
//!
//! Every valid document is applied, in file order; a document that does not decode is reported
//! with its file, resource and field path and makes the run fail, without holding back the
//! others (kubectl's behaviour, and what a team applying a directory expects).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::client::{self, Client, ClientError, ServerArgs};
use crate::served::ServedView;
use crate::sources::{self, Item, Source};

#[derive(Debug, clap::Args)]
pub(crate) struct ApplyArgs {
    /// Files or directories (their .yaml, .yml and .json files) to apply; `-` reads stdin.
    #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
    files: Vec<PathBuf>,
    /// Validate and translate on the server, store nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    server: ServerArgs,
}

pub(crate) fn run(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let sources = sources::read_sources(&args.files)?;
    let client = Client::new(&args.server)?;
    let mut failed = false;
    for source in &sources {
        failed |= !apply_source(&client, source, args.dry_run)?;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Applies every document of `source`, printing a line per resource. `Ok(false)` when some
/// document failed; an unreachable server stops everything.
pub(crate) fn apply_source(
    client: &Client,
    source: &Source,
    dry_run: bool,
) -> Result<bool, ClientError> {
    let mut ok = true;
    for item in sources::decode(&source.text) {
        match item {
            Item::Skipped(skipped) => eprintln!("{}: {skipped}", source.name),
            Item::Invalid(invalid) => {
                eprintln!("error: {}", invalid.describe(&source.name));
                ok = false;
            }
            Item::Resource(resource) => {
                let key = resource.key();
                let path = client::resource_path(key.kind, Some(&key.namespace), Some(&key.name));
                match client.put(&path, &resource.to_json(), dry_run) {
                    Ok(answer) => {
                        println!(
                            "{} {}{}{}",
                            client::object_name(key.kind, &key.name),
                            answer.result,
                            dry_run_note(dry_run),
                            ServedView::of_object(&answer.object).apply_note()
                        );
                        super::print_problems(&answer.problems);
                    }
                    Err(error @ ClientError::Unreachable { .. }) => return Err(error),
                    Err(error) => {
                        eprintln!("{error}");
                        ok = false;
                    }
                }
            }
        }
    }
    Ok(ok)
}

pub(crate) fn dry_run_note(dry_run: bool) -> &'static str {
    if dry_run { " (dry run)" } else { "" }
}
