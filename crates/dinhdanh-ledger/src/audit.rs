//! Rebuilds a log from its entries and compares it with what was stored and signed: the leaf
//! hashes in the level-0 tiles, every stored tile, and the root of every checkpoint. Entries are
//! fed in index order; the first change, gap or move is reported with the index it concerns.
//!
//! The audit trusts nothing it is given except the checkpoints, whose signatures the caller
//! verified first; tiles and entries are what it checks.

use std::collections::HashMap;
use std::fmt;

use crate::merkle::{Hash, leaf_hash};
use crate::tiles::{TileAppender, TileData, TileMap, TileSource};

/// One thing the audit found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// No entry is stored at this index, though later ones (or a checkpoint) need it.
    Missing {
        /// The index without an entry.
        index: u64,
    },
    /// The entry at this index is not the one the tree recorded there.
    Changed {
        /// The index whose entry was altered.
        index: u64,
    },
    /// The entry at `index` is the one the tree recorded at `recorded_at`: entries were
    /// reordered.
    Moved {
        /// Where the entry is stored now.
        index: u64,
        /// Where the tree recorded it.
        recorded_at: u64,
    },
    /// A stored tile differs from the tile rebuilt from the entries.
    TileChanged {
        /// The tile's path.
        tile: String,
    },
    /// The tree of the first `size` entries does not have the root a signed checkpoint gives.
    CheckpointMismatch {
        /// The checkpoint's size.
        size: u64,
    },
    /// A signed checkpoint covers more entries than are stored.
    Truncated {
        /// Entries stored.
        stored: u64,
        /// The largest signed size.
        signed: u64,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Missing { index } => write!(f, "entry {index} is missing"),
            Finding::Changed { index } => write!(
                f,
                "entry {index} was changed: its hash is not the leaf hash the tree recorded"
            ),
            Finding::Moved { index, recorded_at } => write!(
                f,
                "entry {index} was reordered: it is the entry the tree recorded at index {recorded_at}"
            ),
            Finding::TileChanged { tile } => {
                write!(f, "{tile} differs from the tile rebuilt from the entries")
            }
            Finding::CheckpointMismatch { size } => write!(
                f,
                "the first {size} entries do not hash to the root of the signed checkpoint of size {size}"
            ),
            Finding::Truncated { stored, signed } => write!(
                f,
                "only {stored} entries are stored but a checkpoint signed {signed}: entries {stored} to {} are missing",
                signed - 1
            ),
        }
    }
}

/// An audit in progress.
pub struct LogAudit {
    stored: TileMap,
    checkpoints: Vec<(u64, Hash)>,
    next_checkpoint: usize,
    tree: TileAppender,
    recorded_leaves: Option<HashMap<Hash, u64>>,
    findings: Vec<Finding>,
    /// Set when the entries make no sense as a sequence; later ones are not judged.
    abandoned: bool,
}

/// The widest run of missing indexes rebuilt leaf by leaf.
const MAX_GAP: u64 = 1 << 16;

impl LogAudit {
    /// Starts an audit of a log whose stored tiles are `stored`, against checkpoints (size and
    /// root) whose signatures were verified.
    pub fn new(stored: TileMap, mut checkpoints: Vec<(u64, Hash)>) -> Self {
        checkpoints.sort_by_key(|(size, _)| *size);
        checkpoints.dedup_by_key(|(size, _)| *size);
        Self {
            stored,
            checkpoints,
            next_checkpoint: 0,
            tree: TileAppender::new(),
            recorded_leaves: None,
            findings: Vec::new(),
            abandoned: false,
        }
    }

    /// How many entries were fed so far.
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// What was found so far.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// Feeds the entry stored at `index`. Indexes must increase; a skipped one is missing.
    pub fn entry(&mut self, index: u64, entry: &[u8]) {
        if self.abandoned {
            return;
        }
        if index < self.tree.size() {
            // A repeated or decreasing index: the store returned rows out of order.
            self.findings.push(Finding::Missing {
                index: self.tree.size(),
            });
            self.abandoned = true;
            return;
        }
        if index - self.tree.size() > MAX_GAP {
            // A gap this wide is an index rewritten, not entries lost one by one: report it
            // once rather than rebuild millions of placeholder leaves.
            self.findings.push(Finding::Missing {
                index: self.tree.size(),
            });
            self.abandoned = true;
            return;
        }
        while self.tree.size() < index {
            let missing = self.tree.size();
            self.findings.push(Finding::Missing { index: missing });
            // Carry on with the recorded leaf so that later entries are judged on their own.
            let recorded = self.stored.stored_hash(0, missing).unwrap_or([0; 32]);
            self.push(recorded);
        }
        let leaf = leaf_hash(entry);
        match self.stored.stored_hash(0, index) {
            Some(recorded) if recorded == leaf => self.push(leaf),
            Some(recorded) => {
                let finding = match self.recorded_index(&leaf) {
                    Some(recorded_at) if recorded_at != index => {
                        Finding::Moved { index, recorded_at }
                    }
                    _ => Finding::Changed { index },
                };
                self.findings.push(finding);
                self.push(recorded);
            }
            // Not yet in any tile: integration did not finish for it; the checkpoints judge it.
            None => self.push(leaf),
        }
    }

    fn recorded_index(&mut self, leaf: &Hash) -> Option<u64> {
        let stored = &self.stored;
        // Built once, at the first mismatch: every recorded leaf hash and its index.
        let map = self.recorded_leaves.get_or_insert_with(|| {
            let mut map = HashMap::new();
            let mut position = 0;
            while let Some(hash) = stored.stored_hash(0, position) {
                map.insert(hash, position);
                position += 1;
            }
            map
        });
        map.get(leaf).copied()
    }

    fn push(&mut self, leaf: Hash) {
        self.tree.push(leaf);
        for tile in self.tree.take_full_tiles() {
            self.compare_tile(&tile);
        }
        while let Some((size, root)) = self.checkpoints.get(self.next_checkpoint).copied() {
            if size > self.tree.size() {
                break;
            }
            self.next_checkpoint += 1;
            if size == self.tree.size() && size > 0 && self.tree.root().ok() != Some(root) {
                self.findings.push(Finding::CheckpointMismatch { size });
            }
        }
    }

    fn compare_tile(&mut self, tile: &TileData) {
        let stored = self.stored.get(tile.id.level, tile.id.index);
        let matches = stored.is_some_and(|stored| stored.starts_with(&tile.data));
        if !matches {
            self.findings.push(Finding::TileChanged {
                tile: tile.id.path(),
            });
        }
    }

    /// Ends the audit: checks the partial tiles at the right edge, the signed sizes against the
    /// entries stored, and returns every finding, the first one first.
    pub fn finish(mut self) -> Vec<Finding> {
        if self.abandoned {
            return self.findings;
        }
        for tile in self.tree.take_tiles() {
            self.compare_tile(&tile);
        }
        let size = self.tree.size();
        if self.stored.stored_hash(0, size).is_some() {
            // The tree recorded a leaf after the last stored entry.
            self.findings.push(Finding::Missing { index: size });
        }
        if let Some((signed, _)) = self.checkpoints.last()
            && *signed > self.tree.size()
        {
            self.findings.push(Finding::Truncated {
                stored: self.tree.size(),
                signed: *signed,
            });
        }
        self.findings
    }
}
