//! The last known good as records: how a [`PolicyState`] is split into blobs and joined again.
//!
//! - `lkg/routes/<hash>`: one chunk of a virtual host's routes, with the keys of the clusters
//!   they forward to (routes name clusters by their place in the chunk's own list, so that a
//!   cluster added elsewhere renumbers nothing here). A small host is one chunk; a large one is
//!   cut where a route's origin hashes to a boundary, so that a change in one place moves no
//!   boundary anywhere else and rewrites only the chunks it touches.
//! - `lkg/clusters/<hash>`: one chunk of the served clusters (endpoints included, so that the
//!   restored configuration is served as it was, before anything is translated), cut the same
//!   way by cluster key.
//! - `lkg/rt/<hash>` and `lkg/vs/<hash>`: one kept last valid route table or virtual service.
//! - `lkg/hosts/<hash>`: one chunk of the list of virtual hosts, each with its name, domains
//!   and route records, cut the same way by host name, so that the manifest stays small
//!   however many hosts there are (a few KiB at 1,000).
//! - `lkg/manifest`: names the host, cluster and kept resource records, in order.
//!
//! Every record is named by the SHA-256 of its bytes (128 bits of it, in hex), and one that
//! would pass [`PART_MAX`] bytes is cut into parts, each named by its own bytes. A name is
//! therefore a promise about content: a record already in the store is never written again,
//! and one read back is checked against its name.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Arc;

use lockgate_api::{RouteTable, VirtualService};
use lockgate_compiled::{
    Cluster, ClusterId, ClusterKey, CompiledConfig, Route, SourceGeneration, VirtualHost,
};
use lockgate_translate::PolicyState;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::chunks::{boundary_hash, chunk_ranges, cluster_ids_mut, same_route};

/// Every record's name starts with it.
pub(crate) const PREFIX: &str = "lkg/";
/// The one record not named by its content: replaced on every persist, never deleted.
pub(crate) const MANIFEST: &str = "lkg/manifest";
/// The largest blob written: well inside etcd's 1.5 MiB request limit.
pub(crate) const PART_MAX: usize = 512 * 1024;
const FORMAT: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hosts,
    Routes,
    Clusters,
    RouteTable,
    VirtualService,
}

impl Kind {
    fn name(self, hash: &str) -> String {
        let dir = match self {
            Kind::Hosts => "hosts",
            Kind::Routes => "routes",
            Kind::Clusters => "clusters",
            Kind::RouteTable => "rt",
            Kind::VirtualService => "vs",
        };
        format!("{PREFIX}{dir}/{hash}")
    }
}

/// One record: the hashes of its parts, in order (nearly always one).
type Parts = Vec<String>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    format: u32,
    /// Records of [`HostEntry`] lists, in host order.
    hosts: Vec<Parts>,
    clusters: Vec<Parts>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    route_tables: BTreeMap<String, Parts>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    virtual_services: BTreeMap<String, Parts>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct HostEntry {
    name: String,
    domains: Vec<String>,
    chunks: Vec<Parts>,
    /// The generations the host was translated from (what statuses call served).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sources: Vec<SourceGeneration>,
}

/// A chunk of routes; a route's `Target::Cluster(n)` is `clusters[n]`.
#[derive(Serialize, Deserialize)]
struct RoutesRecord {
    clusters: Vec<ClusterKey>,
    routes: Vec<Route>,
}

impl Manifest {
    pub(crate) fn decode(bytes: &[u8]) -> Result<Manifest, String> {
        let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if manifest.format != FORMAT {
            return Err(format!(
                "format {} is not one this lockgate reads ({FORMAT})",
                manifest.format
            ));
        }
        Ok(manifest)
    }

    /// The records the manifest names itself (those of the routes are named by the host
    /// records: see [`route_names`]).
    pub(crate) fn names(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        let mut add = |kind: Kind, parts: &Parts| {
            names.extend(parts.iter().map(|hash| kind.name(hash)));
        };
        self.hosts.iter().for_each(|c| add(Kind::Hosts, c));
        self.clusters.iter().for_each(|c| add(Kind::Clusters, c));
        self.route_tables
            .values()
            .for_each(|p| add(Kind::RouteTable, p));
        self.virtual_services
            .values()
            .for_each(|p| add(Kind::VirtualService, p));
        names
    }

