//! What the server's benchmarks share: the store they run on and its server, an organisation
//! with a client and its service token, synthetic people, the load generator (rate, CPU,
//! latency percentiles), and the raw signing rate that bounds them.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dinhdanh_core::{AgeBracket, EidLevel, OrganisationKind, TaxCode, today_in_vietnam};
use dinhdanh_crypto::{MasterKey, SignatureAlgorithm, SigningKey};
use dinhdanh_oidc::ClientRegistration;
use dinhdanh_server::{AppState, HttpConfig, OidcConfig};
use dinhdanh_store::{
    NewOrganisation, NewPerson, OrganisationId, PersonId, PersonalData, RegistryStore, StoreOptions,
};
use dinhdanh_synth::{PopulationSpec, SyntheticPerson};

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
    organisation(
        store,
        OrganisationKind::Platform,
        tax_code,
        client_id,
        scopes,
    )
    .await
}

/// Registers an organisation of `kind` with tax code `tax_code` and a client `client_id` for
/// `scopes`, signing with ML-DSA-65.
pub(crate) async fn organisation(
    store: &dyn RegistryStore,
    kind: OrganisationKind,
    tax_code: &str,
    client_id: &str,
    scopes: &str,
) -> Platform {
    let organisation = store
        .insert_organisation(&NewOrganisation {
            tax_code: tax_code.parse::<TaxCode>().unwrap(),
            name: format!("Tổ chức đo tải {tax_code}"),
            kind,
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

/// The first `count` synthetic people (seed 7): adults only if `adults`, or of every age as
/// the population has them.
pub(crate) fn synthetic(count: usize, adults: bool) -> Vec<SyntheticPerson> {
    let now = jiff::Timestamp::now();
    dinhdanh_synth::population(&PopulationSpec {
        seed: 7,
        people: count * 2,
        as_of: today_in_vietnam(now),
    })
    .filter(|p| !adults || AgeBracket::at(&p.birth_date, now).over_18())
    .take(count)
    .collect()
}

/// Records `count` active synthetic people at e-ID level 1 ([`synthetic`]).
pub(crate) async fn people(store: &dyn RegistryStore, count: usize, adults: bool) -> Vec<PersonId> {
    let today = today_in_vietnam(jiff::Timestamp::now());
    let people: Vec<NewPerson> = synthetic(count, adults)
        .into_iter()
        .map(|p| NewPerson {
            personal: PersonalData::new(p.citizen_number, p.name, p.birth_date, p.sex, today)
                .unwrap(),
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

/// Serves `store` on a loopback port: its address, and the server's state.
pub(crate) async fn serve(store: &Arc<dyn RegistryStore>) -> (std::net::SocketAddr, AppState) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let state = AppState::new(store.clone(), HttpConfig::default()).with_oidc(OidcConfig {
        issuer: format!("http://{address}"),
        ..OidcConfig::default()
    });
    tokio::spawn(dinhdanh_server::serve(
        listener,
        dinhdanh_server::app(state.clone()),
        std::future::pending(),
    ));
    (address, state)
}

/// The organisation's own access token for `scope` (client credentials).
pub(crate) async fn service_token(
    http: &reqwest::Client,
    address: std::net::SocketAddr,
    platform: &Platform,
    scope: &str,
) -> String {
    let granted: serde_json::Value = http
        .post(format!("http://{address}/token"))
        .basic_auth(&platform.client_id, Some(&platform.secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    granted["access_token"].as_str().unwrap().to_owned()
}

/// What a load run measured.
pub(crate) struct Load {
    /// Requests per second.
    pub(crate) rate: f64,
    /// The share of both cores this process used.
    pub(crate) cpu: f64,
    /// The median latency of a request.
    pub(crate) p50: Duration,
    /// The 99th percentile latency.
    pub(crate) p99: Duration,
}

/// Runs `count` requests from [`CONCURRENCY`] tasks, each made by `request(i)`, timing each.
pub(crate) async fn load<F, Fut>(count: usize, request: F) -> Load
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = cpu_time();
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (request, next) = (request.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let sent = Instant::now();
                    request(i).await;
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(count);
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    latencies.sort_unstable();
    let percentile = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Load {
        rate: count as f64 / elapsed.as_secs_f64(),
        cpu: cpu.as_secs_f64() / elapsed.as_secs_f64() / 2.0,
        p50: percentile(50),
        p99: percentile(99),
    }
}

/// The first limit of a served request: the same server answering `GET /healthz`, `count`
/// times at the same concurrency.
pub(crate) async fn healthz(
    http: &reqwest::Client,
    address: std::net::SocketAddr,
    count: usize,
) -> Load {
    let http = http.clone();
    load(count, move |_| {
        let http = http.clone();
        async move {
            let response = http
                .get(format!("http://{address}/healthz"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    })
    .await
}

/// The other limit of a request that writes one disclosure record: the log recording
/// `record(i)` alone, `count` times at the same concurrency.
pub(crate) async fn records(
    store: &Arc<dyn RegistryStore>,
    count: usize,
    record: impl Fn(usize) -> dinhdanh_store::NewDisclosure + Send + Sync + 'static,
) -> Load {
    let (store, record) = (store.clone(), Arc::new(record));
    load(count, move |i| {
        let (store, record) = (store.clone(), record.clone());
        async move {
            store
                .disclosure_log()
                .record_disclosures(&[record(i)])
                .await
                .unwrap();
        }
    })
    .await
}
