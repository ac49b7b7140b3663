//! One resource of any kind, and a snapshot: everything the translator looks at, at one moment.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::{
    Endpoint, Kind, ObjectMeta, ResourceKey, RouteTable, SYSTEM_NAMESPACE, Settings, Upstream,
    VirtualService,
};

/// A decoded resource of one of lockgate's kinds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Resource {
    Upstream(Upstream),
    Endpoint(Endpoint),
    VirtualService(VirtualService),
    RouteTable(RouteTable),
    Settings(Settings),
}

impl Resource {
    pub fn kind(&self) -> Kind {
        match self {
            Resource::Upstream(_) => Kind::Upstream,
            Resource::Endpoint(_) => Kind::Endpoint,
            Resource::VirtualService(_) => Kind::VirtualService,
            Resource::RouteTable(_) => Kind::RouteTable,
            Resource::Settings(_) => Kind::Settings,
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Resource::Upstream(r) => &r.metadata,
            Resource::Endpoint(r) => &r.metadata,
            Resource::VirtualService(r) => &r.metadata,
            Resource::RouteTable(r) => &r.metadata,
            Resource::Settings(r) => &r.metadata,
        }
    }

    pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Resource::Upstream(r) => &mut r.metadata,
            Resource::Endpoint(r) => &mut r.metadata,
            Resource::VirtualService(r) => &mut r.metadata,
            Resource::RouteTable(r) => &mut r.metadata,
            Resource::Settings(r) => &mut r.metadata,
        }
    }

    pub fn key(&self) -> ResourceKey {
        let meta = self.metadata();
        ResourceKey::new(self.kind(), meta.namespace.clone(), meta.name.clone())
    }

    /// The spec alone, as JSON: two resources with equal specs are the same generation.
    pub fn spec_json(&self) -> serde_json::Value {
        let spec = match self {
            Resource::Upstream(r) => serde_json::to_value(&r.spec),
            Resource::Endpoint(r) => serde_json::to_value(&r.spec),
            Resource::VirtualService(r) => serde_json::to_value(&r.spec),
            Resource::RouteTable(r) => serde_json::to_value(&r.spec),
            Resource::Settings(r) => serde_json::to_value(&r.spec),
        };
        // Serializing plain data structures to a JSON value cannot fail.
        spec.unwrap_or(serde_json::Value::Null)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Resources are shared, not copied: the policies keep earlier generations and snapshots are
/// cloned per change, which must not duplicate tens of thousands of routes each time.
type ByName<T> = BTreeMap<(String, String), Arc<T>>;

/// Every resource the translator sees, keyed by `(namespace, name)` so that iteration order,
/// and therefore translation, never depends on the order resources arrived in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub upstreams: ByName<Upstream>,
    pub endpoints: ByName<Endpoint>,
    pub virtual_services: ByName<VirtualService>,
    pub route_tables: ByName<RouteTable>,
    /// Settings `gloo-system.default`; Gloo's defaults when the store holds none.
    pub settings: Settings,
    /// Resources known to exist that failed to decode (a file with a typo in a watched
    /// directory). The translator treats them as present and invalid, so that a typo freezes or
    /// replaces what the resource served instead of silently removing its routes.
    pub undecodable: BTreeMap<ResourceKey, Undecodable>,
}

/// What is known of a resource that failed to decode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Undecodable {
    /// Its labels, when its metadata could be read, so that delegation selectors still see it.
    pub labels: BTreeMap<String, String>,
    /// The decode errors, with their field paths.
    pub errors: Vec<String>,
}

impl Snapshot {
    pub fn from_resources(resources: impl IntoIterator<Item = Resource>) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for resource in resources {
            snapshot.insert(resource);
        }
        snapshot
    }

    /// Adds or replaces one resource. Settings other than `gloo-system.default` are ignored:
    /// only that one configures the gateway.
    pub fn insert(&mut self, resource: Resource) {
        let meta = resource.metadata();
        let id = (meta.namespace.clone(), meta.name.clone());
        self.undecodable.remove(&resource.key());
        match resource {
            Resource::Upstream(r) => drop(self.upstreams.insert(id, Arc::new(r))),
            Resource::Endpoint(r) => drop(self.endpoints.insert(id, Arc::new(r))),
            Resource::VirtualService(r) => drop(self.virtual_services.insert(id, Arc::new(r))),
            Resource::RouteTable(r) => drop(self.route_tables.insert(id, Arc::new(r))),
            Resource::Settings(r) => {
                if r.metadata.namespace == SYSTEM_NAMESPACE && r.metadata.name == "default" {
                    self.settings = r;
                }
            }
        }
    }

    /// Whether the snapshot holds exactly `resource` (for Settings: whether the gateway's
    /// settings are exactly these).
    pub fn holds(&self, resource: &Resource) -> bool {
        let meta = resource.metadata();
        let id = (meta.namespace.clone(), meta.name.clone());
        match resource {
            Resource::Upstream(r) => self.upstreams.get(&id).is_some_and(|held| **held == *r),
            Resource::Endpoint(r) => self.endpoints.get(&id).is_some_and(|held| **held == *r),
            Resource::VirtualService(r) => self
                .virtual_services
                .get(&id)
                .is_some_and(|held| **held == *r),
            Resource::RouteTable(r) => self.route_tables.get(&id).is_some_and(|held| **held == *r),
            Resource::Settings(r) => self.settings == *r,
        }
    }

    /// Whether a resource with this key takes part in translation: every resource except
    /// Settings other than `gloo-system.default`.
    pub fn concerns(key: &ResourceKey) -> bool {
        key.kind != Kind::Settings || (key.namespace == SYSTEM_NAMESPACE && key.name == "default")
    }

    /// Records a resource that exists but failed to decode.
    pub fn insert_undecodable(&mut self, key: ResourceKey, undecodable: Undecodable) {
        self.undecodable.insert(key, undecodable);
    }

    /// Removes one resource; removing the settings restores Gloo's defaults.
    pub fn remove(&mut self, key: &ResourceKey) {
        self.undecodable.remove(key);
        let id = (key.namespace.clone(), key.name.clone());
        match key.kind {
            Kind::Upstream => drop(self.upstreams.remove(&id)),
            Kind::Endpoint => drop(self.endpoints.remove(&id)),
            Kind::VirtualService => drop(self.virtual_services.remove(&id)),
            Kind::RouteTable => drop(self.route_tables.remove(&id)),
            Kind::Settings => {
                if key.namespace == SYSTEM_NAMESPACE && key.name == "default" {
                    self.settings = Settings::default();
                }
            }
        }
    }

    /// Every resource, in a stable order (kind, namespace, name).
    pub fn resources(&self) -> Vec<Resource> {
        let mut out = vec![Resource::Settings(self.settings.clone())];
        out.extend(
            self.upstreams
                .values()
                .map(|r| Resource::Upstream((**r).clone())),
        );
        out.extend(
            self.endpoints
                .values()
                .map(|r| Resource::Endpoint((**r).clone())),
        );
        out.extend(
            self.virtual_services
                .values()
                .map(|r| Resource::VirtualService((**r).clone())),
        );
        out.extend(
            self.route_tables
                .values()
                .map(|r| Resource::RouteTable((**r).clone())),
        );
        out
    }
}
