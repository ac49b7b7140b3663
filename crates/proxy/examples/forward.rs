//! The proxy alone in front of one upstream, for measuring the data plane without a controller:
//!
//! ```text
//! cargo run --release -p lockgate-proxy --example forward -- 127.0.0.1:8080 127.0.0.1:9000 [WORKERS]
//! ```
//!
//! Every request goes to the one upstream through a prefix route `/`, as the seed's `/echo` does.
//! It serves with `Proxy::serve_on_threads` (thread per core), or with one multi-threaded
//! runtime when `MULTI_THREAD` is set, to compare the two.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use lockgate_compiled::{
    Action, Cluster, ClusterId, ClusterKey, CompiledConfig, Forward, Matcher, PathMatch, Route,
    RouteOptions, Target, VirtualHost, WeightedTarget,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: forward LISTEN UPSTREAM [WORKERS]";
    let listen: SocketAddr = args.next().ok_or(usage)?.parse()?;
    let upstream: SocketAddr = args.next().ok_or(usage)?.parse()?;
    let workers: usize = match args.next() {
        Some(n) => n.parse()?,
        None => std::thread::available_parallelism()?.get(),
    };
    let config = CompiledConfig::new(
        vec![VirtualHost {
            name: "gloo-system.app".into(),
            domains: vec!["*".into()],
            routes: vec![Arc::new(Route {
                origin: "gloo-system.app/routes[0]".into(),
                matcher: Matcher {
                    path: PathMatch::Prefix {
                        value: "/".into(),
                        case_sensitive: true,
                    },
                    headers: vec![],
                    query: vec![],
                    methods: vec![],
                    within: vec![],
                },
                action: Action::Forward(Forward {
                    destinations: vec![WeightedTarget {
                        weight: 1,
                        target: Target::Cluster(ClusterId(0)),
                    }],
                    total_weight: 1,
                }),
                options: RouteOptions::default(),
            })],
            sources: Vec::new(),
        }],
        vec![Cluster::new(
            ClusterKey {
                upstream_namespace: "echo".into(),
                upstream_name: "echo".into(),
                subset: BTreeMap::new(),
            },
            vec![upstream],
        )],
    );
    let proxy = lockgate_proxy::Proxy::new(config);
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if std::env::var_os("MULTI_THREAD").is_some() {
        // For comparison: one tokio multi-threaded runtime with `workers` workers.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind(listen).await?;
            proxy.serve(listener, stop).await
        })?;
    } else {
        // Thread per core: `workers` single-threaded runtimes sharing the listener.
        let listener = std::net::TcpListener::bind(listen)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(proxy.serve_on_threads(listener, workers, stop))?;
    }
    Ok(())
}