    /// The virtual hosts, from the host records among `parts`.
    fn host_entries(&self, parts: &BTreeMap<String, Vec<u8>>) -> Result<Vec<HostEntry>, String> {
        let mut entries = Vec::new();
        for record in &self.hosts {
            let chunk: Vec<HostEntry> =
                decode(&read(parts, Kind::Hosts, record)?, "a host record")?;
            entries.extend(chunk);
        }
        Ok(entries)
    }
}

/// The route records named by the host records among `parts` (which must hold every record
/// [`Manifest::names`] gives).
pub(crate) fn route_names(
    manifest: &Manifest,
    parts: &BTreeMap<String, Vec<u8>>,
) -> Result<BTreeSet<String>, String> {
    let entries = manifest.host_entries(parts)?;
    Ok(entries
        .iter()
        .flat_map(|host| host.chunks.iter().flatten())
        .map(|hash| Kind::Routes.name(hash))
        .collect())
}

/// The bytes of one record: its parts, joined.
fn read(parts: &BTreeMap<String, Vec<u8>>, kind: Kind, record: &Parts) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    for hash in record {
        let name = kind.name(hash);
        let part = parts
            .get(&name)
            .ok_or_else(|| format!("{name} is missing"))?;
        bytes.extend_from_slice(part);
    }
    Ok(bytes)
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("{what} does not decode: {e}"))
}

/// What was last split or joined, to tell which records a new state can reuse.
#[derive(Debug, Default)]
pub(crate) struct Index {
    served: Arc<CompiledConfig>,
    /// Per virtual host name: its chunks, as ranges of its routes.
    hosts: HashMap<String, Vec<Chunk>>,
    /// Chunks as ranges of `served.clusters`.
    clusters: Vec<Chunk>,
    route_tables: BTreeMap<String, (Arc<RouteTable>, Parts)>,
    virtual_services: BTreeMap<String, (Arc<VirtualService>, Parts)>,
}

#[derive(Debug, Clone)]
struct Chunk {
    range: Range<usize>,
    parts: Parts,
}

/// A state split into records.
#[derive(Debug)]
pub(crate) struct Split {
    pub(crate) manifest: Vec<u8>,
    /// Every record the manifest names.
    pub(crate) referenced: BTreeSet<String>,
    /// The bytes of every referenced record that is not in the store already.
    pub(crate) fresh: BTreeMap<String, Vec<u8>>,
    pub(crate) index: Index,
}

/// Splits `state` into records, reusing those of `previous` whose content has not changed and
/// that `present` says are stored.
pub(crate) fn split(
    state: &PolicyState,
    previous: &Index,
    present: &HashSet<String>,
) -> Result<Split, String> {
    let mut out = Writer {
        present,
        fresh: BTreeMap::new(),
    };
    let served = &state.served;
    let mut index = Index {
        served: Arc::clone(served),
        ..Index::default()
    };
    let clusters = out.clusters(served, previous, &mut index.clusters)?;

    let old_hosts: HashMap<&str, &VirtualHost> = (previous.served.virtual_hosts.iter())
        .map(|v| (v.name.as_str(), v))
        .collect();
    let mut entries = Vec::with_capacity(served.virtual_hosts.len());
    let mut route_records = BTreeSet::new();
    for host in &served.virtual_hosts {
        let old = old_hosts
            .get(host.name.as_str())
            .zip(previous.hosts.get(&host.name))
            .map(|(host, chunks)| (*host, chunks.as_slice(), &previous.served.clusters[..]));
        let mut chunks = Vec::new();
        let mut kept = Vec::new();
        for (range, parts) in out.routes(host, served, old)? {
            route_records.extend(parts.iter().map(|hash| Kind::Routes.name(hash)));
            chunks.push(parts.clone());
            kept.push(Chunk { range, parts });
        }
        index.hosts.insert(host.name.clone(), kept);
        entries.push(HostEntry {
            name: host.name.clone(),
            domains: host.domains.clone(),
            chunks,
            sources: host.sources.clone(),
        });
    }
    // Host entries are small: serialised again every time rather than compared.
    let mut hosts = Vec::new();
    for range in chunk_ranges(entries.len(), |i| boundary_hash(&entries[i].name)) {
        hosts.push(out.record(Kind::Hosts, &entries[range])?);
    }

    let route_tables = out.kept(
        Kind::RouteTable,
        &state.last_valid_route_tables,
        &previous.route_tables,
        &mut index.route_tables,
    )?;
    let virtual_services = out.kept(
        Kind::VirtualService,
        &state.last_valid_virtual_services,
        &previous.virtual_services,
        &mut index.virtual_services,
    )?;
    let manifest = Manifest {
        format: FORMAT,
        hosts,
        clusters,
        route_tables,
        virtual_services,
    };
    let mut referenced = manifest.names();
    referenced.append(&mut route_records);
    Ok(Split {
        referenced,
        manifest: serde_json::to_vec(&manifest).map_err(|e| e.to_string())?,
        fresh: out.fresh,
        index,
    })
}

