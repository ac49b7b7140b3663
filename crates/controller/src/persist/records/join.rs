//! Joining the records back into the state they were split from: kept apart from the split,
//! which is most of `records.rs`, because a restart is the only reader.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use lockgate_api::{RouteTable, VirtualService};
use lockgate_compiled::{Cluster, ClusterId, ClusterKey, CompiledConfig, VirtualHost};
use lockgate_translate::PolicyState;

use super::{Chunk, Index, Kind, Manifest, Parts, RoutesRecord, decode, read};

/// Joins the records `manifest` names, directly or through host records (`parts`: name to
/// bytes, already checked against their names), into the state they were split from, and the
/// index of that split.
pub(crate) fn join(
    manifest: &Manifest,
    parts: &BTreeMap<String, Vec<u8>>,
) -> Result<(PolicyState, Index), String> {
    let read = |kind: Kind, record: &Parts| read(parts, kind, record);
    let mut index = Index::default();
    let mut clusters: Vec<Cluster> = Vec::new();
    for record in &manifest.clusters {
        let chunk: Vec<Cluster> = decode(&read(Kind::Clusters, record)?, "a cluster record")?;
        let range = clusters.len()..clusters.len() + chunk.len();
        clusters.extend(chunk);
        index.clusters.push(Chunk {
            range,
            parts: record.clone(),
        });
    }
    let ids: HashMap<&ClusterKey, usize> = clusters
        .iter()
        .enumerate()
        .map(|(i, c)| (&c.key, i))
        .collect();

    let (entries, entry_chunks) = manifest.host_records(parts)?;
    let mut hosts = Vec::with_capacity(entries.len());
    for entry in &entries {
        let mut routes = Vec::new();
        let mut chunks = Vec::with_capacity(entry.chunks.len());
        for record in &entry.chunks {
            let what = format!("a route record of {}", entry.name);
            let chunk: RoutesRecord = decode(&read(Kind::Routes, record)?, &what)?;
            let start = routes.len();
            for mut route in chunk.routes {
                for id in route.cluster_ids_mut() {
                    let global = chunk
                        .clusters
                        .get(id.0)
                        .and_then(|key| ids.get(key))
                        .ok_or_else(|| format!("{what} names a cluster no record holds"))?;
                    *id = ClusterId(*global);
                }
                routes.push(Arc::new(route));
            }
            chunks.push(Chunk {
                range: start..routes.len(),
                parts: record.clone(),
            });
        }
        index.hosts.insert(entry.name.clone(), chunks);
        hosts.push(VirtualHost {
            name: entry.name.clone(),
            domains: entry.domains.clone(),
            routes,
            sources: entry.sources.clone(),
        });
    }
    let served = Arc::new(CompiledConfig::new(hosts, clusters));
    index.served = Arc::clone(&served);
    index.entries = entries;
    index.entry_chunks = entry_chunks;

    let mut state = PolicyState {
        served,
        ..PolicyState::default()
    };
    for (id, record) in &manifest.route_tables {
        let table: Arc<RouteTable> = decode(&read(Kind::RouteTable, record)?, id)?;
        index
            .route_tables
            .insert(id.clone(), (Arc::clone(&table), record.clone()));
        state.last_valid_route_tables.insert(id.clone(), table);
    }
    for (id, record) in &manifest.virtual_services {
        let service: Arc<VirtualService> = decode(&read(Kind::VirtualService, record)?, id)?;
        index
            .virtual_services
            .insert(id.clone(), (Arc::clone(&service), record.clone()));
        state
            .last_valid_virtual_services
            .insert(id.clone(), service);
    }
    Ok((state, index))
}
