//! What the admin API sees of the controller.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwap;
use lockgate_api::{Resource, ResourceKey, Snapshot};
use lockgate_compiled::{CompiledConfig, Publish};
use lockgate_store::{Revision, Store, set_status};
use lockgate_translate::{Outcome, PolicyState, Reports, Served, State, Translator};
use tokio::sync::watch;

use crate::mirror::Mirror;
use crate::prepared::{Prepared, resource_count, same_content};
use crate::{ControllerError, Metrics, Publication, Writes};

/// How long write validation waits for the mirror to catch up with the store before it goes
/// ahead with what it has.
const CATCH_UP: Duration = Duration::from_secs(5);

/// The result of the last translation.
#[derive(Debug, Clone, Default)]
pub struct Translation {
    /// The publication it became (0 before the first translation).
    pub generation: u64,
    pub reports: Arc<Reports>,
    /// What is served of each resource, and what holds back the ones not served.
    pub served: Arc<BTreeMap<ResourceKey, Served>>,
    /// Every resource that was translated, with its generation.
    pub resources: Vec<(ResourceKey, Option<i64>)>,
    /// The invalid-configuration policy in force (see [`crate::policy_name`]).
    pub policy: &'static str,
}

/// One line of `/check`: a resource, or a file of a watched directory (kind `File`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceReport {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub state: State,
    pub reasons: Vec<String>,
    /// The stored generation, when the store keeps one.
    pub generation: Option<i64>,
    /// What is served of it (the default for files and for a restored configuration).
    pub served: Served,
}

/// A change a client wants to make, to validate before it is stored.
#[derive(Debug, Clone)]
pub enum Change {
    Put(Resource),
    Delete(ResourceKey),
}

/// The reports of everything stored, before and with a change.
#[derive(Debug, Clone)]
pub struct ChangeValidation {
    pub before: Arc<Reports>,
    pub after: Arc<Reports>,
    /// The snapshot the change was validated against (its Settings decide the refusal rules).
    pub snapshot: Arc<Snapshot>,
    /// The store's content revision that `snapshot` reflects.
    pub content_revision: Revision,
    /// What would be served of each resource with the change, translated against what is
    /// served now: what a write answers about its own resource.
    pub served: Arc<BTreeMap<ResourceKey, Served>>,
    /// The whole translation with the change, for the controller to publish once the write is
    /// stored (see `prepared.rs`).
    pub(crate) prepared: Arc<Prepared>,
}

pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: Arc<dyn Publish>,
    pub(crate) latest: ArcSwap<Translation>,
    pub(crate) mirror: Mutex<Mirror>,
    pub(crate) mirror_revision: watch::Sender<Revision>,
    pub(crate) published: watch::Sender<Publication>,
    pub(crate) metrics: Metrics,
    /// The reports of one snapshot: the "before" of every write validated against it (or
    /// against a snapshot of the same content). Each translation and each stored write leave
    /// their reports here, so a write translates only once.
    validated: Mutex<Option<(Arc<Snapshot>, Arc<Reports>)>>,
    /// The translation of the last stored write, for the next translation to publish if its
    /// snapshot is the one the write was validated to make (see `prepared.rs`).
    prepared: Mutex<Option<Arc<Prepared>>>,
    /// The policy state of the last translation (or the restored one): the history a write is
    /// validated with.
    pub(crate) policy: ArcSwap<PolicyState>,
    /// The validated writes of this process queue here (see `writes.rs`).
    pub(crate) write_queue: tokio::sync::Mutex<()>,
    /// One incremental translator for write validation and publishing alike: both translate
    /// nearly the same snapshot, so unchanged route tables are walked once between them.
    translator: Mutex<Translator>,
}

