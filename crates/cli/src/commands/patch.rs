//! `lockgate patch KIND NAME -n NS --type merge --patch-file F | --patch TEXT`: a JSON merge
//! patch (RFC 7386), written in YAML or JSON, like `kubectl patch --type merge`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::client::{self, Client, ServerArgs};
use crate::served::ServedView;

#[derive(Debug, clap::Args)]
pub(crate) struct PatchArgs {
    /// The kind (`settings`, `rt`, `vs`, `us`, `ep` or the full name).
    kind: String,
    name: String,
    /// Namespace of the resource; the system namespace by default.
    #[arg(short = 'n', long, default_value = lockgate_api::SYSTEM_NAMESPACE)]
    namespace: String,
    /// The patch strategy; lockgate speaks JSON merge patch.
    #[arg(long = "type", default_value = "merge")]
    patch_type: String,
    /// The patch, in JSON or YAML.
    #[arg(
        short = 'p',
        long,
        conflicts_with = "patch_file",
        required_unless_present = "patch_file"
    )]
    patch: Option<String>,
    /// A file holding the patch, in YAML or JSON.
    #[arg(long)]
    patch_file: Option<PathBuf>,
    /// Check on the server, store nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    server: ServerArgs,
}

pub(crate) fn run(args: PatchArgs) -> anyhow::Result<ExitCode> {
    if args.patch_type != "merge" {
        bail!(
            "--type {} is not supported: lockgate applies JSON merge patches (--type merge)",
            args.patch_type
        );
    }
    let kind = super::parse_kind(&args.kind)?;
    let (text, origin) = match (&args.patch, &args.patch_file) {
        (Some(text), _) => (text.clone(), "--patch".to_string()),
        (None, Some(file)) => (
            std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?,
            file.display().to_string(),
        ),
        (None, None) => bail!("give the patch with --patch or --patch-file"),
    };
    let patch = parse_patch(&text).with_context(|| format!("{origin} is not a valid patch"))?;

    let client = Client::new(&args.server)?;
    let path = client::resource_path(kind, Some(&args.namespace), Some(&args.name));
    let answer = client.merge_patch(&path, &patch, args.dry_run)?;
    let result = match answer.result.as_str() {
        "unchanged" => "patched (no change)",
        _ => "patched",
    };
    println!(
        "{} {result}{}{}",
        client::object_name(kind, &args.name),
        super::apply::dry_run_note(args.dry_run),
        ServedView::of_object(&answer.object).apply_note()
    );
    super::print_problems(&answer.problems);
    Ok(ExitCode::SUCCESS)
}

/// Reads a patch written in YAML or JSON (JSON is YAML) into the JSON value sent as the merge
/// patch. A merge patch is an object: anything else would replace the whole resource.
pub(crate) fn parse_patch(text: &str) -> anyhow::Result<serde_json::Value> {
    let value: serde_json::Value = serde_yaml_ng::from_str(text)?;
    if !value.is_object() {
        bail!("a merge patch must be a mapping, like `{{\"spec\": {{...}}}}`");
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::parse_patch;

    #[test]
    fn yaml_and_json_patches_are_the_same_merge_patch() {
        let yaml = "spec:\n  gloo:\n    invalidConfigPolicy:\n      replaceInvalidRoutes: true\n";
        let json = r#"{"spec":{"gloo":{"invalidConfigPolicy":{"replaceInvalidRoutes":true}}}}"#;
        assert_eq!(parse_patch(yaml).unwrap(), parse_patch(json).unwrap());
    }

    #[test]
    fn a_patch_that_is_not_a_mapping_is_refused() {
        let error = parse_patch("- a\n- b\n").unwrap_err();
        assert!(error.to_string().contains("must be a mapping"), "{error}");
    }
}
