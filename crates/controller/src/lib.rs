//! The controller: from the store to the proxy.
//!
//! It lists the store, then watches it. Every change is applied at once to a mirror of the
//! store (so write validation sees it). A change after a quiet period is translated at once;
//! changes that follow closely (a multi-document apply, an editor's writes) are translated
//! together once they stop for a moment (the debounce), bounded so that a store that never
//! goes quiet is still translated.
//! Each translation persists the policy state (the last known good) first, as separate records
//! of which only the changed ones are written ([`LastKnownGood`]), then publishes the compiled
//! configuration with one atomic swap, then writes statuses back on the resources.
//!
//! On start, the persisted policy state is published before anything is translated: a gateway
//! restarted in a blocked state keeps serving exactly what it served before.
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<dyn lockgate_store::Store>) -> Result<(), lockgate_controller::ControllerError> {
//! use std::sync::Arc;
//! use arc_swap::ArcSwap;
//! use lockgate_compiled::CompiledConfig;
//! use lockgate_controller::{Controller, ControllerOptions};
//!
//! let config = Arc::new(ArcSwap::from_pointee(CompiledConfig::default()));
//! let controller = Controller::start(store, config.clone(), ControllerOptions::default()).await?;
//! let handle = controller.handle(); // for the admin API
//! // ... the proxy reads `config` (the proxy itself is a `Publish` too: `lockgate serve` hands
//! // the controller the proxy, which builds its plan on each publish) ...
//! controller.stop().await;
//! # Ok(()) }
//! ```

mod batch;
mod handle;
mod metrics;
mod mirror;
mod persist;
mod prepared;
mod run;
mod status;
mod writes;

use std::sync::Arc;
use std::time::Duration;

use lockgate_compiled::Publish;
use lockgate_store::{Store, StoreError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use batch::BatchItem;
pub use handle::{Change, ChangeValidation, ControllerHandle, ResourceReport, Translation};
pub use metrics::{Metrics, ResourceLabels};
pub use persist::{LastKnownGood, PersistError, Persisted};
pub use status::{blocked_by_json, policy_name, status_json};
pub use writes::{Refused, WRITE_ATTEMPTS, WriteError, WriteOptions, WriteResult, Writes, Written};

/// The single blob under which versions before the per-virtual-host records persisted the
/// whole policy state. Read once, when there are no records yet, then deleted.
pub const POLICY_STATE_BLOB: &str = "policy-state";

#[derive(Debug, Clone)]
pub struct ControllerOptions {
    /// Quiet time that ends a burst of changes (and that makes the next change a new burst,
    /// translated at once).
    pub debounce: Duration,
    /// The longest a change waits while changes keep coming.
    pub max_delay: Duration,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        ControllerOptions {
            debounce: Duration::from_millis(50),
            max_delay: Duration::from_millis(500),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("cannot read the store: {0}")]
    Store(#[from] StoreError),
    #[error("the translator failed (a bug in lockgate; please report it): {0}")]
    Translator(String),
}

/// Where a published configuration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Nothing published yet.
    Nothing,
    /// The last known good persisted by a previous run, served before any translation.
    Restored,
    Translated,
}

/// The latest publish: its generation (1, 2, ...; 0 before the first) and origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publication {
    pub generation: u64,
    pub origin: Origin,
}

/// A running controller. Dropping it without [`Controller::stop`] leaves the task running until
/// the runtime shuts down.
pub struct Controller {
    handle: ControllerHandle,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Controller {
    /// Restores the persisted last known good (publishing it), lists the store and starts the
    /// watch-translate-publish loop, which translates once straight away.
    pub async fn start(
        store: Arc<dyn Store>,
        config: Arc<dyn Publish>,
        options: ControllerOptions,
    ) -> Result<Controller, ControllerError> {
        let (handle, worker) = run::prepare(store, config, options).await?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(worker.run(stopped));
        Ok(Controller { handle, stop, task })
    }

    pub fn handle(&self) -> ControllerHandle {
        self.handle.clone()
    }

    /// Stops the loop (a translation in progress finishes and is published first).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!("controller task failed: {e}");
        }
    }
}
