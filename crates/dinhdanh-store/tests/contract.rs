//! The store contract: every case runs against SQLite and against PostgreSQL.
//!
//! PostgreSQL comes from `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! each case gets a database of its own. When it is unreachable the PostgreSQL cases say so and
//! skip, except under `CI=true`, where they fail.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use dinhdanh_core::{
    AgeBracket, BindingStatus, BirthDate, CitizenNumber, EidLevel, OrganisationKind, PersonName,
    PersonStatus, Sex, TaxCode,
};
use dinhdanh_crypto::SignatureAlgorithm;
use dinhdanh_crypto::{ApiToken, MasterKey, TokenHash};
use dinhdanh_ledger::{LogAudit, TileMap, leaf_hash, open_checkpoint, verify_inclusion};
use dinhdanh_store::{
    Backend, DisclosureLog, GuardianRelationship, Guardianship, NewDisclosure, NewOperatorToken,
    NewOrganisation, NewPerson, OperatorRole, OperatorTokenId, OrganisationUpdate, PersonId,
    PersonUpdate, PersonalData, Purpose, Recipient, RegistryStore, StoreError, StoreOptions,
};
use dinhdanh_store::{
    ClientAuth, GrantId, Issued, LoginSession, NewAccount, NewBinding, NewClient, NewGrant,
    NewPasskey, NewToken, OidcStore, OrganisationId, PendingRequest, Redemption, RequestKind,
    ServiceToken, TokenKind,
};
use dinhdanh_synth::{PopulationSpec, population};
use jiff::Timestamp;
use sqlx::Connection;

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

struct TestDb {
    url: String,
    master: MasterKey,
    store: Arc<dyn RegistryStore>,
    /// SQLite: the directory of the database files.
    dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the server URL and the database to drop afterwards.
    postgres: Option<(String, String)>,
}

fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_end..]
        .find('/')
        .map_or(base.len(), |i| authority_end + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

impl TestDb {
    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("dinhdanh.db").display());
        let master = MasterKey::generate().unwrap();
        let store = dinhdanh_store::open(&StoreOptions::new(&url), &master)
            .await
            .unwrap();
        Self {
            url,
            master,
            store,
            dir: Some(dir),
            postgres: None,
        }
    }

    async fn postgres() -> Option<Self> {
        let server = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
        sqlx::any::install_default_drivers();
        let connected = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::AnyConnection::connect(&server),
        )
        .await;
        let mut admin = match connected {
            Ok(Ok(conn)) => conn,
            other => {
                let why = match other {
                    Ok(Err(err)) => err.to_string(),
                    _ => "timed out".to_owned(),
                };
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("CI=true needs PostgreSQL at {server}: {why}");
                }
                eprintln!("SKIPPED: PostgreSQL contract case, no server at {server} ({why})");
                return None;
            }
        };
        let database = format!("dd_test_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE DATABASE {database}"))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let url = with_database(&server, &database);
        let master = MasterKey::generate().unwrap();
        let store = dinhdanh_store::open(&StoreOptions::new(&url), &master)
            .await
            .unwrap();
        Some(Self {
            url,
            master,
            store,
            dir: None,
            postgres: Some((server, database)),
        })
    }

    async fn reopen(&self, master: &MasterKey) -> Result<Arc<dyn RegistryStore>, StoreError> {
        dinhdanh_store::open(&StoreOptions::new(&self.url), master).await
    }

    /// Every byte the database holds about persons, as the database stores them.
    async fn raw_dump(&self) -> Vec<u8> {
        if let Some(dir) = &self.dir {
            let mut bytes = Vec::new();
            for entry in std::fs::read_dir(dir.path()).unwrap() {
                bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
            }
            return bytes;
        }
        let mut conn = sqlx::AnyConnection::connect(&self.url).await.unwrap();
        let mut bytes = Vec::new();
        for table in [
            "persons",
            "guardianships",
            "organisations",
            "data_keys",
            "store_meta",
        ] {
            let sql = format!("SELECT COALESCE(string_agg(t::text, E'\\n'), '') FROM {table} t");
            let text: String = sqlx::query_scalar(&sql).fetch_one(&mut conn).await.unwrap();
            bytes.extend(text.into_bytes());
        }
        // `t::text` shows BYTEA as hex; the binary columns are added as their raw bytes, so
        // a field stored in clear there would be found too.
        for (table, column) in [
            ("persons", "personal"),
            ("persons", "citizen_index"),
            ("data_keys", "wrapped"),
            ("signing_keys", "private_key"),
        ] {
            let sql = format!("SELECT {column} FROM {table}");
            for value in sqlx::query_scalar::<_, Vec<u8>>(&sql)
                .fetch_all(&mut conn)
                .await
                .unwrap()
            {
                bytes.extend(value);
            }
        }
        bytes
    }

    async fn cleanup(self) {
        let Self {
            store, postgres, ..
        } = self;
        drop(store);
        if let Some((server, database)) = postgres
            && let Ok(mut admin) = sqlx::AnyConnection::connect(&server).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
                .execute(&mut admin)
                .await;
        }
    }
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = super::TestDb::sqlite().await;
                    assert_eq!(db.store.backend(), super::Backend::Sqlite);
                    super::$case(&db).await;
                    db.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(db) = super::TestDb::postgres().await else { return };
                    assert_eq!(db.store.backend(), super::Backend::Postgres);
                    super::$case(&db).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}

contract!(
    person_round_trip_and_lookup,
    duplicate_citizen_number_conflicts_and_writes_nothing,
    batch_insert_is_all_or_nothing,
    person_updates,
    organisations_and_hierarchy,
    guardianships_need_both_people_and_are_unique,
    operator_tokens_are_found_by_hash_and_revoked,
    field_key_rotation_keeps_rows_readable,
    wrong_master_key_is_refused,
    personal_fields_never_stored_in_clear,
    concurrent_opens_agree_on_keys,
    signing_keys_move_through_their_life_cycle,
    signing_keys_export_and_import_whole_or_not_at_all,
    disclosure_log_records_integrates_and_proves,
    disclosure_log_concurrent_writers_and_integrators_lose_nothing,
    oidc_clients_register_once_for_a_known_organisation,
    oidc_accounts_count_failures_and_refuse_reused_totp_steps,
    oidc_passkeys_are_sealed_and_unique_and_ceremonies_taken_once,
    oidc_service_tokens_expire_and_pairwise_subjects_resolve,
    bindings_are_limited_per_person_and_platform_and_sealed,
    oidc_sessions_end_when_they_expire_or_are_deleted,
    signing_out_everywhere_ends_sessions_and_grants_and_tells_every_platform,
    oidc_authorization_requests_are_taken_once,
    oidc_consents_are_recorded_with_their_disclosure,
    oidc_codes_are_single_use_and_a_replay_revokes_the_grant,
    signals_fan_out_once_and_leave_the_outbox_when_delivered,
    ages_are_watched_until_18_and_each_crossing_announced_once,
    subscriptions_are_limited_sealed_and_follow_the_device_change_timeline,
);

fn today() -> jiff::civil::Date {
    dinhdanh_core::today_in_vietnam(Timestamp::now())
}

fn people(seed: u64, count: usize) -> Vec<NewPerson> {
    population(&PopulationSpec {
        seed,
        people: count,
        as_of: today(),
    })
    .map(|p| NewPerson {
        personal: PersonalData::new(p.citizen_number, p.name, p.birth_date, p.sex, today())
            .unwrap(),
        status: p.status,
        eid_level: EidLevel::Level1,
    })
    .collect()
}

fn person(citizen_number: &str, name: &str, birth_date: &str, sex: Sex) -> NewPerson {
    NewPerson {
        personal: PersonalData::new(
            citizen_number.parse::<CitizenNumber>().unwrap(),
            name.parse::<PersonName>().unwrap(),
            birth_date.parse::<BirthDate>().unwrap(),
            sex,
            today(),
        )
        .unwrap(),
        status: PersonStatus::Active,
        eid_level: EidLevel::Level0,
    }
}

async fn person_round_trip_and_lookup(db: &TestDb) {
    let store = &db.store;
    let new = person("079305000123", "Trần Thị Mai", "2005-08-15", Sex::Female);
    let created = store.insert_person(&new).await.unwrap();
    let found = store.find_person(created.id).await.unwrap().unwrap();
    assert_eq!(found.personal, new.personal);
    assert_eq!(found.status, PersonStatus::Active);
    assert_eq!(found.eid_level, EidLevel::Level0);
    assert_eq!(found.created_at, created.created_at);

    let by_number = store
        .find_person_by_citizen_number(&new.personal.citizen_number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_number.id, created.id);
    let other: CitizenNumber = "079305000124".parse().unwrap();
    assert!(
        store
            .find_person_by_citizen_number(&other)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_person(PersonId::generate())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.count_persons().await.unwrap(), 1);
}

async fn duplicate_citizen_number_conflicts_and_writes_nothing(db: &TestDb) {
    let store = &db.store;
    let first = person("001090012345", "Nguyễn Văn An", "1990-01-02", Sex::Male);
    store.insert_person(&first).await.unwrap();
    let same_number = person("001090012345", "Lê Văn Bình", "1990-03-04", Sex::Male);
    let err = store.insert_person(&same_number).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict("citizen number")),
        "{err:?}"
    );
    assert_eq!(store.count_persons().await.unwrap(), 1);
    let kept = store
        .find_person_by_citizen_number(&first.personal.citizen_number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.personal.name.as_str(), "Nguyễn Văn An");
}

async fn batch_insert_is_all_or_nothing(db: &TestDb) {
    let store = &db.store;
    let mut batch = people(7, 2_500);
    let ids = store.insert_persons(&batch[..2_000]).await.unwrap();
    assert_eq!(ids.len(), 2_000);
    assert_eq!(store.count_persons().await.unwrap(), 2_000);
    for (id, new) in ids.iter().zip(&batch).step_by(97) {
        let found = store.find_person(*id).await.unwrap().unwrap();
        assert_eq!(found.personal, new.personal);
    }
    // The last 500, plus one duplicate at the end of a later chunk: nothing of it lands.
    let duplicate = batch[0].clone();
    batch.push(duplicate);
    let err = store.insert_persons(&batch[2_000..]).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.count_persons().await.unwrap(), 2_000);
    assert!(
        store
            .find_person_by_citizen_number(&batch[2_100].personal.citizen_number)
            .await
            .unwrap()
            .is_none()
    );
}

