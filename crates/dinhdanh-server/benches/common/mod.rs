//! What the server's benchmarks share: the store they run on, a platform with a client,
//! synthetic people, CPU accounting, and the raw signing rate that bounds them.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use dinhdanh_core::{AgeBracket, EidLevel, TaxCode, today_in_vietnam};
use dinhdanh_crypto::{MasterKey, SignatureAlgorithm, SigningKey};
use dinhdanh_oidc::ClientRegistration;
use dinhdanh_store::{
    NewOrganisation, NewPerson, OrganisationId, PersonId, PersonalData, RegistryStore, StoreOptions,
};
use dinhdanh_synth::PopulationSpec;

/// Requests in flight from the load generator.
pub(crate) const CONCURRENCY: usize = 32;

/// `DINHDANH_BENCH_<name>` as a number, or `default`.
pub(crate) fn setting(name: &str, default: usize) -> usize {
    std::env::var(format!("DINHDANH_BENCH_{name}"))
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// CPU time this process has used (user + system), from `/proc/self/stat`; zero elsewhere.
pub(crate) fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields 14 and 15 (utime, stime) in clock ticks, counted after the parenthesised name.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Raw ML-DSA-65 signatures per second on `threads` threads over `duration`, of a message
/// of `size` bytes.
pub(crate) fn raw_signing_rate(threads: usize, duration: Duration, size: usize) -> f64 {
    let key = Arc::new(SigningKey::generate(SignatureAlgorithm::MlDsa65).unwrap());
    let message = Arc::new(vec![b'e'; size]);
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (key, message) = (key.clone(), message.clone());
            std::thread::spawn(move || {
                let mut count = 0u64;
                while started.elapsed() < duration {
                    std::hint::black_box(key.sign(&message).unwrap());
                    count += 1;
                }
                count
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    total as f64 / started.elapsed().as_secs_f64()
}

/// A fresh store: a SQLite file in a temporary directory, or, with
/// `DATABASE_URL=postgres://…`, a fresh database of its own; `DINHDANH_BENCH_CONNECTIONS`
/// sets the pool. The directory lives as long as the store is used.
pub(crate) async fn open_store(name: &str) -> (Arc<dyn RegistryStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| url.starts_with("postgres"))
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let url = if url.starts_with("postgres") {
        let database = format!("bench_{name}_{}", std::process::id());
        let admin = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {database}"))
            .execute(&admin)
            .await
            .unwrap();
        let (base, _) = url.rsplit_once('/').unwrap();
        format!("{base}/{database}")
    } else {
        url
    };
    let mut options = StoreOptions::new(url);
    if let Some(connections) = std::env::var("DINHDANH_BENCH_CONNECTIONS")
        .ok()
        .and_then(|value| value.parse().ok())
    {
        options.max_connections = connections;
    }
    println!("pool: {} connections", options.max_connections);
    let store = dinhdanh_store::open(&options, &MasterKey::generate().unwrap())
        .await
        .unwrap();
    dinhdanh_server::ensure_signing_keys(store.as_ref())
        .await
        .unwrap();
    (store, dir)
}

/// A platform and its client, authenticating with `client_secret_basic`.
pub(crate) struct Platform {
    pub(crate) organisation: OrganisationId,
    pub(crate) client_id: String,
    pub(crate) secret: String,
    pub(crate) redirect_uri: String,
}

/// Registers a platform with tax code `tax_code` and a client `client_id` for `scopes`,
/// signing with ML-DSA-65.
pub(crate) async fn platform(
    store: &dyn RegistryStore,
    tax_code: &str,
    client_id: &str,
    scopes: &str,
) -> Platform {
    let organisation = store
        .insert_organisation(&NewOrganisation {
            tax_code: tax_code.parse::<TaxCode>().unwrap(),
            name: format!("Nền tảng đo tải {tax_code}"),
            kind: dinhdanh_core::OrganisationKind::Platform,
            parent_id: None,
        })
        .await
        .unwrap();
    let redirect_uri = format!("https://{client_id}.example.vn/cb");
    let registered = dinhdanh_server::register_client(
        store,
        organisation.id,
        &ClientRegistration {
            client_id: client_id.to_owned(),
            name: "Đo tải".to_owned(),
            redirect_uris: vec![redirect_uri.clone()],
            sector: None,
            scopes: scopes.to_owned(),
            require_par: false,
            min_level: 1,
            id_token_alg: Some("ML-DSA-65".to_owned()),
            auth_method: "client_secret_basic".to_owned(),
            jwks: None,
        },
    )
    .await
    .unwrap();
    Platform {
        organisation: organisation.id,
        client_id: client_id.to_owned(),
        secret: registered.secret.unwrap().reveal().to_owned(),
        redirect_uri,
    }
}

/// Records `count` active synthetic people at e-ID level 1: adults only if `adults`, or
/// of every age as the population has them.
pub(crate) async fn people(store: &dyn RegistryStore, count: usize, adults: bool) -> Vec<PersonId> {
    let now = jiff::Timestamp::now();
    let today = today_in_vietnam(now);
    let people: Vec<NewPerson> = dinhdanh_synth::population(&PopulationSpec {
        seed: 7,
        people: count * 2,
        as_of: today,
    })
    .filter(|p| !adults || AgeBracket::at(&p.birth_date, now).over_18())
    .take(count)
    .map(|p| NewPerson {
        personal: PersonalData::new(p.citizen_number, p.name, p.birth_date, p.sex, today).unwrap(),
        status: dinhdanh_core::PersonStatus::Active,
        eid_level: EidLevel::Level1,
    })
    .collect();
    assert_eq!(people.len(), count, "the population has too few adults");
    store.insert_persons(&people).await.unwrap()
}

/// An HTTP client for the load generator (plain HTTP on loopback).
pub(crate) fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}