/// A virtual host as last split: its routes, its chunks and the clusters its ids point into.
type OldHost<'a> = (&'a VirtualHost, &'a [Chunk], &'a [Cluster]);

/// Where records are serialised to.
struct Writer<'a> {
    present: &'a HashSet<String>,
    fresh: BTreeMap<String, Vec<u8>>,
}

impl Writer<'_> {
    fn all_present(&self, kind: Kind, parts: &Parts) -> bool {
        parts
            .iter()
            .all(|hash| self.present.contains(&kind.name(hash)))
    }

    /// The cluster records of `served`, reusing `previous`'s where a chunk is unchanged.
    fn clusters(
        &mut self,
        served: &CompiledConfig,
        previous: &Index,
        index: &mut Vec<Chunk>,
    ) -> Result<Vec<Parts>, String> {
        let before = &previous.served.clusters;
        let old_chunks: HashMap<&ClusterKey, &Chunk> = (previous.clusters.iter())
            .filter_map(|c| Some((&before.get(c.range.start)?.key, c)))
            .collect();
        let mut records = Vec::new();
        let ranges = chunk_ranges(served.clusters.len(), |i| {
            boundary_hash(&served.clusters[i].key.to_string())
        });
        for range in ranges {
            let items = &served.clusters[range.clone()];
            let reused = (old_chunks.get(&items[0].key))
                .filter(|old| before.get(old.range.clone()) == Some(items))
                .map(|old| old.parts.clone());
            let parts = match reused.filter(|parts| self.all_present(Kind::Clusters, parts)) {
                Some(parts) => parts,
                None => self.record(Kind::Clusters, items)?,
            };
            records.push(parts.clone());
            index.push(Chunk { range, parts });
        }
        Ok(records)
    }

    /// The route records of `host`, with the range of routes each holds, reusing the old
    /// host's where a chunk (found by its first route's origin) is unchanged.
    fn routes(
        &mut self,
        host: &VirtualHost,
        served: &CompiledConfig,
        old: Option<OldHost<'_>>,
    ) -> Result<Vec<(Range<usize>, Parts)>, String> {
        let old_chunks: HashMap<&str, &Chunk> = match old {
            Some((old_host, chunks, _)) => (chunks.iter())
                .filter_map(|c| Some((old_host.routes.get(c.range.start)?.origin.as_str(), c)))
                .collect(),
            None => HashMap::new(),
        };
        let unchanged = |routes: &[Route], chunk: &Chunk| {
            let Some((old_host, _, old_clusters)) = old else {
                return false;
            };
            old_host
                .routes
                .get(chunk.range.clone())
                .is_some_and(|old_routes| {
                    old_routes.len() == routes.len()
                        && (routes.iter().zip(old_routes))
                            .all(|(new, old)| same_route(new, &served.clusters, old, old_clusters))
                })
        };
        let mut out = Vec::new();
        for range in chunk_ranges(host.routes.len(), |i| boundary_hash(&host.routes[i].origin)) {
            let routes = &host.routes[range.clone()];
            let reused = (old_chunks.get(routes[0].origin.as_str()))
                .filter(|chunk| unchanged(routes, chunk))
                .map(|chunk| chunk.parts.clone());
            let parts = match reused.filter(|parts| self.all_present(Kind::Routes, parts)) {
                Some(parts) => parts,
                None => self.record(Kind::Routes, &routes_record(host, routes, served)?)?,
            };
            out.push((range, parts));
        }
        Ok(out)
    }

    /// Serialises one record, keeps the parts the store lacks and returns their hashes.
    fn record<T: Serialize + ?Sized>(&mut self, kind: Kind, value: &T) -> Result<Parts, String> {
        let bytes = serde_json::to_vec(value).map_err(|e| e.to_string())?;
        let mut parts = Vec::with_capacity(bytes.len() / PART_MAX + 1);
        for part in bytes.chunks(PART_MAX) {
            let hash = content_hash(part);
            let name = kind.name(&hash);
            if !self.present.contains(&name) {
                self.fresh.insert(name, part.to_vec());
            }
            parts.push(hash);
        }
        Ok(parts)
    }

    /// The records of kept last valid resources, reusing the previous ones where unchanged.
    fn kept<T: Serialize + PartialEq>(
        &mut self,
        kind: Kind,
        kept: &BTreeMap<String, Arc<T>>,
        previous: &BTreeMap<String, (Arc<T>, Parts)>,
        index: &mut BTreeMap<String, (Arc<T>, Parts)>,
    ) -> Result<BTreeMap<String, Parts>, String> {
        let mut out = BTreeMap::new();
        for (id, resource) in kept {
            let reused = previous
                .get(id)
                .filter(|(old, parts)| {
                    (Arc::ptr_eq(old, resource) || old == resource) && self.all_present(kind, parts)
                })
                .map(|(_, parts)| parts.clone());
            let parts = match reused {
                Some(parts) => parts,
                None => self.record(kind, resource.as_ref())?,
            };
            index.insert(id.clone(), (Arc::clone(resource), parts.clone()));
            out.insert(id.clone(), parts);
        }
        Ok(out)
    }
}

