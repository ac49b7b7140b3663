//! The candidate routes of a request, found without scanning every route of the virtual host.
//!
//! A virtual host's routes are in match order and the first whose matcher holds wins. Scanning
//! them is linear: with 50,000 routes under one virtual service (2,500 delegated route tables),
//! a request would test tens of thousands of matchers. [`RouteIndex`] narrows that to the routes
//! whose *path* condition can hold, then lets the caller test those in ascending order, so the
//! answer is exactly the scan's.
//!
//! Shape, and why:
//! - Prefix and exact paths live in one radix tree keyed by their ASCII-lower-cased bytes. A
//!   case-sensitive `/Echo` is filed under `/echo` too: the tree then yields a superset (a request
//!   for `/echo` gets `/Echo` as a candidate), which is correct because the caller's matcher
//!   checks the path anyway, and it saves a second walk per request. Walking the request path
//!   down the tree collects the prefix routes of every node passed (a prefix is a plain string
//!   prefix: `/ech` matches `/echo`) and, where the path ends on a node, its exact routes.
//! - Regex routes cannot be indexed by their text; they are a list visited for every request.
//! - Each route is in exactly one list, and every list is sorted ascending, so merging the few
//!   lists a request collects (k-way, lazily, on the stack) visits candidates in match order and
//!   stops at the first that holds. Nothing is allocated per request unless a path passes more
//!   than [`INLINE_LISTS`] nodes that carry routes.
//! - Memory is a handful of flat boxed slices (nodes, labels, route lists): about 1 MiB, 21 bytes
//!   a route, for the routing benchmark's 50,000; see [`RouteIndex::heap_bytes`].
//! - Below [`SCAN_BELOW`] routes the index is not built: a scan of a few matchers beats a tree
//!   walk.
//!
//! Parent guards (`Matcher::within`) are not indexed: a route can only match where its own path
//! does, so indexing that already yields a superset, and the caller's matcher checks the guards.

use std::borrow::Borrow;
use std::collections::VecDeque;

use lockgate_compiled::{PathMatch, Route};

/// Route sets smaller than this are scanned rather than indexed. Measured with callgrind on the
/// routing benchmark (virtual host + route, pairs of a header-matched and a plain prefix route):
/// instructions a lookup, scan against tree, 1,070 / 1,220 at 2 routes, 1,150 / 1,290 at 4,
/// 1,300 / 1,280 at 8, 1,390 / 1,280 at 10.
pub(crate) const SCAN_BELOW: usize = 8;

/// Route lists a lookup holds on the stack before it falls back to a `Vec`: one per node on the
/// request path that carries routes, plus the exact list and the regex list.
const INLINE_LISTS: usize = 8;

/// No list (a node without routes of that kind).
const NONE: u32 = u32::MAX;

/// Where the routes of one virtual host may match, by path. Built once per publish.
#[derive(Debug, Clone)]
pub(crate) struct RouteIndex {
    /// How many routes were indexed (for the scan, and to check the caller's slice).
    routes: usize,
    /// `None` when the route set is scanned instead.
    tree: Option<Tree>,
}

#[derive(Debug, Clone)]
struct Tree {
    /// Node 0 is the root; the children of a node are contiguous and sorted by first byte.
    nodes: Box<[Node]>,
    /// The first byte of each node's label, by node (the root's is unused): the child search
    /// reads only this array.
    first_bytes: Box<[u8]>,
    /// All labels, concatenated, lower-cased.
    labels: Box<[u8]>,
    /// All route lists, each stored as its length followed by its route indices, ascending.
    lists: Box<[u32]>,
    /// The regex routes' list in `lists`, or [`NONE`].
    regex: u32,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    label_start: u32,
    label_len: u32,
    first_child: u32,
    /// At most 256: children differ in their first byte.
    child_count: u16,
    /// Routes whose prefix ends at this node, as an offset into `lists`, or [`NONE`].
    prefix: u32,
    /// Routes whose exact path ends at this node.
    exact: u32,
}

impl RouteIndex {
    /// The index of `routes` (one virtual host's, in match order); small sets are scanned.
    pub(crate) fn build(routes: &[impl Borrow<Route>]) -> RouteIndex {
        if routes.len() < SCAN_BELOW {
            return RouteIndex {
                routes: routes.len(),
                tree: None,
            };
        }
        RouteIndex::build_tree(routes)
    }

    /// The index of `routes` whatever their number (for tests and the benchmark, which compare
    /// the tree with the scan on small sets too).
    pub(crate) fn build_tree(routes: &[impl Borrow<Route>]) -> RouteIndex {
        RouteIndex {
            routes: routes.len(),
            // Indices are `u32`; more routes than that do not fit in memory anyway, but a scan is
            // still correct.
            tree: u32::try_from(routes.len())
                .ok()
                .map(|_| Tree::build(routes)),
        }
    }

