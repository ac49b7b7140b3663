//! What a plan takes from the plan before it.
//!
//! The translator shares every unchanged route between configurations (one `Arc` from one
//! outcome to the next), so a publish that changed one route table finds almost every route of
//! the last plan again, by address. A route's plan depends on the route, the number of
//! clusters (a cluster number past the end answers locally) and its virtual host's name (its
//! counters), nothing else; so it is taken whole when those are the same. A virtual host's
//! route index depends only on each route's path condition, in order: a change to actions,
//! bodies or weights keeps it.
//!
//! Addresses are only compared while the earlier plan, which holds its configuration and so
//! every route it names, is alive: an address cannot have been reused for another route.

use std::collections::HashMap;
use std::sync::Arc;

use lockgate_compiled::{PathMatch, Route, VirtualHost};

use super::{Plan, RoutePlan, VirtualHostPlan};
use crate::route_index::RouteIndex;

/// An earlier plan's route plans by virtual host and route address, and its virtual hosts by
/// name; empty when nothing of it may be taken.
#[derive(Default)]
pub(super) struct Earlier<'p> {
    routes: HashMap<(&'p str, usize), &'p Arc<RoutePlan>>,
    hosts: HashMap<&'p str, (&'p VirtualHost, &'p VirtualHostPlan)>,
}

impl<'p> Earlier<'p> {
    /// What of `earlier` a plan of a configuration with `cluster_count` clusters may take.
    pub(super) fn of(earlier: Option<&'p Plan>, cluster_count: usize) -> Earlier<'p> {
        let Some(plan) = earlier else {
            return Earlier::default();
        };
        let hosts = plan.config.virtual_hosts.iter().zip(&plan.virtual_hosts);
        let routes = if plan.config.clusters.len() == cluster_count {
            (hosts.clone())
                .flat_map(|(vh, vh_plan)| {
                    let routes = vh.routes.iter().zip(&vh_plan.routes);
                    routes.map(|(route, p)| ((vh.name.as_str(), address(route)), p))
                })
                .collect()
        } else {
            HashMap::new()
        };
        Earlier {
            routes,
            hosts: hosts.map(|(vh, p)| (vh.name.as_str(), (vh, p))).collect(),
        }
    }

    /// The earlier plan of `route`, under the virtual host `host`.
    pub(super) fn route_plan(&self, host: &str, route: &Arc<Route>) -> Option<Arc<RoutePlan>> {
        self.routes
            .get(&(host, address(route)))
            .map(|p| Arc::clone(p))
    }

    /// The earlier index of `vh`, when its routes have the same path conditions in the same
    /// order.
    pub(super) fn index(&self, vh: &VirtualHost) -> Option<Arc<RouteIndex>> {
        let (old, plan) = self.hosts.get(vh.name.as_str())?;
        let same = old.routes.len() == vh.routes.len()
            && (old.routes.iter().zip(&vh.routes)).all(|(a, b)| {
                Arc::ptr_eq(a, b) || same_index_key(&a.matcher.path, &b.matcher.path)
            });
        same.then(|| Arc::clone(&plan.index))
    }
}

fn address(route: &Arc<Route>) -> usize {
    Arc::as_ptr(route) as usize
}

/// Whether two paths are filed alike in a [`RouteIndex`]: by kind and lower-cased value (the
/// index files case-sensitive paths case-insensitively), regexes all in one list.
fn same_index_key(a: &PathMatch, b: &PathMatch) -> bool {
    match (a, b) {
        (PathMatch::Prefix { value: x, .. }, PathMatch::Prefix { value: y, .. })
        | (PathMatch::Exact { value: x, .. }, PathMatch::Exact { value: y, .. }) => {
            x.eq_ignore_ascii_case(y)
        }
        (PathMatch::Regex(_), PathMatch::Regex(_)) => true,
        _ => false,
    }
}
