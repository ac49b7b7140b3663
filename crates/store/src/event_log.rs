//! The recent history of changes, from which watches are served.
//!
//! Both local back ends keep the last few thousand events in memory. A watcher that falls
//! further behind (or watches from before the process started) gets `Relist`, exactly as an
//! etcd watcher gets after a compaction, so consumers handle one protocol for every back end.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::{Revision, WatchEvent};

/// Events hold whole resources, so the history is kept short: watchers in this process consume
/// it as it is written, and one that falls behind relists. 4,096 held ~50 MB more at 50,000
/// routes (bench/controlplane.py) for no gain.
const DEFAULT_CAPACITY: usize = 1024;

/// The history is also bounded by its routes: a route table of thousands of routes weighs as
/// much as thousands of small events.
const MAX_WEIGHT: usize = 20_000;

/// What an event costs to keep, in routes (at least 1).
fn weight(event: &WatchEvent) -> usize {
    use lockgate_api::Resource;
    let routes = match event {
        WatchEvent::Put {
            resource: Resource::RouteTable(t),
            ..
        } => t.spec.routes.len(),
        WatchEvent::Put {
            resource: Resource::VirtualService(v),
            ..
        } => v.spec.virtual_host.routes.len(),
        _ => 0,
    };
    1 + routes
}

pub(crate) struct EventLog {
    inner: Mutex<Inner>,
    latest: watch::Sender<Revision>,
}

struct Inner {
    /// Events in revision order; all have a revision > `horizon`. Boxed: an event is about a
    /// kilobyte inline (a whole resource), and the deque's spare room would cost as much.
    events: VecDeque<Box<WatchEvent>>,
    /// Every change up to and including this revision may be missing from `events`.
    horizon: Revision,
    current: Revision,
    /// The revision of the last resource write (every event but a status write).
    content: Revision,
    capacity: usize,
    /// Sum of the events' [`weight`]s.
    weight: usize,
}

impl EventLog {
    /// A log whose history starts at `current` (whose last resource write was at `content`):
    /// nothing before it can be replayed.
    pub(crate) fn new(current: Revision, content: Revision) -> Arc<EventLog> {
        EventLog::with_capacity(current, content, DEFAULT_CAPACITY)
    }