    /// The first route, in match order, that is a candidate for the normalised `path` and for
    /// which `holds(index)` is true. `holds` must be the route's full matcher, path included:
    /// the candidates are a superset of the routes whose path condition holds (regex routes are
    /// always candidates, and case-sensitive paths are filed case-insensitively).
    pub(crate) fn first(&self, path: &str, mut holds: impl FnMut(usize) -> bool) -> Option<usize> {
        match &self.tree {
            None => (0..self.routes).find(|&i| holds(i)),
            Some(tree) => tree.first(path.as_bytes(), holds),
        }
    }

    /// The number of routes indexed.
    pub(crate) fn len(&self) -> usize {
        self.routes
    }

    /// Heap bytes the index holds (not counting the routes themselves).
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        self.tree.as_ref().map_or(0, |t| {
            std::mem::size_of_val(&*t.nodes)
                + t.first_bytes.len()
                + t.labels.len()
                + std::mem::size_of_val(&*t.lists)
        })
    }
}

/// The route lists one lookup collects: on the stack, spilling to a `Vec` only for a path that
/// passes more than [`INLINE_LISTS`] nodes with routes.
struct Candidates<'a> {
    inline: [&'a [u32]; INLINE_LISTS],
    len: usize,
    spill: Vec<&'a [u32]>,
}

impl<'a> Candidates<'a> {
    fn new() -> Self {
        Candidates {
            inline: [&[]; INLINE_LISTS],
            len: 0,
            spill: Vec::new(),
        }
    }

    fn push(&mut self, list: &'a [u32]) {
        if list.is_empty() {
            return;
        }
        if self.len < INLINE_LISTS {
            self.inline[self.len] = list;
            self.len += 1;
        } else {
            if self.spill.is_empty() {
                self.spill.extend_from_slice(&self.inline);
            }
            self.spill.push(list);
        }
    }

    /// Visits the candidates in ascending order until `holds` is true for one.
    // By reference: the lists are a few hundred bytes that a move would copy.
    fn first(&mut self, mut holds: impl FnMut(usize) -> bool) -> Option<usize> {
        let lists: &mut [&[u32]] = if self.spill.is_empty() {
            &mut self.inline[..self.len]
        } else {
            &mut self.spill
        };
        if let [only] = lists {
            return only.iter().map(|&i| i as usize).find(|&i| holds(i));
        }
        loop {
            // The few lists are short-headed; a linear pick of the smallest head is cheaper than
            // a heap at these sizes.
            let mut best: Option<(usize, u32)> = None;
            for (l, list) in lists.iter().enumerate() {
                if let Some(&head) = list.first()
                    && best.is_none_or(|(_, b)| head < b)
                {
                    best = Some((l, head));
                }
            }
            let (l, head) = best?;
            lists[l] = &lists[l][1..];
            if holds(head as usize) {
                return Some(head as usize);
            }
        }
    }
}

impl Tree {
    fn first(&self, path: &[u8], holds: impl FnMut(usize) -> bool) -> Option<usize> {
        let mut candidates = Candidates::new();
        candidates.push(self.list(self.regex));
        let mut node = &self.nodes[0];
        let mut pos = 0;
        // Bytes of the node's label already known to match: the child search matched the first
        // byte of every label but the root's.
        let mut known = 0;
        loop {
            let label = &self.labels
                [node.label_start as usize..node.label_start as usize + node.label_len as usize];
            let Some(rest) = path.get(pos..pos + label.len()) else {
                // The path ends inside the label: no key at or below this node is a prefix of it.
                break;
            };
            // Labels are lower case already.
            let (unknown, expected) = (&rest[known..], &label[known..]);
            if unknown != expected
                && !unknown
                    .iter()
                    .zip(expected)
                    .all(|(r, l)| r.to_ascii_lowercase() == *l)
            {
                break;
            }
            pos += label.len();
            candidates.push(self.list(node.prefix));
            let Some(&next) = path.get(pos) else {
                candidates.push(self.list(node.exact));
                break;
            };
            let first = node.first_child as usize;
            let children = &self.first_bytes[first..first + node.child_count as usize];
            let next = next.to_ascii_lowercase();
            let found = match children.first() {
                None => None,
                // Children are sorted by distinct bytes, so where they form a dense run (digits,
                // letters) the byte's distance from the first is its place.
                Some(&low) if children.get(usize::from(next.wrapping_sub(low))) == Some(&next) => {
                    Some(usize::from(next.wrapping_sub(low)))
                }
                // A handful of children: a linear pass beats a binary search.
                Some(_) if children.len() <= 8 => children.iter().position(|&b| b == next),
                Some(_) => children.binary_search(&next).ok(),
            };
            match found {
                Some(c) => {
                    node = &self.nodes[first + c];
                    known = 1;
                }
                None => break,
            }
        }
        candidates.first(holds)
    }

