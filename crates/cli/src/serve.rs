//! `lockgate serve`: the gateway. Wires the store, the controller, the admin API and the proxy.
//!
//! Entry point: [`run_blocking`], called from a plain (non-async) `main`: it builds the runtimes
//! itself, because `--workers` must be known before they start.
//!
//! - Threads: the proxy runs thread per core, `--workers` threads (default: the number of
//!   cores), each with its own single-threaded tokio runtime accepting from the shared listener
//!   (`Proxy::serve_on_threads`: nothing shared on the request path, and cheaper per request
//!   than one multi-threaded runtime). The control plane (controller and admin API) runs on
//!   the calling thread's own runtime, with translation on tokio's blocking pool.
//!
//! - Store: the embedded store at `<state dir>/store.redb` by default. The state directory is
//!   `--state-dir`, else `$LOCKGATE_STATE_DIR`, else `./.lockgate`. With `--config-dir DIR` the
//!   gateway serves that watched directory of YAML files instead (read-only to the admin API);
//!   the last known good is then persisted under `<state dir>/config-dir/` only when a state
//!   directory is given (flag or variable), and kept in memory otherwise.
//! - Admin API access: open by default (bind it to loopback); with `--auth-file`, every request
//!   but `/healthz` and `/readyz` needs a bearer token of that file, within its subject's rules.
//!   A file that cannot be read or does not validate stops the gateway before it starts, and so
//!   does a non-loopback `--admin` without `--auth-file`, unless `--insecure-admin` is given.
//! - Logs go to stderr; `RUST_LOG` filters them (default `info`).
//! - SIGINT or SIGTERM stops accepting, lets requests in flight finish (up to
//!   [`DRAIN_TIMEOUT`]), then exits.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use lockgate_admin::Tokens;
use lockgate_compiled::CompiledConfig;
use lockgate_controller::{Controller, ControllerOptions};
use lockgate_store::{DirStore, DirStoreOptions, EmbeddedStore, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long requests in flight may take to finish after a shutdown signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

const DEFAULT_STATE_DIR: &str = ".lockgate";

/// Flags of `lockgate serve`, as DESIGN.md's "Interfaces" lists them.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address of the proxy listener (HTTP/1.1 and h2c).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Address of the admin API.
    #[arg(long, default_value = "127.0.0.1:9901")]
    pub admin: String,
    /// Directory of the embedded store and the persisted last known good
    /// [default: $LOCKGATE_STATE_DIR, else ./.lockgate]
    #[arg(long, env = "LOCKGATE_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Serve a watched directory of YAML files instead of the embedded store (read-only to the
    /// admin API; a missing or empty directory serves 404s).
    #[arg(long)]
    pub config_dir: Option<PathBuf>,
    /// Proxy worker threads, one single-threaded runtime each [default: the number of cores].
    #[arg(long)]
    pub workers: Option<usize>,
    /// Require bearer tokens on the admin API: a YAML file of tokens (or their SHA-256) with
    /// the namespaces, kinds and verbs each subject may use (docs/admin-api.md,
    /// "Authentication"). /healthz and /readyz stay open.
    #[arg(long)]
    pub auth_file: Option<PathBuf>,
    /// Client connections the proxy listener holds at once; at the limit it stops accepting
    /// until one closes (docs/cli.md, "Proxy limits").
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// `%2F`, `%5C` and `\` in request paths: reject (400), keep (matched and forwarded
    /// as they are) or unescape (read as `/`, then normalised).
    #[arg(long, default_value = "reject")]
    pub escaped_slashes: lockgate_proxy::EscapedSlashes,
    /// Serve the admin API on a non-loopback address without --auth-file: open to anyone who
    /// can reach it. Without this flag, such a gateway refuses to start.
    #[arg(long)]
    pub insecure_admin: bool,
}

/// Runs the gateway until SIGINT or SIGTERM.
pub fn run_blocking(args: ServeArgs) -> anyhow::Result<()> {
    init_logging();
    if args.workers == Some(0) {
        bail!("--workers must be at least 1");
    }
    // The control plane's runtime; the proxy starts its own threads (see the module docs).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(run(args, shutdown_signal()))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Already set (the demo runs the gateway in-process): keep the existing one.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM ({e}); only Ctrl-C stops the gateway");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

async fn bind(address: &str, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} ({what})"))
}

/// The proxy's listener is a std one: every proxy thread accepts from a clone of it.
fn bind_proxy(address: &str) -> anyhow::Result<std::net::TcpListener> {
    std::net::TcpListener::bind(address)
        .with_context(|| format!("cannot listen on {address} (--listen, the proxy)"))
}

fn state_dir(args: &ServeArgs) -> PathBuf {
    args.state_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR))
}