impl Shared {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        config: Arc<dyn Publish>,
        mirror: Mirror,
        published: watch::Sender<Publication>,
    ) -> Shared {
        let (mirror_revision, _) = watch::channel(mirror.revision);
        Shared {
            store,
            config,
            latest: ArcSwap::from_pointee(Translation::default()),
            mirror: Mutex::new(mirror),
            mirror_revision,
            published,
            metrics: Metrics::default(),
            validated: Mutex::new(None),
            prepared: Mutex::new(None),
            policy: ArcSwap::from_pointee(PolicyState::default()),
            write_queue: tokio::sync::Mutex::new(()),
            translator: Mutex::new(Translator::default()),
        }
    }

    /// [`lockgate_translate::translate`], reusing what the last translation of this process
    /// gave for what did not change. Call it off the async workers (see [`blocking`]).
    pub(crate) fn translate(&self, snapshot: &Snapshot, previous: &PolicyState) -> Outcome {
        let mut translator = self.translator.lock().unwrap_or_else(|poisoned| {
            // A translation panicked half-way through: what it remembered cannot be trusted.
            let mut translator = poisoned.into_inner();
            *translator = Translator::default();
            self.translator.clear_poison();
            translator
        });
        translator.translate(snapshot, previous)
    }

    fn validated_for(&self, snapshot: &Arc<Snapshot>) -> Option<Arc<Reports>> {
        let memo = self.validated.lock().unwrap_or_else(|p| p.into_inner());
        memo.as_ref()
            .filter(|(at, _)| same_content(at, snapshot))
            .map(|(_, reports)| Arc::clone(reports))
    }

    /// A write about to be stored offers its translation: the next translation and the next
    /// write's "before" use it if the store comes to hold what it translated.
    pub(crate) fn offer_prepared(&self, prepared: Arc<Prepared>) {
        self.remember_validated(
            Arc::clone(&prepared.snapshot),
            Arc::clone(&prepared.reports),
        );
        *self.prepared.lock().unwrap_or_else(|p| p.into_inner()) = Some(prepared);
    }

    /// Whether the mirror now holds what the offered translation translated, against the
    /// policy state in force: then the next translation costs nothing and need not wait for
    /// the debounce. Cheap while a batch's events are still coming in (counts differ).
    pub(crate) fn prepared_ready(&self) -> bool {
        let offered = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
        let Some(offered) = offered.as_ref() else {
            return false;
        };
        if !Arc::ptr_eq(&offered.previous, &self.policy.load()) {
            return false;
        }
        let mirror = self.mirror();
        resource_count(mirror.content()) == resource_count(&offered.snapshot)
            && same_content(mirror.content(), &offered.snapshot)
    }

    /// The offered translation, if it is the one of `snapshot` against `previous`. One made
    /// against another history can never match again and is dropped; one whose snapshot is
    /// not this one is kept, since the mirror may not have caught up with the write yet.
    pub(crate) fn take_prepared(
        &self,
        snapshot: &Snapshot,
        previous: &Arc<PolicyState>,
    ) -> Option<Arc<Prepared>> {
        let mut offered = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
        if !offered
            .as_ref()
            .is_some_and(|o| Arc::ptr_eq(&o.previous, previous))
        {
            *offered = None;
            return None;
        }
        if offered
            .as_ref()
            .is_some_and(|o| o.is_for(snapshot, previous))
        {
            return offered.take();
        }
        None
    }

    /// A translation's reports are the "before" of writes validated against its snapshot: both
    /// are translated with the policy state of the last translation.
    pub(crate) fn remember_validated(&self, snapshot: Arc<Snapshot>, reports: Arc<Reports>) {
        *self.validated.lock().unwrap_or_else(|p| p.into_inner()) = Some((snapshot, reports));
    }

    pub(crate) fn mirror(&self) -> MutexGuard<'_, Mirror> {
        self.mirror.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Cheap to clone; see the crate documentation.
#[derive(Clone)]
pub struct ControllerHandle {
    pub(crate) shared: Arc<Shared>,
}

impl ControllerHandle {
    /// The configuration being served.
    pub fn config(&self) -> Arc<CompiledConfig> {
        self.shared.config.current()
    }

    pub fn latest(&self) -> Arc<Translation> {
        self.shared.latest.load_full()
    }

    /// Ready once a configuration has been published (restored or translated).
    pub fn is_ready(&self) -> bool {
        self.shared.published.borrow().generation > 0
    }

