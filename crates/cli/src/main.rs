//! `lockgate`: the gateway (`serve`) and the commands that drive it.
//!
//! This binary is thin on purpose: the work happens in the library crates, and every module
//! here either parses flags, talks to the admin API, or prints for people.

mod client;
mod commands;
mod echo;
mod output;
// serve.rs keeps a `pub` surface: its owner shapes it as a future library API.
#[allow(unreachable_pub)]
mod serve;
mod served;
mod sources;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::client::ClientError;

/// An API gateway for many teams sharing one domain, speaking Gloo Edge's resources.
#[derive(Debug, Parser)]
#[command(name = "lockgate", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway: proxy listener, admin API, and the embedded store (or --config-dir).
    Serve(serve::ServeArgs),
    /// Run the gateway with four echo backends and the seed's canary configuration, for trying.
    Demo(commands::demo::DemoArgs),
    /// Create or replace resources from files, like kubectl apply.
    Apply(commands::apply::ApplyArgs),
    /// Delete the resources of files, or one resource by kind and name.
    Delete(commands::delete::DeleteArgs),
    /// Show resources and their state.
    Get(commands::get::GetArgs),
    /// Change a resource with a JSON merge patch.
    Patch(commands::patch::PatchArgs),
    /// Report every resource that is not Accepted, like glooctl check.
    Check(commands::check::CheckArgs),
    /// Where the proxy answers.
    #[command(subcommand)]
    Proxy(commands::proxy::ProxyCommand),
    /// Validate resource files offline, without a gateway.
    Validate(commands::validate::ValidateArgs),
    /// A tiny HTTP server answering TEXT to every request, for demos and tests.
    Echo(echo::EchoArgs),
}

/// mimalloc instead of glibc's malloc: translation and the request path allocate many small
/// objects across threads. Measured on this 2-core machine: propagation at 50,000 routes 350 ms
/// -> 176 ms (bench/controlplane.py), proxy CPU per request 1.19-1.25x HAProxy's -> 1.11-1.14x
/// (bench/dataplane.sh), for about 20 MiB more resident memory at idle.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// mimalloc's own C API (linked in by the `mimalloc` crate, which does not expose it).
unsafe extern "C" {
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// Indices in mimalloc's `mi_option_t` (the same in v2 and v3, `include/mimalloc.h`).
const MI_OPTION_ARENA_EAGER_COMMIT: std::ffi::c_int = 4;
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// Two mimalloc options, measured with bench/controlplane.py (5,000 / 50,000 routes):
/// - it commits a whole arena when it reserves one (Linux overcommits, so it may): about
///   20 MiB resident before anything is loaded. Committed as used, idle RSS went 34 -> 16 MiB.
/// - it keeps freed pages 10 ms (100 ms in arenas) before giving them back, so the scratch
///   memory of each translation stays resident: loaded 72 / 436 MiB, propagation p50 20 / 151
///   ms. Purged at once: 46 / 264 MiB, but 24 / 243 ms (a translation faults its scratch memory
///   in again every time). 50 ms (500 ms in arenas) sits between: 51 / 280 MiB, 21 / 178 ms.
///   The proxy's CPU per request moved within this machine's noise either way.
///
/// Options must be set before the first allocation, which the Rust runtime makes before
/// `main`: hence a constructor, run by the loader before the runtime starts.
extern "C" fn tune_allocator() {
    // SAFETY: sets plain integer options, before any allocation.
    unsafe {
        mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        mi_option_set(MI_OPTION_PURGE_DELAY, 50);
    }
}

#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn() = tune_allocator;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run_blocking(args).map(|()| ExitCode::SUCCESS),
        Command::Demo(args) => commands::demo::run(args),
        Command::Apply(args) => commands::apply::run(args),
        Command::Delete(args) => commands::delete::run(args),
        Command::Get(args) => commands::get::run(args),
        Command::Patch(args) => commands::patch::run(args),
        Command::Check(args) => commands::check::run(args),
        Command::Proxy(command) => commands::proxy::run(command),
        Command::Validate(args) => commands::validate::run(args),
        Command::Echo(args) => echo::run(args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            match error.downcast_ref::<ClientError>() {
                // Already worded for the terminal, kubectl-style.
                Some(client_error) => eprintln!("{client_error}"),
                None => eprintln!("error: {error:#}"),
            }
            ExitCode::FAILURE
        }
    }
}
