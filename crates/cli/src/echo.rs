//! `lockgate echo`: the tiny HTTP server the seed deploys (hashicorp/http-echo's stand-in).

use std::net::SocketAddr;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub(crate) struct EchoArgs {
    /// The text every request is answered with.
    #[arg(long)]
    text: String,
    /// Address to listen on, e.g. 127.0.0.1:5678.
    #[arg(long)]
    listen: SocketAddr,
}

pub(crate) fn run(args: EchoArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        serve(listener, args.text).await
    })
}

/// Serves `text` on `listener` until the process ends. Shared with `lockgate demo`, which runs
/// its backends in-process.
pub(crate) async fn serve(listener: tokio::net::TcpListener, text: String) -> anyhow::Result<()> {
    let address = listener.local_addr()?;
    lockgate_echo::serve(listener, text)
        .await
        .with_context(|| format!("echo server on {address}"))
}
