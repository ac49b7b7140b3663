//! One module per subcommand; `main.rs` only parses and dispatches.

pub(crate) mod apply;
pub(crate) mod check;
pub(crate) mod delete;
pub(crate) mod demo;
pub(crate) mod get;
pub(crate) mod patch;
pub(crate) mod proxy;
pub(crate) mod validate;

use anyhow::bail;
use lockgate_api::Kind;

use crate::output::ResourceReport;

/// A kind as people type it (`rt`, `routetables`, `RouteTable`, `routetables.gateway.solo.io`).
pub(crate) fn parse_kind(text: &str) -> anyhow::Result<Kind> {
    match Kind::parse(text) {
        Some(kind) => Ok(kind),
        None => bail!(
            "unknown kind {text:?}: use virtualservices (vs), routetables (rt), upstreams (us), endpoints (ep) or settings"
        ),
    }
}

/// The problems a write answer carries, under the line that names the write.
pub(crate) fn print_problems(problems: &[ResourceReport]) {
    for problem in problems {
        println!("{}", problem.indented("  "));
    }
}