    fn list(&self, offset: u32) -> &[u32] {
        if offset == NONE {
            return &[];
        }
        let start = offset as usize + 1;
        &self.lists[start..start + self.lists[offset as usize] as usize]
    }

    fn build(routes: &[impl Borrow<Route>]) -> Tree {
        // One entry per distinct lower-cased key, with its prefix and exact routes, ascending
        // because routes are visited in order.
        let mut keyed: Vec<(Vec<u8>, Vec<u32>, Vec<u32>)> = Vec::new();
        let mut by_key: std::collections::HashMap<Vec<u8>, usize> = Default::default();
        let mut regex = Vec::new();
        for (i, route) in routes.iter().enumerate() {
            // `build_tree` checked that every index fits.
            let i = i as u32;
            let (value, exact) = match &route.borrow().matcher.path {
                PathMatch::Prefix { value, .. } => (value, false),
                PathMatch::Exact { value, .. } => (value, true),
                PathMatch::Regex(_) => {
                    regex.push(i);
                    continue;
                }
            };
            let key = value.as_bytes().to_ascii_lowercase();
            let slot = *by_key.entry(key.clone()).or_insert_with(|| {
                keyed.push((key, Vec::new(), Vec::new()));
                keyed.len() - 1
            });
            let (_, prefix, exacts) = &mut keyed[slot];
            if exact { exacts } else { prefix }.push(i);
        }
        drop(by_key);
        keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));

        let mut lists = Vec::new();
        let mut push_list = |list: &[u32]| -> u32 {
            if list.is_empty() {
                return NONE;
            }
            let offset = lists.len() as u32;
            lists.push(list.len() as u32);
            lists.extend_from_slice(list);
            offset
        };
        let regex = push_list(&regex);

        let mut nodes = vec![Node {
            label_start: 0,
            label_len: 0,
            first_child: 0,
            child_count: 0,
            prefix: NONE,
            exact: NONE,
        }];
        let mut first_bytes = vec![0];
        let mut labels = Vec::new();
        // Breadth first, so that each node's children are laid out contiguously: (node, the
        // sorted keys below it, the depth its label starts at). All keys of a node share their
        // bytes up to that depth.
        let mut queue = VecDeque::from([(0usize, 0..keyed.len(), 0usize)]);
        while let Some((id, mut keys, depth)) = queue.pop_front() {
            // Keys are sorted, so what the first and last share, all share.
            let end = if keys.is_empty() {
                depth
            } else {
                let (a, b) = (&keyed[keys.start].0, &keyed[keys.end - 1].0);
                depth + common_len(&a[depth..], &b[depth..])
            };
            if let Some(key) = keys.clone().next().map(|k| &keyed[k].0) {
                nodes[id].label_start = labels.len() as u32;
                nodes[id].label_len = (end - depth) as u32;
                labels.extend_from_slice(&key[depth..end]);
            }
            // A key that ends here sorts first among its group and is the only one of its length.
            if let Some(k) = keys.clone().next()
                && keyed[k].0.len() == end
            {
                nodes[id].prefix = push_list(&keyed[k].1);
                nodes[id].exact = push_list(&keyed[k].2);
                keys.start += 1;
            }
            nodes[id].first_child = nodes.len() as u32;
            while !keys.is_empty() {
                let byte = keyed[keys.start].0[end];
                let group_end =
                    keys.start + keyed[keys.clone()].partition_point(|k| k.0[end] == byte);
                let group = keys.start..group_end;
                keys.start = group_end;
                nodes.push(Node {
                    label_start: 0,
                    label_len: 0,
                    first_child: 0,
                    child_count: 0,
                    prefix: NONE,
                    exact: NONE,
                });
                first_bytes.push(byte);
                nodes[id].child_count += 1;
                queue.push_back((nodes.len() - 1, group, end));
            }
        }
        Tree {
            nodes: nodes.into_boxed_slice(),
            first_bytes: first_bytes.into_boxed_slice(),
            labels: labels.into_boxed_slice(),
            lists: lists.into_boxed_slice(),
            regex,
        }
    }
}

fn common_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
#[path = "route_index_test.rs"]
mod tests;
