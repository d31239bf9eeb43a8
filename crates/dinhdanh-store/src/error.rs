//! The error type of the store.

use dinhdanh_crypto::CryptoError;

/// What can go wrong in the store. Caller mistakes (`NotFound`, `Conflict`, `InvalidReference`)
/// are separate from internal faults (`Database`, `Crypto`, `Corrupt`), whose details are for
/// the log only.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL names no supported backend.
    #[error("unsupported database URL (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    /// The record does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value is already taken (citizen number, tax code, guardianship).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A policy limit was reached (the person's bindings on a platform).
    #[error("the limit on {0} is reached")]
    Limit(&'static str),
    /// The person is deceased: their record no longer changes.
    #[error("a deceased person's record no longer changes")]
    PersonDeceased,
    /// A referenced record does not exist (parent organisation, guardian, child).
    #[error("{0} does not exist")]
    InvalidReference(&'static str),
    /// The master key does not belong to this database.
    #[error("the master key does not match this database")]
    WrongMasterKey,
    /// Sealing, opening or key handling failed.
    #[error("cryptography: {0}")]
    Crypto(#[from] CryptoError),
    /// The stored log does not extend its last signed checkpoint, or that checkpoint does not
    /// verify: nothing more is signed until an operator looks.
    #[error("disclosure log: {0}")]
    LogInconsistent(&'static str),
    /// A stored value could not be decoded: the database was altered or is corrupt.
    #[error("corrupt stored value in {0}")]
    Corrupt(&'static str),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[source] sqlx::Error),
    /// A write shared with other requests (a batch) failed; the text is the batch's error.
    #[error("batched write: {0}")]
    Batch(String),
    /// A migration failed.
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Whether the error is the caller's mistake rather than an internal fault.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            StoreError::NotFound(_)
                | StoreError::Conflict(_)
                | StoreError::Limit(_)
                | StoreError::InvalidReference(_)
                | StoreError::PersonDeceased
        )
    }
}

/// Maps a database error, turning constraint violations into the caller-facing variants.
pub(crate) fn classify(
    err: sqlx::Error,
    unique: &'static str,
    reference: &'static str,
) -> StoreError {
    if let sqlx::Error::Database(db) = &err {
        if db.is_unique_violation() {
            return StoreError::Conflict(unique);
        }
        if db.is_foreign_key_violation() {
            return StoreError::InvalidReference(reference);
        }
    }
    StoreError::Database(err)
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::Database(err)
    }
}
