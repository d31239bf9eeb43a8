#![doc = include_str!("../README.md")]

mod audit;
mod merkle;
mod note;
mod tiles;

use dinhdanh_crypto::SignatureAlgorithm;

pub use audit::{Finding, LogAudit};
pub use merkle::{Hash, empty_root, leaf_hash, node_hash, verify_consistency, verify_inclusion};
pub use note::{
    Checkpoint, NoteSigner, NoteVerifier, VerifiedNote, open_checkpoint, open_note, sign_note,
};
pub use tiles::{
    TILE_HEIGHT, TILE_WIDTH, TileAppender, TileData, TileId, TileMap, TileSource,
    consistency_proof, inclusion_proof, root_hash, tiles_for,
};

/// What can go wrong in the ledger. Every variant is about the input: this crate does no I/O.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// An index or size lies outside the tree.
    #[error("index or size outside the tree")]
    OutOfRange,
    /// A proof does not lead to the given root.
    #[error("the proof does not verify")]
    InvalidProof,
    /// A hash an operation needs is in no tile it was given (the tile level is named).
    #[error("a level-{0} tile needed for this operation is missing")]
    MissingTile(u8),
    /// Tile data is not a whole number of hashes, or more than 256.
    #[error("tile data is not 1 to 256 hashes")]
    BadTile,
    /// A tile path is not in the canonical C2SP form.
    #[error("not a tile path")]
    BadTilePath,
    /// A checkpoint body is malformed (the part is named).
    #[error("malformed checkpoint: {0}")]
    BadCheckpoint(&'static str),
    /// A signed note is malformed (the part is named).
    #[error("malformed signed note: {0}")]
    BadNote(&'static str),
    /// A key name is empty or has a space or `+`.
    #[error("a key name must be non-empty, without spaces or '+'")]
    BadKeyName,
    /// Verifier key text is malformed, or its id does not match its key.
    #[error("malformed verifier key")]
    BadVerifierKey,
    /// Notes are signed with ML-DSA-65 or Ed25519 only.
    #[error("notes are signed with ML-DSA-65 or Ed25519 only")]
    UnsupportedAlgorithm,
    /// A signature by a known key does not verify.
    #[error("a {0:?} signature on the note does not verify")]
    BadSignature(SignatureAlgorithm),
    /// No signature on the note is by a known key.
    #[error("no signature on the note is by a known key")]
    NoKnownSignature,
    /// The note lacks a signature the verifier requires.
    #[error("the note has no valid {0:?} signature")]
    MissingSignature(SignatureAlgorithm),
    /// The signing library failed.
    #[error("signing failed")]
    Signing,
}
