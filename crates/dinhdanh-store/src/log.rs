//! The SQL implementation of [`DisclosureLog`]: durable records, the integrator that moves
//! them into the tiled tree, checkpoint signing, and the reads that serve tiles, checkpoints and a
//! person's records with proofs. The tree arithmetic is `dinhdanh-ledger`'s; this module only
//! moves bytes between it and the database.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dinhdanh_crypto::{SignatureAlgorithm, SigningKey};
use dinhdanh_ledger::{
    Checkpoint, LedgerError, NoteSigner, NoteVerifier, TileAppender, TileId, TileMap, TileSource,
    consistency_proof, inclusion_proof, leaf_hash, open_checkpoint, root_hash, sign_note,
    tiles_for, verify_consistency,
};
use jiff::Timestamp;
use sqlx::{Any, AnyConnection, AnyPool, Row, Transaction};
use tokio::sync::Notify;

use crate::disclosure::{
    DisclosureLog, DisclosureRecord, Integration, NewDisclosure, SignedCheckpoint, StoredEntry,
    SubjectEntry, SubjectLog,
};
use crate::keys::Keyring;
use crate::model::{DisclosureId, PersonId};
use crate::sql::{now_micros, values_placeholders};
use crate::{Backend, StoreError};

/// Domain of the subject pseudonym under the blind-index key.
const SUBJECT_DOMAIN: &str = "disclosure-subject";
/// Rows per multi-row statement (4 parameters a row).
const CHUNK: usize = 1_000;
/// The checkpoint keys: ML-DSA-65 signs, Ed25519 co-signs for classical verifiers.
const LOG_KEY_ALGORITHMS: [SignatureAlgorithm; 2] =
    [SignatureAlgorithm::MlDsa65, SignatureAlgorithm::Ed25519];

fn log_key_aad(algorithm: SignatureAlgorithm) -> Vec<u8> {
    format!("dinhdanh log key v1\0{}", algorithm.jose_name()).into_bytes()
}

/// The index key of a pseudonym: its first 8 bytes as a signed integer (both databases index
/// 64-bit integers compactly).
pub(crate) fn subject_key(pseudonym: &[u8; 32]) -> i64 {
    let mut head = [0u8; 8];
    head.copy_from_slice(&pseudonym[..8]);
    i64::from_be_bytes(head)
}

fn to_u64(value: i64, column: &'static str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(column))
}

fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt("log index"))
}

/// The disclosure log on a SQL database.
pub(crate) struct SqlDisclosureLog {
    pool: AnyPool,
    backend: Backend,
    keys: Arc<Keyring>,
    origin: String,
    signers: Vec<NoteSigner>,
    verifiers: Vec<NoteVerifier>,
    recorded: AtomicU64,
    recorded_signal: Notify,
}

impl SqlDisclosureLog {
    /// Opens the log, creating its checkpoint keys on first use (safe when nodes start at once).
    pub(crate) async fn open(
        pool: AnyPool,
        backend: Backend,
        keys: Arc<Keyring>,
    ) -> Result<Self, StoreError> {
        let origin: String = sqlx::query("SELECT origin FROM log_state WHERE id = 1")
            .fetch_one(&pool)
            .await?
            .try_get(0)?;
        let mut signers = Vec::new();
        for algorithm in LOG_KEY_ALGORITHMS {
            let key = load_or_create_key(&pool, &keys, algorithm).await?;
            signers.push(
                NoteSigner::new(&origin, key)
                    .map_err(|_| StoreError::Corrupt("log_state.origin"))?,
            );
        }
        let verifiers = signers.iter().map(NoteSigner::verifier).collect();
        Ok(Self {
            pool,
            backend,
            keys,
            origin,
            signers,
            verifiers,
            recorded: AtomicU64::new(0),
            recorded_signal: Notify::new(),
        })
    }

    fn pseudonym(&self, person: PersonId) -> [u8; 32] {
        self.keys
            .blind()
            .index(SUBJECT_DOMAIN, person.to_string().as_bytes())
    }

