//! `lockgate demo`: the seed's two-phased canary on one machine, in one command.
//!
//! Starts the gateway with an embedded store in a temporary state directory, four echo
//! backends in-process (echo-v1, echo-v2, foxtrot-v1, foxtrot-v2), and applies the seed's
//! starting point: the upstreams, the v1 endpoints, rt-echo-1, rt-foxtrot-1 and the virtual
//! service. The v2 backends already run, but their Endpoints are applied by the person trying
//! the demo, at the step where the seed deploys them, so every answer matches the story's.
//! The seed's files are written next to the state so the printed commands can be pasted as
//! they are.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;

use crate::client::{Client, ServerArgs};
use crate::sources::Source;
use crate::{echo, serve};

#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Proxy listener; 127.0.0.1:8080 when free, else any free port.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Admin API; 127.0.0.1:9901 when free (so the client commands need no --server), else any
    /// free port.
    #[arg(long)]
    admin: Option<SocketAddr>,
}

/// The seed's lockgate resources, as shipped in `crates/cli/demo/` (Apache-2.0 test data from
/// solo-io/valet).
const SEED: [(&str, &str); 13] = [
    (
        "upstream-echo.yaml",
        include_str!("../../demo/upstream-echo.yaml"),
    ),
    (
        "upstream-foxtrot.yaml",
        include_str!("../../demo/upstream-foxtrot.yaml"),
    ),
    ("vs.yaml", include_str!("../../demo/vs.yaml")),
    ("rt-echo-1.yaml", include_str!("../../demo/rt-echo-1.yaml")),
    ("rt-echo-2.yaml", include_str!("../../demo/rt-echo-2.yaml")),
    ("rt-echo-3.yaml", include_str!("../../demo/rt-echo-3.yaml")),
    (
        "rt-foxtrot-1.yaml",
        include_str!("../../demo/rt-foxtrot-1.yaml"),
    ),
    (
        "rt-foxtrot-2.yaml",
        include_str!("../../demo/rt-foxtrot-2.yaml"),
    ),
    (
        "rt-foxtrot-3.yaml",
        include_str!("../../demo/rt-foxtrot-3.yaml"),
    ),
    (
        "rt-foxtrot-4.yaml",
        include_str!("../../demo/rt-foxtrot-4.yaml"),
    ),
    (
        "rt-foxtrot-5.yaml",
        include_str!("../../demo/rt-foxtrot-5.yaml"),
    ),
    (
        "settings-patch.yaml",
        include_str!("../../demo/settings-patch.yaml"),
    ),
    (
        "settings-patch-revert.yaml",
        include_str!("../../demo/settings-patch-revert.yaml"),
    ),
];

/// Applied at start, in this order: the upstreams, the Endpoints of the v1 backends (written by
/// the demo, with the ports it got), the teams' first route tables, the virtual service.
const STARTING_STATE: [&str; 7] = [
    "upstream-echo.yaml",
    "upstream-foxtrot.yaml",
    "endpoint-echo-v1.yaml",
    "endpoint-foxtrot-v1.yaml",
    "rt-echo-1.yaml",
    "rt-foxtrot-1.yaml",
    "vs.yaml",
];

/// The backends: (app, version), each served as `version:{app}-{version}` like the seed's
/// http-echo deployments.
const BACKENDS: [(&str, &str); 4] = [
    ("echo", "v1"),
    ("echo", "v2"),
    ("foxtrot", "v1"),
    ("foxtrot", "v2"),
];

/// How long the gateway may take to become ready before the demo gives up.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// `lockgate serve`'s own flag parser, so the demo starts it exactly as a person would.
#[derive(Debug, Parser)]
struct ServeCommand {
    #[command(flatten)]
    args: serve::ServeArgs,
}

