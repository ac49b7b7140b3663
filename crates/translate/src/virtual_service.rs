//! Virtual services: domains (and conflicts between them), each one's flattened routes, and the
//! problems of the route tables it reaches reported on it too.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lockgate_api::{Kind, ResourceKey, Snapshot};
use lockgate_compiled::{CompiledConfig, SourceGeneration};

use crate::delegation::{DraftRoute, LeafCache, Walker};
use crate::destination::{self, ClusterInterner};
use crate::problem::{self, Code, Flaw};
use crate::{Report, Reports};

/// One virtual service, translated but not yet put through the policy.
#[derive(Debug, Clone)]
pub(crate) struct DraftHost {
    pub(crate) key: ResourceKey,
    pub(crate) domains: Vec<String>,
    pub(crate) routes: Vec<Arc<DraftRoute>>,
    /// An error that makes the whole host unusable (its domains): no route can be served from
    /// this generation, whatever the policy.
    pub(crate) host_error: bool,
    /// Any error, its own or a sub route table's.
    pub(crate) rejected: bool,
    /// The virtual service and the route tables it reached, with their generations.
    pub(crate) sources: Vec<SourceGeneration>,
}

/// Translates every virtual service of `snapshot`, recording every problem in `reports`.
pub(crate) fn translate_hosts(
    snapshot: &Snapshot,
    reports: &mut Reports,
    clusters: &mut ClusterInterner,
    mut leaves: Option<&mut LeafCache>,
    served: &CompiledConfig,
) -> Vec<DraftHost> {
    let tables = snapshot
        .route_tables
        .keys()
        .map(|(ns, name)| ResourceKey::new(Kind::RouteTable, ns, name));
    if reports.0.is_empty() {
        // Built at once from the sorted keys rather than searched for one by one: there is a
        // report per route table, and there can be thousands.
        reports.0 = tables.map(|key| (key, Report::default())).collect();
    } else {
        tables.for_each(|key| reports.touch_owned(key));
    }
    for (key, broken) in &snapshot.undecodable {
        for e in &broken.errors {
            reports.add(key, problem::undecodable(key, e));
        }
    }
    check_settings(snapshot, reports);
    destination::check_upstreams_and_endpoints(snapshot, reports);
    let domain_errors = domain_problems(snapshot, served);
    let gateway = &snapshot.settings.spec.gateway;

    let mut hosts = Vec::with_capacity(snapshot.virtual_services.len());
    let mut reached = BTreeSet::new();
    for vs in snapshot.virtual_services.values() {
        let key = ResourceKey::new(
            Kind::VirtualService,
            &vs.metadata.namespace,
            &vs.metadata.name,
        );
        reports.touch(&key);
        if !gateway.allows_virtual_services_in(&key.namespace) {
            // Not served and not walked: it claims no domain and reaches no route table.
            reports.error(&key, namespace_refused(snapshot, &key.namespace));
            continue;
        }
        let own_domain_errors = domain_errors.get(&key).cloned().unwrap_or_default();
        for e in &own_domain_errors {
            reports.error(&key, e.clone());
        }
        let mut walker = Walker::new(
            snapshot,
            reports,
            clusters,
            key.clone(),
            leaves.as_deref_mut(),
        );
        let routes = walker.walk(
            &vs.spec.virtual_host.routes,
            &key,
            "spec.virtualHost.routes",
        );
        let (sub_problems, own_error) =
            (std::mem::take(&mut walker.sub_problems), walker.own_error);
        let sources = sources_of(snapshot, &key, vs.metadata.generation, &walker.visited);
        reached.append(&mut walker.visited);
        let mut sub_error = false;
        for problem in sub_problems {
            sub_error |= problem.is_error();
            reports.add(&key, problem.via_sub_route_table());
            reached.insert(problem.resource);
        }
        hosts.push(DraftHost {
            key,
            domains: domains_of(vs),
            routes,
            host_error: !own_domain_errors.is_empty(),
            rejected: own_error || sub_error || !own_domain_errors.is_empty(),
            sources,
        });
    }
    // A virtual service that exists but does not decode (a typo in a watched file) has nothing
    // to serve from this generation: it stands as a host whose every policy keeps what it had.
    for key in snapshot.undecodable.keys().filter(|k| {
        k.kind == Kind::VirtualService && gateway.allows_virtual_services_in(&k.namespace)
    }) {
        hosts.push(DraftHost {
            key: key.clone(),
            domains: Vec::new(),
            routes: Vec::new(),
            host_error: true,
            rejected: true,
            sources: Vec::new(),
        });
    }
    hosts.sort_by(|a, b| a.key.cmp(&b.key));
    // Route tables no virtual service reaches are still checked, so that a team sees its
    // mistakes before the table is wired in (and `lockgate validate` works on one file).
    for ((namespace, name), table) in &snapshot.route_tables {
        let key = ResourceKey::new(Kind::RouteTable, namespace, name);
        if reached.contains(&key) {
            continue;
        }
        let mut walker = Walker::new(
            snapshot,
            reports,
            clusters,
            key.clone(),
            leaves.as_deref_mut(),
        );
        walker.walk(&table.spec.routes, &key, "spec.routes");
    }
    hosts
}

