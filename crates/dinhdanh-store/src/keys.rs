//! Loading and creating the data keys of a database under the master key.

use std::sync::{Arc, RwLock};

use dinhdanh_crypto::{
    BlindIndexKey, CryptoError, DataKeyMaterial, FieldCipher, KeyId, KeyPurpose, MasterKey,
    constant_time_eq,
};
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::StoreError;
use crate::sql::now_micros;

const MASTER_CHECK: &str = "master_key_check";

/// The opened keys of one database.
pub(crate) struct Keyring {
    master: MasterKey,
    field: RwLock<Arc<FieldCipher>>,
    blind: BlindIndexKey,
}

impl Keyring {
    /// Checks the master key against the database and loads its data keys, creating the
    /// missing ones on a new database. Safe when several nodes start at once.
    pub(crate) async fn open(pool: &AnyPool, master: &MasterKey) -> Result<Self, StoreError> {
        let mut tx = pool.begin().await?;
        let check = master.check_value()?;
        sqlx::query("INSERT INTO store_meta (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(MASTER_CHECK)
            .bind(check.to_vec())
            .execute(&mut *tx)
            .await?;
        let stored: Vec<u8> = sqlx::query("SELECT value FROM store_meta WHERE name = $1")
            .bind(MASTER_CHECK)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if !constant_time_eq(&stored, &check) {
            return Err(StoreError::WrongMasterKey);
        }
        for purpose in [KeyPurpose::Field, KeyPurpose::BlindIndex] {
            insert_key_if_none_active(&mut tx, master, purpose).await?;
        }
        tx.commit().await?;

        let (field, blind) = load(pool, master).await?;
        Ok(Self {
            master: master.clone(),
            field: RwLock::new(Arc::new(field)),
            blind,
        })
    }

    /// The field cipher in force.
    pub(crate) fn field(&self) -> Arc<FieldCipher> {
        match self.field.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The blind-index key.
    pub(crate) fn blind(&self) -> &BlindIndexKey {
        &self.blind
    }

    /// Reloads the data keys, after a rotation here or on another node.
    pub(crate) async fn reload(&self, pool: &AnyPool) -> Result<(), StoreError> {
        let (field, _) = load(pool, &self.master).await?;
        match self.field.write() {
            Ok(mut guard) => *guard = Arc::new(field),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(field),
        }
        Ok(())
    }

    /// Retires the active field key and makes a new one active, in one transaction. Of two
    /// rotations at once, the one whose new key could not become active fails rather than
    /// report a key that was never stored.
    pub(crate) async fn rotate_field(&self, pool: &AnyPool) -> Result<KeyId, StoreError> {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE data_keys SET active = 0 WHERE purpose = $1 AND active = 1")
            .bind(KeyPurpose::Field.as_str())
            .execute(&mut *tx)
            .await?;
        let kid = insert_key(&mut tx, &self.master, KeyPurpose::Field).await?;
        let Some(kid) = kid else {
            return Err(StoreError::Conflict("concurrent key rotation"));
        };
        tx.commit().await?;
        self.reload(pool).await?;
        Ok(kid)
    }

    /// Reloads the keys when another process rotated the field key, so that every node seals
    /// under the new key soon after a rotation, not only after a restart.
    pub(crate) async fn refresh_if_rotated(&self, pool: &AnyPool) -> Result<(), StoreError> {
        let active: Option<String> =
            sqlx::query("SELECT kid FROM data_keys WHERE purpose = $1 AND active = 1")
                .bind(KeyPurpose::Field.as_str())
                .fetch_optional(pool)
                .await?
                .map(|row| row.try_get(0))
                .transpose()?;
        if active.is_some_and(|kid| kid != self.field().active_key().to_string()) {
            tracing::info!("the field key was rotated elsewhere; reloading data keys");
            self.reload(pool).await?;
        }
        Ok(())
    }
}

async fn insert_key_if_none_active(
    tx: &mut Transaction<'static, Any>,
    master: &MasterKey,
    purpose: KeyPurpose,
) -> Result<(), StoreError> {
    let active: i64 =
        sqlx::query("SELECT COUNT(*) FROM data_keys WHERE purpose = $1 AND active = 1")
            .bind(purpose.as_str())
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
    if active == 0 {
        insert_key(tx, master, purpose).await?;
    }
    Ok(())
}

/// Inserts a new active key; `None` when another one became active first (the partial unique
/// index allows one active key per purpose).
async fn insert_key(
    tx: &mut Transaction<'static, Any>,
    master: &MasterKey,
    purpose: KeyPurpose,
) -> Result<Option<KeyId>, StoreError> {
    let kid = KeyId::generate();
    let wrapped = master.wrap(kid, purpose, &DataKeyMaterial::generate()?)?;
    // ON CONFLICT: another node created the active key first; theirs stands.
    let inserted = sqlx::query(
        "INSERT INTO data_keys (kid, purpose, wrapped, active, created_at) \
         VALUES ($1, $2, $3, 1, $4) ON CONFLICT DO NOTHING",
    )
    .bind(kid.to_string())
    .bind(purpose.as_str())
    .bind(wrapped)
    .bind(now_micros())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok((inserted == 1).then_some(kid))
}

async fn load(
    pool: &AnyPool,
    master: &MasterKey,
) -> Result<(FieldCipher, BlindIndexKey), StoreError> {
    let rows = sqlx::query("SELECT kid, purpose, wrapped, active FROM data_keys")
        .fetch_all(pool)
        .await?;
    let mut field_keys = Vec::new();
    let mut active_field = None;
    let mut blind = None;
    for row in rows {
        let kid: KeyId = row
            .try_get::<String, _>(0)?
            .parse()
            .map_err(|_| StoreError::Corrupt("data_keys.kid"))?;
        let purpose = KeyPurpose::parse(&row.try_get::<String, _>(1)?)
            .ok_or(StoreError::Corrupt("data_keys.purpose"))?;
        let wrapped: Vec<u8> = row.try_get(2)?;
        let active = row.try_get::<i64, _>(3)? == 1;
        let material = master
            .unwrap(kid, purpose, &wrapped)
            .map_err(|err| match err {
                CryptoError::WrongMasterKey => StoreError::WrongMasterKey,
                other => StoreError::Crypto(other),
            })?;
        match purpose {
            KeyPurpose::Field => {
                if active {
                    active_field = Some(kid);
                }
                field_keys.push((kid, material));
            }
            KeyPurpose::BlindIndex if active => blind = Some(BlindIndexKey::new(&material)),
            _ => {}
        }
    }
    let active_field = active_field.ok_or(StoreError::Corrupt("data_keys: no active field key"))?;
    let blind = blind.ok_or(StoreError::Corrupt("data_keys: no active blind-index key"))?;
    Ok((FieldCipher::new(active_field, field_keys)?, blind))
}
