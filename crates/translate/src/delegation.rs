//! Delegation: flattening a virtual service's routes and the route tables they delegate to into
//! one ordered list of routes.
//!
//! Route tables selected by one delegate action run in ascending weight; tables of equal weight
//! have their routes merged and stably sorted by specificity. Unlike Gloo, which sorts only when
//! two tables share a weight, routes picked by a selector are always sorted, so that one team's
//! new table never reorders another team's routes. A child route must stay inside its
//! parent (prefix, headers, query parameters, methods); one that does not is dropped with a
//! warning on its own table while its siblings stay, and every child is compiled with its
//! parents' conditions (`guard`), so that one that writes a regex reaching further is served
//! only inside. Delegation across namespaces is allowed only as Settings and the target's
//! `acceptDelegationFrom` say (`select`); a refusal is a warning on the delegating resource
//! only. A cycle is an error naming the whole chain.
//! Every problem is recorded on the resource that owns it, and remembered so that the virtual
//! service it reaches can report it too.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lockgate_api::{self as api, Kind, ResourceKey, Snapshot};
use lockgate_compiled as compiled;

use crate::Reports;
use crate::destination::{self, ClusterInterner, DraftAction};
use crate::guard::{self, Narrowed};
use crate::matcher::{self, PathSpec};
use crate::problem::{Code, Flaw, Problem, Severity};
use crate::route_options;

mod leaves;
mod select;

pub(crate) use leaves::LeafCache;

/// A compiled route whose destinations are not yet numbered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DraftRoute {
    pub(crate) origin: String,
    pub(crate) matcher: compiled::Matcher,
    pub(crate) action: DraftAction,
    pub(crate) options: compiled::RouteOptions,
}

/// What a delegating route hands down to its children: everything a child table's walk depends
/// on besides the table itself and the upstreams (see `leaves`), so it is also the cache key.
#[derive(PartialEq)]
struct Parent {
    matcher: api::Matcher,
    /// The delegating route's compiled matcher, itself narrowed to its own parents: every
    /// child is narrowed to it (see `guard`).
    guard: compiled::Matcher,
    inherit_matchers: bool,
    inherit_path: bool,
    options: Option<api::RouteOptions>,
    /// The delegating route's origin and ` > `: the start of every child's origin.
    origin_prefix: String,
}

/// A route table a delegate action selected: decoded, or known only to exist and be broken.
enum Table<'a> {
    Decoded(&'a Arc<api::RouteTable>),
    Undecodable(ResourceKey),
}

impl Table<'_> {
    fn key(&self) -> ResourceKey {
        match self {
            Table::Decoded(t) => {
                ResourceKey::new(Kind::RouteTable, &t.metadata.namespace, &t.metadata.name)
            }
            Table::Undecodable(key) => key.clone(),
        }
    }

    /// `(namespace, name)`, the order tables are walked in.
    fn id(&self) -> (&str, &str) {
        match self {
            Table::Decoded(t) => (&t.metadata.namespace, &t.metadata.name),
            Table::Undecodable(key) => (&key.namespace, &key.name),
        }
    }

    fn route_count(&self) -> usize {
        match self {
            Table::Decoded(t) => t.spec.routes.len(),
            Table::Undecodable(_) => 0,
        }
    }

    fn weight(&self) -> i32 {
        match self {
            Table::Decoded(t) => t.spec.weight.unwrap_or(0),
            Table::Undecodable(_) => 0,
        }
    }
}

/// Walks one virtual service's routes.
pub(crate) struct Walker<'a> {
    snapshot: &'a Snapshot,
    reports: &'a mut Reports,
    clusters: &'a mut ClusterInterner,
    /// Problems found on sub route tables during this walk, each naming its table.
    pub(crate) sub_problems: Vec<Problem>,
    /// Whether the virtual service itself has an error in its own routes.
    pub(crate) own_error: bool,
    /// Every route table this walk entered.
    pub(crate) visited: BTreeSet<ResourceKey>,
    root: ResourceKey,
    /// Walks of leaf route tables remembered from earlier translations; `None` for a one-off.
    leaves: Option<&'a mut LeafCache>,
    /// Every problem raised while a leaf table is walked for the cache, to replay on a hit.
    recording: Option<Vec<Problem>>,
}

impl<'a> Walker<'a> {
    pub(crate) fn new(
        snapshot: &'a Snapshot,
        reports: &'a mut Reports,
        clusters: &'a mut ClusterInterner,
        root: ResourceKey,
        leaves: Option<&'a mut LeafCache>,
    ) -> Self {
        Walker {
            snapshot,
            reports,
            clusters,
            sub_problems: Vec::new(),
            own_error: false,
            visited: BTreeSet::new(),
            root,
            leaves,
            recording: None,
        }
    }