fn open_store(args: &ServeArgs) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(dir) = &args.config_dir {
        let state = args.state_dir.as_ref().map(|s| s.join("config-dir"));
        if !dir.is_dir() {
            tracing::warn!(
                dir = %dir.display(),
                "the config directory does not exist (yet): serving nothing until it does"
            );
        }
        tracing::info!(
            dir = %dir.display(),
            persisted = %state.as_deref().map_or("in memory only".into(), |s| s.display().to_string()),
            "store: watched directory (read-only)"
        );
        let options = DirStoreOptions {
            state_dir: state,
            ..DirStoreOptions::default()
        };
        return Ok(Arc::new(DirStore::open(dir, options)));
    }
    let path = state_dir(args).join("store.redb");
    let store = EmbeddedStore::open(&path)
        .with_context(|| format!("cannot open the embedded store at {}", path.display()))?;
    tracing::info!(path = %absolute(&path).display(), "store: embedded");
    Ok(Arc::new(store))
}

/// The `--auth-file`, validated; a file that cannot be used stops the gateway here, before it
/// listens, rather than leave the admin API open.
fn load_tokens(args: &ServeArgs) -> anyhow::Result<Option<Tokens>> {
    let Some(file) = &args.auth_file else {
        return Ok(None);
    };
    let tokens = Tokens::load(file).context("cannot use --auth-file")?;
    Ok(Some(tokens))
}