    pub(crate) fn with_capacity(
        current: Revision,
        content: Revision,
        capacity: usize,
    ) -> Arc<EventLog> {
        let (latest, _) = watch::channel(current);
        Arc::new(EventLog {
            inner: Mutex::new(Inner {
                events: VecDeque::new(),
                horizon: current,
                current,
                content,
                capacity: capacity.max(1),
                weight: 0,
            }),
            latest,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the deque inconsistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn current(&self) -> Revision {
        self.lock().current
    }

    /// The content revision of the last event appended (or of the start).
    pub(crate) fn content(&self) -> Revision {
        self.lock().content
    }

    /// Records an event. Callers append in revision order (they hold their write lock).
    pub(crate) fn append(&self, event: WatchEvent) {
        self.append_all(vec![event]);
    }

    /// The events of one transaction, at once: a watcher sees all of them or none, so that
    /// nobody translates half a batch (a state the store never held).
    pub(crate) fn append_all(&self, events: Vec<WatchEvent>) {
        let mut latest = None;
        {
            let mut inner = self.lock();
            for event in events {
                let Some(revision) = revision_of(&event) else {
                    continue;
                };
                if !matches!(event, WatchEvent::Status { .. }) {
                    inner.content = inner.content.max(revision);
                }
                inner.weight += weight(&event);
                inner.events.push_back(Box::new(event));
                inner.current = inner.current.max(revision);
                latest = Some(revision);
            }
            // The newest event always stays: a watcher that is up to date never relists.
            while inner.events.len() > inner.capacity
                || (inner.weight > MAX_WEIGHT && inner.events.len() > 1)
            {
                if let Some(dropped) = inner.events.pop_front() {
                    inner.weight -= weight(&dropped);
                    inner.horizon = revision_of(&dropped).unwrap_or(inner.horizon);
                }
            }
        }
        if let Some(revision) = latest {
            self.latest.send_replace(revision);
        }
    }

    pub(crate) fn watch(self: &Arc<Self>, from: Revision) -> Watch {
        Watch {
            log: Arc::clone(self),
            cursor: from,
            latest: self.latest.subscribe(),
        }
    }
}

fn revision_of(event: &WatchEvent) -> Option<Revision> {
    match event {
        WatchEvent::Put { revision, .. }
        | WatchEvent::PutUndecodable { revision, .. }
        | WatchEvent::Delete { revision, .. }
        | WatchEvent::Status { revision, .. } => Some(*revision),
        WatchEvent::Relist => None,
    }
}

/// A stream of changes after a revision. See [`crate::Store::watch`].
pub struct Watch {
    log: Arc<EventLog>,
    cursor: Revision,
    latest: watch::Receiver<Revision>,
}

impl Watch {
    /// The next change, waiting for one. After [`WatchEvent::Relist`] the watch continues from
    /// the current revision, but the consumer should list again (it missed changes).
    pub async fn next(&mut self) -> WatchEvent {
        loop {
            // Mark what we are about to read as seen before reading it, so that an append
            // between the read and the wait still wakes us.
            self.latest.borrow_and_update();
            if let Some(event) = self.poll() {
                return event;
            }
            if self.latest.changed().await.is_err() {
                // The store is gone; nothing more will ever happen.
                std::future::pending::<()>().await;
            }
        }
    }

    fn poll(&mut self) -> Option<WatchEvent> {
        let inner = self.log.lock();
        if self.cursor < inner.horizon {
            self.cursor = inner.current;
            return Some(WatchEvent::Relist);
        }
        // Events are in revision order: skip what the cursor has seen.
        let index = inner
            .events
            .partition_point(|e| revision_of(e).is_some_and(|r| r <= self.cursor));
        let event = WatchEvent::clone(inner.events.get(index)?);
        if let Some(revision) = revision_of(&event) {
            self.cursor = revision;
        }
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use lockgate_api::{Kind, ResourceKey};

    use super::*;

    fn delete(n: u64) -> WatchEvent {
        WatchEvent::Delete {
            key: ResourceKey::new(Kind::Upstream, "ns", format!("u{n}")),
            revision: Revision(n),
        }
    }

    #[tokio::test]
    async fn replays_from_a_revision_then_waits_for_new_events() {
        let log = EventLog::new(Revision(10), Revision(10));
        log.append(delete(11));
        log.append(delete(12));
        let mut watch = log.watch(Revision(11));
        assert_eq!(watch.next().await, delete(12));
        let writer = Arc::clone(&log);
        let waiter = tokio::spawn(async move { watch.next().await });
        tokio::task::yield_now().await;
        writer.append(delete(13));
        assert_eq!(waiter.await.ok(), Some(delete(13)));
    }

    #[tokio::test]
    async fn watching_from_before_the_history_asks_for_a_relist() {
        let log = EventLog::with_capacity(Revision(0), Revision(0), 2);
        for n in 1..=4 {
            log.append(delete(n));
        }
        let mut stale = log.watch(Revision(1));
        assert_eq!(stale.next().await, WatchEvent::Relist);
        let mut fresh = log.watch(Revision(2));
        assert_eq!(fresh.next().await, delete(3));
        assert_eq!(fresh.next().await, delete(4));
    }

    #[tokio::test]
    async fn large_route_tables_shorten_the_history_but_the_newest_event_stays() {
        let put = |n: u64, routes: usize| {
            let mut table = lockgate_api::RouteTable::default();
            table.metadata.name = format!("t{n}");
            table.metadata.namespace = "ns".into();
            table.spec.routes = vec![lockgate_api::Route::default(); routes];
            WatchEvent::Put {
                resource: lockgate_api::Resource::RouteTable(table),
                revision: Revision(n),
            }
        };
        let log = EventLog::new(Revision(0), Revision(0));
        log.append(delete(1));
        log.append(put(2, MAX_WEIGHT / 2));
        log.append(put(3, MAX_WEIGHT));
        let mut stale = log.watch(Revision(1));
        assert_eq!(
            stale.next().await,
            WatchEvent::Relist,
            "the older events were dropped"
        );
        let mut fresh = log.watch(Revision(2));
        assert_eq!(
            fresh.next().await,
            put(3, MAX_WEIGHT),
            "the newest stays, however heavy"
        );
    }

    #[tokio::test]
    async fn status_events_are_watched_but_do_not_move_the_content_revision() {
        let log = EventLog::new(Revision(3), Revision(2));
        assert_eq!(log.content(), Revision(2));
        let status = WatchEvent::Status {
            key: ResourceKey::new(Kind::Upstream, "ns", "u"),
            status: serde_json::json!({"state": "Accepted"}),
            revision: Revision(4),
        };
        log.append(status.clone());
        assert_eq!((log.current(), log.content()), (Revision(4), Revision(2)));
        log.append(delete(5));
        assert_eq!((log.current(), log.content()), (Revision(5), Revision(5)));
        let mut watch = log.watch(Revision(3));
        assert_eq!(watch.next().await, status);
        assert_eq!(watch.next().await, delete(5));
    }
}
