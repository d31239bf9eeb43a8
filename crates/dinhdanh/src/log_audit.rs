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
    /// Records still waiting to enter the tree.
    pub waiting: u64,
    /// Checkpoints whose signatures verified.
    pub checkpoints: usize,
    /// The largest signed size.
    pub signed_size: u64,
    /// Problems, the first one first. Empty when the log verifies.
    pub problems: Vec<String>,
}

/// What an auditor brings from outside the store.
#[derive(Debug, Default)]
pub struct Trusted {
    /// Verifier keys (the `/log/keys` text kept elsewhere); without them the store's own.
    pub keys: Option<Vec<NoteVerifier>>,
    /// A checkpoint note saved earlier (from `/log/checkpoint`): the log must still contain it.
    pub checkpoint: Option<String>,
}

/// Audits the log. `progress` is told how many entries were read.
pub async fn verify_log(
    log: &dyn DisclosureLog,
    trusted: Trusted,
    progress: impl Fn(u64),
) -> Result<LogReport> {
    let verifiers = trusted.keys.unwrap_or_else(|| log.verifiers().to_vec());
    let mut problems = Vec::new();
    let mut signed = Vec::new();
    if let Some(note) = &trusted.checkpoint {
        // A checkpoint kept outside the store catches the removal of later checkpoints and the
        // rewriting of everything below them.
        match open_checkpoint(note, log.origin(), &verifiers) {
            Ok(saved) => signed.push((saved.size, saved.root)),
            Err(err) => problems.push(format!("the saved checkpoint: {err}")),
        }
    }
    let mut stored_verified = 0;
    for checkpoint in log.list_checkpoints().await? {
        match open_checkpoint(&checkpoint.note, log.origin(), &verifiers) {
            Ok(opened) if opened.size == checkpoint.size => {
                stored_verified += 1;
                signed.push((opened.size, opened.root));
            }
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
    let checkpoints = stored_verified;
    let signed_size = signed.iter().map(|(size, _)| *size).max().unwrap_or(0);
    let mut audit = LogAudit::new(tiles, signed);
    let mut from = 0;
    let mut subject_problem = None;
    loop {
        let page = log
            .list_entries(from, PAGE)
            .await
            .context("cannot read log entries")?;
        let Some(last) = page.last() else { break };
        from = last.index + 1;
        for stored in &page {
            if !stored.subject_agrees() && subject_problem.is_none() {
                subject_problem = Some(format!(
                    "entry {}: its subject column does not name the person the entry names \
                     (the entry would be hidden from its person)",
                    stored.index
                ));
            }
            audit.entry(stored.index, &stored.entry);
        }
        progress(audit.size());
    }
    let entries = audit.size();
    problems.extend(audit.finish().iter().map(Finding::to_string));
    problems.extend(subject_problem);
    if entries > 0 && signed_size == 0 {
        problems.push(format!(
            "{entries} entries but no signed checkpoint: checkpoints were removed, or the log was \
             never published (dinhdanh log publish)"
        ));
    }
    let (_, waiting) = log.sizes().await?;
    Ok(LogReport {
        entries,
        waiting,
        checkpoints,
        signed_size,
        problems,
    })
}
