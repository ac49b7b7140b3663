//! The watch-debounce-translate-publish loop.

use std::sync::Arc;
use std::time::Duration;

use lockgate_compiled::Publish;
use lockgate_store::{Store, Watch, WatchEvent};
use lockgate_translate::PolicyState;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::handle::{Shared, Translation, blocking};
use crate::mirror::Mirror;
use crate::persist::LastKnownGood;
use crate::prepared::Prepared;
use crate::status::{policy_name, status_json};
use crate::{
    ControllerError, ControllerHandle, ControllerOptions, Origin, Publication, ResourceLabels,
};

/// How long to wait before retrying the store after an error.
const RETRY: Duration = Duration::from_secs(1);

pub(crate) struct Worker {
    shared: Arc<Shared>,
    options: ControllerOptions,
    /// The policy state of the last translation: the `previous` of the next one.
    state: Arc<PolicyState>,
    /// The persisted last known good (one translation at a time uses it).
    lkg: Arc<tokio::sync::Mutex<LastKnownGood>>,
}

/// Publishes the persisted last known good (if any), then lists the store.
pub(crate) async fn prepare(
    store: Arc<dyn Store>,
    config: Arc<dyn Publish>,
    options: ControllerOptions,
) -> Result<(ControllerHandle, Worker), ControllerError> {
    let (published, _) = watch::channel(Publication {
        generation: 0,
        origin: Origin::Nothing,
    });
    let (restored, lkg) = LastKnownGood::restore(store.as_ref()).await;
    if let Some(state) = &restored {
        config.publish(Arc::clone(&state.served));
        published.send_replace(Publication {
            generation: 1,
            origin: Origin::Restored,
        });
        tracing::info!(
            routes = state.served.route_count(),
            "serving the last known good configuration persisted by the previous run"
        );
    }
    let listing = store.list().await?;
    let shared = Arc::new(Shared::new(
        store,
        config,
        Mirror::from_listing(listing),
        published,
    ));
    if let Some(state) = &restored {
        shared.metrics.config_generation.set(1);
        shared.metrics.routes.set(state.served.route_count() as i64);
    }
    let state = Arc::new(restored.unwrap_or_default());
    shared.policy.store(Arc::clone(&state));
    let worker = Worker {
        shared: Arc::clone(&shared),
        options,
        state,
        lkg: Arc::new(tokio::sync::Mutex::new(lkg)),
    };
    Ok((ControllerHandle { shared }, worker))
}

/// A change waiting to be translated: when it first came, and when to translate.
#[derive(Clone, Copy)]
struct Pending {
    first: Instant,
    deadline: Instant,
}