pub(crate) fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let home = tempfile::Builder::new()
        .prefix("lockgate-demo-")
        .tempdir()
        .context("creating the demo's temporary directory")?;
    let state_dir = home.path().join("state");
    let seed_dir = home.path().join("seed");
    write_seed(&seed_dir)?;

    // Checked free before anything starts: a demo that found another gateway on its admin
    // port would otherwise apply the seed to that one.
    let listen = usable_address(args.listen, 8080, "--listen")?;
    let admin = usable_address(args.admin, 9901, "--admin")?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let mut backends = Vec::new();
    for (app, version) in BACKENDS {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .context("starting an echo backend")?;
        let address = listener.local_addr()?;
        let text = format!("version:{app}-{version}");
        runtime.spawn(async move {
            if let Err(error) = echo::serve(listener, text).await {
                eprintln!("error: echo backend {address}: {error:#}");
            }
        });
        std::fs::write(
            seed_dir.join(format!("endpoint-{app}-{version}.yaml")),
            endpoint_yaml(app, version, address),
        )?;
        backends.push((app, version, address));
    }

    let serve_args = ServeCommand::try_parse_from([
        "serve".to_string(),
        "--listen".into(),
        listen.to_string(),
        "--admin".into(),
        admin.to_string(),
        "--state-dir".into(),
        state_dir.display().to_string(),
    ])
    .context("building the gateway's flags")?
    .args;
    // The gateway thread and Ctrl-C both report here: whichever comes first ends the demo.
    let (events, ended) = std::sync::mpsc::channel();
    let gateway_events = events.clone();
    std::thread::Builder::new()
        .name("gateway".into())
        .spawn(move || {
            let result = serve::run_blocking(serve_args);
            let _ = gateway_events.send(Ended::Gateway(result));
        })
        .context("starting the gateway")?;

    let server = ServerArgs {
        server: format!("http://{admin}"),
        token: None,
    };
    let client = Client::new(&server)?;
    let deadline = Instant::now() + READY_WITHIN;
    while !client.is_ready() {
        if let Ok(Ended::Gateway(result)) = ended.try_recv() {
            return Err(gateway_stopped(result));
        }
        if Instant::now() > deadline {
            bail!("the gateway did not become ready at {admin} within {READY_WITHIN:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    println!("Applying the seed's starting state:");
    for file in STARTING_STATE {
        let path = seed_dir.join(file);
        let source = Source {
            name: path.display().to_string(),
            text: std::fs::read_to_string(&path)?,
        };
        if !super::apply::apply_source(&client, &source, false)? {
            bail!("the seed's {file} was not applied; see above");
        }
    }

    wait_until_served(listen);
    print!("{}", guide(listen, admin, &seed_dir, &backends));
    runtime.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = events.send(Ended::Interrupted);
        }
    });
    match ended.recv() {
        // The gateway handles SIGINT itself and may report first: stopping cleanly is no error.
        Ok(Ended::Gateway(Err(error))) => Err(error.context("the gateway stopped")),
        Ok(Ended::Gateway(Ok(())) | Ended::Interrupted) | Err(_) => {
            println!("\nStopping; removing {}.", home.path().display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Why the demo ends.
enum Ended {
    Gateway(anyhow::Result<()>),
    Interrupted,
}

fn gateway_stopped(result: anyhow::Result<()>) -> anyhow::Error {
    match result {
        Err(error) => error.context("the gateway stopped"),
        Ok(()) => anyhow::anyhow!("the gateway stopped"),
    }
}

/// Publishing follows a write by a few milliseconds: wait until the proxy answers the seed's
/// first request, so the curls printed next work at once.
fn wait_until_served(listen: SocketAddr) {
    let client = reqwest::blocking::Client::new();
    let url = format!("http://{listen}/echo");
    let deadline = Instant::now() + READY_WITHIN;
    while Instant::now() < deadline {
        if client
            .get(&url)
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("warning: {url} does not answer 200 yet; `lockgate check` may say why");
}

fn write_seed(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, text) in SEED {
        std::fs::write(dir.join(name), text)
            .with_context(|| format!("writing {}", dir.join(name).display()))?;
    }
    Ok(())
}

/// The address asked for, when nothing listens there; without one, `127.0.0.1:{preferred}`
/// when free, else a free port the system picks.
fn usable_address(
    asked: Option<SocketAddr>,
    preferred: u16,
    flag: &str,
) -> anyhow::Result<SocketAddr> {
    // Each listener is closed again before the gateway binds: a program could take the port in
    // between, and the gateway would then stop with the error. That is rare for a demo.
    let listener = match asked {
        Some(address) => TcpListener::bind(address).with_context(|| {
            format!("{address} is taken (another gateway?): choose another {flag}, or leave it out")
        })?,
        None => TcpListener::bind(("127.0.0.1", preferred))
            .or_else(|_| TcpListener::bind("127.0.0.1:0"))
            .context("finding a free port")?,
    };
    Ok(listener.local_addr()?)
}

/// The Endpoint that stands for one backend, as the seed's Deployment of http-echo would be
/// seen by Kubernetes.
pub(crate) fn endpoint_yaml(app: &str, version: &str, address: SocketAddr) -> String {
    format!(
        "apiVersion: gloo.solo.io/v1\nkind: Endpoint\nmetadata:\n  name: {app}-{version}\n  namespace: {app}\n  labels:\n    app: {app}\n    version: {version}\nspec:\n  address: \"{}\"\n  port: {}\n",
        address.ip(),
        address.port()
    )
}

fn guide(
    listen: SocketAddr,
    admin: SocketAddr,
    seed: &Path,
    backends: &[(&str, &str, SocketAddr)],
) -> String {
    let url = format!("http://{listen}");
    let lockgate = command_name();
    let file = |name: &str| seed.join(name).display().to_string();
    let mut out = String::new();
    out.push_str(&format!(
        "\nlockgate demo is running.\n  proxy:      {url}\n  admin API:  http://{admin}\n"
    ));
    for (app, version, address) in backends {
        out.push_str(&format!("  backend:    {app}-{version} at {address}\n"));
    }
    out.push_str(&format!("  seed files: {}\n\n", seed.display()));
    if admin.port() != 9901 {
        out.push_str(&format!(
            "In another terminal, first:\n  export LOCKGATE_SERVER=http://{admin}\n\n"
        ));
    }
    let steps: Vec<(&str, Vec<String>)> = vec![
        (
            "Now: each team's route table sends its prefix to v1",
            vec![
                format!("curl {url}/echo                       # version:echo-v1"),
                format!("curl {url}/foxtrot                    # version:foxtrot-v1"),
            ],
        ),
        (
            "foxtrot, phase 1: deploy v2, send the canary header to it",
            vec![
                format!(
                    "{lockgate} apply -f {} -f {}",
                    file("endpoint-foxtrot-v2.yaml"),
                    file("rt-foxtrot-2.yaml")
                ),
                format!("curl -H \"stage: canary\" {url}/foxtrot  # version:foxtrot-v2"),
            ],
        ),
        (
            "foxtrot, phase 2: weighted destinations, still 100% v1",
            vec![format!("{lockgate} apply -f {}", file("rt-foxtrot-3.yaml"))],
        ),
        (
            "echo, phase 1: deploy v2, canary header to it",
            vec![
                format!(
                    "{lockgate} apply -f {} -f {}",
                    file("endpoint-echo-v2.yaml"),
                    file("rt-echo-2.yaml")
                ),
                format!("curl -H \"stage: canary\" {url}/echo     # version:echo-v2"),
            ],
        ),
        (
            "echo makes a typo (echo-typo) while foxtrot shifts to v2: under Gloo's default policy the virtual service keeps its last good config, so foxtrot is blocked",
            vec![
                format!(
                    "{lockgate} apply -f {} -f {}",
                    file("rt-echo-3.yaml"),
                    file("rt-foxtrot-4.yaml")
                ),
                format!("curl {url}/foxtrot                    # still version:foxtrot-v1"),
                format!(
                    "{lockgate} check                              # names echo.echo-routes and echo-typo"
                ),
            ],
        ),
        (
            "Replace only invalid routes (Gloo's replaceInvalidRoutes): foxtrot moves on, echo's broken canary route answers 404",
            vec![
                format!(
                    "{lockgate} patch settings default -n gloo-system --type merge --patch-file {}",
                    file("settings-patch.yaml")
                ),
                format!("curl {url}/foxtrot                    # version:foxtrot-v2"),
                format!(
                    "curl -H \"stage: canary\" {url}/echo     # 404 Gloo Gateway has invalid configuration..."
                ),
                format!(
                    "# or lockgate's own keepLastValid: echo's canary keeps answering from its last valid table\n  {lockgate} patch settings default -n gloo-system --type merge --patch '{{\"spec\":{{\"gloo\":{{\"invalidConfigPolicy\":{{\"keepLastValid\":true}}}}}}}}'"
                ),
            ],
        ),
        (
            "Finish: echo fixes its table, foxtrot retires v1",
            vec![
                format!(
                    "{lockgate} apply -f {} -f {}",
                    file("rt-echo-2.yaml"),
                    file("rt-foxtrot-5.yaml")
                ),
                format!("{lockgate} delete -f {}", file("endpoint-foxtrot-v1.yaml")),
                format!("curl {url}/foxtrot                    # version:foxtrot-v2"),
                format!("{lockgate} check                              # No problems detected."),
            ],
        ),
    ];
    for (title, commands) in steps {
        out.push_str(&format!("# {title}\n"));
        for command in commands {
            out.push_str(&format!("  {command}\n"));
        }
        out.push('\n');
    }
    out.push_str("Press Ctrl-C to stop.\n");
    out
}

/// `lockgate` when the running binary is the one on PATH, else its full path, so the printed
/// commands work when pasted (e.g. after `cargo run`).
fn command_name() -> String {
    let Ok(current) = std::env::current_exe() else {
        return "lockgate".into();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            let candidate: PathBuf = dir.join("lockgate");
            candidate.canonicalize().ok() == current.canonicalize().ok()
        })
    });
    if on_path {
        "lockgate".into()
    } else {
        current.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_file_decodes_and_endpoints_carry_app_and_version() {
        for (name, text) in SEED {
            if name.starts_with("settings-patch") {
                continue; // merge patches, not resources
            }
            for item in crate::sources::decode(text) {
                assert!(
                    matches!(item, crate::sources::Item::Resource(_)),
                    "{name}: {item:?}"
                );
            }
        }
        let address: SocketAddr = "127.0.0.1:4242".parse().unwrap();
        let items = crate::sources::decode(&endpoint_yaml("foxtrot", "v2", address));
        let [crate::sources::Item::Resource(resource)] = items.as_slice() else {
            panic!("not one resource: {items:?}");
        };
        let lockgate_api::Resource::Endpoint(endpoint) = resource.as_ref() else {
            panic!("not an Endpoint: {resource:?}");
        };
        assert_eq!(endpoint.metadata.namespace, "foxtrot");
        assert_eq!(endpoint.metadata.labels["app"], "foxtrot");
        assert_eq!(endpoint.metadata.labels["version"], "v2");
        assert_eq!(
            (endpoint.spec.address.as_str(), endpoint.spec.port),
            ("127.0.0.1", 4242)
        );
    }
}
