//! What a plan takes from the plan before it.
//!
//! The translator shares every unchanged route between configurations (one `Arc` from one
//! outcome to the next), so a publish that changed one route table finds almost every route of
//! the last plan again, at the same position of the same virtual host, by address (a table
//! that gains or loses routes shifts the ones after it, which are then planned again). A route's plan depends on the route, the number of
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

/// An earlier plan's virtual hosts by name; empty when nothing of it may be taken.
#[derive(Default)]
pub(super) struct Earlier<'p> {
    hosts: HashMap<&'p str, (&'p VirtualHost, &'p VirtualHostPlan)>,
    /// Whether route plans may be taken (the same number of clusters).
    routes: bool,
}

impl<'p> Earlier<'p> {
    /// What of `earlier` a plan of a configuration with `cluster_count` clusters may take.
    pub(super) fn of(earlier: Option<&'p Plan>, cluster_count: usize) -> Earlier<'p> {
        let Some(plan) = earlier else {
            return Earlier::default();
        };
        let hosts = plan.config.virtual_hosts.iter().zip(&plan.virtual_hosts);
        Earlier {
            hosts: hosts.map(|(vh, p)| (vh.name.as_str(), (vh, p))).collect(),
            routes: plan.config.clusters.len() == cluster_count,
        }
    }

    /// The earlier plan of `route`, the `position`th of the virtual host `host`.
    pub(super) fn route_plan(
        &self,
        host: &str,
        position: usize,
        route: &Arc<Route>,
    ) -> Option<Arc<RoutePlan>> {
        if !self.routes {
            return None;
        }
        let (old, plan) = self.hosts.get(host)?;
        let same = (old.routes.get(position)).is_some_and(|r| Arc::ptr_eq(r, route));
        same.then(|| Arc::clone(&plan.routes[position]))
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