    /// A write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so
    /// that reads inside it never meet a newer commit when the first write comes.
    async fn begin_write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// The seq at and below which no record can still commit. On SQLite the integrator's
    /// `BEGIN IMMEDIATE` already keeps every writer out. On PostgreSQL a seq is handed out
    /// before its transaction commits, so seq 7 may commit after seq 8: a SHARE lock waits until
    /// every transaction that inserted into `disclosures` has ended (and holds new inserts back
    /// while it is taken), so every seq up to the maximum read under it is final.
    async fn horizon(&self) -> Result<i64, StoreError> {
        match self.backend {
            Backend::Sqlite => Ok(i64::MAX),
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("LOCK TABLE disclosures IN SHARE MODE")
                    .execute(&mut *tx)
                    .await?;
                let horizon: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM disclosures")
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get(0)?;
                tx.commit().await?;
                Ok(horizon)
            }
        }
    }

    /// The latest checkpoint with its note opened under this log's own keys.
    async fn verified_latest(&self) -> Result<Option<(SignedCheckpoint, Checkpoint)>, StoreError> {
        let Some(latest) = self.latest_checkpoint().await? else {
            return Ok(None);
        };
        let opened = open_checkpoint(&latest.note, &self.origin, &self.verifiers)
            .map_err(|_| StoreError::LogInconsistent("the latest checkpoint does not verify"))?;
        Ok(Some((latest, opened)))
    }

    async fn tiles(&self, tiles: Vec<(u8, u64)>) -> Result<TileMap, StoreError> {
        let mut map = TileMap::new();
        for (level, index) in tiles {
            if let Some(data) = self.find_tile(level, index).await? {
                map.insert(level, index, data)
                    .map_err(|_| StoreError::Corrupt("log_tiles.hashes"))?;
            }
        }
        Ok(map)
    }
}

