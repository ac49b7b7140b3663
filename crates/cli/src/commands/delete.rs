//! `lockgate delete -f PATH` or `lockgate delete KIND NAME -n NS`: remove resources.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use lockgate_api::ResourceKey;

use crate::client::{self, Client, ClientError, ServerArgs};
use crate::sources::{self, Item};

#[derive(Debug, clap::Args)]
pub(crate) struct DeleteArgs {
    /// The kind (`rt`, `vs`, `us`, `ep`, `settings` or the full name) when deleting by name.
    kind: Option<String>,
    /// Names of the resources to delete, with KIND.
    names: Vec<String>,
    /// Files or directories whose resources are deleted; `-` reads stdin.
    #[arg(short = 'f', long = "filename", num_args = 1.., conflicts_with = "kind")]
    files: Vec<PathBuf>,
    /// Namespace of the named resources.
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// A resource that does not exist is not an error.
    #[arg(long)]
    ignore_not_found: bool,
    /// Check on the server, delete nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    server: ServerArgs,
}

pub(crate) fn run(args: DeleteArgs) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let keys = if args.files.is_empty() {
        named_keys(&args)?
    } else {
        let mut keys = Vec::new();
        for source in &sources::read_sources(&args.files)? {
            for item in sources::decode(&source.text) {
                match item {
                    Item::Resource(resource) => keys.push(resource.key()),
                    Item::Skipped(skipped) => eprintln!("{}: {skipped}", source.name),
                    // Deleting needs only the name: a resource whose spec no longer decodes
                    // can still be deleted.
                    Item::Invalid(invalid) => match invalid.error.resource.clone() {
                        Some(key) => keys.push(key),
                        None => {
                            eprintln!("error: {}", invalid.describe(&source.name));
                            failed = true;
                        }
                    },
                }
            }
        }
        keys
    };

    let client = Client::new(&args.server)?;
    for key in keys {
        let path = client::resource_path(key.kind, Some(&key.namespace), Some(&key.name));
        match client.delete(&path, args.dry_run) {
            Ok(answer) => {
                println!(
                    "{} {}{}",
                    client::object_name(key.kind, &key.name),
                    answer.result,
                    super::apply::dry_run_note(args.dry_run)
                );
                super::print_problems(&answer.problems);
            }
            Err(ClientError::Server(error)) if error.is_not_found() && args.ignore_not_found => {}
            Err(error @ ClientError::Unreachable { .. }) => return Err(error.into()),
            Err(error) => {
                eprintln!("{error}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn named_keys(args: &DeleteArgs) -> anyhow::Result<Vec<ResourceKey>> {
    let Some(kind) = &args.kind else {
        bail!(
            "say what to delete: `lockgate delete -f FILE` or `lockgate delete KIND NAME -n NAMESPACE`"
        );
    };
    let kind = super::parse_kind(kind)?;
    if args.names.is_empty() {
        bail!(
            "name the {kind} to delete: `lockgate delete {} NAME -n NAMESPACE`",
            kind.plural()
        );
    }
    // Without `-n`, the system namespace, where Gloo keeps virtual services, upstreams and
    // settings.
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| lockgate_api::SYSTEM_NAMESPACE.to_string());
    Ok(args
        .names
        .iter()
        .map(|name| ResourceKey::new(kind, namespace.clone(), name.clone()))
        .collect())
}
