//! The background task that moves recorded disclosures into the log's tree and signs a new
//! checkpoint: at a fixed interval, or sooner once enough records were made here. Every node
//! may run one; the store serialises their integrations.

use std::sync::Arc;
use std::time::Duration;

use dinhdanh_store::{DisclosureLog, SignedCheckpoint, StoreError};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

/// When the disclosure log publishes checkpoints.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Longest time between a record and the checkpoint that covers it, in milliseconds.
    /// Default 1,000.
    pub checkpoint_interval_ms: u64,
    /// Publish at once when this many records were made since the last checkpoint.
    /// Default 10,000.
    pub checkpoint_after_entries: u64,
    /// Records moved into the tree per transaction. Default 10,000.
    pub integration_batch: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            checkpoint_interval_ms: 1_000,
            checkpoint_after_entries: 10_000,
            integration_batch: 10_000,
        }
    }
}

/// Integrates every waiting record, batch by batch, then signs a checkpoint if the tree grew.
pub async fn publish_log(
    log: &dyn DisclosureLog,
    batch: usize,
) -> Result<Option<SignedCheckpoint>, StoreError> {
    let batch = batch.max(1);
    loop {
        let step = log.integrate(batch).await?;
        if step.integrated < batch {
            break;
        }
    }
    log.publish_checkpoint().await
}

/// Starts the publisher. It runs until the runtime stops; a failed round is logged and retried
/// at the next one, and records wait safely in the store meanwhile.
pub fn spawn_log_publisher(log: Arc<dyn DisclosureLog>, config: LogConfig) -> JoinHandle<()> {
    tokio::spawn(async move {
        let interval = Duration::from_millis(config.checkpoint_interval_ms.max(10));
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = log.wait_for_records(config.checkpoint_after_entries.max(1)) => {}
            }
            match publish_log(log.as_ref(), config.integration_batch).await {
                Ok(Some(checkpoint)) => {
                    tracing::debug!(size = checkpoint.size, "published a log checkpoint");
                }
                Ok(None) => {}
                Err(err @ StoreError::LogInconsistent(_)) => tracing::error!(
                    error = %err,
                    "refusing to sign: the disclosure log no longer matches its last checkpoint"
                ),
                Err(err) => tracing::warn!(error = %err, "could not publish the disclosure log"),
            }
        }
    })
}