async fn person_updates(db: &TestDb) {
    let store = &db.store;
    let created = store
        .insert_person(&person(
            "048185000777",
            "Phạm Thị Hoa",
            "1985-06-30",
            Sex::Female,
        ))
        .await
        .unwrap();
    let updated = store
        .update_person(
            created.id,
            &PersonUpdate {
                status: None,
                eid_level: Some(EidLevel::Level2),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.eid_level, EidLevel::Level2);
    assert_eq!(updated.status, PersonStatus::Active);
    assert!(updated.updated_at >= created.updated_at);
    let updated = store
        .update_person(
            created.id,
            &PersonUpdate {
                status: Some(PersonStatus::Deceased),
                eid_level: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.status, PersonStatus::Deceased);
    assert_eq!(updated.eid_level, EidLevel::Level2);
    assert_eq!(updated.personal, created.personal);
    // A deceased person's record no longer changes.
    let err = store
        .update_person(
            created.id,
            &PersonUpdate {
                status: Some(PersonStatus::Active),
                eid_level: Some(EidLevel::Level0),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::PersonDeceased), "{err:?}");
    let kept = store.find_person(created.id).await.unwrap().unwrap();
    assert_eq!(kept.status, PersonStatus::Deceased);
    assert_eq!(kept.eid_level, EidLevel::Level2);
    let err = store
        .update_person(PersonId::generate(), &PersonUpdate::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound("person")), "{err:?}");
}

async fn organisations_and_hierarchy(db: &TestDb) {
    let store = &db.store;
    let ministry = store
        .insert_organisation(&NewOrganisation {
            tax_code: "0100000001".parse::<TaxCode>().unwrap(),
            name: "Bộ Mẫu".to_owned(),
            kind: OrganisationKind::Ministry,
            parent_id: None,
        })
        .await
        .unwrap();
    let agency = store
        .insert_organisation(&NewOrganisation {
            tax_code: "0100000002".parse::<TaxCode>().unwrap(),
            name: "Cục Mẫu".to_owned(),
            kind: OrganisationKind::Agency,
            parent_id: Some(ministry.id),
        })
        .await
        .unwrap();
    assert_eq!(
        store.find_organisation(agency.id).await.unwrap().unwrap(),
        agency
    );
    let by_code = store
        .find_organisation_by_tax_code(&"0100000002".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_code.id, agency.id);
    assert_eq!(by_code.parent_id, Some(ministry.id));

    let duplicate = store
        .insert_organisation(&NewOrganisation {
            tax_code: "0100000001".parse().unwrap(),
            name: "Khác".to_owned(),
            kind: OrganisationKind::Enterprise,
            parent_id: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(duplicate, StoreError::Conflict("tax code")),
        "{duplicate:?}"
    );
    let orphan = store
        .insert_organisation(&NewOrganisation {
            tax_code: "0100000003".parse().unwrap(),
            name: "Mồ côi".to_owned(),
            kind: OrganisationKind::Enterprise,
            parent_id: Some(dinhdanh_store::OrganisationId::generate()),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(orphan, StoreError::InvalidReference(_)),
        "{orphan:?}"
    );
    assert_eq!(store.count_organisations().await.unwrap(), 2);

    // A ministry under its own agency would be a cycle.
    let cycle = store
        .update_organisation(
            ministry.id,
            &OrganisationUpdate {
                name: None,
                parent_id: Some(Some(agency.id)),
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(cycle, StoreError::InvalidReference(_)),
        "{cycle:?}"
    );
    let renamed = store
        .update_organisation(
            agency.id,
            &OrganisationUpdate {
                name: Some("Cục Mới".to_owned()),
                parent_id: Some(None),
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "Cục Mới");
    assert_eq!(renamed.parent_id, None);
    let unchanged = store.find_organisation(ministry.id).await.unwrap().unwrap();
    assert_eq!(unchanged.parent_id, None);
}

async fn guardianships_need_both_people_and_are_unique(db: &TestDb) {
    let store = &db.store;
    let parent = store
        .insert_person(&person(
            "001085000001",
            "Hoàng Văn Nam",
            "1985-02-03",
            Sex::Male,
        ))
        .await
        .unwrap();
    let child = store
        .insert_person(&person(
            "001315000002",
            "Hoàng Thị Lan",
            "2015-05-06",
            Sex::Female,
        ))
        .await
        .unwrap();
    let link = Guardianship {
        child_id: child.id,
        guardian_id: parent.id,
        relationship: GuardianRelationship::Parent,
        created_at: Timestamp::from_second(1_700_000_000).unwrap(),
    };
    store
        .insert_guardianships(std::slice::from_ref(&link))
        .await
        .unwrap();
    assert_eq!(
        store.list_guardians(child.id).await.unwrap(),
        vec![link.clone()]
    );
    assert!(store.list_guardians(parent.id).await.unwrap().is_empty());
    assert_eq!(
        store.list_wards(parent.id).await.unwrap(),
        vec![link.clone()]
    );
    assert!(store.list_wards(child.id).await.unwrap().is_empty());

    let again = store
        .insert_guardianships(std::slice::from_ref(&link))
        .await
        .unwrap_err();
    assert!(
        matches!(again, StoreError::Conflict("guardianship")),
        "{again:?}"
    );
    let dangling = Guardianship {
        guardian_id: PersonId::generate(),
        ..link.clone()
    };
    let err = store.insert_guardianships(&[dangling]).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidReference(_)), "{err:?}");
    assert_eq!(store.list_guardians(child.id).await.unwrap().len(), 1);
}

async fn operator_tokens_are_found_by_hash_and_revoked(db: &TestDb) {
    let store = &db.store;
    let token = ApiToken::generate().unwrap();
    let created = store
        .insert_operator_token(&NewOperatorToken {
            hash: token.hash(),
            role: OperatorRole::RegistryWriter,
            label: "nhà mạng thử nghiệm".to_owned(),
            expires_at: None,
        })
        .await
        .unwrap();
    let found = store
        .find_operator_token(&TokenHash::of(token.reveal()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, created);
    assert!(found.is_usable(Timestamp::now()));
    assert!(
        store
            .find_operator_token(&TokenHash::of("ddo_not-a-token"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.list_operator_tokens().await.unwrap().len(), 1);
    store.revoke_operator_token(created.id).await.unwrap();
    let revoked = store
        .find_operator_token(&token.hash())
        .await
        .unwrap()
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(!revoked.is_usable(Timestamp::now()));
    let err = store
        .revoke_operator_token(dinhdanh_store::OperatorTokenId::generate())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

async fn field_key_rotation_keeps_rows_readable(db: &TestDb) {
    let store = &db.store;
    let before = store
        .insert_person(&person(
            "092070000031",
            "Võ Văn Tâm",
            "1970-07-07",
            Sex::Male,
        ))
        .await
        .unwrap();
    let old_node = db.reopen(&db.master).await.unwrap();
    let kid = store.rotate_field_key().await.unwrap();
    let after = store
        .insert_person(&person(
            "092310000032",
            "Võ Thị Thu",
            "2010-01-01",
            Sex::Female,
        ))
        .await
        .unwrap();
    let rotated = store.rotate_field_key().await.unwrap();
    assert_ne!(kid, rotated);
    // A node that loaded its keys before the rotations reloads them and reads the new row; a
    // node opened afterwards reads the old one.
    let new_node = db.reopen(&db.master).await.unwrap();
    for node in [store, &old_node, &new_node] {
        assert_eq!(
            node.find_person(before.id).await.unwrap().unwrap().personal,
            before.personal
        );
        assert_eq!(
            node.find_person(after.id)
                .await
                .unwrap()
                .unwrap()
                .personal
                .name
                .as_str(),
            "Võ Thị Thu"
        );
    }
}

async fn wrong_master_key_is_refused(db: &TestDb) {
    db.store
        .insert_person(&person(
            "001190000099",
            "Đỗ Thị Hạnh",
            "1990-09-09",
            Sex::Female,
        ))
        .await
        .unwrap();
    let wrong = MasterKey::generate().unwrap();
    let err = db
        .reopen(&wrong)
        .await
        .err()
        .expect("a wrong master key must fail");
    assert!(matches!(err, StoreError::WrongMasterKey), "{err:?}");
    assert!(db.reopen(&db.master).await.is_ok());
}

async fn personal_fields_never_stored_in_clear(db: &TestDb) {
    let batch = people(11, 300);
    db.store.insert_persons(&batch).await.unwrap();
    let dump = db.raw_dump().await;
    assert!(dump.len() > 1_000, "the dump must hold the rows");
    let contains = |needle: &[u8]| dump.windows(needle.len()).any(|w| w == needle);
    // The dump is the real stored bytes: organisation names are stored in clear and found.
    db.store
        .insert_organisation(&NewOrganisation {
            tax_code: "0100000009".parse().unwrap(),
            name: "Công ty Dò Tìm".to_owned(),
            kind: OrganisationKind::Enterprise,
            parent_id: None,
        })
        .await
        .unwrap();
    let with_org = db.raw_dump().await;
    assert!(
        with_org
            .windows("Công ty Dò Tìm".len())
            .any(|w| w == "Công ty Dò Tìm".as_bytes()),
        "the scan must see clear text where there is some"
    );
    for new in &batch {
        let p = &new.personal;
        assert!(
            !contains(p.citizen_number.as_str().as_bytes()),
            "citizen number in clear"
        );
        assert!(!contains(p.name.as_str().as_bytes()), "name in clear");
        assert!(
            !contains(p.birth_date.to_string().as_bytes()),
            "birth date in clear"
        );
    }
}

async fn concurrent_opens_agree_on_keys(db: &TestDb) {
    let (a, b) = tokio::join!(db.reopen(&db.master), db.reopen(&db.master));
    let (a, b) = (a.unwrap(), b.unwrap());
    let from_a = a
        .insert_person(&person(
            "031099000555",
            "Bùi Văn Quang",
            "1999-12-31",
            Sex::Male,
        ))
        .await
        .unwrap();
    let from_b = b
        .insert_person(&person(
            "031199000556",
            "Bùi Thị Yến",
            "1999-11-30",
            Sex::Female,
        ))
        .await
        .unwrap();
    assert!(a.find_person(from_b.id).await.unwrap().is_some());
    assert!(b.find_person(from_a.id).await.unwrap().is_some());
    assert!(db.store.find_person(from_a.id).await.unwrap().is_some());
}

#[test]
fn database_name_is_replaced_in_urls() {
    assert_eq!(
        with_database("postgres://root@127.0.0.1:5432/test", "x"),
        "postgres://root@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://root@localhost/test?sslmode=disable", "x"),
        "postgres://root@localhost/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h:1", "x"), "postgres://h:1/x");
}

async fn signing_keys_move_through_their_life_cycle(db: &TestDb) {
    use dinhdanh_crypto::{SignatureAlgorithm, SigningKey};
    use dinhdanh_store::SigningKeyState::{Active, Next, Retired, Retiring};
    let store = &db.store;
    let alg = SignatureAlgorithm::MlDsa65;
    let first = SigningKey::generate(alg).unwrap();
    let a = store.insert_signing_key(&first, Active).await.unwrap();
    assert!(a.activated_at.is_some());
    // One active key per algorithm; another algorithm may have its own.
    let err = store
        .insert_signing_key(&SigningKey::generate(alg).unwrap(), Active)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    store
        .insert_signing_key(
            &SigningKey::generate(SignatureAlgorithm::Ed25519).unwrap(),
            Active,
        )
        .await
        .unwrap();
    // The active key comes back with a private part that signs for its public key.
    let (record, key) = store.find_active_signing_key(alg).await.unwrap().unwrap();
    assert_eq!(record.kid, a.kid);
    let signature = key.sign(b"checkpoint").unwrap();
    first
        .verifying_key()
        .verify(b"checkpoint", &signature)
        .unwrap();
    // Without a next key, rotation changes nothing.
    let err = store.rotate_signing_keys(alg).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    let b = store
        .insert_signing_key(&SigningKey::generate(alg).unwrap(), Next)
        .await
        .unwrap();
    let states = |keys: &[dinhdanh_store::SigningKeyRecord]| {
        keys.iter()
            .filter(|k| k.algorithm == alg)
            .map(|k| (k.kid.clone(), k.state))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let after = store.rotate_signing_keys(alg).await.unwrap();
    assert_eq!(states(&after)[&a.kid], Retiring);
    assert_eq!(states(&after)[&b.kid], Active);
    let c = store
        .insert_signing_key(&SigningKey::generate(alg).unwrap(), Next)
        .await
        .unwrap();
    store.rotate_signing_keys(alg).await.unwrap();
    let all = store.list_signing_keys().await.unwrap();
    let now = states(&all);
    assert_eq!(
        (now[&a.kid], now[&b.kid], now[&c.kid]),
        (Retired, Retiring, Active)
    );
    let retired = all.iter().find(|k| k.kid == a.kid).unwrap();
    assert!(retired.retiring_at.is_some() && retired.retired_at.is_some());
    assert_eq!(
        store
            .find_active_signing_key(alg)
            .await
            .unwrap()
            .unwrap()
            .0
            .kid,
        c.kid
    );
    // The private key is sealed: its bytes are nowhere in the database.
    let dump = db.raw_dump().await;
    let private = first.private_bytes();
    assert!(!dump.windows(private.len()).any(|w| w == private.as_slice()));
}

async fn signing_keys_export_and_import_whole_or_not_at_all(db: &TestDb) {
    use dinhdanh_crypto::{SignatureAlgorithm, SigningKey};
    use dinhdanh_store::SigningKeyState::{Active, Next};
    let store = &db.store;
    for alg in [SignatureAlgorithm::MlDsa65, SignatureAlgorithm::EcdsaP256] {
        store
            .insert_signing_key(&SigningKey::generate(alg).unwrap(), Active)
            .await
            .unwrap();
        store
            .insert_signing_key(&SigningKey::generate(alg).unwrap(), Next)
            .await
            .unwrap();
    }
    store
        .rotate_signing_keys(SignatureAlgorithm::MlDsa65)
        .await
        .unwrap();
    let exported = store.export_signing_keys().await.unwrap();
    assert_eq!(exported.len(), 4);
    for (record, key) in &exported {
        assert_eq!(key.verifying_key().as_bytes(), record.public_key.as_slice());
    }

    // Into a fresh store under another master key: same kids, states, times and keys.
    let fresh = TestDb::sqlite().await;
    fresh.store.import_signing_keys(&exported).await.unwrap();
    assert_eq!(
        fresh.store.list_signing_keys().await.unwrap(),
        store.list_signing_keys().await.unwrap()
    );
    let (_, restored) = fresh
        .store
        .find_active_signing_key(SignatureAlgorithm::MlDsa65)
        .await
        .unwrap()
        .unwrap();
    let (_, original) = store
        .find_active_signing_key(SignatureAlgorithm::MlDsa65)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        restored.private_bytes().as_slice(),
        original.private_bytes().as_slice()
    );

    // Importing again conflicts on the first kid, and nothing of the batch is written.
    let before = fresh.store.list_signing_keys().await.unwrap();
    let mut again: Vec<_> = exported
        .iter()
        .map(|(record, _)| record.clone())
        .zip(
            fresh
                .store
                .export_signing_keys()
                .await
                .unwrap()
                .into_iter()
                .map(|(_, k)| k),
        )
        .collect();
    again[0].0.kid = "a-new-kid".to_owned();
    let err = fresh.store.import_signing_keys(&again).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(fresh.store.list_signing_keys().await.unwrap(), before);
    fresh.cleanup().await;
}

fn disclosure(subject: PersonId, fields: &'static [&'static str]) -> NewDisclosure {
    NewDisclosure {
        subject,
        recipient: Recipient::Operator(OperatorTokenId::generate()),
        fields: fields.to_vec(),
        purpose: Purpose::new("contract test").unwrap(),
        legal_basis: "registry-administration",
    }
}

/// Runs a full audit of the stored log; returns its findings.
async fn audit(log: &dyn DisclosureLog) -> Vec<String> {
    let mut tiles = TileMap::new();
    let mut after = None;
    loop {
        let page = log.list_tiles(after, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.0, last.1));
        for (level, index, data) in page {
            tiles.insert(level, index, data).unwrap();
        }
    }
    let mut signed = Vec::new();
    for checkpoint in log.list_checkpoints().await.unwrap() {
        let opened = open_checkpoint(&checkpoint.note, log.origin(), log.verifiers()).unwrap();
        signed.push((opened.size, opened.root));
    }
    let mut audit = LogAudit::new(tiles, signed);
    let mut from = 0;
    loop {
        let page = log.list_entries(from, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        from = last.index + 1;
        for stored in &page {
            assert!(
                stored.subject_agrees(),
                "subject column of entry {}",
                stored.index
            );
            audit.entry(stored.index, &stored.entry);
        }
    }
    audit.finish().iter().map(ToString::to_string).collect()
}

async fn disclosure_log_records_integrates_and_proves(db: &TestDb) {
    let store = &db.store;
    let log = store.disclosure_log();
    let mai = store
        .insert_person(&person(
            "079305000123",
            "Trần Thị Mai",
            "2005-08-15",
            Sex::Female,
        ))
        .await
        .unwrap();
    let others = store.insert_persons(&people(11, 5)).await.unwrap();
    assert!(log.latest_checkpoint().await.unwrap().is_none());
    assert_eq!(
        log.publish_checkpoint().await.unwrap(),
        None,
        "nothing to sign yet"
    );

    // 1,500 records for others in one batch, Mai's three spread among them.
    let batch: Vec<NewDisclosure> = (0..1500)
        .map(|i| disclosure(others[i % others.len()], &["name"]))
        .collect();
    let first = log
        .record_disclosures(&[disclosure(mai.id, &["name", "birth_date"])])
        .await
        .unwrap();
    log.record_disclosures(&batch).await.unwrap();
    let second = log
        .record_disclosures(&[disclosure(mai.id, &["citizen_number"])])
        .await
        .unwrap();
    assert_eq!(log.sizes().await.unwrap(), (0, 1502));

    // Integrated in batches of 700: three transactions.
    let mut steps = 0;
    loop {
        let step = log.integrate(700).await.unwrap();
        if step.integrated == 0 {
            break;
        }
        steps += 1;
    }
    assert_eq!(steps, 3);
    assert_eq!(log.sizes().await.unwrap(), (1502, 0));
    let third = log
        .record_disclosures(&[disclosure(mai.id, &["status"])])
        .await
        .unwrap();
    let checkpoint = log.publish_checkpoint().await.unwrap().unwrap();
    assert_eq!(checkpoint.size, 1502);
    let opened = open_checkpoint(&checkpoint.note, log.origin(), log.verifiers()).unwrap();
    assert_eq!(
        (opened.size, opened.root),
        (checkpoint.size, checkpoint.root)
    );
    assert_eq!(
        log.publish_checkpoint().await.unwrap(),
        None,
        "no growth, no new checkpoint"
    );

    let mine = log.list_subject_entries(mai.id).await.unwrap();
    assert_eq!(mine.checkpoint.as_ref().map(|c| c.size), Some(1502));
    let ids: Vec<_> = mine.entries.iter().map(|e| e.record.id).collect();
    assert_eq!(ids, vec![first[0], second[0], third[0]]);
    for entry in &mine.entries[..2] {
        let index = entry.index.unwrap();
        let proof = entry.proof.as_ref().unwrap();
        verify_inclusion(
            &leaf_hash(&entry.entry),
            index,
            1502,
            proof,
            &checkpoint.root,
        )
        .unwrap();
        // The entry names fields, never values, and the person only by pseudonym.
        let text = String::from_utf8(entry.entry.clone()).unwrap();
        for secret in [
            "079305000123",
            "Trần Thị Mai",
            "2005-08-15",
            &mai.id.to_string(),
        ] {
            assert!(!text.contains(secret), "an entry holds {secret}");
        }
    }
    assert_eq!(mine.entries[0].record.disclosed, vec!["name", "birth_date"]);
    assert_eq!(
        mine.entries[2].index, None,
        "recorded after the checkpoint: still waiting"
    );
    assert!(mine.entries[2].proof.is_none());
    // One pseudonym per person, different between people.
    let other = log.list_subject_entries(others[0]).await.unwrap();
    assert_eq!(other.entries.len(), 300);
    assert_ne!(
        other.entries[0].record.subject,
        mine.entries[0].record.subject
    );
    assert_eq!(
        mine.entries[0].record.subject,
        mine.entries[1].record.subject
    );

    assert_eq!(audit(log.as_ref()).await, Vec::<String>::new());

    // The checkpoint keys outlive the process.
    let reopened = db.reopen(&db.master).await.unwrap();
    assert_eq!(reopened.disclosure_log().verifiers(), log.verifiers());

    // A tree changed under a signed checkpoint is never signed again: here the last leaf
    // hash of the signed tree (position 1501, in the partial level-0 tile 5).
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let mut tile: Vec<u8> =
        sqlx::query_scalar("SELECT hashes FROM log_tiles WHERE level = 0 AND idx = 5")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(tile.len(), 222 * 32);
    tile[221 * 32] ^= 1;
    sqlx::query("UPDATE log_tiles SET hashes = $1 WHERE level = 0 AND idx = 5")
        .bind(tile)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    log.integrate(100).await.unwrap();
    assert!(matches!(
        log.publish_checkpoint().await,
        Err(StoreError::LogInconsistent(_))
    ));
    assert_eq!(log.latest_checkpoint().await.unwrap().unwrap().size, 1502);

    // Removed checkpoint keys are not silently replaced.
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query("DELETE FROM log_keys")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    assert!(matches!(
        db.reopen(&db.master).await.map(|_| ()),
        Err(StoreError::LogInconsistent(_))
    ));
}

async fn disclosure_log_concurrent_writers_and_integrators_lose_nothing(db: &TestDb) {
    let store = &db.store;
    let ids = store.insert_persons(&people(12, 4)).await.unwrap();
    let log = store.disclosure_log();
    let mut writers = Vec::new();
    for subject in ids.iter().copied() {
        let log = Arc::clone(&log);
        writers.push(tokio::spawn(async move {
            let mut recorded = Vec::new();
            for _ in 0..50 {
                let batch: Vec<_> = (0..5).map(|_| disclosure(subject, &["name"])).collect();
                recorded.extend(log.record_disclosures(&batch).await.unwrap());
            }
            recorded
        }));
    }
    let mut integrators = Vec::new();
    for _ in 0..2 {
        let log = Arc::clone(&log);
        integrators.push(tokio::spawn(async move {
            for _ in 0..20 {
                log.integrate(64).await.unwrap();
                log.publish_checkpoint().await.unwrap();
            }
        }));
    }
    let mut recorded = Vec::new();
    for writer in writers {
        recorded.extend(writer.await.unwrap());
    }
    for integrator in integrators {
        integrator.await.unwrap();
    }
    while log.integrate(1000).await.unwrap().integrated > 0 {}
    log.publish_checkpoint().await.unwrap();
    assert_eq!(log.sizes().await.unwrap(), (1000, 0));
    let entries = log.list_entries(0, 5000).await.unwrap();
    let indexes: Vec<u64> = entries.iter().map(|stored| stored.index).collect();
    assert_eq!(indexes, (0..1000).collect::<Vec<_>>(), "dense, in order");
    let mut stored: Vec<String> = entries
        .iter()
        .map(|stored| {
            dinhdanh_store::DisclosureRecord::from_entry(&stored.entry)
                .unwrap()
                .id
                .to_string()
        })
        .collect();
    stored.sort();
    let mut expected: Vec<String> = recorded.iter().map(ToString::to_string).collect();
    expected.sort();
    assert_eq!(stored, expected, "every record exactly once");
    assert_eq!(audit(log.as_ref()).await, Vec::<String>::new());
}

/// An organisation, a person and a registered client for the OIDC cases.
async fn oidc_setup(db: &TestDb) -> (Arc<dyn OidcStore>, PersonId, NewClient) {
    let store = &db.store;
    let platform = store
        .insert_organisation(&NewOrganisation {
            tax_code: "0100000009".parse::<TaxCode>().unwrap(),
            name: "Mạng Xã Hội Mẫu".to_owned(),
            kind: OrganisationKind::Platform,
            parent_id: None,
        })
        .await
        .unwrap();
    let person = store.insert_person(&people(51, 1).remove(0)).await.unwrap();
    let client = NewClient {
        id: "rp-mau".to_owned(),
        organisation_id: platform.id,
        name: "Ứng dụng mẫu".to_owned(),
        redirect_uris: vec!["https://rp.example.vn/cb".to_owned()],
        sector: "rp.example.vn".to_owned(),
        scopes: "openid verified age".to_owned(),
        require_par: true,
        min_level: EidLevel::Level1,
        id_token_alg: SignatureAlgorithm::MlDsa65,
        auth: ClientAuth::PrivateKeyJwt {
            jwks: r#"{"keys":[]}"#.to_owned(),
        },
    };
    let oidc = store.oidc();
    oidc.insert_client(&client).await.unwrap();
    (oidc, person.id, client)
}

async fn oidc_other_person(db: &TestDb) -> PersonId {
    db.store
        .insert_person(&people(52, 1).remove(0))
        .await
        .unwrap()
        .id
}

fn minutes(n: i64) -> Timestamp {
    Timestamp::now() + jiff::SignedDuration::from_mins(n)
}

async fn oidc_clients_register_once_for_a_known_organisation(db: &TestDb) {
    let (oidc, _, client) = oidc_setup(db).await;
    let found = oidc.find_client("rp-mau").await.unwrap().unwrap();
    assert_eq!(found.registration.redirect_uris, client.redirect_uris);
    assert_eq!(found.registration.auth, client.auth);
    assert_eq!(found.registration.id_token_alg, SignatureAlgorithm::MlDsa65);
    assert!(found.registration.require_par);
    assert!(found.disabled_at.is_none());
    assert!(matches!(
        oidc.insert_client(&client).await,
        Err(StoreError::Conflict("client"))
    ));
    let secret = ApiToken::generate().unwrap();
    let legacy = NewClient {
        id: "rp-cu".to_owned(),
        organisation_id: OrganisationId::generate(),
        auth: ClientAuth::SecretBasic {
            secret_hash: secret.hash(),
        },
        id_token_alg: SignatureAlgorithm::EcdsaP256,
        ..client.clone()
    };
    assert!(matches!(
        oidc.insert_client(&legacy).await,
        Err(StoreError::InvalidReference("organisation"))
    ));
    let legacy = NewClient {
        organisation_id: client.organisation_id,
        ..legacy
    };
    oidc.insert_client(&legacy).await.unwrap();
    let listed = oidc.list_clients().await.unwrap();
    assert_eq!(listed.len(), 2);
    let found = oidc.find_client("rp-cu").await.unwrap().unwrap();
    let ClientAuth::SecretBasic { secret_hash } = found.registration.auth else {
        panic!("auth method changed on the way through the store");
    };
    assert!(secret_hash.matches(&TokenHash::of(secret.reveal())));
    assert!(oidc.find_client("rp-khac").await.unwrap().is_none());

    // Clients of one sector receive the same pairwise subjects: a sector belongs to one
    // organisation.
    let elsewhere = db
        .store
        .insert_organisation(&NewOrganisation {
            tax_code: "0100000011".parse::<TaxCode>().unwrap(),
            name: "Tổ Chức Khác".to_owned(),
            kind: OrganisationKind::Platform,
            parent_id: None,
        })
        .await
        .unwrap();
    assert!(matches!(
        oidc.insert_client(&NewClient {
            id: "rp-same-sector".to_owned(),
            organisation_id: elsewhere.id,
            ..client.clone()
        })
        .await,
        Err(StoreError::Conflict("sector"))
    ));
    assert!(oidc.find_client("rp-same-sector").await.unwrap().is_none());
}

async fn oidc_accounts_count_failures_and_refuse_reused_totp_steps(db: &TestDb) {
    let (oidc, person, _) = oidc_setup(db).await;
    let secret = b"totp secret of twenty".to_vec();
    let account = NewAccount {
        person_id: person,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        totp_secret: Some(zeroize::Zeroizing::new(secret.clone())),
        passkey: None,
    };
    oidc.insert_account(&account).await.unwrap();
    assert!(matches!(
        oidc.insert_account(&account).await,
        Err(StoreError::Conflict("account"))
    ));
    assert!(matches!(
        oidc.insert_account(&NewAccount {
            person_id: PersonId::generate(),
            ..account.clone()
        })
        .await,
        Err(StoreError::InvalidReference("person"))
    ));
    let found = oidc.find_account(person).await.unwrap().unwrap();
    assert_eq!(found.password_hash, account.password_hash);
    assert_eq!(found.totp_secret.as_deref().unwrap(), secret.as_slice());
    assert_eq!(found.failed_logins, 0);
    // The TOTP secret is key material: sealed, never in clear in the database.
    let raw = db.raw_dump().await;
    assert!(!raw.windows(secret.len()).any(|w| w == secret.as_slice()));

    assert_eq!(oidc.record_failed_login(person).await.unwrap(), 1);
    assert_eq!(oidc.record_failed_login(person).await.unwrap(), 2);
    let until = minutes(5);
    oidc.lock_account(person, until).await.unwrap();
    let locked = oidc.find_account(person).await.unwrap().unwrap();
    assert_eq!(locked.failed_logins, 2);
    assert_eq!(
        locked.locked_until.map(|t| t.as_microsecond()),
        Some(until.as_microsecond())
    );
    oidc.reset_failed_logins(person).await.unwrap();
    let reset = oidc.find_account(person).await.unwrap().unwrap();
    assert_eq!((reset.failed_logins, reset.locked_until), (0, None));
    assert!(matches!(
        oidc.record_failed_login(PersonId::generate()).await,
        Err(StoreError::NotFound("account"))
    ));

    assert!(oidc.use_totp_step(person, 100).await.unwrap());
    assert!(
        !oidc.use_totp_step(person, 100).await.unwrap(),
        "same step twice"
    );
    assert!(
        !oidc.use_totp_step(person, 99).await.unwrap(),
        "an older step"
    );
    assert!(oidc.use_totp_step(person, 101).await.unwrap());
}

async fn oidc_passkeys_are_sealed_and_unique_and_ceremonies_taken_once(db: &TestDb) {
    let (oidc, person, _) = oidc_setup(db).await;
    let credential = b"credential of a passkey".to_vec();
    let id_hash = TokenHash::of("credential-id");
    let passkey = NewPasskey {
        id_hash,
        credential: zeroize::Zeroizing::new(credential.clone()),
    };
    let account = NewAccount {
        person_id: person,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        totp_secret: None,
        passkey: Some(passkey.clone()),
    };
    oidc.insert_account(&account).await.unwrap();
    let found = oidc.find_account(person).await.unwrap().unwrap();
    assert_eq!((found.passkeys, found.totp_secret.is_none()), (1, true));
    let listed = oidc.list_passkeys(person).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].0.matches(&id_hash));
    assert_eq!(listed[0].1.as_slice(), credential.as_slice());
    let raw = db.raw_dump().await;
    assert!(
        !raw.windows(credential.len())
            .any(|w| w == credential.as_slice())
    );

    // The same credential for another person: refused, and that account is not made either.
    let other = oidc_other_person(db).await;
    assert!(matches!(
        oidc.insert_account(&NewAccount {
            person_id: other,
            ..account.clone()
        })
        .await,
        Err(StoreError::Conflict("passkey"))
    ));
    assert!(oidc.find_account(other).await.unwrap().is_none());

    let updated = b"credential, counter moved".to_vec();
    oidc.update_passkey(person, &id_hash, Some(&updated))
        .await
        .unwrap();
    oidc.update_passkey(person, &id_hash, None).await.unwrap();
    assert_eq!(
        oidc.list_passkeys(person).await.unwrap()[0].1.as_slice(),
        updated.as_slice()
    );
    assert!(matches!(
        oidc.update_passkey(other, &id_hash, None).await,
        Err(StoreError::NotFound("passkey"))
    ));

    let ceremony = TokenHash::of("ceremony reference");
    let state = b"challenge state".to_vec();
    let now = Timestamp::now();
    oidc.insert_ceremony(&TokenHash::of("stale"), person, b"old", now)
        .await
        .unwrap();
    oidc.insert_ceremony(&ceremony, person, b"replaced", minutes(5))
        .await
        .unwrap();
    oidc.insert_ceremony(&ceremony, person, &state, minutes(5))
        .await
        .unwrap();
    let raw = db.raw_dump().await;
    assert!(!raw.windows(state.len()).any(|w| w == state.as_slice()));
    let taken = oidc.take_ceremony(&ceremony, now).await.unwrap().unwrap();
    assert_eq!(
        (taken.person_id, taken.state.as_slice()),
        (person, state.as_slice())
    );
    assert!(oidc.take_ceremony(&ceremony, now).await.unwrap().is_none());
    assert!(
        oidc.take_ceremony(&TokenHash::of("stale"), minutes(1))
            .await
            .unwrap()
            .is_none(),
        "an expired ceremony is gone"
    );
}

async fn oidc_service_tokens_expire_and_pairwise_subjects_resolve(db: &TestDb) {
    let (oidc, person, client) = oidc_setup(db).await;
    let now = Timestamp::now();
    let token = ServiceToken {
        client_id: client.id.clone(),
        scopes: "bindings".to_owned(),
        expires_at: Timestamp::from_microsecond(minutes(10).as_microsecond()).unwrap(),
    };
    let hash = TokenHash::of("service token");
    oidc.insert_service_token(&hash, &token).await.unwrap();
    assert_eq!(
        oidc.find_service_token(&hash, now).await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(
        oidc.find_service_token(&hash, minutes(11)).await.unwrap(),
        None
    );
    assert_eq!(
        oidc.find_service_token(&TokenHash::of("another"), now)
            .await
            .unwrap(),
        None
    );
    // Revoked by its own client only.
    oidc.delete_service_token(&hash, "rp-khac").await.unwrap();
    assert!(oidc.find_service_token(&hash, now).await.unwrap().is_some());
    oidc.delete_service_token(&hash, &client.id).await.unwrap();
    assert_eq!(oidc.find_service_token(&hash, now).await.unwrap(), None);
    assert!(matches!(
        oidc.insert_service_token(
            &TokenHash::of("for nobody"),
            &ServiceToken {
                client_id: "rp-khac".to_owned(),
                ..token.clone()
            }
        )
        .await,
        Err(StoreError::InvalidReference("client"))
    ));

    oidc.record_subject("rp.example.vn", "sub-1", person)
        .await
        .unwrap();
    // Recording it again is no error and changes nothing.
    oidc.record_subject("rp.example.vn", "sub-1", person)
        .await
        .unwrap();
    assert_eq!(
        oidc.find_subject("rp.example.vn", "sub-1").await.unwrap(),
        Some(person)
    );
    assert_eq!(
        oidc.find_subject("other.example.vn", "sub-1")
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        oidc.record_subject("rp.example.vn", "sub-2", PersonId::generate())
            .await,
        Err(StoreError::InvalidReference("person"))
    ));
}

async fn bindings_are_limited_per_person_and_platform_and_sealed(db: &TestDb) {
    let (_, person, client) = oidc_setup(db).await;
    let store = &db.store;
    let bindings = store.bindings();
    let other_platform = store
        .insert_organisation(&NewOrganisation {
            tax_code: "0100000010".parse::<TaxCode>().unwrap(),
            name: "Mạng Xã Hội Khác".to_owned(),
            kind: OrganisationKind::Platform,
            parent_id: None,
        })
        .await
        .unwrap();
    let disclosure = NewDisclosure {
        subject: person,
        recipient: Recipient::Organisation(client.organisation_id),
        fields: vec!["verified"],
        purpose: Purpose::new("account binding").unwrap(),
        legal_basis: "legal-obligation",
    };
    let binding = |handle: &str| NewBinding {
        organisation_id: client.organisation_id,
        person_id: person,
        subject: "sub-of-the-person".to_owned(),
        handle: handle.to_owned(),
        status: BindingStatus::Active,
        guardian_consent: None,
        age_bracket: None,
    };
    let first = bindings
        .insert_binding(&binding("@tran.thi.mai.0815"), 2, &disclosure)
        .await
        .unwrap()
        .0;
    assert_eq!(first.status, BindingStatus::Active);
    // One handle, one binding on a platform; another platform may bind the same handle.
    assert!(matches!(
        bindings
            .insert_binding(&binding("@tran.thi.mai.0815"), 2, &disclosure)
            .await,
        Err(StoreError::Conflict("handle"))
    ));
    bindings
        .insert_binding(
            &NewBinding {
                organisation_id: other_platform.id,
                ..binding("@tran.thi.mai.0815")
            },
            2,
            &disclosure,
        )
        .await
        .unwrap();
    bindings
        .insert_binding(&binding("@mai.second"), 2, &disclosure)
        .await
        .unwrap();
    // The third on the first platform is over the limit of two, and nothing is written.
    assert!(matches!(
        bindings
            .insert_binding(&binding("@mai.third"), 2, &disclosure)
            .await,
        Err(StoreError::Limit("bindings"))
    ));
    let found = bindings
        .find_binding(client.organisation_id, first.id)
        .await
        .unwrap();
    assert_eq!(found, Some(first.clone()));
    assert_eq!(
        bindings
            .find_binding(other_platform.id, first.id)
            .await
            .unwrap(),
        None,
        "another platform's binding is not found"
    );
    assert!(matches!(
        bindings
            .insert_binding(
                &NewBinding {
                    person_id: PersonId::generate(),
                    ..binding("@nobody")
                },
                2,
                &disclosure,
            )
            .await,
        Err(StoreError::InvalidReference("person"))
    ));
    // The person's own list, and a change of state that only their bindings take.
    let mine = bindings.list_bindings_of(person).await.unwrap();
    assert_eq!(mine.len(), 3);
    assert_eq!(mine[0], first);
    let unlinked = bindings
        .update_binding(person, first.id, BindingStatus::Unlinked, None, None)
        .await
        .unwrap();
    assert_eq!(unlinked.status, BindingStatus::Unlinked);
    assert!(unlinked.updated_at >= first.updated_at);
    assert!(matches!(
        bindings
            .update_binding(
                PersonId::generate(),
                first.id,
                BindingStatus::Active,
                None,
                None
            )
            .await,
        Err(StoreError::NotFound("binding"))
    ));
    // An unlinked binding no longer counts: the person may bind another.
    bindings
        .insert_binding(&binding("@mai.third"), 2, &disclosure)
        .await
        .unwrap();
    let raw = db.raw_dump().await;
    let handle = b"@tran.thi.mai.0815";
    assert!(!raw.windows(handle.len()).any(|w| w == handle));
}

async fn oidc_sessions_end_when_they_expire_or_are_deleted(db: &TestDb) {
    let (oidc, person, _) = oidc_setup(db).await;
    let id = ApiToken::generate().unwrap();
    let session = LoginSession {
        person_id: person,
        eid_level: EidLevel::Level1,
        auth_time: Timestamp::from_microsecond(Timestamp::now().as_microsecond()).unwrap(),
        expires_at: Timestamp::from_microsecond(minutes(30).as_microsecond()).unwrap(),
    };
    oidc.insert_session(&id.hash(), &session).await.unwrap();
    let now = Timestamp::now();
    assert_eq!(
        oidc.find_session(&id.hash(), now).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(
        oidc.find_session(&id.hash(), minutes(31)).await.unwrap(),
        None
    );
    assert_eq!(
        oidc.find_session(&TokenHash::of("another"), now)
            .await
            .unwrap(),
        None
    );
    oidc.delete_session(&id.hash()).await.unwrap();
    assert_eq!(oidc.find_session(&id.hash(), now).await.unwrap(), None);
    oidc.delete_session(&id.hash()).await.unwrap();
}

async fn signing_out_everywhere_ends_sessions_and_grants_and_tells_every_platform(db: &TestDb) {
    let (oidc, guardian, client) = oidc_setup(db).await;
    let child = oidc_other_person(db).await;
    let session = |person| LoginSession {
        person_id: person,
        eid_level: EidLevel::Level1,
        auth_time: Timestamp::from_microsecond(Timestamp::now().as_microsecond()).unwrap(),
        expires_at: Timestamp::from_microsecond(minutes(30).as_microsecond()).unwrap(),
    };
    let (mine, childs) = (ApiToken::generate().unwrap(), ApiToken::generate().unwrap());
    oidc.insert_session(&mine.hash(), &session(guardian))
        .await
        .unwrap();
    oidc.insert_session(&childs.hash(), &session(child))
        .await
        .unwrap();
    let grant = |person, actor| NewGrant {
        client_id: client.id.clone(),
        person_id: person,
        scopes: "openid".to_owned(),
        redirect_uri: client.redirect_uris[0].clone(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        nonce: None,
        eid_level: EidLevel::Level1,
        actor_id: actor,
        auth_time: Timestamp::from_microsecond(Timestamp::now().as_microsecond()).unwrap(),
    };
    let token = |kind, expires_at| NewToken {
        hash: ApiToken::generate().unwrap().hash(),
        kind,
        expires_at,
    };
    let mut grants = Vec::new();
    for (person, actor, live) in [
        (guardian, None, false),
        (child, Some(guardian), false),
        (child, None, true),
    ] {
        let recorded = oidc
            .insert_grant(&grant(person, actor), &token(TokenKind::Code, minutes(1)))
            .await
            .unwrap();
        grants.push((recorded.id, live));
    }

    assert_eq!(oidc.end_sessions(guardian).await.unwrap(), 2);
    let now = Timestamp::now();
    assert_eq!(oidc.find_session(&mine.hash(), now).await.unwrap(), None);
    assert!(
        oidc.find_session(&childs.hash(), now)
            .await
            .unwrap()
            .is_some(),
        "the child's own session stays"
    );
    // Issuing on each grant tells whether it is live: the guardian's and the one they made
    // for the child are revoked, the child's own is not.
    for (id, live) in grants {
        let issued = oidc
            .issue_tokens(
                id,
                None,
                &[token(TokenKind::Access, minutes(10))],
                &disclosure(guardian, &["sub"]),
                String::new(),
            )
            .await
            .unwrap();
        assert_eq!(matches!(issued, Issued::Disclosed(_)), live, "{id}");
    }
    // The guardian's platforms hear of it, and the child's.
    let mut told: Vec<String> = db
        .store
        .signals()
        .list_signals(10)
        .await
        .unwrap()
        .into_iter()
        .filter(|signal| signal.event == "session-revoked")
        .map(|signal| {
            assert_eq!(signal.detail["initiating_entity"], "user");
            signal.person_id.unwrap().to_string()
        })
        .collect();
    told.sort();
    let mut expected = vec![guardian.to_string(), child.to_string()];
    expected.sort();
    assert_eq!(told, expected);
    assert_eq!(
        oidc.end_sessions(guardian).await.unwrap(),
        0,
        "nothing left"
    );
}

async fn oidc_authorization_requests_are_taken_once(db: &TestDb) {
    let (oidc, _, client) = oidc_setup(db).await;
    let reference = TokenHash::of("urn:ietf:params:oauth:request_uri:abc");
    let request = PendingRequest {
        client_id: client.id.clone(),
        params: r#"[["scope","openid age"]]"#.to_owned(),
        expires_at: Timestamp::from_microsecond(minutes(1).as_microsecond()).unwrap(),
    };
    oidc.insert_authorization_request(&reference, RequestKind::Pushed, &request)
        .await
        .unwrap();
    let now = Timestamp::now();
    let find = |kind, at| {
        let oidc = Arc::clone(&oidc);
        async move {
            oidc.find_authorization_request(&reference, kind, at)
                .await
                .unwrap()
        }
    };
    assert_eq!(find(RequestKind::Pushed, now).await, Some(request.clone()));
    assert_eq!(find(RequestKind::Pushed, now).await, Some(request.clone()));
    assert_eq!(find(RequestKind::Interaction, now).await, None);
    assert_eq!(find(RequestKind::Pushed, minutes(2)).await, None, "lapsed");
    // Of several concurrent takers, exactly one gets the request.
    let takers: Vec<_> = (0..6)
        .map(|_| {
            let oidc = Arc::clone(&oidc);
            tokio::spawn(async move {
                oidc.take_authorization_request(&reference, RequestKind::Pushed, now)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut taken = 0;
    for taker in takers {
        if let Some(got) = taker.await.unwrap() {
            assert_eq!(got, request);
            taken += 1;
        }
    }
    assert_eq!(taken, 1);
    assert_eq!(find(RequestKind::Pushed, now).await, None);
    assert!(matches!(
        oidc.insert_authorization_request(
            &TokenHash::of("other"),
            RequestKind::Pushed,
            &PendingRequest {
                client_id: "no-such-client".to_owned(),
                ..request
            }
        )
        .await,
        Err(StoreError::InvalidReference("client"))
    ));
}

async fn oidc_consents_are_recorded_with_their_disclosure(db: &TestDb) {
    let (oidc, person, client) = oidc_setup(db).await;
    assert_eq!(oidc.find_consent(person, &client.id).await.unwrap(), None);
    let consent = |scopes: &'static str| {
        let oidc = Arc::clone(&oidc);
        let client = client.id.clone();
        async move {
            oidc.record_consent(person, &client, scopes, &disclosure(person, &["consent"]))
                .await
        }
    };
    consent("openid age").await.unwrap();
    consent("openid age verified").await.unwrap();
    assert_eq!(
        oidc.find_consent(person, &client.id)
            .await
            .unwrap()
            .as_deref(),
        Some("openid age verified")
    );
    let log = db
        .store
        .disclosure_log()
        .list_subject_entries(person)
        .await
        .unwrap();
    assert_eq!(log.entries.len(), 2);
    // A consent for an unknown client writes neither the consent nor its record.
    assert!(matches!(
        oidc.record_consent(
            person,
            "no-such-client",
            "openid",
            &disclosure(person, &["consent"])
        )
        .await,
        Err(StoreError::InvalidReference(_))
    ));
    let log = db
        .store
        .disclosure_log()
        .list_subject_entries(person)
        .await
        .unwrap();
    assert_eq!(log.entries.len(), 2);
}

async fn oidc_codes_are_single_use_and_a_replay_revokes_the_grant(db: &TestDb) {
    let (oidc, person, client) = oidc_setup(db).await;
    let grant = NewGrant {
        client_id: client.id.clone(),
        person_id: person,
        scopes: "openid age".to_owned(),
        redirect_uri: client.redirect_uris[0].clone(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        nonce: Some("n-0S6_WzA2Mj".to_owned()),
        eid_level: EidLevel::Level1,
        // A guardian signing in for the person: the actor comes back with the grant.
        actor_id: Some(oidc_other_person(db).await),
        auth_time: Timestamp::from_microsecond(Timestamp::now().as_microsecond()).unwrap(),
    };
    let token = |kind, expires_at| NewToken {
        hash: ApiToken::generate().unwrap().hash(),
        kind,
        expires_at,
    };
    let code = token(TokenKind::Code, minutes(1));
    let recorded = oidc.insert_grant(&grant, &code).await.unwrap();
    assert_eq!(recorded.grant, grant);
    let now = Timestamp::now();
    assert_eq!(
        oidc.redeem(TokenKind::Refresh, &code.hash, now)
            .await
            .unwrap(),
        Redemption::Unknown,
        "a code is not a refresh token"
    );
    let Redemption::Redeemed(redeemed) =
        oidc.redeem(TokenKind::Code, &code.hash, now).await.unwrap()
    else {
        panic!("a fresh code must redeem");
    };
    assert_eq!(redeemed.grant.id, recorded.id);
    assert_eq!(
        redeemed.person.id, person,
        "the grant comes with its person"
    );
    let access = token(TokenKind::Access, minutes(10));
    let refresh = token(TokenKind::Refresh, minutes(60));
    let log = db.store.disclosure_log();
    let before = log
        .list_subject_entries(person)
        .await
        .unwrap()
        .entries
        .len();
    let Issued::Disclosed(released) = oidc
        .issue_tokens(
            recorded.id,
            None,
            &[access.clone(), refresh.clone()],
            &disclosure(
                person,
                &["sub", "age_over_13", "age_over_16", "age_over_18"],
            ),
            "{\"id_token\":\"…\"}".to_owned(),
        )
        .await
        .unwrap()
    else {
        panic!("a live grant issues");
    };
    assert_eq!(released.value(), "{\"id_token\":\"…\"}");
    let entries = log.list_subject_entries(person).await.unwrap().entries;
    assert_eq!(entries.len(), before + 1);
    let found = oidc.find_token(&access.hash).await.unwrap().unwrap();
    assert_eq!(found.kind, TokenKind::Access);
    assert_eq!(found.grant.id, recorded.id);
    assert!(found.grant.revoked_at.is_none());

    // The refresh token rotates once, spent in the transaction that writes the next one: a
    // peek spends nothing, and of two issues spending it only the first writes anything.
    for _ in 0..2 {
        let Redemption::Redeemed(peeked) = oidc
            .peek(TokenKind::Refresh, &refresh.hash, now)
            .await
            .unwrap()
        else {
            panic!("an unused refresh token is usable");
        };
        assert_eq!(peeked.grant.id, recorded.id);
        assert_eq!(peeked.person.id, person);
    }
    assert_eq!(
        oidc.peek(TokenKind::Code, &refresh.hash, now)
            .await
            .unwrap(),
        Redemption::Unknown
    );
    assert_eq!(
        oidc.peek(TokenKind::Refresh, &refresh.hash, minutes(61))
            .await
            .unwrap(),
        Redemption::Expired
    );
    let recorded_before = log
        .list_subject_entries(person)
        .await
        .unwrap()
        .entries
        .len();
    // Issues `new` on the grant, spending the refresh token at `at`.
    let rotate = async |at: Timestamp, new: &NewToken| {
        oidc.issue_tokens(
            recorded.id,
            Some((&refresh.hash, at)),
            std::slice::from_ref(new),
            &disclosure(person, &["sub"]),
            String::new(),
        )
        .await
        .unwrap()
    };
    let lapsed = token(TokenKind::Refresh, minutes(60));
    assert_eq!(
        rotate(minutes(61), &lapsed).await,
        Issued::Refused(Redemption::Expired),
        "a lapsed refresh token issues nothing"
    );
    assert!(oidc.find_token(&lapsed.hash).await.unwrap().is_none());
    let next = token(TokenKind::Refresh, minutes(60));
    assert!(matches!(rotate(now, &next).await, Issued::Disclosed(_)));
    let other = token(TokenKind::Refresh, minutes(60));
    assert_eq!(
        rotate(now, &other).await,
        Issued::Refused(Redemption::Replayed),
        "a refresh token spent twice is a replay"
    );
    assert!(oidc.find_token(&other.hash).await.unwrap().is_none());
    assert_eq!(
        oidc.peek(TokenKind::Refresh, &next.hash, now)
            .await
            .unwrap(),
        Redemption::Revoked,
        "the replay revoked the grant, and the token it rotated to"
    );
    assert_eq!(
        log.list_subject_entries(person)
            .await
            .unwrap()
            .entries
            .len(),
        recorded_before + 1,
        "only the issue that spent the token is recorded"
    );
    // The replay revoked the grant; a fresh grant carries on.
    let code2 = token(TokenKind::Code, minutes(1));
    let recorded = oidc.insert_grant(&grant, &code2).await.unwrap();
    let Redemption::Redeemed(_) = oidc
        .redeem(TokenKind::Code, &code2.hash, now)
        .await
        .unwrap()
    else {
        panic!("a fresh code must redeem");
    };
    let access = token(TokenKind::Access, minutes(10));
    let next = token(TokenKind::Refresh, minutes(60));
    assert!(matches!(
        oidc.issue_tokens(
            recorded.id,
            None,
            &[access.clone(), next.clone()],
            &disclosure(person, &["sub"]),
            String::new(),
        )
        .await
        .unwrap(),
        Issued::Disclosed(_)
    ));
    assert_eq!(
        oidc.redeem(TokenKind::Code, &code.hash, now).await.unwrap(),
        Redemption::Replayed
    );
    let code = code2;

    // The code again: refused, and everything the grant issued is revoked.
    assert_eq!(
        oidc.redeem(TokenKind::Code, &code.hash, now).await.unwrap(),
        Redemption::Replayed
    );
    let found = oidc.find_token(&access.hash).await.unwrap().unwrap();
    assert!(found.grant.revoked_at.is_some());
    assert_eq!(
        oidc.redeem(TokenKind::Refresh, &next.hash, now)
            .await
            .unwrap(),
        Redemption::Revoked
    );
    let after = log
        .list_subject_entries(person)
        .await
        .unwrap()
        .entries
        .len();
    assert_eq!(
        oidc.issue_tokens(
            recorded.id,
            None,
            &[token(TokenKind::Access, minutes(10))],
            &disclosure(person, &["sub"]),
            String::new(),
        )
        .await
        .unwrap(),
        Issued::Refused(Redemption::Revoked)
    );
    assert_eq!(
        log.list_subject_entries(person)
            .await
            .unwrap()
            .entries
            .len(),
        after,
        "a refused issue records nothing"
    );

    // A lapsed code, and an unknown one.
    let late = token(TokenKind::Code, minutes(1));
    oidc.insert_grant(&grant, &late).await.unwrap();
    assert_eq!(
        oidc.redeem(TokenKind::Code, &late.hash, minutes(2))
            .await
            .unwrap(),
        Redemption::Expired
    );
    assert_eq!(
        oidc.redeem(TokenKind::Code, &TokenHash::of("nothing"), now)
            .await
            .unwrap(),
        Redemption::Unknown
    );

    // Many codes redeemed at once (the store claims them together): each redeems its own
    // grant.
    let mut codes = Vec::new();
    for _ in 0..24 {
        let code = token(TokenKind::Code, minutes(1));
        let recorded = oidc.insert_grant(&grant, &code).await.unwrap();
        codes.push((code.hash, recorded.id));
    }
    let redeemers: Vec<_> = codes
        .iter()
        .map(|(hash, _)| {
            let oidc = Arc::clone(&oidc);
            let hash = *hash;
            tokio::spawn(async move { oidc.redeem(TokenKind::Code, &hash, now).await.unwrap() })
        })
        .collect();
    for (redeemer, (_, id)) in redeemers.into_iter().zip(&codes) {
        let Redemption::Redeemed(redeemed) = redeemer.await.unwrap() else {
            panic!("each code redeems once");
        };
        assert_eq!(redeemed.grant.id, *id);
        assert_eq!(redeemed.person.id, person);
    }

    // Two concurrent redemptions of one code: one claims it, the other is a replay that
    // revokes the grant. The claimant sees `Redeemed` if it read the grant before the
    // revocation and `Revoked` after; either way nothing more can be issued on the grant.
    let raced = token(TokenKind::Code, minutes(1));
    let raced_grant = oidc.insert_grant(&grant, &raced).await.unwrap();
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let oidc = Arc::clone(&oidc);
            let hash = raced.hash;
            tokio::spawn(async move { oidc.redeem(TokenKind::Code, &hash, now).await.unwrap() })
        })
        .collect();
    let mut outcomes = Vec::new();
    for racer in racers {
        outcomes.push(racer.await.unwrap());
    }
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Redemption::Redeemed(_) | Redemption::Revoked))
            .count(),
        1,
        "{outcomes:?}"
    );
    assert!(outcomes.contains(&Redemption::Replayed), "{outcomes:?}");
    assert_eq!(
        oidc.issue_tokens(
            raced_grant.id,
            None,
            &[token(TokenKind::Access, minutes(10))],
            &disclosure(person, &["sub"]),
            String::new(),
        )
        .await
        .unwrap(),
        Issued::Refused(Redemption::Revoked)
    );
    oidc.revoke_grant(raced_grant.id).await.unwrap();
    assert!(matches!(
        oidc.revoke_grant(uuid::Uuid::now_v7().to_string().parse::<GrantId>().unwrap())
            .await,
        Err(StoreError::NotFound("grant"))
    ));
}

async fn signals_fan_out_once_and_leave_the_outbox_when_delivered(db: &TestDb) {
    let (_, person, client) = oidc_setup(db).await;
    let store = &db.store;
    let signals = store.signals();
    let stream = |method: &str| dinhdanh_store::NewStream {
        client_id: client.id.clone(),
        config: "{}".to_owned(),
        method: method.to_owned(),
        authorization: (method == "push").then(|| "Bearer secret".to_owned()),
        status: "enabled".to_owned(),
        reason: None,
    };
    let pushed = signals.insert_stream(&stream("push")).await.unwrap();
    let polled = signals.insert_stream(&stream("poll")).await.unwrap();
    assert_eq!(
        signals
            .find_stream(&client.id, &pushed.id)
            .await
            .unwrap()
            .unwrap()
            .authorization
            .as_deref(),
        Some("Bearer secret")
    );
    assert!(
        signals
            .find_stream("other-client", &pushed.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(signals.list_streams(&client.id).await.unwrap().len(), 2);

    // Nobody holds a binding yet: no stream hears of the person, unless it adds them.
    assert!(
        signals
            .list_streams_reaching(person, None)
            .await
            .unwrap()
            .is_empty()
    );
    signals
        .update_stream_subject(&polled.id, person, true)
        .await
        .unwrap();
    let reach = signals.list_streams_reaching(person, None).await.unwrap();
    assert_eq!(
        reach
            .iter()
            .map(|r| r.stream_id.as_str())
            .collect::<Vec<_>>(),
        [polled.id.as_str()]
    );
    store
        .bindings()
        .insert_binding(
            &NewBinding {
                organisation_id: client.organisation_id,
                person_id: person,
                subject: "sub".to_owned(),
                handle: "@mot".to_owned(),
                status: BindingStatus::Active,
                guardian_consent: None,
                age_bracket: None,
            },
            5,
            &NewDisclosure {
                subject: person,
                recipient: Recipient::Organisation(client.organisation_id),
                fields: vec!["verified"],
                purpose: Purpose::new("account binding").unwrap(),
                legal_basis: "legal-obligation",
            },
        )
        .await
        .unwrap();
    signals
        .update_stream_subject(&polled.id, person, false)
        .await
        .unwrap();
    let reach = signals.list_streams_reaching(person, None).await.unwrap();
    assert_eq!(
        reach
            .iter()
            .map(|r| r.stream_id.as_str())
            .collect::<Vec<_>>(),
        [pushed.id.as_str()]
    );

    // A change of status writes its signal in the same transaction; a no-op writes none.
    store
        .update_person(
            person,
            &PersonUpdate {
                status: Some(PersonStatus::Suspended),
                eid_level: None,
            },
        )
        .await
        .unwrap();
    store
        .update_person(
            person,
            &PersonUpdate {
                status: Some(PersonStatus::Suspended),
                eid_level: None,
            },
        )
        .await
        .unwrap();
    let waiting = signals.list_signals(10).await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].event, "account-disabled");
    assert_eq!(waiting[0].person_id, Some(person));
    let event = serde_json::json!({"type": "account-disabled"});
    let deliveries = vec![
        (pushed.id.clone(), event.clone()),
        (polled.id.clone(), event),
    ];
    let fan_out = dinhdanh_store::FanOut {
        signal: waiting[0].id.clone(),
        deliveries,
        disclosures: Vec::new(),
    };
    assert_eq!(
        signals
            .fan_out(&[fan_out.clone(), fan_out.clone()])
            .await
            .unwrap(),
        [true, false],
        "once only, even twice in one batch"
    );
    assert_eq!(signals.fan_out(&[fan_out]).await.unwrap(), [false]);
    assert!(signals.list_signals(10).await.unwrap().is_empty());

    // Pushes are leased: a second claim gets nothing until the lease ends.
    let lease = jiff::SignedDuration::from_secs(60);
    let due = signals
        .claim_pushes(Timestamp::now(), lease, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].authorization.as_deref(), Some("Bearer secret"));
    assert!(
        signals
            .claim_pushes(Timestamp::now(), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let soon = Timestamp::now();
    signals
        .update_pushes(&[(
            due[0].jti.clone(),
            dinhdanh_store::PushResult::Retry(soon, "HTTP 503".to_owned()),
        )])
        .await
        .unwrap();
    let again = signals
        .claim_pushes(Timestamp::now(), lease, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].jti, due[0].jti);
    assert_eq!(again[0].attempts, 1);
    // Deferred: due again at once, no attempt counted.
    signals
        .update_pushes(&[(due[0].jti.clone(), dinhdanh_store::PushResult::Deferred)])
        .await
        .unwrap();
    let deferred = signals
        .claim_pushes(Timestamp::now(), lease, 10)
        .await
        .unwrap();
    assert_eq!(deferred.len(), 1);
    assert_eq!(deferred[0].attempts, 1);
    signals
        .update_pushes(&[(due[0].jti.clone(), dinhdanh_store::PushResult::Delivered)])
        .await
        .unwrap();
    assert!(signals.next_push_at().await.unwrap().is_none());

    // Polled events stay until acknowledged.
    let (events, more) = signals.list_polled(&polled.id, 10).await.unwrap();
    assert_eq!((events.len(), more), (1, false));
    let (events, _) = signals.list_polled(&polled.id, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    signals
        .acknowledge(&polled.id, &[events[0].jti.clone()], &[])
        .await
        .unwrap();
    assert!(
        signals
            .list_polled(&polled.id, 10)
            .await
            .unwrap()
            .0
            .is_empty()
    );

    // Delivered and acknowledged events are swept once old enough.
    let hour = jiff::SignedDuration::from_hours(1);
    assert_eq!(
        signals.sweep_outbox(Timestamp::now() - hour).await.unwrap(),
        0
    );
    assert_eq!(
        signals.sweep_outbox(Timestamp::now() + hour).await.unwrap(),
        2
    );

    signals.delete_stream(&client.id, &pushed.id).await.unwrap();
    assert!(matches!(
        signals.delete_stream(&client.id, &pushed.id).await,
        Err(StoreError::NotFound("stream"))
    ));
}

async fn ages_are_watched_until_18_and_each_crossing_announced_once(db: &TestDb) {
    let (_, person, client) = oidc_setup(db).await;
    let store = &db.store;
    let signals = store.signals();
    let bind = |handle: &str, bracket| NewBinding {
        organisation_id: client.organisation_id,
        person_id: person,
        subject: "sub".to_owned(),
        handle: handle.to_owned(),
        status: BindingStatus::Active,
        guardian_consent: None,
        age_bracket: Some(bracket),
    };
    let disclosure = NewDisclosure {
        subject: person,
        recipient: Recipient::Organisation(client.organisation_id),
        fields: vec!["verified"],
        purpose: Purpose::new("account binding").unwrap(),
        legal_basis: "legal-obligation",
    };
    let bindings = store.bindings();
    // An adult's binding is not watched; a minor's is, from their first binding on.
    bindings
        .insert_binding(&bind("@a", AgeBracket::Adult), 5, &disclosure)
        .await
        .unwrap();
    assert!(signals.list_age_watch(None, 10).await.unwrap().is_empty());
    bindings
        .insert_binding(&bind("@b", AgeBracket::From13To15), 5, &disclosure)
        .await
        .unwrap();
    bindings
        .insert_binding(&bind("@c", AgeBracket::Under13), 5, &disclosure)
        .await
        .unwrap();
    let watched = signals.list_age_watch(None, 10).await.unwrap();
    assert_eq!(watched.len(), 1);
    let first = watched[0].clone();
    assert_eq!(first.person.id, person);
    assert_eq!(
        first.announced,
        AgeBracket::From13To15,
        "the first bracket stays"
    );
    assert!(
        signals
            .list_age_watch(Some(person), 10)
            .await
            .unwrap()
            .is_empty(),
        "paging goes past the last id"
    );

    // Turning 16: one signal, and a second announcer with the same reading does nothing.
    let at = Timestamp::now();
    assert!(
        signals
            .announce_age(&first, AgeBracket::From16To17, at)
            .await
            .unwrap()
    );
    assert!(
        !signals
            .announce_age(&first, AgeBracket::From16To17, at)
            .await
            .unwrap()
    );
    let waiting = signals.list_signals(10).await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].event, "age-bracket-changed");
    assert_eq!(waiting[0].detail["age_over_16"], true);
    assert_eq!(waiting[0].detail["age_over_18"], false);
    assert_eq!(waiting[0].detail["event_timestamp"], at.as_second());
    let nowhere = dinhdanh_store::FanOut {
        signal: waiting[0].id.clone(),
        deliveries: Vec::new(),
        disclosures: Vec::new(),
    };
    assert_eq!(signals.fan_out(&[nowhere]).await.unwrap(), [true]);

    // No crossing, no signal; turning 18 announces and ends the watch.
    let second = signals.list_age_watch(None, 10).await.unwrap().remove(0);
    assert_eq!(second.announced, AgeBracket::From16To17);
    assert!(
        signals
            .announce_age(&second, AgeBracket::From16To17, at)
            .await
            .unwrap()
    );
    assert!(signals.list_signals(10).await.unwrap().is_empty());
    let third = signals.list_age_watch(None, 10).await.unwrap().remove(0);
    assert!(
        signals
            .announce_age(&third, AgeBracket::Adult, at)
            .await
            .unwrap()
    );
    let waiting = signals.list_signals(10).await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].detail["age_over_18"], true);
    assert!(signals.list_age_watch(None, 10).await.unwrap().is_empty());
}