    pub fn publications(&self) -> watch::Receiver<Publication> {
        self.shared.published.subscribe()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    /// Every resource of the last translation with its state, then the problems of the source
    /// itself (files of a watched directory that define nothing readable), as kind `File`.
    pub fn reports(&self) -> Vec<ResourceReport> {
        let latest = self.latest();
        let mut out: Vec<ResourceReport> = latest
            .resources
            .iter()
            .map(|(key, generation)| {
                let report = latest.reports.get(key);
                ResourceReport {
                    kind: key.kind.to_string(),
                    namespace: key.namespace.clone(),
                    name: key.name.clone(),
                    state: latest.reports.state(key),
                    reasons: report.map(|r| r.reasons()).unwrap_or_default(),
                    generation: *generation,
                    served: latest.served.get(key).cloned().unwrap_or_default(),
                }
            })
            .collect();
        for problem in self.shared.store.problems() {
            let name = problem.file.display().to_string();
            match out.iter_mut().find(|r| r.kind == "File" && r.name == name) {
                Some(file) => file.reasons.push(problem.message),
                None => out.push(ResourceReport {
                    kind: "File".into(),
                    namespace: String::new(),
                    name,
                    state: State::Rejected,
                    reasons: vec![problem.message],
                    generation: None,
                    served: Served::default(),
                }),
            }
        }
        out
    }

    /// The validated-write service: every writer's way into the store (see [`Writes`]).
    pub fn writes(&self) -> Writes {
        Writes::new(Arc::clone(&self.shared))
    }

    /// The mirror's snapshot and the store's content revision it reflects, once the mirror has
    /// caught up with everything the store has acknowledged (so a write validated right after
    /// another sees it).
    pub async fn snapshot(&self) -> Result<(Arc<Snapshot>, Revision), ControllerError> {
        let target = self.shared.store.revision().await?;
        let mut revision = self.shared.mirror_revision.subscribe();
        let caught_up = tokio::time::timeout(CATCH_UP, revision.wait_for(|r| *r >= target))
            .await
            .is_ok_and(|r| r.is_ok());
        if !caught_up {
            // Safe for writes: one validated against a stale snapshot fails its precondition.
            tracing::warn!(
                "the controller is more than {CATCH_UP:?} behind the store (at {}, store at {target}); validating against what it has",
                *revision.borrow()
            );
        }
        let mut mirror = self.shared.mirror();
        Ok((mirror.snapshot(), mirror.content_revision))
    }

    /// Translates everything stored with and without `change`, with the last translation's
    /// policy state: what write validation compares. Nothing is stored: [`Writes`] validates and stores.
    pub async fn validate(&self, change: Change) -> Result<ChangeValidation, ControllerError> {
        let (snapshot, content_revision) = self.snapshot().await?;
        self.validate_on(snapshot, content_revision, change).await
    }

    /// [`ControllerHandle::validate`] against a snapshot already taken.
    pub(crate) async fn validate_on(
        &self,
        snapshot: Arc<Snapshot>,
        content_revision: Revision,
        change: Change,
    ) -> Result<ChangeValidation, ControllerError> {
        self.validate_changes(snapshot, content_revision, vec![change])
            .await
    }

    /// Several changes validated together: the reports with all of them applied.
    pub(crate) async fn validate_changes(
        &self,
        snapshot: Arc<Snapshot>,
        content_revision: Revision,
        changes: Vec<Change>,
    ) -> Result<ChangeValidation, ControllerError> {
        let memo = self.shared.validated_for(&snapshot);
        let before = match memo {
            Some(before) => before,
            None => {
                let snap = Arc::clone(&snapshot);
                // With the same history as the "after" below, so that the two differ only by
                // the change (a domain's holder comes from what is served).
                let previous = self.shared.policy.load_full();
                let shared = Arc::clone(&self.shared);
                let before =
                    Arc::new(blocking(move || shared.translate(&snap, &previous).reports).await?);
                self.shared
                    .remember_validated(Arc::clone(&snapshot), Arc::clone(&before));
                before
            }
        };
        let mut changed = (*snapshot).clone();
        for change in changes {
            match change {
                Change::Put(mut resource) => {
                    set_status(&mut resource, None);
                    resource.metadata_mut().resource_version = None;
                    changed.insert(resource);
                }
                Change::Delete(key) => changed.remove(&key),
            }
        }
        // Against the policy state of the last translation, so that the answer can say what
        // would be served (the reports are the same as without history).
        let previous = self.shared.policy.load_full();
        let shared = Arc::clone(&self.shared);
        let prepared = blocking(move || {
            let outcome = shared.translate(&changed, &previous);
            Prepared::new(Arc::new(changed), previous, outcome)
        })
        .await?;
        Ok(ChangeValidation {
            before,
            after: Arc::clone(&prepared.reports),
            snapshot,
            content_revision,
            served: Arc::clone(&prepared.served),
            prepared: Arc::new(prepared),
        })
    }
}

/// Translation is CPU work: keep it off the async workers. A translator panic is a bug, but it
/// must not take the gateway down with it.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ControllerError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ControllerError::Translator(e.to_string()))
}
