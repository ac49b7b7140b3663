//! `lockgate serve`: placeholder until the control plane lands (its owner replaces this file).
//!
//! Entry point: `pub fn run_blocking(args) -> anyhow::Result<()>`.

/// Flags of `lockgate serve`, as DESIGN.md's "Interfaces" lists them.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address of the proxy listener.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Address of the admin API.
    #[arg(long, default_value = "127.0.0.1:9901")]
    pub admin: String,
    /// Directory of the embedded store.
    #[arg(long)]
    pub state_dir: Option<std::path::PathBuf>,
    /// Serve a watched directory of YAML files instead of the embedded store.
    #[arg(long)]
    pub config_dir: Option<std::path::PathBuf>,
    /// Runtime worker threads.
    #[arg(long)]
    pub workers: Option<usize>,
}

pub fn run_blocking(args: ServeArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("serve is not built yet")
}