async fn load_or_create_key(
    pool: &AnyPool,
    keys: &Keyring,
    algorithm: SignatureAlgorithm,
) -> Result<SigningKey, StoreError> {
    let select = "SELECT private_key FROM log_keys WHERE algorithm = $1";
    let name = algorithm.jose_name();
    let aad = log_key_aad(algorithm);
    let existing = sqlx::query(select).bind(name).fetch_optional(pool).await?;
    let sealed: Vec<u8> = match existing {
        Some(row) => row.try_get(0)?,
        None => {
            // Keys are made with the log. A log that has entries or checkpoints but no keys had
            // them removed: making new ones would let anything verify.
            let used: i64 = sqlx::query(
                "SELECT (SELECT size FROM log_state WHERE id = 1) + \
                 (SELECT COUNT(*) FROM log_checkpoints)",
            )
            .fetch_one(pool)
            .await?
            .try_get(0)?;
            if used > 0 {
                return Err(StoreError::LogInconsistent(
                    "the checkpoint keys are missing from a log that has entries",
                ));
            }
            let key = SigningKey::generate(algorithm)?;
            let sealed = keys.field().seal(&aad, &key.private_bytes())?;
            sqlx::query(
                "INSERT INTO log_keys (algorithm, public_key, private_key, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(name)
            .bind(key.verifying_key().as_bytes().to_vec())
            .bind(sealed)
            .bind(now_micros())
            .execute(pool)
            .await?;
            // Another node may have won the race: use whichever key was stored.
            sqlx::query(select)
                .bind(name)
                .fetch_one(pool)
                .await?
                .try_get(0)?
        }
    };
    let private = keys
        .field()
        .open(&aad, &sealed)
        .map_err(|_| StoreError::Corrupt("log_keys.private_key"))?;
    Ok(SigningKey::from_private_bytes(algorithm, &private)?)
}

/// Consecutive seqs, as `(first, count)` runs.
#[derive(Default)]
struct Runs(Vec<(i64, i64)>);

impl Runs {
    fn push(&mut self, seq: i64) {
        match self.0.last_mut() {
            Some((first, count)) if *first + *count == seq => *count += 1,
            _ => self.0.push((seq, 1)),
        }
    }
}

fn checkpoint_from_row(row: &sqlx::any::AnyRow) -> Result<SignedCheckpoint, StoreError> {
    Ok(SignedCheckpoint {
        size: to_u64(row.try_get(0)?, "log_checkpoints.size")?,
        root: row
            .try_get::<Vec<u8>, _>(1)?
            .try_into()
            .map_err(|_| StoreError::Corrupt("log_checkpoints.root"))?,
        note: row.try_get(2)?,
    })
}

/// A disclosure record ready to insert: its id, the person's pseudonym and the entry bytes.
pub(crate) struct PreparedRecord {
    id: DisclosureId,
    subject: [u8; 32],
    entry: Vec<u8>,
}

impl PreparedRecord {
    /// The record's id.
    pub(crate) fn id(&self) -> DisclosureId {
        self.id
    }
}

impl SqlDisclosureLog {
    /// Builds the records of `disclosures`, stamped now. CPU only.
    pub(crate) fn prepare_records(
        &self,
        disclosures: &[NewDisclosure],
    ) -> Result<Vec<PreparedRecord>, StoreError> {
        let time =
            Timestamp::from_microsecond(now_micros()).map_err(|_| StoreError::Corrupt("clock"))?;
        disclosures
            .iter()
            .map(|disclosure| {
                let subject = self.pseudonym(disclosure.subject);
                let record = DisclosureRecord {
                    v: 1,
                    id: DisclosureId::generate(),
                    time,
                    recipient: disclosure.recipient.to_string(),
                    subject: URL_SAFE_NO_PAD.encode(subject),
                    disclosed: disclosure.fields.iter().map(|f| (*f).to_owned()).collect(),
                    purpose: disclosure.purpose.as_str().to_owned(),
                    legal_basis: disclosure.legal_basis.to_owned(),
                };
                Ok(PreparedRecord {
                    id: record.id,
                    subject,
                    entry: record.to_entry()?,
                })
            })
            .collect()
    }

    /// Inserts prepared records inside the caller's transaction, so that a release and the
    /// writes that make it (a token, a consent) commit together or not at all.
    pub(crate) async fn insert_records(
        &self,
        conn: &mut AnyConnection,
        rows: &[PreparedRecord],
    ) -> Result<(), StoreError> {
        for chunk in rows.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO disclosures (subject, entry) VALUES {}",
                values_placeholders(self.backend, chunk.len(), 2)
            );
            let mut query = sqlx::query(&sql);
            for row in chunk {
                query = query
                    .bind(subject_key(&row.subject))
                    .bind(row.entry.as_slice());
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Wakes the publisher after `count` records committed.
    pub(crate) fn note_recorded(&self, count: usize) {
        self.recorded.fetch_add(count as u64, Ordering::Relaxed);
        self.recorded_signal.notify_waiters();
    }
}

#[async_trait]
impl DisclosureLog for SqlDisclosureLog {
    fn origin(&self) -> &str {
        &self.origin
    }

    fn verifiers(&self) -> &[NoteVerifier] {
        &self.verifiers
    }

    async fn record_disclosures(
        &self,
        disclosures: &[NewDisclosure],
    ) -> Result<Vec<DisclosureId>, StoreError> {
        let rows = self.prepare_records(disclosures)?;
        let mut tx = self.pool.begin().await?;
        self.insert_records(&mut tx, &rows).await?;
        tx.commit().await?;
        self.note_recorded(rows.len());
        Ok(rows.into_iter().map(|row| row.id).collect())
    }

    async fn wait_for_records(&self, count: u64) {
        loop {
            let notified = self.recorded_signal.notified();
            if self.recorded.load(Ordering::Relaxed) >= count {
                self.recorded.store(0, Ordering::Relaxed);
                return;
            }
            notified.await;
        }
    }

    async fn integrate(&self, max: usize) -> Result<Integration, StoreError> {
        let horizon = self.horizon().await?;
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        // The waiting records are read and hashed before the write lock is taken, so that
        // recorders keep writing meanwhile; under the lock, the integrator checks that no other
        // one moved the log in between, and reads again if one did.
        let (mut tx, size, integrated, waiting) = loop {
            let integrated: i64 = sqlx::query("SELECT integrated_seq FROM log_state WHERE id = 1")
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?;
            let waiting = sqlx::query(
                "SELECT seq, entry FROM disclosures WHERE seq > $1 AND seq <= $2 \
                 ORDER BY seq LIMIT $3",
            )
            .bind(integrated)
            .bind(horizon)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok((
                    row.try_get::<i64, _>(0)?,
                    leaf_hash(row.try_get::<&[u8], _>(1)?),
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
            let mut tx = self.begin_write().await?;
            // Locks the log's one state row: integrators on several nodes take turns.
            let state = sqlx::query(
                "UPDATE log_state SET updated_at = $1 WHERE id = 1 \
                 RETURNING size, integrated_seq",
            )
            .bind(now_micros())
            .fetch_one(&mut *tx)
            .await?;
            let size = to_u64(state.try_get(0)?, "log_state.size")?;
            if state.try_get::<i64, _>(1)? == integrated {
                break (tx, size, integrated, waiting);
            }
            tx.rollback().await?;
        };
        if waiting.is_empty() {
            tx.rollback().await?;
            return Ok(Integration {
                integrated: 0,
                size,
            });
        }
        let mut edge = TileMap::new();
        for tile in TileId::edge(size) {
            let data: Vec<u8> =
                sqlx::query("SELECT hashes FROM log_tiles WHERE level = $1 AND idx = $2")
                    .bind(i64::from(tile.level))
                    .bind(to_i64(tile.index)?)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::Corrupt("log_tiles (edge tile missing)"))?
                    .try_get(0)?;
            edge.insert(tile.level, tile.index, data)
                .map_err(|_| StoreError::Corrupt("log_tiles.hashes"))?;
        }
        let mut tree = TileAppender::resume(size, &edge)
            .map_err(|_| StoreError::Corrupt("log_tiles (edge tile too short)"))?;
        let mut runs = Runs::default();
        for (seq, leaf) in &waiting {
            tree.push(*leaf);
            runs.push(*seq);
        }
        // The first run continues the last stored one when no seq lies between them (always,
        // with one writer): the range grows instead of gaining a row.
        let mut runs = runs.0.into_iter();
        let mut index = to_i64(size)?;
        if let Some(&(first, count)) = runs.as_slice().first() {
            let extended = sqlx::query(
                "UPDATE log_ranges SET count = count + $1 \
                 WHERE idx + count = $2 AND seq + count = $3 \
                 AND idx = (SELECT MAX(idx) FROM log_ranges)",
            )
            .bind(count)
            .bind(index)
            .bind(first)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if extended == 1 {
                runs.next();
                index += count;
            }
        }
        for (first, count) in runs {
            sqlx::query("INSERT INTO log_ranges (idx, seq, count) VALUES ($1, $2, $3)")
                .bind(index)
                .bind(first)
                .bind(count)
                .execute(&mut *tx)
                .await?;
            index += count;
        }
        let tiles = tree.take_tiles();
        for chunk in tiles.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO log_tiles (level, idx, hashes) VALUES {} \
                 ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes",
                values_placeholders(self.backend, chunk.len(), 3)
            );
            let mut query = sqlx::query(&sql);
            for tile in chunk {
                query = query
                    .bind(i64::from(tile.id.level))
                    .bind(to_i64(tile.id.index)?)
                    .bind(tile.data.as_slice());
            }
            query.execute(&mut *tx).await?;
        }
        let last = waiting.last().map_or(integrated, |(seq, _)| *seq);
        sqlx::query("UPDATE log_state SET size = $1, integrated_seq = $2 WHERE id = 1")
            .bind(to_i64(tree.size())?)
            .bind(last)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Integration {
            integrated: waiting.len(),
            size: tree.size(),
        })
    }

    async fn publish_checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        let size: i64 = sqlx::query("SELECT size FROM log_state WHERE id = 1")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        let size = to_u64(size, "log_state.size")?;
        // The tree must extend what was last signed: check the last note with our own keys and
        // prove consistency from the tiles before signing anything new (C2SP tlog-checkpoint:
        // a log never signs two inconsistent trees).
        let previous = self.verified_latest().await?.map(|(_, opened)| opened);
        let old = previous.as_ref().map_or(0, |c| c.size);
        if size == 0 || size <= old {
            return Ok(None);
        }
        let operation = |source: &dyn TileSource| {
            Ok((
                root_hash(source, size)?,
                consistency_proof(source, old, size)?,
            ))
        };
        let needed = tiles_for(size, operation).map_err(|_| StoreError::Corrupt("log size"))?;
        let map = self
            .tiles(needed.iter().map(|tile| (tile.level, tile.index)).collect())
            .await?;
        let (root, proof) =
            operation(&map).map_err(|_: LedgerError| StoreError::Corrupt("log_tiles"))?;
        if let Some(previous) = &previous {
            verify_consistency(old, size, &previous.root, &root, &proof).map_err(|_| {
                StoreError::LogInconsistent(
                    "the stored tree does not extend the latest signed checkpoint",
                )
            })?;
        }
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
        };
        let signers: Vec<&NoteSigner> = self.signers.iter().collect();
        let note = sign_note(&checkpoint.body(), &signers)
            .map_err(|_| StoreError::Crypto(dinhdanh_crypto::CryptoError::Internal))?;
        sqlx::query(
            "INSERT INTO log_checkpoints (size, root, note, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(to_i64(size)?)
        .bind(root.to_vec())
        .bind(note.as_str())
        .bind(now_micros())
        .execute(&self.pool)
        .await?;
        Ok(Some(SignedCheckpoint { size, root, note }))
    }

    async fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        sqlx::query("SELECT size, root, note FROM log_checkpoints ORDER BY size DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?
            .map(|row| checkpoint_from_row(&row))
            .transpose()
    }

    async fn list_checkpoints(&self) -> Result<Vec<SignedCheckpoint>, StoreError> {
        sqlx::query("SELECT size, root, note FROM log_checkpoints ORDER BY size")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(checkpoint_from_row)
            .collect()
    }

    async fn find_tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let Ok(index) = i64::try_from(index) else {
            return Ok(None);
        };
        Ok(
            sqlx::query("SELECT hashes FROM log_tiles WHERE level = $1 AND idx = $2")
                .bind(i64::from(level))
                .bind(index)
                .fetch_optional(&self.pool)
                .await?
                .map(|row| row.try_get(0))
                .transpose()?,
        )
    }

    async fn list_tiles(
        &self,
        after: Option<(u8, u64)>,
        limit: usize,
    ) -> Result<Vec<(u8, u64, Vec<u8>)>, StoreError> {
        let (level, index) = match after {
            Some((level, index)) => (i64::from(level), to_i64(index)?),
            None => (-1, -1),
        };
        sqlx::query(
            "SELECT level, idx, hashes FROM log_tiles \
             WHERE level > $1 OR (level = $1 AND idx > $2) ORDER BY level, idx LIMIT $3",
        )
        .bind(level)
        .bind(index)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            let level = u8::try_from(row.try_get::<i64, _>(0)?)
                .map_err(|_| StoreError::Corrupt("log_tiles.level"))?;
            Ok((
                level,
                to_u64(row.try_get(1)?, "log_tiles.idx")?,
                row.try_get(2)?,
            ))
        })
        .collect()
    }

    async fn list_entries(&self, from: u64, limit: usize) -> Result<Vec<StoredEntry>, StoreError> {
        let from = to_i64(from)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        sqlx::query(
            "SELECT r.idx + (d.seq - r.seq), d.subject, d.entry FROM log_ranges r \
             JOIN disclosures d ON d.seq >= r.seq AND d.seq < r.seq + r.count \
             WHERE r.idx >= COALESCE((SELECT MAX(idx) FROM log_ranges WHERE idx <= $1), 0) \
             AND r.idx < $1 + $2 \
             AND d.seq >= r.seq + ($1 - r.idx) AND d.seq < r.seq + ($1 + $2 - r.idx) \
             ORDER BY r.idx, d.seq LIMIT $2",
        )
        .bind(from)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(StoredEntry {
                index: to_u64(row.try_get(0)?, "log_ranges.idx")?,
                subject_key: row.try_get(1)?,
                entry: row.try_get(2)?,
            })
        })
        .collect()
    }

    async fn sizes(&self) -> Result<(u64, u64), StoreError> {
        let row = sqlx::query(
            "SELECT size, (SELECT COUNT(*) FROM disclosures WHERE seq > s.integrated_seq) \
             FROM log_state s WHERE id = 1",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((
            to_u64(row.try_get(0)?, "log_state.size")?,
            to_u64(row.try_get(1)?, "disclosures")?,
        ))
    }

    async fn list_subject_entries(&self, subject: PersonId) -> Result<SubjectLog, StoreError> {
        let pseudonym = self.pseudonym(subject);
        let expected = URL_SAFE_NO_PAD.encode(pseudonym);
        // Size and root come from the verified note, never from the columns beside it.
        let latest = self.verified_latest().await?;
        let size = latest.as_ref().map_or(0, |(_, opened)| opened.size);
        // One statement, one snapshot: a record is either waiting or has its index.
        // The subject index leads with the seq's slice of 65,536: probe each slice once.
        let rows = sqlx::query(
            "WITH RECURSIVE slice (n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM slice \
             WHERE n < (SELECT COALESCE(MAX(seq), 0) FROM disclosures) / 65536) \
             SELECT r.idx + (d.seq - r.seq), d.entry FROM slice \
             JOIN disclosures d ON d.seq / 65536 = slice.n AND d.subject = $1 \
             LEFT JOIN log_ranges r \
             ON r.seq = (SELECT MAX(seq) FROM log_ranges WHERE seq <= d.seq) \
             AND d.seq < r.seq + r.count \
             ORDER BY d.seq",
        )
        .bind(subject_key(&pseudonym))
        .fetch_all(&self.pool)
        .await?;
        let mut entries = Vec::with_capacity(rows.len());
        let mut needed = BTreeMap::new();
        for row in &rows {
            let index = row
                .try_get::<Option<i64>, _>(0)?
                .map(|index| to_u64(index, "log_ranges.idx"))
                .transpose()?;
            let entry: Vec<u8> = row.try_get(1)?;
            let record = DisclosureRecord::from_entry(&entry)?;
            if record.subject != expected {
                // The subject column was changed: the entry is not this person's.
                continue;
            }
            if let Some(index) = index.filter(|index| *index < size) {
                let tiles = tiles_for(size, |source| inclusion_proof(source, index, size))
                    .map_err(|_| StoreError::Corrupt("log size"))?;
                for tile in tiles {
                    needed.insert((tile.level, tile.index), ());
                }
            }
            entries.push(SubjectEntry {
                record,
                entry,
                index,
                proof: None,
            });
        }
        let map = self.tiles(needed.into_keys().collect()).await?;
        for entry in &mut entries {
            if let Some(index) = entry.index.filter(|index| *index < size) {
                entry.proof = Some(
                    inclusion_proof(&map, index, size)
                        .map_err(|_| StoreError::Corrupt("log_tiles"))?,
                );
            }
        }
        Ok(SubjectLog {
            checkpoint: latest.map(|(stored, opened)| SignedCheckpoint {
                size: opened.size,
                root: opened.root,
                note: stored.note,
            }),
            entries,
        })
    }
}