fn sources_of(
    snapshot: &Snapshot,
    service: &ResourceKey,
    generation: Option<i64>,
    tables: &BTreeSet<ResourceKey>,
) -> Vec<SourceGeneration> {
    let source = |key: &ResourceKey, generation| SourceGeneration {
        kind: key.kind.as_str().to_string(),
        name: key.qualified_name(),
        generation,
    };
    let mut out = Vec::with_capacity(1 + tables.len());
    out.push(source(service, generation));
    for key in tables {
        let id = (key.namespace.clone(), key.name.clone());
        if let Some(table) = snapshot.route_tables.get(&id) {
            out.push(source(key, table.metadata.generation));
        }
    }
    out
}

fn domains_of(vs: &lockgate_api::VirtualService) -> Vec<String> {
    let domains = &vs.spec.virtual_host.domains;
    if domains.is_empty() {
        vec!["*".to_string()]
    } else {
        domains.iter().map(|d| d.to_ascii_lowercase()).collect()
    }
}

/// Invalid domains, and domains claimed by more than one virtual service. A claimed domain
/// stays with its holder: the virtual service that served it in the previously served
/// configuration, else the oldest by `metadata.creationTimestamp`, then namespace, then name
/// (the Gateway API's tie-break). Only the others get the error, naming the holder, so that a
/// newcomer can never take a domain away or freeze the virtual service that has it.
fn domain_problems(
    snapshot: &Snapshot,
    served: &CompiledConfig,
) -> BTreeMap<ResourceKey, Vec<Flaw>> {
    let gateway = &snapshot.settings.spec.gateway;
    let mut problems: BTreeMap<ResourceKey, Vec<Flaw>> = BTreeMap::new();
    let mut claims: BTreeMap<String, Vec<(ResourceKey, Option<CreatedAt>)>> = BTreeMap::new();
    for vs in snapshot
        .virtual_services
        .values()
        .filter(|vs| gateway.allows_virtual_services_in(&vs.metadata.namespace))
    {
        let key = ResourceKey::new(
            Kind::VirtualService,
            &vs.metadata.namespace,
            &vs.metadata.name,
        );
        let created = vs
            .metadata
            .creation_timestamp
            .as_deref()
            .and_then(CreatedAt::parse);
        for (i, domain) in domains_of(vs).into_iter().enumerate() {
            if let Some(reason) = domain_problem(&domain) {
                problems.entry(key.clone()).or_default().push(Flaw::new(
                    Code::DomainsNotUniqueError,
                    format!("spec.virtualHost.domains[{i}]"),
                    reason,
                ));
            }
            let owners = claims.entry(domain).or_default();
            if !owners.iter().any(|(k, _)| *k == key) {
                owners.push((key.clone(), created.clone()));
            }
        }
    }
    for (domain, owners) in claims {
        if owners.len() < 2 {
            continue;
        }
        let held_before = |key: &ResourceKey| {
            let name = key.qualified_name();
            served
                .virtual_hosts
                .iter()
                .any(|v| v.name == name && v.domains.contains(&domain))
        };
        let holder = owners
            .iter()
            .find(|(key, _)| held_before(key))
            .or_else(|| {
                // Unknown creation times sort last: they cannot prove being first.
                owners
                    .iter()
                    .min_by(|a, b| (a.1.is_none(), &a.1, &a.0).cmp(&(b.1.is_none(), &b.1, &b.0)))
            })
            .map(|(key, _)| key.clone());
        let Some(holder) = holder else {
            continue;
        };
        let reason = if held_before(&holder) {
            "which served it first"
        } else {
            "the oldest claimant by metadata.creationTimestamp, then namespace and name"
        };
        // No field path: the message names the domain (these words predate typed problems).
        for (owner, _) in owners.iter().filter(|(k, _)| *k != holder) {
            problems.entry(owner.clone()).or_default().push(Flaw::new(
                Code::DomainsNotUniqueError,
                "",
                format!(
                    "domain conflict: domain {domain:?} is held by virtual service {}, {reason}",
                    holder.qualified_name()
                ),
            ));
        }
    }
    problems
}

