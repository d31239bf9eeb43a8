//! `dinhdanh log verify`: rebuilds the disclosure log's tree from the entries in the store,
//! checks every checkpoint's signatures, and compares the rebuilt tree with every stored tile
//! and every signed root. All checkpoints are prefixes of the one rebuilt tree exactly when they
//! are consistent with each other, so matching each root checks their consistency too.

use anyhow::{Context, Result};
use dinhdanh_ledger::{Finding, LogAudit, NoteVerifier, TileMap, open_checkpoint};
use dinhdanh_store::DisclosureLog;

/// Entries and tiles read per query.
const PAGE: usize = 10_000;

/// What `log verify` found.
#[derive(Debug)]
pub struct LogReport {
    /// Entries read from the store.
    pub entries: u64,
    /// Records still waiting in the outbox.
    pub waiting: u64,
    /// Checkpoints whose signatures verified.
    pub checkpoints: usize,
    /// The largest signed size.
    pub signed_size: u64,
    /// Problems, the first one first. Empty when the log verifies.
    pub problems: Vec<String>,
}

/// Audits the log. `pinned` are verifier keys from outside the store (the `/log/keys` text
/// kept by an auditor); without them the store's own keys are used. `progress` is told how
/// many entries were read.
pub async fn verify_log(
    log: &dyn DisclosureLog,
    pinned: Option<Vec<NoteVerifier>>,
    progress: impl Fn(u64),
) -> Result<LogReport> {
    let verifiers = pinned.unwrap_or_else(|| log.verifiers().to_vec());
    let mut problems = Vec::new();
    let mut signed = Vec::new();
    for checkpoint in log.list_checkpoints().await? {
        match open_checkpoint(&checkpoint.note, log.origin(), &verifiers) {
            Ok(opened) if opened.size == checkpoint.size => signed.push((opened.size, opened.root)),
            Ok(_) => problems.push(format!(
                "checkpoint {}: its note signs a different size",
                checkpoint.size
            )),
            Err(err) => problems.push(format!("checkpoint {}: {err}", checkpoint.size)),
        }
    }
    let mut tiles = TileMap::new();
    let mut after = None;
    loop {
        let page = log.list_tiles(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.0, last.1));
        for (level, index, data) in page {
            if tiles.insert(level, index, data).is_err() {
                problems.push(format!(
                    "tile {level}/{index}: stored data is not a whole number of hashes"
                ));
            }
        }
    }
    let checkpoints = signed.len();
    let signed_size = signed.iter().map(|(size, _)| *size).max().unwrap_or(0);
    let mut audit = LogAudit::new(tiles, signed);
    let mut from = 0;
    loop {
        let page = log
            .list_entries(from, PAGE)
            .await
            .context("cannot read log entries")?;
        let Some(last) = page.last() else { break };
        from = last.0 + 1;
        for (index, entry) in &page {
            audit.entry(*index, entry);
        }
        progress(audit.size());
    }
    let entries = audit.size();
    problems.extend(audit.finish().iter().map(Finding::to_string));
    let (_, waiting) = log.sizes().await?;
    Ok(LogReport {
        entries,
        waiting,
        checkpoints,
        signed_size,
        problems,
    })
}
