//! Each worker thread's own handle on the published plan, in the spirit of `arc_swap::Cache`.
//!
//! A request must keep its plan alive to its end, so it holds a reference count. Taking it on
//! the published `Arc<Plan>` itself would make every worker bump one shared counter on every
//! request, a cache line bouncing between cores. Instead each thread keeps a [`LocalPlan`] of
//! its own per proxy: a request clones that (a counter only its thread touches) after checking,
//! with a plain pointer comparison, that the plan is still the published one. A publish costs
//! each thread one allocation on its next request.
//!
//! A thread that serves no more requests keeps its last plan until it serves again or ends;
//! an entry whose proxy is gone is dropped when the thread next meets a new proxy.

use std::cell::RefCell;
use std::sync::Arc;

use arc_swap::Guard;

use crate::Inner;
use crate::plan::Plan;

/// What a request runs on: the proxy and the plan it started with.
pub(crate) struct LocalPlan {
    pub(crate) inner: Arc<Inner>,
    pub(crate) plan: Arc<Plan>,
}

thread_local! {
    /// One entry per proxy this thread has served requests for (one, outside tests).
    static LOCAL: RefCell<Vec<Arc<LocalPlan>>> = const { RefCell::new(Vec::new()) };
}

/// This thread's handle on `inner`'s published plan.
pub(crate) fn current(inner: &Arc<Inner>) -> Arc<LocalPlan> {
    let published = inner.plan.load();
    LOCAL.with(|local| {
        let Ok(mut entries) = local.try_borrow_mut() else {
            return fresh(inner, published);
        };
        match entries.iter_mut().find(|e| Arc::ptr_eq(&e.inner, inner)) {
            Some(entry) if Arc::ptr_eq(&entry.plan, &published) => entry.clone(),
            Some(entry) => {
                *entry = fresh(inner, published);
                entry.clone()
            }
            None => {
                // Proxies only this cache still holds are gone.
                entries.retain(|e| Arc::strong_count(&e.inner) > 1);
                let entry = fresh(inner, published);
                entries.push(entry.clone());
                entry
            }
        }
    })
}

fn fresh(inner: &Arc<Inner>, published: Guard<Arc<Plan>>) -> Arc<LocalPlan> {
    Arc::new(LocalPlan {
        inner: inner.clone(),
        plan: Guard::into_inner(published),
    })
}
