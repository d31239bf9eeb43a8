//! The Merkle tree stored as C2SP `tlog-tiles`: tile names and paths, the tree hashes, proofs
//! and appends computed from tiles. A tile at level `L` holds up to 256 consecutive hashes of
//! full subtrees of `256^L` leaves; every other hash of the tree is recomputed from at most 128
//! of them. This module reads tiles through [`TileSource`] and never does I/O itself: a caller
//! asks which tiles an operation needs ([`tiles_for`]), fetches them, and runs it.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::LedgerError;
use crate::merkle::{Hash, empty_root, node_hash, split_point};

/// Tree levels per tile (C2SP tlog-tiles: tiles are 8 levels high).
pub const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;
/// Highest tile level a path may name (C2SP tlog-tiles: 0 to 63).
const MAX_LEVEL: u8 = 63;

/// One tile: its level, its index within the level and its width (1 to 256 hashes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    /// The tile level; level 0 holds leaf hashes.
    pub level: u8,
    /// The index of the tile within its level.
    pub index: u64,
    /// How many hashes it holds: 256 for a full tile, fewer for the partial one at the right.
    pub width: u16,
}

impl TileId {
    /// Whether the tile has fewer than 256 hashes.
    pub fn is_partial(&self) -> bool {
        u64::from(self.width) < TILE_WIDTH
    }

    /// The tile that holds position `position` of level `level` in a tree of `size` leaves, with
    /// the width it has in that tree; `None` when the tree has no such position.
    pub fn containing(level: u8, position: u64, size: u64) -> Option<Self> {
        let count = level_count(level, size);
        if position >= count {
            return None;
        }
        let index = position / TILE_WIDTH;
        let width = (count - index * TILE_WIDTH).min(TILE_WIDTH);
        Some(Self {
            level,
            index,
            width: u16::try_from(width).ok()?,
        })
    }

    /// The partial tiles at the right edge of a tree of `size` leaves, lowest level first: all an
    /// append or the tree's root hash needs.
    pub fn edge(size: u64) -> Vec<Self> {
        let mut tiles = Vec::new();
        let mut level = 0u8;
        while level <= MAX_LEVEL && level_count(level, size) > 0 {
            let count = level_count(level, size);
            let width = count % TILE_WIDTH;
            if width > 0 {
                tiles.push(Self {
                    level,
                    index: count / TILE_WIDTH,
                    width: width as u16,
                });
            }
            level += 1;
        }
        tiles
    }

    /// The tile's path under a log prefix: `tile/<L>/<N>[.p/<W>]` (C2SP tlog-tiles).
    pub fn path(&self) -> String {
        let mut path = format!("tile/{}/{}", self.level, index_path(self.index));
        if self.is_partial() {
            path.push_str(&format!(".p/{}", self.width));
        }
        path
    }

