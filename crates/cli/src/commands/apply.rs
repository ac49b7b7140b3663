//! `lockgate apply -f FILE|DIR|- [--dry-run]`: create or replace resources, like kubectl.
//!
//! Every valid document is applied, in file order; a document that does not decode is reported
//! with its file, resource and field path and makes the run fail, without holding back the
//! others (kubectl's behaviour, and what a team applying a directory expects).
//!
//! One resource is one PUT. Several go in batches (`POST /apply`): the gateway validates a
//! batch once and stores it in one transaction, where one PUT each would validate every
//! resource against everything stored, a cost that grows with the square of the count. Each
//! resource is still answered on its own, with the line a PUT would print. A gateway without
//! `/apply` gets one PUT each.

use std::path::PathBuf;
use std::process::ExitCode;

use lockgate_api::Resource;
use serde_json::Value;

use crate::client::{self, Client, ClientError, ServerArgs, WriteAnswer};
use crate::served::ServedView;
use crate::sources::{self, Item, Source};

/// A batch stays well under the admin API's 8 MiB body limit.
const BATCH_BYTES: usize = 6 * 1024 * 1024;

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
    Ok(if apply_sources(&client, &sources, args.dry_run)? {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Applies every document of `source` (see [`apply_sources`]).
pub(crate) fn apply_source(
    client: &Client,
    source: &Source,
    dry_run: bool,
) -> Result<bool, ClientError> {
    apply_sources(client, std::slice::from_ref(source), dry_run)
}

/// Applies every document of `sources`, printing a line per resource. `Ok(false)` when some
/// document failed; an unreachable server stops everything.
pub(crate) fn apply_sources(
    client: &Client,
    sources: &[Source],
    dry_run: bool,
) -> Result<bool, ClientError> {
    let mut ok = true;
    let mut resources = Vec::new();
    for source in sources {
        for item in sources::decode(&source.text) {
            match item {
                Item::Skipped(skipped) => eprintln!("{}: {skipped}", source.name),
                Item::Invalid(invalid) => {
                    eprintln!("error: {}", invalid.describe(&source.name));
                    ok = false;
                }
                Item::Resource(resource) => resources.push(*resource),
            }
        }
    }
    if resources.len() == 1 {
        return Ok(put_one(client, &resources[0], dry_run)? && ok);
    }
    for batch in batches(&resources) {
        ok &= apply_batch(client, batch, dry_run)?;
    }
    Ok(ok)
}

/// Consecutive runs of `resources` of at most [`BATCH_BYTES`] of JSON each (a larger
/// resource alone); each with its JSON.
fn batches(resources: &[Resource]) -> Vec<Vec<(&Resource, Value)>> {
    let mut out: Vec<Vec<(&Resource, Value)>> = Vec::new();
    let mut bytes = 0;
    for resource in resources {
        let json = resource.to_json();
        let size = json.to_string().len();
        match out.last_mut() {
            Some(batch) if bytes + size <= BATCH_BYTES => batch.push((resource, json)),
            _ => {
                out.push(vec![(resource, json)]);
                bytes = 0;
            }
        }
        bytes += size;
    }
    out
}

fn apply_batch(
    client: &Client,
    batch: Vec<(&Resource, Value)>,
    dry_run: bool,
) -> Result<bool, ClientError> {
    let (resources, items): (Vec<&Resource>, Vec<Value>) = batch.into_iter().unzip();
    let answer = match client.apply(items, dry_run) {
        Ok(answer) => answer,
        // A gateway that predates `/apply`.
        Err(ClientError::Server(e)) if e.code == 404 => {
            let mut ok = true;
            for resource in resources {
                ok &= put_one(client, resource, dry_run)?;
            }
            return Ok(ok);
        }
        Err(error @ ClientError::Unreachable { .. }) => return Err(error),
        Err(error) => {
            eprintln!("{error}");
            return Ok(false);
        }
    };
    let mut ok = true;
    for (resource, item) in resources.into_iter().zip(answer.items) {
        match item {
            Ok(written) => print_written(resource, &written, dry_run),
            Err(error) => {
                eprintln!("{}", ClientError::Server(error));
                ok = false;
            }
        }
    }
    super::print_problems(&answer.problems);
    Ok(ok)
}

fn put_one(client: &Client, resource: &Resource, dry_run: bool) -> Result<bool, ClientError> {
    let key = resource.key();
    let path = client::resource_path(key.kind, Some(&key.namespace), Some(&key.name));
    match client.put(&path, &resource.to_json(), dry_run) {
        Ok(answer) => {
            print_written(resource, &answer, dry_run);
            super::print_problems(&answer.problems);
            Ok(true)
        }
        Err(error @ ClientError::Unreachable { .. }) => Err(error),
        Err(error) => {
            eprintln!("{error}");
            Ok(false)
        }
    }
}

/// `routetable.gateway.solo.io/echo-routes configured`, and what is not served of it.
fn print_written(resource: &Resource, answer: &WriteAnswer, dry_run: bool) {
    let key = resource.key();
    println!(
        "{} {}{}{}",
        client::object_name(key.kind, &key.name),
        answer.result,
        dry_run_note(dry_run),
        ServedView::of_object(&answer.object).apply_note()
    );
}

pub(crate) fn dry_run_note(dry_run: bool) -> &'static str {
    if dry_run { " (dry run)" } else { "" }
}
