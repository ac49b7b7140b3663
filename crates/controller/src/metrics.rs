//! The control plane's metrics. The admin listener registers them and serves `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ResourceLabels {
    pub kind: String,
    pub state: String,
}

/// Cheap to clone: every metric is shared.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// The generation of the configuration being served (1 = the first publish).
    pub config_generation: Gauge,
    pub publishes: Counter,
    /// Publishes that reused the translation a stored write was validated with.
    pub prepared_publishes: Counter,
    pub translation_duration: Histogram,
    pub resources: Family<ResourceLabels, Gauge>,
    pub routes: Gauge,
    pub status_write_failures: Counter,
    pub persist_failures: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            config_generation: Gauge::default(),
            publishes: Counter::default(),
            prepared_publishes: Counter::default(),
            // 100 µs .. ~6.5 s
            translation_duration: Histogram::new(exponential_buckets(0.0001, 2.0, 17)),
            resources: Family::default(),
            routes: Gauge::default(),
            status_write_failures: Counter::default(),
            persist_failures: Counter::default(),
        }
    }
}

impl Metrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "lockgate_config_generation",
            "Generation of the compiled configuration being served",
            self.config_generation.clone(),
        );
        registry.register(
            "lockgate_config_publishes",
            "Compiled configurations published to the proxy",
            self.publishes.clone(),
        );
        registry.register(
            "lockgate_config_prepared_publishes",
            "Publishes that reused the translation a stored write was validated with",
            self.prepared_publishes.clone(),
        );
        registry.register_with_unit(
            "lockgate_translation_duration",
            "Time to translate a snapshot and apply the invalid-configuration policy",
            Unit::Seconds,
            self.translation_duration.clone(),
        );
        registry.register(
            "lockgate_resources",
            "Resources by kind and state after the last translation",
            self.resources.clone(),
        );
        registry.register(
            "lockgate_routes",
            "Routes in the configuration being served",
            self.routes.clone(),
        );
        registry.register(
            "lockgate_status_write_failures",
            "Failed attempts to write resource statuses back to the store",
            self.status_write_failures.clone(),
        );
        registry.register(
            "lockgate_policy_state_persist_failures",
            "Failed attempts to persist the last known good configuration",
            self.persist_failures.clone(),
        );
    }
}