impl Worker {
    pub(crate) async fn run(mut self, mut stopped: watch::Receiver<bool>) {
        let mut watch = self.watch().await;
        let now = Instant::now();
        // Translate straight away on start.
        let mut pending = Some(Pending {
            first: now,
            deadline: now,
        });
        let mut job: Option<JoinHandle<Option<Arc<PolicyState>>>> = None;
        // When the last change came: a change after a quiet period is translated at once.
        let mut last_change = now;
        loop {
            let deadline = pending.filter(|_| job.is_none()).map(|p| p.deadline);
            tokio::select! {
                biased;
                _ = stopped.changed() => break,
                finished = async { job.as_mut().expect("guarded").await }, if job.is_some() => {
                    job = None;
                    match finished {
                        Ok(Some(state)) => self.state = state,
                        Ok(None) => {}
                        Err(e) => tracing::error!("translation task failed: {e}"),
                    }
                }
                event = watch.next() => {
                    if self.apply(event, &mut watch).await {
                        let now = Instant::now();
                        let quiet = now.duration_since(last_change) >= self.options.debounce;
                        last_change = now;
                        pending = Some(match pending {
                            // A stored write whose translation is ready costs nothing to
                            // publish: no reason to wait for more changes.
                            _ if self.shared.prepared_ready() => Pending {
                                first: pending.map_or(now, |p| p.first),
                                deadline: now,
                            },
                            // The first change after a quiet period: nothing to wait for (the
                            // changes that follow it closely are debounced behind it). If a
                            // translation is still running (writing statuses, say), the change
                            // goes as soon as it ends: the deadline is only armed between jobs.
                            None if quiet => Pending { first: now, deadline: now },
                            _ => {
                                let first = pending.map_or(now, |p| p.first);
                                let deadline = (now + self.options.debounce)
                                    .min(first + self.options.max_delay);
                                Pending { first, deadline }
                            }
                        });
                    }
                }
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    pending = None;
                    let (shared, previous) = (Arc::clone(&self.shared), Arc::clone(&self.state));
                    let lkg = Arc::clone(&self.lkg);
                    job = Some(tokio::spawn(translate_and_publish(shared, previous, lkg)));
                }
            }
        }
        // Let a translation in progress publish: it may hold a fix someone waits for.
        if let Some(job) = job {
            let _ = job.await;
        }
    }

    async fn watch(&self) -> Watch {
        loop {
            let from = self.shared.mirror().revision;
            match self.shared.store.watch(from).await {
                Ok(watch) => return watch,
                Err(e) => {
                    tracing::error!("cannot watch the store: {e}; retrying");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }

    /// Applies an event to the mirror; returns whether a translation is needed.
    async fn apply(&mut self, event: WatchEvent, watch: &mut Watch) -> bool {
        if event == WatchEvent::Relist {
            let listing = loop {
                match self.shared.store.list().await {
                    Ok(listing) => break listing,
                    Err(e) => {
                        tracing::error!("cannot list the store: {e}; retrying");
                        tokio::time::sleep(RETRY).await;
                    }
                }
            };
            let revision = listing.revision;
            let fresh = Mirror::from_listing(listing);
            // A relist after a burst of status writes (more events than the store keeps)
            // usually finds nothing new: no need to translate again then.
            let changed = {
                let mut mirror = self.shared.mirror();
                let changed = !mirror.same_content(&fresh);
                *mirror = fresh;
                changed
            };
            self.shared.mirror_revision.send_replace(revision);
            *watch = self.watch().await;
            return changed;
        }
        let (changed, revision) = {
            let mut mirror = self.shared.mirror();
            let changed = mirror.apply(event);
            (changed, mirror.revision)
        };
        self.shared.mirror_revision.send_replace(revision);
        changed
    }
}

/// One translation: persist the policy state, publish, then write statuses. Returns the new
/// policy state, or `None` when the translator failed (the served configuration stays).
async fn translate_and_publish(
    shared: Arc<Shared>,
    previous: Arc<PolicyState>,
    lkg: Arc<tokio::sync::Mutex<LastKnownGood>>,
) -> Option<Arc<PolicyState>> {
    let (snapshot, resources, statuses) = {
        let mut mirror = shared.mirror();
        (mirror.snapshot(), mirror.keys(), mirror.statuses.clone())
    };
    let started = std::time::Instant::now();
    // A stored write was validated by translating exactly this (see `prepared.rs`).
    let outcome = match shared.take_prepared(&snapshot, &previous) {
        Some(prepared) => {
            shared.metrics.prepared_publishes.inc();
            prepared
        }
        None => {
            let translated = {
                let (snapshot, translator) = (Arc::clone(&snapshot), Arc::clone(&shared));
                blocking(move || {
                    let outcome = translator.translate(&snapshot, &previous);
                    Prepared::new(snapshot, previous, outcome)
                })
                .await
            };
            match translated {
                Ok(prepared) => Arc::new(prepared),
                Err(e) => {
                    tracing::error!("{e}");
                    return None;
                }
            }
        }
    };
    shared
        .metrics
        .translation_duration
        .observe(started.elapsed().as_secs_f64());

    // Persist before publishing: a crash between the two then restarts on what was about to
    // be served, never on something older than what was served.
    let state = Arc::clone(&outcome.state);
    shared.policy.store(Arc::clone(&state));
    let translated_in = started.elapsed();
    // Last valid generations the store holds anyway are not written again; nor are the
    // records of anything unchanged (a failed persist is retried by the next translation).
    let persistable = Arc::new(state.persistable(&snapshot));
    let persisting = std::time::Instant::now();
    match lkg
        .lock()
        .await
        .persist(shared.store.as_ref(), persistable)
        .await
    {
        Ok(written) if written.records > 0 => tracing::debug!(
            records = written.records,
            bytes = written.bytes,
            deleted = written.deleted,
            batches = written.batches,
            ms = persisting.elapsed().as_millis() as u64,
            "last known good persisted"
        ),
        Ok(_) => {}
        Err(e) => {
            shared.metrics.persist_failures.inc();
            tracing::error!("cannot persist the last known good configuration: {e}");
        }
    }

    let reports = Arc::clone(&outcome.reports);
    let served = Arc::clone(&outcome.served);
    shared.remember_validated(Arc::clone(&snapshot), Arc::clone(&reports));
    let route_count = outcome.config.route_count();
    let publishing = std::time::Instant::now();
    shared.config.publish(Arc::clone(&outcome.config));
    let plan_ms = publishing.elapsed().as_millis() as u64;
    let generation = shared.published.borrow().generation + 1;
    let metrics = &shared.metrics;
    metrics.publishes.inc();
    metrics.config_generation.set(generation as i64);
    metrics.routes.set(route_count as i64);
    metrics.resources.clear();
    for (key, _) in &resources {
        let labels = ResourceLabels {
            kind: key.kind.to_string(),
            state: reports.state(key).to_string(),
        };
        metrics.resources.get_or_create(&labels).inc();
    }
    let writes: Vec<_> = resources
        .iter()
        .filter_map(|(key, generation)| {
            let generation = (*generation)?;
            let status = status_json(reports.get(key), Some(generation), served.get(key));
            (statuses.get(key) != Some(&status)).then(|| (key.clone(), status))
        })
        .collect();
    shared.latest.store(Arc::new(Translation {
        generation,
        reports: Arc::clone(&reports),
        served,
        resources,
        policy: policy_name(&snapshot.settings),
    }));
    shared.published.send_replace(Publication {
        generation,
        origin: Origin::Translated,
    });
    tracing::debug!(
        generation,
        routes = route_count,
        translate_ms = translated_in.as_millis() as u64,
        plan_ms,
        total_ms = started.elapsed().as_millis() as u64,
        "published"
    );

    if !writes.is_empty() {
        let writing = std::time::Instant::now();
        match shared.store.put_statuses(writes.clone()).await {
            Ok(()) => {
                tracing::debug!(
                    statuses = writes.len(),
                    ms = writing.elapsed().as_millis() as u64,
                    "statuses written"
                );
                let mut mirror = shared.mirror();
                mirror.statuses.extend(writes);
            }
            Err(e) => {
                shared.metrics.status_write_failures.inc();
                tracing::warn!("cannot write statuses back: {e}");
            }
        }
    }
    Some(state)
}