    /// Flattens `routes`, owned by `owner`, whose fields are at `field_prefix[i]`.
    pub(crate) fn walk(
        &mut self,
        routes: &[api::Route],
        owner: &ResourceKey,
        field_prefix: &str,
    ) -> Vec<Arc<DraftRoute>> {
        let mut out = Vec::new();
        let mut chain = vec![owner.clone()];
        self.walk_routes(routes, owner, field_prefix, None, &mut chain, "", &mut out);
        out
    }

    fn error(&mut self, owner: &ResourceKey, flaw: Flaw) {
        self.problem(flaw.on(owner, Severity::Error));
    }

    fn warning(&mut self, owner: &ResourceKey, flaw: Flaw) {
        self.problem(flaw.on(owner, Severity::Warning));
    }

    fn problem(&mut self, problem: Problem) {
        if let Some(recording) = &mut self.recording {
            recording.push(problem.clone());
        }
        self.reports.add(&problem.resource, problem.clone());
        if problem.resource == self.root {
            self.own_error |= problem.is_error();
        } else {
            self.sub_problems.push(problem);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn walk_routes(
        &mut self,
        routes: &[api::Route],
        owner: &ResourceKey,
        field_prefix: &str,
        parent: Option<&Parent>,
        chain: &mut Vec<ResourceKey>,
        origin_prefix: &str,
        out: &mut Vec<Arc<DraftRoute>>,
    ) {
        'routes: for (i, route) in routes.iter().enumerate() {
            let field = format!("{field_prefix}[{i}]");
            let origin = format!("{origin_prefix}{}/routes[{i}]", owner.qualified_name());
            let no_matchers = route.matchers.is_empty();
            let root_matcher = [api::Matcher::default()];
            let written: &[api::Matcher] = if no_matchers {
                &root_matcher
            } else {
                &route.matchers
            };
            let mut matchers = Vec::with_capacity(written.len());
            for (j, m) in written.iter().enumerate() {
                let effective = match parent {
                    Some(p) => {
                        let merged = matcher::inherit(
                            &p.matcher,
                            m,
                            no_matchers,
                            p.inherit_matchers,
                            p.inherit_path,
                        );
                        if let Some(reason) = matcher::misfit(&p.matcher, &merged) {
                            let at = if no_matchers {
                                field.clone()
                            } else {
                                format!("{field}.matchers[{j}]")
                            };
                            self.warning(
                                owner,
                                Flaw::new(
                                    Code::RouteOutsideParentWarning,
                                    at,
                                    format!("route dropped: {reason}"),
                                ),
                            );
                            continue 'routes;
                        }
                        Cow::Owned(merged)
                    }
                    None => Cow::Borrowed(m),
                };
                matchers.push((j, effective));
            }
            let options = route_options::merge_options(
                parent.and_then(|p| p.options.as_ref()),
                route.options.as_ref(),
            );
            let actions = [
                route.route_action.is_some(),
                route.direct_response_action.is_some(),
                route.redirect_action.is_some(),
                route.delegate_action.is_some(),
            ];
            let guard = parent.map(|p| &p.guard);
            if actions.iter().filter(|a| **a).count() > 1 {
                self.error(owner, Flaw::new(Code::InvalidRouteActionError, field.clone(), "set only one of routeAction, directResponseAction, redirectAction and delegateAction"));
                self.push_invalid(&matchers, &field, no_matchers, owner, &origin, guard, out);
                continue;
            }
            if let Some(delegate) = &route.delegate_action {
                self.delegate(
                    route, delegate, &matchers, options, owner, &field, chain, &origin, guard, out,
                );
                continue;
            }
            let (action, errors) = destination::compile_action(
                route,
                &field,
                &owner.namespace,
                self.snapshot,
                self.clusters,
            );
            for e in errors {
                self.error(owner, e);
            }
            for (j, m) in &matchers {
                let at = matcher_field(&field, *j, no_matchers);
                let compiled_matcher = match matcher::compile(m, &at) {
                    Ok(c) => c,
                    Err(e) => {
                        // Without a valid matcher the route cannot be placed anywhere; it is
                        // dropped and the error keeps its owner rejected.
                        self.error(owner, e);
                        continue;
                    }
                };
                let Some(compiled_matcher) = self.narrow(compiled_matcher, guard, owner, &at)
                else {
                    continue;
                };
                let (action, options) = match route_options::compile_options(
                    options.as_ref(),
                    &compiled_matcher.path,
                    &field,
                ) {
                    Ok(o) => (action.clone(), o),
                    Err(e) => {
                        self.error(owner, e);
                        (DraftAction::Invalid, compiled::RouteOptions::default())
                    }
                };
                out.push(Arc::new(DraftRoute {
                    origin: origin.clone(),
                    matcher: compiled_matcher,
                    action,
                    options,
                }));
            }
        }
    }

    /// `compiled` narrowed to the delegating parent's `guard` (nothing to do at the top): a
    /// child that cannot be proven inside is warned about and served guarded; one whose
    /// methods can never match under the parent is dropped with a warning.
    fn narrow(
        &mut self,
        mut compiled: compiled::Matcher,
        guard: Option<&compiled::Matcher>,
        owner: &ResourceKey,
        at: &str,
    ) -> Option<compiled::Matcher> {
        let Some(guard) = guard else {
            return Some(compiled);
        };
        match guard::narrow(&mut compiled, guard) {
            Ok(Narrowed::Inside) => {}
            Ok(Narrowed::Guarded(added)) => {
                let what = describe_path(&compiled.path);
                let parents: Vec<String> = added.iter().map(describe_path).collect();
                self.warning(
                    owner,
                    Flaw::new(
                        Code::RouteOutsideParentWarning,
                        at,
                        format!(
                            "{what} is not provably inside the parent route's {}: it is served only where the parent route matches",
                            parents.join(" and ")
                        ),
                    ),
                );
            }
            Err((child, parent)) => {
                self.warning(
                    owner,
                    Flaw::new(
                        Code::RouteOutsideParentWarning,
                        at,
                        format!("route dropped: its methods {child:?} and the parent route's methods {parent:?} have none in common"),
                    ),
                );
                return None;
            }
        }
        Some(compiled)
    }

    /// Invalid routes at the place of `matchers`, so that `replaceInvalidRoutes` can answer for
    /// them; matchers that do not compile are reported and left out. Under a parent they are
    /// narrowed like valid routes, so that an invalid child never answers outside its parent.
    #[allow(clippy::too_many_arguments)]
    fn push_invalid(
        &mut self,
        matchers: &[(usize, Cow<'_, api::Matcher>)],
        field: &str,
        no_matchers: bool,
        owner: &ResourceKey,
        origin: &str,
        guard: Option<&compiled::Matcher>,
        out: &mut Vec<Arc<DraftRoute>>,
    ) {
        for (j, m) in matchers {
            let at = matcher_field(field, *j, no_matchers);
            match matcher::compile(m, &at) {
                Ok(c) => {
                    if let Some(c) = self.narrow(c, guard, owner, &at) {
                        out.push(Arc::new(DraftRoute {
                            origin: origin.to_string(),
                            matcher: c,
                            action: DraftAction::Invalid,
                            options: compiled::RouteOptions::default(),
                        }));
                    }
                }
                Err(e) => self.error(owner, e),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn delegate(
        &mut self,
        route: &api::Route,
        delegate: &api::DelegateAction,
        matchers: &[(usize, Cow<'_, api::Matcher>)],
        options: Option<api::RouteOptions>,
        owner: &ResourceKey,
        field: &str,
        chain: &mut Vec<ResourceKey>,
        origin: &str,
        outer: Option<&compiled::Matcher>,
        out: &mut Vec<Arc<DraftRoute>>,
    ) {
        let no_matchers = route.matchers.is_empty();
        let delegating = match matchers {
            [(_, m)] if matches!(PathSpec::of(m), Ok(PathSpec::Prefix(_))) => {
                m.clone().into_owned()
            }
            _ => {
                self.error(
                    owner,
                    Flaw::new(
                        Code::InvalidDelegationError,
                        format!("{field}.matchers"),
                        "a delegating route needs exactly one prefix matcher (or none, for \"/\")",
                    ),
                );
                self.push_invalid(matchers, field, no_matchers, owner, origin, outer, out);
                return;
            }
        };
        // The delegating matcher must itself be valid before children are checked against it.
        let at = matcher_field(field, 0, no_matchers);
        let guard = match matcher::compile(&delegating, &at) {
            Ok(compiled) => compiled,
            Err(e) => {
                self.error(owner, e);
                return;
            }
        };
        let Some(guard) = self.narrow(guard, outer, owner, &at) else {
            return;
        };
        let tables = match self.select(delegate, owner, field) {
            Ok(tables) => tables,
            Err(e) => {
                self.error(owner, e);
                self.push_invalid(matchers, field, no_matchers, owner, origin, outer, out);
                return;
            }
        };
        let parent = Arc::new(Parent {
            matcher: delegating,
            guard,
            inherit_matchers: route.inheritable_matchers.unwrap_or(false),
            inherit_path: route.inheritable_path_matchers.unwrap_or(false),
            options,
            origin_prefix: format!("{origin} > "),
        });
        let mut by_weight: BTreeMap<i32, Vec<Table<'_>>> = BTreeMap::new();
        for table in tables {
            by_weight.entry(table.weight()).or_default().push(table);
        }
        for group in by_weight.into_values() {
            // Sized for the routes written, about what they become: growing a vector of
            // tens of thousands of large routes copies them all at every doubling.
            let written: usize = group.iter().map(Table::route_count).sum();
            let mut merged = Vec::with_capacity(written);
            for table in &group {
                let key = table.key();
                if let Some(start) = chain.iter().position(|k| *k == key) {
                    let names: Vec<String> = chain[start..]
                        .iter()
                        .chain([&key])
                        .map(|k| format!("[{}]", k.qualified_name()))
                        .collect();
                    self.error(
                        owner,
                        Flaw::new(
                            Code::DelegationCycleError,
                            format!("{field}.delegateAction"),
                            format!("delegation cycle detected: {}", names.join(" -> ")),
                        ),
                    );
                    self.push_invalid(
                        matchers,
                        field,
                        no_matchers,
                        owner,
                        origin,
                        outer,
                        &mut merged,
                    );
                    continue;
                }
                match table {
                    Table::Undecodable(key) => {
                        // Its decode errors are on its own report; the virtual service learns
                        // of them, and the parent's matcher stands in for its unknown routes.
                        if let Some(broken) = self.snapshot.undecodable.get(key) {
                            self.sub_problems.extend(
                                broken
                                    .errors
                                    .iter()
                                    .map(|e| crate::problem::undecodable(key, e)),
                            );
                        }
                        self.push_invalid(
                            matchers,
                            field,
                            no_matchers,
                            owner,
                            origin,
                            outer,
                            &mut merged,
                        );
                    }
                    Table::Decoded(t) => {
                        self.visited.insert(key.clone());
                        chain.push(key.clone());
                        self.walk_table(t, &key, &parent, chain, &mut merged);
                        chain.pop();
                    }
                }
            }
            // Gloo sorts only when two or more tables share a weight, so a team adding a table
            // reorders another team's routes. Here every table a selector picks is sorted the
            // same way whoever else is selected; a `ref` names one table and keeps its order.
            if delegate.selector.is_some() {
                extend_in_merge_order(out, merged);
            } else {
                out.extend(merged);
            }
        }
    }
}

fn matcher_field(field: &str, j: usize, no_matchers: bool) -> String {
    if no_matchers {
        field.to_string()
    } else {
        format!("{field}.matchers[{j}]")
    }
}

/// Appends `routes` to `out` stably sorted by [`merge_order`]. The keys are sorted, not the
/// routes, so that each route moves once.
fn extend_in_merge_order(out: &mut Vec<Arc<DraftRoute>>, routes: Vec<Arc<DraftRoute>>) {
    let mut order: Vec<_> = routes
        .iter()
        .enumerate()
        .map(|(i, r)| (merge_order(&r.matcher), i))
        .collect();
    if order.is_sorted() {
        out.extend(routes);
        return;
    }
    // The index breaks ties, so the unstable sort keeps table order as a stable one would.
    order.sort_unstable();
    let mut slots: Vec<Option<Arc<DraftRoute>>> = routes.into_iter().map(Some).collect();
    out.reserve(order.len());
    out.extend(order.into_iter().filter_map(|(_, i)| slots[i].take()));
}

/// Sort key for routes merged from route tables of equal weight: more methods first, then exact,
/// regex, prefix, then the longer path first. The sort is stable, so ties keep table order.
fn merge_order(m: &compiled::Matcher) -> (std::cmp::Reverse<usize>, u8, std::cmp::Reverse<usize>) {
    use std::cmp::Reverse;
    let (rank, len) = match &m.path {
        compiled::PathMatch::Exact { value, .. } => (0, value.len()),
        compiled::PathMatch::Regex(p) => (1, p.as_str().len()),
        compiled::PathMatch::Prefix { value, .. } => (2, value.len()),
    };
    (Reverse(m.methods.len()), rank, Reverse(len))
}

/// A parent's path condition as a message names it: `prefix "/echo"`.
fn describe_path(path: &compiled::PathMatch) -> String {
    match path {
        compiled::PathMatch::Prefix { value, .. } => format!("prefix {value:?}"),
        compiled::PathMatch::Exact { value, .. } => format!("exact path {value:?}"),
        compiled::PathMatch::Regex(p) => format!("regex {:?}", p.as_str()),
    }
}
