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

use super::chunks::{boundary_hash, chunk_ranges, same_route};

mod join;
pub(crate) use join::join;

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
        Ok(self.host_records(parts)?.0)
    }

    /// The virtual hosts and the host records as ranges of them.
    fn host_records(
        &self,
        parts: &BTreeMap<String, Vec<u8>>,
    ) -> Result<(Vec<HostEntry>, Vec<Chunk>), String> {
        let mut entries = Vec::new();
        let mut chunks = Vec::with_capacity(self.hosts.len());
        for record in &self.hosts {
            let chunk: Vec<HostEntry> =
                decode(&read(parts, Kind::Hosts, record)?, "a host record")?;
            let range = entries.len()..entries.len() + chunk.len();
            entries.extend(chunk);
            chunks.push(Chunk {
                range,
                parts: record.clone(),
            });
        }
        Ok((entries, chunks))
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
    /// The host entries last written, and their records as ranges of them.
    entries: Vec<HostEntry>,
    entry_chunks: Vec<Chunk>,
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
    /// Records serialised to find their names (those reused unchanged are not).
    pub(crate) serialised: usize,
    /// Lists cut into chunks (those unchanged keep their chunks).
    pub(crate) cut: usize,
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
        serialised: 0,
        cut: 0,
    };
    let served = &state.served;
    let mut index = Index {
        served: Arc::clone(served),
        ..Index::default()
    };
    let before = &previous.served.clusters;
    // Routes name clusters by index: equal routes over equal cluster lists are the same
    // records, which is a cheaper question than the one `same_route` answers.
    let same_clusters =
        std::ptr::eq(before.as_slice(), served.clusters.as_slice()) || *before == served.clusters;
    index.clusters = out.list(
        Kind::Clusters,
        &served.clusters,
        before,
        &previous.clusters,
        |c| c.key.to_string(),
    )?;
    let clusters = index.clusters.iter().map(|c| c.parts.clone()).collect();

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
        for (range, parts) in out.routes(host, served, old, same_clusters)? {
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
    index.entry_chunks = out.list(
        Kind::Hosts,
        &entries,
        &previous.entries,
        &previous.entry_chunks,
        |e| e.name.clone(),
    )?;
    let hosts = index.entry_chunks.iter().map(|c| c.parts.clone()).collect();
    index.entries = entries;

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
        serialised: out.serialised,
        cut: out.cut,
    })
}

/// A virtual host as last split: its routes, its chunks and the clusters its ids point into.
type OldHost<'a> = (&'a VirtualHost, &'a [Chunk], &'a [Cluster]);

/// Where records are serialised to.
struct Writer<'a> {
    present: &'a HashSet<String>,
    fresh: BTreeMap<String, Vec<u8>>,
    serialised: usize,
    cut: usize,
}

impl Writer<'_> {
    fn all_present(&self, kind: Kind, parts: &Parts) -> bool {
        parts
            .iter()
            .all(|hash| self.present.contains(&kind.name(hash)))
    }

    /// The records of `items` cut into chunks by `label`, reusing each chunk of `before`
    /// (found by its first item's label) whose items are unchanged and stored. An unchanged
    /// list keeps its chunks as they are, without being cut again.
    fn list<T: Serialize + PartialEq>(
        &mut self,
        kind: Kind,
        items: &[T],
        before: &[T],
        old: &[Chunk],
        label: impl Fn(&T) -> String,
    ) -> Result<Vec<Chunk>, String> {
        let unchanged = std::ptr::eq(items, before) || items == before;
        if unchanged && old.iter().all(|c| self.all_present(kind, &c.parts)) {
            return Ok(old.to_vec());
        }
        let old_chunks: HashMap<String, &Chunk> = (old.iter())
            .filter_map(|c| Some((label(before.get(c.range.start)?), c)))
            .collect();
        self.cut += 1;
        let mut chunks = Vec::new();
        let labels: Vec<String> = items.iter().map(&label).collect();
        for range in chunk_ranges(items.len(), |i| boundary_hash(&labels[i])) {
            let chunk_items = &items[range.clone()];
            let reused = (old_chunks.get(&labels[range.start]))
                .filter(|old| before.get(old.range.clone()) == Some(chunk_items))
                .map(|old| old.parts.clone());
            let parts = match reused.filter(|parts| self.all_present(kind, parts)) {
                Some(parts) => parts,
                None => self.record(kind, chunk_items)?,
            };
            chunks.push(Chunk { range, parts });
        }
        Ok(chunks)
    }

    /// The route records of `host`, with the range of routes each holds, reusing the old
    /// host's where a chunk (found by its first route's origin) is unchanged. Unchanged
    /// routes keep the old host's chunks as they are, without being cut again.
    fn routes(
        &mut self,
        host: &VirtualHost,
        served: &CompiledConfig,
        old: Option<OldHost<'_>>,
        same_clusters: bool,
    ) -> Result<Vec<(Range<usize>, Parts)>, String> {
        if let Some((old_host, chunks, old_clusters)) = old {
            let (new, before) = (host.routes.as_slice(), old_host.routes.as_slice());
            let unchanged = std::ptr::eq(new, before)
                || (same_clusters && new == before)
                || (!same_clusters
                    && new.len() == before.len()
                    && (new.iter().zip(before))
                        .all(|(a, b)| same_route(a, &served.clusters, b, old_clusters)));
            if unchanged
                && chunks
                    .iter()
                    .all(|c| self.all_present(Kind::Routes, &c.parts))
            {
                return Ok(chunks
                    .iter()
                    .map(|c| (c.range.clone(), c.parts.clone()))
                    .collect());
            }
        }
        self.cut += 1;
        let old_chunks: HashMap<&str, &Chunk> = match old {
            Some((old_host, chunks, _)) => (chunks.iter())
                .filter_map(|c| Some((old_host.routes.get(c.range.start)?.origin.as_str(), c)))
                .collect(),
            None => HashMap::new(),
        };
        let unchanged = |routes: &[Arc<Route>], chunk: &Chunk| {
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
        self.serialised += 1;
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
    routes: &[Arc<Route>],
    served: &CompiledConfig,
) -> Result<RoutesRecord, String> {
    let mut keys = Vec::new();
    let mut local: HashMap<usize, usize> = HashMap::new();
    let mut routes: Vec<Route> = routes.iter().map(|r| Route::clone(r)).collect();
    for route in &mut routes {
        for id in route.cluster_ids_mut() {
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