/// Refuses an open admin API on an address other hosts can reach: a typo of `--admin` must not
/// hand every route to the network.
fn check_admin_exposure(args: &ServeArgs) -> anyhow::Result<()> {
    if args.auth_file.is_some() || args.insecure_admin {
        return Ok(());
    }
    let addresses: Vec<std::net::SocketAddr> =
        std::net::ToSocketAddrs::to_socket_addrs(&args.admin)
            .with_context(|| format!("cannot resolve --admin {}", args.admin))?
            .collect();
    if let Some(open) = addresses.iter().find(|a| !a.ip().is_loopback()) {
        bail!(
            "refusing to serve the admin API on {open} (--admin {}), which is not a loopback address, without --auth-file: anyone who can reach it could change every route. Give --auth-file FILE to require tokens, or --insecure-admin to serve it open anyway",
            args.admin
        );
    }
    Ok(())
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Runs the gateway until `shutdown` completes.
pub async fn run(
    args: ServeArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    check_admin_exposure(&args)?;
    let tokens = load_tokens(&args)?;
    // Then listen: a port in use is the most common reason not to start.
    let proxy_listener = bind_proxy(&args.listen)?;
    let admin_listener = bind(&args.admin, "--admin, the admin API").await?;
    serve(args, tokens, proxy_listener, admin_listener, shutdown).await
}

/// Runs the gateway on listeners already bound (`args.listen` and `args.admin` are not used).
async fn serve(
    args: ServeArgs,
    tokens: Option<Tokens>,
    proxy_listener: std::net::TcpListener,
    admin_listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let proxy_address = proxy_listener.local_addr()?;
    let admin_address = admin_listener.local_addr()?;

    let store = open_store(&args)?;
    let limits = lockgate_proxy::Limits {
        max_connections: args.max_connections as usize,
        ..lockgate_proxy::Limits::default()
    };
    // The proxy first: the controller publishes straight into it, and each publish builds the
    // proxy's plan before it is served.
    let proxy = lockgate_proxy::Proxy::builder(CompiledConfig::default())
        .limits(limits)
        .escaped_slashes(args.escaped_slashes)
        .build();
    let controller = Controller::start(
        Arc::clone(&store),
        Arc::new(proxy.clone()),
        ControllerOptions::default(),
    )
    .await
    .context("starting the controller")?;

    let mut registry = prometheus_client::registry::Registry::default();
    lockgate_admin::register_proxy(&mut registry, proxy.clone());
    let config_dir = args.config_dir.as_ref().map(|d| d.display().to_string());
    let admin = match tokens {
        Some(tokens) => {
            // How many, never which: the tokens are secrets.
            tracing::info!(
                file = %args.auth_file.as_deref().map_or_else(String::new, |f| absolute(f).display().to_string()),
                tokens = tokens.len(),
                "admin API: bearer tokens required (/healthz and /readyz stay open)"
            );
            let handle = controller.handle();
            let proxy = proxy_address.to_string();
            lockgate_admin::Admin::with_tokens(handle, proxy, config_dir, registry, tokens)
        }
        None => {
            if !admin_address.ip().is_loopback() {
                tracing::warn!(
                    "the admin API on {admin_address} is open to anyone who can reach it \
                     (--insecure-admin): give --auth-file to require tokens"
                );
            }
            let handle = controller.handle();
            let proxy = proxy_address.to_string();
            lockgate_admin::Admin::with_registry(handle, proxy, config_dir, registry)
        }
    };

    let (stop, stopping) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let admin_task = tokio::spawn(lockgate_admin::serve(
        admin_listener,
        admin,
        stopped(stopping.clone()),
    ));
    let proxy_stopping = stopped(stopping.clone());
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let proxy_task = tokio::spawn(async move {
        proxy
            .serve_on_threads(proxy_listener, workers, proxy_stopping)
            .await
    });
    tracing::info!(
        "lockgate serving: proxy on http://{proxy_address} ({workers} worker threads), admin API on http://{admin_address}"
    );

    let mut admin_task = admin_task;
    let mut proxy_task = proxy_task;
    // Either a signal, or a server that stopped on its own (which is an error).
    let early = tokio::select! {
        () = shutdown => None,
        result = &mut admin_task => Some(("admin API", result)),
        result = &mut proxy_task => Some(("proxy", result)),
    };
    if let Some((what, result)) = early {
        let _ = stop.send(true);
        controller.stop().await;
        return match result {
            Ok(Ok(())) => bail!("the {what} stopped unexpectedly"),
            Ok(Err(e)) => Err(e).context(format!("the {what} failed")),
            Err(e) => Err(e).context(format!("the {what} task failed")),
        };
    }

    tracing::info!("shutting down: finishing requests in flight (up to {DRAIN_TIMEOUT:?})");
    let _ = stop.send(true);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        let (admin, proxy) = tokio::join!(admin_task, proxy_task);
        for (what, result) in [("admin API", admin), ("proxy", proxy)] {
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("the {what} ended with an error: {e}"),
                Err(e) => tracing::warn!("the {what} task failed: {e}"),
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!("requests still in flight after {DRAIN_TIMEOUT:?}; closing them");
    }
    controller.stop().await;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(state: &Path) -> ServeArgs {
        ServeArgs {
            listen: "127.0.0.1:0".into(),
            admin: "127.0.0.1:0".into(),
            state_dir: Some(state.to_path_buf()),
            config_dir: None,
            workers: None,
            auth_file: None,
            max_connections: 10_000,
            escaped_slashes: lockgate_proxy::EscapedSlashes::Reject,
            insecure_admin: false,
        }
    }

    #[test]
    fn an_open_admin_api_on_a_non_loopback_address_is_refused_unless_insecure() {
        let state = tempfile::tempdir().unwrap();
        let mut open = args(state.path());
        open.admin = "0.0.0.0:0".into();
        let error = format!("{:#}", run_blocking(open.clone()).unwrap_err());
        assert!(
            error.starts_with("refusing to serve the admin API on 0.0.0.0:0 (--admin 0.0.0.0:0), which is not a loopback address, without --auth-file"),
            "{error}"
        );
        assert!(error.contains("--insecure-admin"), "{error}");
        assert!(!state.path().join("store.redb").exists(), "nothing started");
        for admin in ["127.0.0.1:0", "[::1]:0", "localhost:0"] {
            open.admin = admin.into();
            assert!(check_admin_exposure(&open).is_ok(), "{admin}");
        }
        open.admin = "10.1.2.3:9901".into();
        assert!(check_admin_exposure(&open).is_err());
        let insecure = ServeArgs {
            insecure_admin: true,
            ..open.clone()
        };
        assert!(check_admin_exposure(&insecure).is_ok());
        let with_auth = ServeArgs {
            auth_file: Some(state.path().join("tokens.yaml")),
            ..open
        };
        assert!(check_admin_exposure(&with_auth).is_ok());
    }

    #[test]
    fn an_auth_file_that_cannot_be_used_stops_the_gateway_before_it_starts() {
        let state = tempfile::tempdir().unwrap();
        let missing = state.path().join("tokens.yaml");
        let mut with_auth = args(state.path());
        with_auth.auth_file = Some(missing.clone());
        let error = format!("{:#}", run_blocking(with_auth.clone()).unwrap_err());
        assert!(
            error.starts_with(&format!(
                "cannot use --auth-file: cannot read the auth file {}: ",
                missing.display()
            )),
            "{error}"
        );

        std::fs::write(
            &missing,
            "tokens:\n- token: s3cret\n  subject: ops\n  role: admin\n",
        )
        .unwrap();
        let error = format!("{:#}", run_blocking(with_auth).unwrap_err());
        assert!(
            error.starts_with(&format!(
                "cannot use --auth-file: {}: tokens[0].role: unknown field `role`",
                missing.display()
            )),
            "{error}"
        );
        assert!(!state.path().join("store.redb").exists(), "nothing started");
    }

    #[tokio::test]
    async fn serves_until_shutdown_then_stops_cleanly() {
        let state = tempfile::tempdir().unwrap();
        let proxy_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let admin_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (proxy, admin) = (
            proxy_listener.local_addr().unwrap(),
            admin_listener.local_addr().unwrap(),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let server = tokio::spawn(serve(
            args(state.path()),
            None,
            proxy_listener,
            admin_listener,
            shutdown,
        ));

        let client = reqwest::Client::new();
        let mut ready = false;
        for _ in 0..500 {
            let answer = client.get(format!("http://{admin}/readyz")).send().await;
            if answer.is_ok_and(|r| r.status() == 200) {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(ready, "the gateway became ready");
        let info: serde_json::Value = client
            .get(format!("http://{admin}/info"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["store"], "embedded");
        assert_eq!(info["proxyAddress"], proxy.to_string());
        assert!(state.path().join("store.redb").exists());
        let answer = client
            .get(format!("http://{proxy}/nothing-here"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "an empty configuration serves 404s");

        stop.send(()).unwrap();
        let stopped = tokio::time::timeout(DRAIN_TIMEOUT * 2, server).await;
        assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
        let after = reqwest::Client::new()
            .get(format!("http://{admin}/healthz"))
            .send()
            .await;
        assert!(after.is_err(), "the admin API is closed");
    }
}