async fn subscriptions_are_limited_sealed_and_follow_the_device_change_timeline(db: &TestDb) {
    use dinhdanh_store::{Cause, FaceCheck, Holder, NewSubscription};
    use dinhdanh_telecom::LineStatus;
    let store = &db.store;
    let operator = |tax: &str, name: &str| NewOrganisation {
        tax_code: tax.parse::<TaxCode>().unwrap(),
        name: name.to_owned(),
        kind: OrganisationKind::TelecomOperator,
        parent_id: None,
    };
    let viettel = store
        .insert_organisation(&operator("0100000011", "Nhà mạng Một"))
        .await
        .unwrap()
        .id;
    let vina = store
        .insert_organisation(&operator("0100000012", "Nhà mạng Hai"))
        .await
        .unwrap()
        .id;
    let person = store
        .insert_person(&people(61, 1).remove(0))
        .await
        .unwrap()
        .id;
    let other = store
        .insert_person(&people(62, 1).remove(0))
        .await
        .unwrap()
        .id;
    let lines = store.subscriptions();
    let face = FaceCheck {
        method: "máy đối chiếu khuôn mặt".to_owned(),
        checked_at: Timestamp::now() - jiff::SignedDuration::from_mins(5),
    };
    let line = |operator_id, number: &str, holder| NewSubscription {
        operator_id,
        msisdn: number.parse().unwrap(),
        holder,
        contract: false,
        activated_on: today(),
        face_check: Some(face.clone()),
    };
    let disclosure = NewDisclosure {
        subject: person,
        recipient: Recipient::Organisation(viettel),
        fields: vec!["subscriber_check"],
        purpose: Purpose::new("registering a telecom subscription").unwrap(),
        legal_basis: "legal-obligation",
    };
    let (first, recorded) = lines
        .insert_subscription(
            &line(viettel, "0961000001", Holder::Person(person)),
            2,
            Some(&disclosure),
        )
        .await
        .unwrap();
    assert!(recorded.is_some());
    assert_eq!(first.status, LineStatus::Active);
    assert!(!first.pending_face_check());
    // One live line a number, whoever holds it and wherever.
    assert!(matches!(
        lines
            .insert_subscription(&line(vina, "+84961000001", Holder::Person(other)), 2, None)
            .await,
        Err(StoreError::Conflict("msisdn"))
    ));
    let facts = lines
        .line_facts(
            vina,
            Holder::Person(other),
            &"0961000001".parse().unwrap(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(facts.msisdn_line, Some((viettel, Holder::Person(person))));
    assert_eq!(facts.held_at_operator, 0);
    lines
        .insert_subscription(
            &NewSubscription {
                face_check: None,
                ..line(viettel, "0961000002", Holder::Person(person))
            },
            2,
            None,
        )
        .await
        .unwrap();
    // The third at one operator is over the limit of two, and nothing is written; another
    // operator counts apart.
    assert!(matches!(
        lines
            .insert_subscription(
                &line(viettel, "0961000003", Holder::Person(person)),
                2,
                None
            )
            .await,
        Err(StoreError::Limit("subscriptions"))
    ));
    lines
        .insert_subscription(&line(vina, "0911000003", Holder::Person(person)), 2, None)
        .await
        .unwrap();
    assert_eq!(
        lines
            .line_facts(
                viettel,
                Holder::Person(person),
                &"0961000009".parse().unwrap(),
                None
            )
            .await
            .unwrap()
            .held_at_operator,
        2
    );
    // An organisation holds lines without a person's limit.
    for n in 4..8 {
        lines
            .insert_subscription(
                &line(
                    viettel,
                    &format!("096100000{n}"),
                    Holder::Organisation(vina),
                ),
                2,
                None,
            )
            .await
            .unwrap();
    }
    // Another operator's line is not found, nor moved.
    assert_eq!(lines.find_subscription(vina, first.id).await.unwrap(), None);
    assert!(matches!(
        lines
            .record_device_change(vina, first.id, Timestamp::now(), Timestamp::now())
            .await,
        Err(StoreError::NotFound("subscription"))
    ));

    // The device-change timeline under a clock of our own.
    let day = |n: i64| Timestamp::now() + jiff::SignedDuration::from_hours(24 * n);
    let checked_on = |n: i64| FaceCheck {
        method: face.method.clone(),
        checked_at: day(n),
    };
    // A change before the line was registered is refused.
    assert!(matches!(
        lines
            .record_device_change(viettel, first.id, day(-400), day(0))
            .await,
        Err(StoreError::Conflict("changed before"))
    ));
    let changed = lines
        .record_device_change(viettel, first.id, day(0), day(0))
        .await
        .unwrap();
    assert_eq!(changed.status, LineStatus::OutgoingSuspended);
    assert_eq!(lines.apply_due(day(29), None, 100).await.unwrap().moved, 0);
    assert_eq!(lines.apply_due(day(30), None, 100).await.unwrap().moved, 1);
    assert_eq!(
        lines.apply_due(day(30), None, 100).await.unwrap().moved,
        0,
        "once only"
    );
    let blocked = lines
        .find_subscription(viettel, first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(blocked.status, LineStatus::Blocked);
    // An attestation older than the change answers nothing.
    assert!(matches!(
        lines
            .record_verification(viettel, first.id, &face, day(31))
            .await,
        Err(StoreError::Conflict("stale attestation"))
    ));
    // Verified again while blocked: active, and the scheduler leaves it.
    let restored = lines
        .record_verification(viettel, first.id, &checked_on(31), day(31))
        .await
        .unwrap();
    assert_eq!(restored.status, LineStatus::Active);
    assert_eq!(restored.device_changed_at, None);
    assert_eq!(lines.apply_due(day(90), None, 100).await.unwrap().moved, 0);
    // Changed again and left: a verification once termination is due finds the line
    // terminated, though the scheduler has not looked yet; it then has nothing to do.
    lines
        .record_device_change(viettel, first.id, day(40), day(40))
        .await
        .unwrap();
    assert!(matches!(
        lines
            .record_verification(viettel, first.id, &checked_on(80), day(80))
            .await,
        Err(StoreError::Conflict("terminated"))
    ));
    assert_eq!(lines.apply_due(day(80), None, 100).await.unwrap().moved, 0);
    let ended = lines
        .find_subscription(viettel, first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.status, LineStatus::Terminated);
    assert!(matches!(
        lines
            .record_verification(viettel, first.id, &checked_on(81), day(81))
            .await,
        Err(StoreError::Conflict("terminated"))
    ));
    // The number is free again once its line is terminated.
    lines
        .insert_subscription(&line(vina, "0961000001", Holder::Person(other)), 2, None)
        .await
        .unwrap();

    let seen = lines.list_transitions(viettel, 0, 100).await.unwrap();
    let steps: Vec<_> = seen.iter().map(|t| (t.from, t.to, t.cause)).collect();
    assert_eq!(
        steps,
        [
            (
                LineStatus::Active,
                LineStatus::OutgoingSuspended,
                Cause::DeviceChange
            ),
            (
                LineStatus::OutgoingSuspended,
                LineStatus::Blocked,
                Cause::Elapsed
            ),
            (LineStatus::Blocked, LineStatus::Active, Cause::Verified),
            (
                LineStatus::Active,
                LineStatus::OutgoingSuspended,
                Cause::DeviceChange
            ),
            (
                LineStatus::OutgoingSuspended,
                LineStatus::Blocked,
                Cause::Elapsed
            ),
            (LineStatus::Blocked, LineStatus::Terminated, Cause::Elapsed),
        ]
    );
    assert!(seen.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    let after = lines
        .list_transitions(viettel, seen[2].seq, 100)
        .await
        .unwrap();
    assert_eq!(after.len(), 3);
    assert!(
        lines
            .list_transitions(vina, 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // Each transition is a signal for the operator: a person's line names the person.
    let signals = store.signals().list_signals(100).await.unwrap();
    let line_signals: Vec<_> = signals
        .iter()
        .filter(|signal| signal.event == "line-status-changed")
        .collect();
    assert_eq!(line_signals.len(), 6);
    assert!(
        line_signals
            .iter()
            .all(|signal| signal.person_id == Some(person))
    );

    // The person's own view, their "not mine", and their verified number.
    let mine = lines.list_subscriptions_of(person).await.unwrap();
    assert_eq!(mine.len(), 3);
    assert_eq!(
        lines
            .verified_msisdn(person)
            .await
            .unwrap()
            .map(|m| m.as_str().to_owned()),
        Some("+84911000003".to_owned()),
        "the newest active, face-checked line"
    );
    let vina_line = mine.iter().find(|l| l.operator_id == vina).unwrap().id;
    assert!(matches!(
        lines.report_not_mine(other, vina_line, day(1)).await,
        Err(StoreError::NotFound("subscription"))
    ));
    let reported = lines
        .report_not_mine(person, vina_line, day(1))
        .await
        .unwrap();
    assert!(reported.reported_at.is_some());
    lines
        .report_not_mine(person, vina_line, day(2))
        .await
        .unwrap();
    assert!(matches!(
        lines.report_not_mine(person, first.id, day(2)).await,
        Err(StoreError::Conflict("terminated"))
    ));
    let vina_seen = lines.list_transitions(vina, 0, 100).await.unwrap();
    assert_eq!(vina_seen.len(), 1, "reported once");
    assert_eq!(vina_seen[0].cause, Cause::ReportedNotMine);
    // A line pending its face check is no verified number; a reported one neither.
    assert_eq!(lines.verified_msisdn(person).await.unwrap(), None);

    // Replacing a line's holder: checked against the limit, and a new holder starts without
    // the old face check.
    let pending = mine.iter().find(|l| l.face_check.is_none()).unwrap();
    let (replaced, _) = lines
        .replace_subscription(
            pending.id,
            &NewSubscription {
                face_check: None,
                ..line(viettel, pending.msisdn.as_str(), Holder::Person(other))
            },
            2,
            None,
        )
        .await
        .unwrap();
    assert_eq!(replaced.holder, Holder::Person(other));
    assert!(replaced.pending_face_check());
    assert!(matches!(
        lines
            .replace_subscription(
                pending.id,
                &line(viettel, "0961000099", Holder::Person(other)),
                2,
                None,
            )
            .await,
        Err(StoreError::Conflict("msisdn"))
    ));
    let ended = lines
        .terminate_subscription(viettel, pending.id, day(3))
        .await
        .unwrap();
    assert_eq!(ended.status, LineStatus::Terminated);
    assert_eq!(
        lines
            .terminate_subscription(viettel, pending.id, day(4))
            .await
            .unwrap(),
        ended,
        "terminating again changes nothing"
    );

    // No number in clear.
    let raw = db.raw_dump().await;
    for number in [&b"84961000001"[..], b"0961000001", b"84911000003"] {
        assert!(!raw.windows(number.len()).any(|w| w == number));
    }
}