/// A creation time in the store's form, `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, comparable in time
/// order; any other form is unknown (it cannot be trusted to say who came first).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct CreatedAt {
    seconds: String,
    nanos: u32,
}

impl CreatedAt {
    fn parse(text: &str) -> Option<CreatedAt> {
        let body = text.strip_suffix('Z')?;
        let (seconds, fraction) = body.split_once('.').unwrap_or((body, ""));
        let shape = seconds.len() == 19
            && seconds.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                10 => b == b'T',
                13 | 16 => b == b':',
                _ => b.is_ascii_digit(),
            });
        if !shape || fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let nanos = format!("{fraction:0<9}").parse().ok()?;
        Some(CreatedAt {
            seconds: seconds.to_string(),
            nanos,
        })
    }
}

fn domain_problem(domain: &str) -> Option<String> {
    if domain == "*" {
        return None;
    }
    let host = domain
        .strip_prefix("*.")
        .map(|rest| rest.to_string())
        .unwrap_or_else(|| domain.to_string());
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name.to_string(), Some(port.to_string())),
        None => (host.clone(), None),
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    let name_ok = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if name_ok && port_ok {
        None
    } else {
        Some(format!(
            "{domain:?} is not a domain: use host names like \"example.com\", \"*.example.com\" or \"*\""
        ))
    }
}

/// Why a VirtualService in `namespace` is not served, naming the Settings field that decides.
fn namespace_refused(snapshot: &Snapshot, namespace: &str) -> Flaw {
    Flaw::new(
        Code::NamespaceNotServedError,
        "metadata.namespace",
        format!(
            "virtual services in namespace {namespace:?} are not served: Settings gloo-system.default spec.gateway.virtualServiceNamespaces is {:?}; add {namespace:?} there to allow them",
            snapshot.settings.spec.gateway.virtual_service_namespaces()
        ),
    )
}

fn check_settings(snapshot: &Snapshot, reports: &mut Reports) {
    let s = &snapshot.settings;
    let key = ResourceKey::new(Kind::Settings, &s.metadata.namespace, &s.metadata.name);
    reports.touch(&key);
    let policy = &s.spec.gloo.invalid_config_policy;
    if let Some(code) = policy.invalid_route_response_code
        && !(100..=599).contains(&code)
    {
        reports.error(
            &key,
            Flaw::new(
                Code::InvalidSettingsError,
                "spec.gloo.invalidConfigPolicy.invalidRouteResponseCode",
                format!("{code} is not an HTTP status (100-599); 404 is used"),
            ),
        );
    }
}
