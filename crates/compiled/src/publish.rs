//! Where a configuration goes when it is decided: the contract between the controller, which
//! decides what to serve, and the proxy, which turns each configuration into its executable plan
//! once, when it is published, rather than on the request path.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::CompiledConfig;

/// A place configurations are published to. The proxy implements it (each publish builds its
/// plan); an [`ArcSwap`] does too, for tools and tests that only keep the latest configuration.
pub trait Publish: Send + Sync {
    /// Makes `config` the one served from now on.
    fn publish(&self, config: Arc<CompiledConfig>);

    /// The configuration served now.
    fn current(&self) -> Arc<CompiledConfig>;
}

impl Publish for ArcSwap<CompiledConfig> {
    fn publish(&self, config: Arc<CompiledConfig>) {
        self.store(config);
    }

    fn current(&self) -> Arc<CompiledConfig> {
        self.load_full()
    }
}