    /// Parses what follows `tile/` in a tile path, strictly: no leading zeroes, a level from 0 to
    /// 63, three-digit index elements with `x` on all but the last, and a partial width from 1
    /// to 255.
    pub fn parse_path(path: &str) -> Result<Self, LedgerError> {
        let (level, rest) = path.split_once('/').ok_or(LedgerError::BadTilePath)?;
        let level = canonical_decimal(level)
            .and_then(|value| u8::try_from(value).ok())
            .filter(|level| *level <= MAX_LEVEL)
            .ok_or(LedgerError::BadTilePath)?;
        let (index, width) = match rest.split_once(".p/") {
            Some((index, width)) => {
                let width = canonical_decimal(width)
                    .filter(|width| (1..TILE_WIDTH).contains(width))
                    .ok_or(LedgerError::BadTilePath)?;
                (index, width as u16)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        Ok(Self {
            level,
            index: parse_index_path(index)?,
            width,
        })
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// How many hashes level `level` has in a tree of `size` leaves (full subtrees of `256^level`).
fn level_count(level: u8, size: u64) -> u64 {
    let shift = u32::from(level) * TILE_HEIGHT;
    if shift >= 64 { 0 } else { size >> shift }
}

/// A decimal number with no sign and no leading zero.
fn canonical_decimal(text: &str) -> Option<u64> {
    let valid = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if valid { text.parse().ok() } else { None }
}

/// `1234067` → `x001/x234/067` (C2SP tlog-tiles).
fn index_path(index: u64) -> String {
    let digits = index.to_string();
    let padded = format!("{}{digits}", "0".repeat((3 - digits.len() % 3) % 3));
    let groups: Vec<&str> = (0..padded.len() / 3)
        .map(|i| &padded[i * 3..i * 3 + 3])
        .collect();
    let last = groups.len() - 1;
    groups
        .iter()
        .enumerate()
        .map(|(i, group)| {
            if i < last {
                format!("x{group}/")
            } else {
                (*group).to_owned()
            }
        })
        .collect()
}

fn parse_index_path(text: &str) -> Result<u64, LedgerError> {
    let elements: Vec<&str> = text.split('/').collect();
    let last = elements.len() - 1;
    let mut index: u64 = 0;
    for (i, element) in elements.iter().enumerate() {
        let digits = if i < last {
            element.strip_prefix('x').ok_or(LedgerError::BadTilePath)?
        } else {
            element
        };
        // The first element carries the most significant digits and cannot be all zeroes
        // unless it is the only one: each index has exactly one path.
        let valid = digits.len() == 3
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !(i == 0 && i < last && digits == "000");
        if !valid {
            return Err(LedgerError::BadTilePath);
        }
        let value: u64 = digits.parse().map_err(|_| LedgerError::BadTilePath)?;
        index = index
            .checked_mul(1000)
            .and_then(|index| index.checked_add(value))
            .ok_or(LedgerError::BadTilePath)?;
    }
    Ok(index)
}

/// Where the hashes of stored tiles come from.
pub trait TileSource {
    /// Position `position` of tile level `level`: the hash of the full subtree of `256^level`
    /// leaves starting at leaf `position × 256^level`, if it is known.
    fn stored_hash(&self, level: u8, position: u64) -> Option<Hash>;
}

/// Tiles held in memory, keyed by level and index. A stored tile may be wider than the tree an
/// operation is about: full-subtree hashes never change as the tree grows.
#[derive(Clone, Debug, Default)]
pub struct TileMap {
    tiles: HashMap<(u8, u64), Vec<u8>>,
}

impl TileMap {
    /// An empty set of tiles.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a tile's hashes (concatenated, 32 bytes each). Data that is not a whole
    /// number of hashes, or more than 256 of them, is refused.
    pub fn insert(&mut self, level: u8, index: u64, data: Vec<u8>) -> Result<(), LedgerError> {
        if data.is_empty() || !data.len().is_multiple_of(32) || data.len() as u64 > TILE_WIDTH * 32
        {
            return Err(LedgerError::BadTile);
        }
        self.tiles.insert((level, index), data);
        Ok(())
    }

    /// A tile's stored hashes.
    pub fn get(&self, level: u8, index: u64) -> Option<&[u8]> {
        self.tiles.get(&(level, index)).map(Vec::as_slice)
    }

    /// How many tiles it holds.
    pub fn len(&self) -> usize {
        self.tiles.len()
    }

    /// Whether it holds no tile.
    pub fn is_empty(&self) -> bool {
        self.tiles.is_empty()
    }
}

impl TileSource for TileMap {
    fn stored_hash(&self, level: u8, position: u64) -> Option<Hash> {
        let data = self.tiles.get(&(level, position / TILE_WIDTH))?;
        let offset = (position % TILE_WIDTH) as usize * 32;
        data.get(offset..offset + 32)?.try_into().ok()
    }
}

/// A source that answers every read with a placeholder and writes down which tiles were read, so
/// that a caller learns what to fetch before running an operation for real. The operations
/// read the same positions whatever the hashes are.
struct Recorder {
    size: u64,
    tiles: RefCell<BTreeMap<(u8, u64), TileId>>,
}

impl TileSource for Recorder {
    fn stored_hash(&self, level: u8, position: u64) -> Option<Hash> {
        let tile = TileId::containing(level, position, self.size)?;
        self.tiles
            .borrow_mut()
            .insert((tile.level, tile.index), tile);
        Some([0; 32])
    }
}

/// The tiles (with their widths in a tree of `size` leaves) that `operation` reads. Run the
/// operation again with a [`TileMap`] holding them.
pub fn tiles_for<T>(
    size: u64,
    operation: impl FnOnce(&dyn TileSource) -> Result<T, LedgerError>,
) -> Result<Vec<TileId>, LedgerError> {
    let recorder = Recorder {
        size,
        tiles: RefCell::new(BTreeMap::new()),
    };
    operation(&recorder)?;
    Ok(recorder.tiles.into_inner().into_values().collect())
}

/// The hash of the full subtree of `2^height` leaves with index `index` at that height.
fn full_subtree<S: TileSource + ?Sized>(
    source: &S,
    height: u32,
    index: u64,
) -> Result<Hash, LedgerError> {
    let level = u8::try_from(height / TILE_HEIGHT).map_err(|_| LedgerError::OutOfRange)?;
    let rest = height % TILE_HEIGHT;
    let missing = || LedgerError::MissingTile(level);
    if rest == 0 {
        return source.stored_hash(level, index).ok_or_else(missing);
    }
    // Recompute from the 2^rest stored hashes below it, all in one tile.
    let first = index << rest;
    let mut row: Vec<Hash> = (0..1u64 << rest)
        .map(|i| source.stored_hash(level, first + i).ok_or_else(missing))
        .collect::<Result<_, _>>()?;
    while row.len() > 1 {
        row = row
            .chunks_exact(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    Ok(row[0])
}

/// `MTH(D[start:end])` for a range that RFC 9162's recursion produces (`start` a multiple of a
/// power of two at least `end - start`).
fn range_hash<S: TileSource + ?Sized>(
    source: &S,
    start: u64,
    end: u64,
) -> Result<Hash, LedgerError> {
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let height = n.trailing_zeros();
        return full_subtree(source, height, start >> height);
    }
    let k = split_point(n);
    Ok(node_hash(
        &range_hash(source, start, start + k)?,
        &range_hash(source, start + k, end)?,
    ))
}

/// The root hash of the tree of the first `size` leaves (RFC 9162 §2.1.1).
pub fn root_hash<S: TileSource + ?Sized>(source: &S, size: u64) -> Result<Hash, LedgerError> {
    if size == 0 {
        Ok(empty_root())
    } else {
        range_hash(source, 0, size)
    }
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves, `PATH(m, D[n])` of
/// RFC 9162 §2.1.3.1, nearest the leaf first.
pub fn inclusion_proof<S: TileSource + ?Sized>(
    source: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, LedgerError> {
    if index >= size {
        return Err(LedgerError::OutOfRange);
    }
    let mut proof = Vec::new();
    path(source, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path<S: TileSource + ?Sized>(
    source: &S,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), LedgerError> {
    let n = end - start;
    if n == 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path(source, m, start, start + k, out)?;
        out.push(range_hash(source, start + k, end)?);
    } else {
        path(source, m - k, start + k, end, out)?;
        out.push(range_hash(source, start, start + k)?);
    }
    Ok(())
}

/// The consistency proof from the tree of `old_size` leaves to the tree of `new_size`,
/// `PROOF(m, D[n])` of RFC 9162 §2.1.4.1.
pub fn consistency_proof<S: TileSource + ?Sized>(
    source: &S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, LedgerError> {
    if old_size > new_size {
        return Err(LedgerError::OutOfRange);
    }
    let mut proof = Vec::new();
    if old_size > 0 && old_size < new_size {
        subproof(source, old_size, 0, new_size, true, &mut proof)?;
    }
    Ok(proof)
}

fn subproof<S: TileSource + ?Sized>(
    source: &S,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), LedgerError> {
    let n = end - start;
    if m == n {
        if !whole {
            out.push(range_hash(source, start, end)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(source, m, start, start + k, whole, out)?;
        out.push(range_hash(source, start + k, end)?);
    } else {
        subproof(source, m - k, start + k, end, false, out)?;
        out.push(range_hash(source, start, start + k)?);
    }
    Ok(())
}

/// A tile written by an append: its id and its hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TileData {
    /// Which tile.
    pub id: TileId,
    /// Its hashes, concatenated.
    pub data: Vec<u8>,
}

/// Appends leaves to a tiled tree, holding only its right edge (at most 255 hashes per level).
#[derive(Clone, Debug)]
pub struct TileAppender {
    size: u64,
    /// The partial tile of each level, lowest first.
    edge: Vec<Vec<Hash>>,
    /// Whether a level's partial tile changed since the last [`TileAppender::take_tiles`].
    dirty: Vec<bool>,
    /// Tiles completed since the last [`TileAppender::take_tiles`].
    completed: Vec<TileData>,
}

impl TileAppender {
    /// An empty tree.
    pub fn new() -> Self {
        Self {
            size: 0,
            edge: Vec::new(),
            dirty: Vec::new(),
            completed: Vec::new(),
        }
    }

    /// The tree of `size` leaves, its edge read from `source` (which must hold the tiles
    /// [`TileId::edge`] names).
    pub fn resume<S: TileSource + ?Sized>(size: u64, source: &S) -> Result<Self, LedgerError> {
        let mut appender = Self::new();
        appender.size = size;
        for tile in TileId::edge(size) {
            let level = usize::from(tile.level);
            let first = tile.index * TILE_WIDTH;
            let hashes = (first..first + u64::from(tile.width))
                .map(|position| {
                    source
                        .stored_hash(tile.level, position)
                        .ok_or(LedgerError::MissingTile(tile.level))
                })
                .collect::<Result<Vec<_>, _>>()?;
            appender.ensure_level(level);
            appender.edge[level] = hashes;
        }
        Ok(appender)
    }

    fn ensure_level(&mut self, level: usize) {
        while self.edge.len() <= level {
            self.edge.push(Vec::with_capacity(TILE_WIDTH as usize));
            self.dirty.push(false);
        }
    }

    /// How many leaves the tree holds.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.size += 1;
        let mut hash = leaf;
        let mut level = 0usize;
        loop {
            self.ensure_level(level);
            self.edge[level].push(hash);
            self.dirty[level] = true;
            if self.edge[level].len() as u64 != TILE_WIDTH {
                break;
            }
            // The tile is full: publish it and carry its root one level up.
            let hashes = std::mem::take(&mut self.edge[level]);
            self.dirty[level] = false;
            let level_u8 = level as u8;
            let index = level_count(level_u8, self.size) / TILE_WIDTH - 1;
            hash = subtree_root(&hashes);
            self.completed.push(TileData {
                id: TileId {
                    level: level_u8,
                    index,
                    width: TILE_WIDTH as u16,
                },
                data: hashes.concat(),
            });
            level += 1;
        }
    }

    /// Appends leaf hashes in order.
    pub fn extend(&mut self, leaves: impl IntoIterator<Item = Hash>) {
        for leaf in leaves {
            self.push(leaf);
        }
    }

    /// The full tiles completed since the last call (or the last [`TileAppender::take_tiles`]).
    pub fn take_full_tiles(&mut self) -> Vec<TileData> {
        std::mem::take(&mut self.completed)
    }

    /// The tiles written since the last call: every tile completed, then the partial tiles that
    /// changed, each in its latest state.
    pub fn take_tiles(&mut self) -> Vec<TileData> {
        let mut tiles = std::mem::take(&mut self.completed);
        for (level, hashes) in self.edge.iter().enumerate() {
            if self.dirty[level] && !hashes.is_empty() {
                let level_u8 = level as u8;
                tiles.push(TileData {
                    id: TileId {
                        level: level_u8,
                        index: level_count(level_u8, self.size) / TILE_WIDTH,
                        width: hashes.len() as u16,
                    },
                    data: hashes.concat(),
                });
            }
        }
        self.dirty.iter_mut().for_each(|dirty| *dirty = false);
        tiles
    }

    /// The tree's root hash. The edge holds every full subtree on the right border, which is
    /// all the root needs; an error means the edge it resumed from was incomplete.
    pub fn root(&self) -> Result<Hash, LedgerError> {
        root_hash(self, self.size)
    }
}

impl Default for TileAppender {
    fn default() -> Self {
        Self::new()
    }
}

impl TileSource for TileAppender {
    fn stored_hash(&self, level: u8, position: u64) -> Option<Hash> {
        let hashes = self.edge.get(usize::from(level))?;
        let end = level_count(level, self.size);
        let start = end - hashes.len() as u64;
        if (start..end).contains(&position) {
            Some(hashes[(position - start) as usize])
        } else {
            None
        }
    }
}

/// The root of a full tile: the Merkle tree hash of its 256 hashes.
fn subtree_root(hashes: &[Hash]) -> Hash {
    let mut row = hashes.to_vec();
    while row.len() > 1 {
        row = row
            .chunks_exact(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    row[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_follow_the_spec_example() {
        assert_eq!(index_path(1_234_067), "x001/x234/067");
        assert_eq!(index_path(0), "000");
        assert_eq!(index_path(999), "999");
        assert_eq!(index_path(1000), "x001/000");
        for index in [0, 7, 999, 1000, 1_234_067, u64::MAX] {
            assert_eq!(parse_index_path(&index_path(index)).ok(), Some(index));
        }
    }

    #[test]
    fn tile_paths_round_trip_and_reject_non_canonical_forms() {
        let tile = TileId {
            level: 2,
            index: 1_234_067,
            width: 17,
        };
        assert_eq!(tile.path(), "tile/2/x001/x234/067.p/17");
        assert_eq!(TileId::parse_path("2/x001/x234/067.p/17").ok(), Some(tile));
        assert_eq!(TileId::parse_path("0/000").ok().map(|t| t.width), Some(256));
        for bad in [
            "",
            "0",
            "00/000",
            "64/000",
            "0/00",
            "0/0000",
            "0/x000/001",
            "0/001/002",
            "0/x001",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p/05",
            "0/000.p/",
            "-1/000",
            "0/x1000/000",
            "entries/000",
            "0/00a",
            "0/x999/x999/x999/x999/x999/x999/x999",
        ] {
            assert!(TileId::parse_path(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn edge_of_the_spec_example_tree() {
        // C2SP tlog-tiles: a tree of 70,000 leaves has a partial level-0 tile of width 112,
        // a partial level-1 tile of width 17 and a partial level-2 tile of width 1.
        let edge = TileId::edge(70_000);
        let widths: Vec<(u8, u64, u16)> =
            edge.iter().map(|t| (t.level, t.index, t.width)).collect();
        assert_eq!(widths, vec![(0, 273, 112), (1, 1, 17), (2, 0, 1)]);
        // A tree of 256 leaves: one full level-0 tile and a level-1 tile of width 1.
        let widths: Vec<(u8, u16)> = TileId::edge(256)
            .iter()
            .map(|t| (t.level, t.width))
            .collect();
        assert_eq!(widths, vec![(1, 1)]);
        assert!(TileId::edge(0).is_empty());
    }
}
