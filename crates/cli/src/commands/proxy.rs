//! `lockgate proxy url`: where the gateway's proxy listener answers, like `glooctl proxy url`.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;

use crate::client::{Client, ServerArgs};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum ProxyCommand {
    /// Print the URL of the proxy listener.
    Url {
        #[command(flatten)]
        server: ServerArgs,
    },
}

pub(crate) fn run(command: ProxyCommand) -> anyhow::Result<ExitCode> {
    match command {
        ProxyCommand::Url { server } => {
            let client = Client::new(&server)?;
            let info = client.get("/info")?;
            let address = info
                .get("proxyAddress")
                .and_then(serde_json::Value::as_str)
                .with_context(|| format!("{}/info has no proxyAddress", client.server()))?;
            println!("http://{}", reachable(address));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A listener on every interface (`0.0.0.0:8080`) is reached on the loopback address.
fn reachable(address: &str) -> String {
    match address.parse::<SocketAddr>() {
        Ok(addr) if addr.ip().is_unspecified() => match addr {
            SocketAddr::V4(_) => format!("127.0.0.1:{}", addr.port()),
            SocketAddr::V6(_) => format!("[::1]:{}", addr.port()),
        },
        _ => address.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::reachable;

    #[test]
    fn unspecified_addresses_become_loopback() {
        assert_eq!(reachable("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(reachable("[::]:8080"), "[::1]:8080");
        assert_eq!(reachable("127.0.0.1:18080"), "127.0.0.1:18080");
    }
}
