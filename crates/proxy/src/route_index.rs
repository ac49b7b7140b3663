//! Placeholder until the indexed lookup lands: visits every route in order.

use lockgate_compiled::Route;

pub(crate) struct RouteIndex {
    len: usize,
}

impl RouteIndex {
    pub(crate) fn build(routes: &[Route]) -> RouteIndex {
        RouteIndex { len: routes.len() }
    }

    pub(crate) fn first(&self, _path: &str, mut holds: impl FnMut(usize) -> bool) -> Option<usize> {
        (0..self.len).find(|&i| holds(i))
    }
}
