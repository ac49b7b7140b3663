//! Where records are cut, and when a chunk of routes is unchanged.

use std::ops::Range;

use lockgate_compiled::{Action, Cluster, Forward, Route, Target, WeightedTarget};

/// A chunk ends after an item whose boundary hash is 0 modulo this (so chunks hold about this
/// many items) ...
pub(crate) const AVERAGE_ITEMS: u64 = 32;
/// ... or once it holds this many.
pub(crate) const MAX_ITEMS: usize = 128;

/// Cuts `0..len` into chunks ending after each item whose hash is a boundary, and every
/// [`MAX_ITEMS`] items at the latest.
pub(crate) fn chunk_ranges(len: usize, hash: impl Fn(usize) -> u64) -> Vec<Range<usize>> {
    let mut ranges = Vec::with_capacity(len / AVERAGE_ITEMS as usize + 1);
    let mut start = 0;
    for i in 0..len {
        if hash(i).is_multiple_of(AVERAGE_ITEMS) || i + 1 - start >= MAX_ITEMS {
            ranges.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < len {
        ranges.push(start..len);
    }
    ranges
}

/// FNV-1a, finished with splitmix64's mixer so that every bit depends on every byte. Stable
/// across runs and builds, so a restart finds the boundaries it persisted.
pub(crate) fn boundary_hash(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Whether two routes are the same once their clusters are named by key (what a route record
/// holds). Destructured in full, so that a field added to the compiled routes is not missed.
pub(crate) fn same_route(
    a: &Route,
    a_clusters: &[Cluster],
    b: &Route,
    b_clusters: &[Cluster],
) -> bool {
    let Route {
        origin,
        matcher,
        action,
        options,
    } = a;
    // Routes are shared between translations: one route is itself, up to cluster numbers.
    let shared = std::ptr::eq(a, b);
    (shared || (*origin == b.origin && *matcher == b.matcher && *options == b.options))
        && match (action, &b.action) {
            (Action::Forward(fa), Action::Forward(fb)) => {
                let Forward {
                    destinations,
                    total_weight,
                } = fa;
                *total_weight == fb.total_weight
                    && destinations.len() == fb.destinations.len()
                    && destinations.iter().zip(&fb.destinations).all(|(da, db)| {
                        let WeightedTarget { weight, target } = da;
                        *weight == db.weight
                            && match (target, &db.target) {
                                (Target::Cluster(x), Target::Cluster(y)) => {
                                    let x = a_clusters.get(x.0).map(|c| &c.key);
                                    x.is_some() && x == b_clusters.get(y.0).map(|c| &c.key)
                                }
                                (x, y) => x == y,
                            }
                    })
            }
            (x, y) => shared || x == y,
        }
}
