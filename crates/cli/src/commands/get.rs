//! `lockgate get KIND [NAME] [-n NS | -A] [-o yaml|json]`: what the gateway holds, and its state.
//!
//! Without `-n`, lists span every namespace (a gateway has few, and the NAMESPACE column says
//! which), and a NAME is looked up in all of them: found once, it is shown; found in several,
//! `-n` is asked for.

use std::process::ExitCode;

use anyhow::bail;
use lockgate_api::Kind;
use serde_json::Value;

use crate::client::{self, Client, ClientError, ServerArgs, ServerError};
use crate::output;
use crate::served::ServedView;

#[derive(Debug, clap::Args)]
pub(crate) struct GetArgs {
    /// `virtualservices` (vs), `routetables` (rt), `upstreams` (us), `endpoints` (ep), `settings`.
    kind: String,
    /// One resource by name.
    name: Option<String>,
    /// Only this namespace.
    #[arg(short = 'n', long, conflicts_with = "all_namespaces")]
    namespace: Option<String>,
    /// Every namespace (the default without -n).
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// `yaml` or `json`: the whole objects, status included. The default is a table.
    #[arg(short = 'o', long = "output", value_enum)]
    output: Option<Format>,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Yaml,
    Json,
}

pub(crate) fn run(args: GetArgs) -> anyhow::Result<ExitCode> {
    let kind = super::parse_kind(&args.kind)?;
    let client = Client::new(&args.server)?;
    let namespace = args.namespace.as_deref();

    let answer = match (&args.name, namespace) {
        (Some(name), Some(namespace)) => {
            client.get(&client::resource_path(kind, Some(namespace), Some(name)))?
        }
        (Some(name), None) => find_by_name(&client, kind, name)?,
        (None, namespace) => client.get(&client::resource_path(kind, namespace, None))?,
    };
    let items: Vec<Value> = match answer.get("items").and_then(Value::as_array) {
        Some(items) => items.clone(),
        None => vec![answer.clone()],
    };

    match args.output {
        Some(Format::Json) => println!(
            "{}",
            serde_json::to_string_pretty(&as_document(&answer, &items, &args))?
        ),
        Some(Format::Yaml) => print!("{}", output::yaml(&as_document(&answer, &items, &args))?),
        None if items.is_empty() => match namespace {
            Some(namespace) => eprintln!("No {} found in namespace {namespace}.", kind.plural()),
            None => eprintln!("No {} found.", kind.plural()),
        },
        None => print!("{}", table(kind, &items)),
    }
    Ok(ExitCode::SUCCESS)
}

/// A single object when one was asked for by name, else kubectl's `List`.
fn as_document(answer: &Value, items: &[Value], args: &GetArgs) -> Value {
    if args.name.is_some() {
        return items.first().cloned().unwrap_or_else(|| answer.clone());
    }
    serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": items })
}

fn find_by_name(client: &Client, kind: Kind, name: &str) -> anyhow::Result<Value> {
    let list = client.get(&client::resource_path(kind, None, None))?;
    let found: Vec<&Value> = list
        .get("items")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter(|item| text(item, "/metadata/name") == name)
                .collect()
        })
        .unwrap_or_default();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(ClientError::Server(ServerError {
            code: 404,
            reason: "NotFound".into(),
            message: format!("{} {name:?} not found in any namespace", kind.plural()),
            problems: Vec::new(),
        })
        .into()),
        several => {
            let namespaces: Vec<&str> = several
                .iter()
                .map(|item| text(item, "/metadata/namespace"))
                .collect();
            bail!(
                "{kind} {name:?} exists in several namespaces ({}): say which with -n",
                namespaces.join(", ")
            )
        }
    }
}

fn table(kind: Kind, items: &[Value]) -> String {
    let detail = detail_column(kind);
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            let state = match text(item, "/status/state") {
                "" => "Pending",
                state => state,
            };
            vec![
                text(item, "/metadata/namespace").to_string(),
                text(item, "/metadata/name").to_string(),
                state.to_string(),
                ServedView::of_object(item).column(),
                detail_of(kind, item),
            ]
        })
        .collect();
    output::table(&["NAMESPACE", "NAME", "STATE", "SERVED", detail], &rows)
}

/// The one fact about each kind a person looks for first.
fn detail_column(kind: Kind) -> &'static str {
    match kind {
        Kind::VirtualService => "DOMAINS",
        Kind::RouteTable => "ROUTES",
        Kind::Upstream => "TARGET",
        Kind::Endpoint => "ADDRESS",
        Kind::Settings => "INVALID-CONFIG-POLICY",
    }
}

fn detail_of(kind: Kind, item: &Value) -> String {
    match kind {
        Kind::VirtualService => item
            .pointer("/spec/virtualHost/domains")
            .and_then(Value::as_array)
            .map(|domains| {
                domains
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
        Kind::RouteTable => {
            let routes = item
                .pointer("/spec/routes")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            match item.pointer("/spec/weight").and_then(Value::as_i64) {
                Some(weight) => format!("{routes} (weight {weight})"),
                None => routes.to_string(),
            }
        }
        Kind::Upstream => {
            if let Some(kube) = item.pointer("/spec/kube") {
                format!(
                    "kube {}.{}",
                    text(kube, "/serviceNamespace"),
                    text(kube, "/serviceName")
                )
            } else if let Some(hosts) = item.pointer("/spec/static/hosts").and_then(Value::as_array)
            {
                let hosts: Vec<String> = hosts
                    .iter()
                    .map(|h| {
                        let port = h.get("port").and_then(Value::as_u64).unwrap_or(0);
                        format!("{}:{port}", text(h, "/addr"))
                    })
                    .collect();
                format!("static {}", hosts.join(","))
            } else {
                String::new()
            }
        }
        Kind::Endpoint => {
            let port = item
                .pointer("/spec/port")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            format!("{}:{port}", text(item, "/spec/address"))
        }
        Kind::Settings => {
            let policy = item.pointer("/spec/gloo/invalidConfigPolicy");
            let flag = |name: &str| {
                policy
                    .and_then(|p| p.get(name))
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            };
            if flag("keepLastValid") {
                "keepLastValid".into()
            } else if flag("replaceInvalidRoutes") {
                "replaceInvalidRoutes".into()
            } else {
                "lastKnownGood".into()
            }
        }
    }
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

#[cfg(test)]
#[path = "get_test.rs"]
mod tests;