/// A chunk of `host`'s routes with its clusters renumbered into the chunk's own list.
fn routes_record(
    host: &VirtualHost,
    routes: &[Route],
    served: &CompiledConfig,
) -> Result<RoutesRecord, String> {
    let mut keys = Vec::new();
    let mut local: HashMap<usize, usize> = HashMap::new();
    let mut routes = routes.to_vec();
    for route in &mut routes {
        for id in cluster_ids_mut(route) {
            let cluster = served.clusters.get(id.0).ok_or_else(|| {
                format!(
                    "a route of {} forwards to cluster {}, which the configuration does not have",
                    host.name, id.0
                )
            })?;
            let n = *local.entry(id.0).or_insert_with(|| {
                keys.push(cluster.key.clone());
                keys.len() - 1
            });
            *id = ClusterId(n);
        }
    }
    Ok(RoutesRecord {
        clusters: keys,
        routes,
    })
}

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

    let entries = manifest.host_entries(parts)?;
    let mut hosts = Vec::with_capacity(entries.len());
    for entry in &entries {
        let mut routes = Vec::new();
        let mut chunks = Vec::with_capacity(entry.chunks.len());
        for record in &entry.chunks {
            let what = format!("a route record of {}", entry.name);
            let chunk: RoutesRecord = decode(&read(Kind::Routes, record)?, &what)?;
            let start = routes.len();
            for mut route in chunk.routes {
                for id in cluster_ids_mut(&mut route) {
                    let global = chunk
                        .clusters
                        .get(id.0)
                        .and_then(|key| ids.get(key))
                        .ok_or_else(|| format!("{what} names a cluster no record holds"))?;
                    *id = ClusterId(*global);
                }
                routes.push(route);
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

/// Whether a record's bytes are what its name says.
pub(crate) fn matches_name(name: &str, bytes: &[u8]) -> bool {
    name.rsplit_once('/')
        .is_some_and(|(_, hash)| hash == content_hash(bytes))
}

fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(32);
    for b in &digest[..16] {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

#[cfg(test)]
#[path = "records_test.rs"]
mod tests;
