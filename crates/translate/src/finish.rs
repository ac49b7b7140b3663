//! The last step of a route: its destinations numbered as the configuration numbers clusters,
//! remembered between translations.
//!
//! A finished route depends on its draft, the cluster numbering and the response invalid routes
//! give, nothing else. Drafts replayed from the leaf cache are the same `Arc`s translation after
//! translation, so while the numbering and that response stay the same, a draft seen before
//! gives the very `Arc` of the route it gave then. The configuration, the policy state served
//! next time, the persisted records (`same_route`) and the proxy's plan then all share one copy
//! of every unchanged route, and tell it unchanged by pointer.

use std::collections::HashMap;
use std::sync::Arc;

use lockgate_compiled::{self as compiled, ClusterId};

use crate::delegation::DraftRoute;
use crate::destination::{DraftAction, DraftTarget};

/// Routes finished by the last translation, by the draft they were finished from.
#[derive(Default)]
pub(crate) struct FinishedRoutes {
    /// The numbering and invalid response these were finished with.
    final_id: Vec<ClusterId>,
    invalid: (u16, String),
    /// Keyed by the draft's address; the draft is held so that the address is not reused.
    last: HashMap<usize, (Arc<DraftRoute>, Arc<compiled::Route>)>,
    /// What the current translation finished: becomes `last` at [`FinishedRoutes::end`], so
    /// that only one translation's routes are kept.
    current: HashMap<usize, (Arc<DraftRoute>, Arc<compiled::Route>)>,
    /// A fresh translation's: nothing is kept.
    forget: bool,
}

impl FinishedRoutes {
    /// One that keeps nothing: what a fresh [`crate::translate`] uses.
    pub(crate) fn forgetful() -> FinishedRoutes {
        FinishedRoutes {
            forget: true,
            ..FinishedRoutes::default()
        }
    }

    /// Starts finishing the routes of one configuration.
    pub(crate) fn begin(&mut self, final_id: &[ClusterId], invalid: &(u16, String)) {
        if self.final_id != final_id || self.invalid != *invalid {
            self.last.clear();
            self.final_id = final_id.to_vec();
            self.invalid = invalid.clone();
        }
    }

    /// `draft` finished: the route it gave last time when there is one.
    pub(crate) fn finish(&mut self, draft: Arc<DraftRoute>) -> Arc<compiled::Route> {
        let key = Arc::as_ptr(&draft) as usize;
        if let Some(hit) = self.last.remove(&key).or_else(|| self.current.remove(&key)) {
            let route = Arc::clone(&hit.1);
            if !self.forget {
                self.current.insert(key, hit);
            }
            return route;
        }
        let route = Arc::new(finish_route(&draft, &self.final_id, &self.invalid));
        if !self.forget {
            self.current.insert(key, (draft, Arc::clone(&route)));
        }
        route
    }

    /// Ends the configuration: what it did not use is forgotten.
    pub(crate) fn end(&mut self) {
        self.last = std::mem::take(&mut self.current);
    }
}

fn finish_route(
    r: &DraftRoute,
    final_id: &[ClusterId],
    invalid: &(u16, String),
) -> compiled::Route {
    // Made only where needed: most routes forward, and the body is a string per route.
    let replaced = || compiled::Action::DirectResponse {
        status: invalid.0,
        body: invalid.1.clone(),
    };
    let action = match &r.action {
        DraftAction::Invalid => replaced(),
        DraftAction::DirectResponse { status, body } => compiled::Action::DirectResponse {
            status: *status,
            body: body.clone(),
        },
        DraftAction::Redirect(redirect) => compiled::Action::Redirect(redirect.clone()),
        DraftAction::Forward(targets) => {
            let total_weight = targets.iter().map(|(w, _)| *w).sum();
            let destinations = targets
                .iter()
                .map(|(weight, target)| compiled::WeightedTarget {
                    weight: *weight,
                    target: match target {
                        DraftTarget::Cluster(id) => {
                            compiled::Target::Cluster(final_id[*id as usize])
                        }
                        DraftTarget::Invalid => compiled::Target::Invalid {
                            status: invalid.0,
                            body: invalid.1.clone(),
                        },
                    },
                })
                .collect::<Vec<_>>();
            // A route whose every destination is invalid is answered directly.
            if destinations
                .iter()
                .all(|d| matches!(d.target, compiled::Target::Invalid { .. }))
            {
                replaced()
            } else {
                compiled::Action::Forward(compiled::Forward {
                    destinations,
                    total_weight,
                })
            }
        }
    };
    compiled::Route {
        origin: r.origin.clone(),
        matcher: r.matcher.clone(),
        action,
        options: r.options.clone(),
    }
}
