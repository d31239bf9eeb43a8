//! The token endpoint's throughput, against the physical limit measured in the same run: raw
//! ML-DSA-65 signing of a message the size of an ID token's signing input.
//!
//! Each request is a whole `authorization_code` exchange over HTTP/1.1 on loopback: client
//! authentication (`client_secret_basic`), redeeming the code (one conditional update), PKCE,
//! the person's record (opened from its sealed fields), claims and the pairwise `sub`, an
//! ML-DSA-65 ID token, and one transaction recording the access token and the disclosure
//! record. The load generator runs in the same process, on the same two cores.
//!
//! `cargo bench -p dinhdanh-server --bench token_endpoint` (`DINHDANH_BENCH_TOKENS` sets the
//! number of exchanges, 20,000 by default; `DINHDANH_BENCH_CONNECTIONS` the store's pool size,
//! 8 by default; `DATABASE_URL=postgres://…` runs it on PostgreSQL).

#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use dinhdanh_core::{EidLevel, TaxCode, today_in_vietnam};
use dinhdanh_crypto::{MasterKey, SignatureAlgorithm, SigningKey, TokenHash};
use dinhdanh_oidc::{ClientRegistration, CodeVerifier};
use dinhdanh_server::{AppState, HttpConfig, OidcConfig};
use dinhdanh_store::{
    NewGrant, NewOrganisation, NewPerson, NewToken, PersonalData, RegistryStore, StoreOptions,
    TokenKind,
};
use dinhdanh_synth::PopulationSpec;

const VERIFIER: &str = "bench-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
const CONCURRENCY: usize = 32;

fn tokens() -> usize {
    std::env::var("DINHDANH_BENCH_TOKENS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(20_000)
}

/// CPU time this process has used (user + system), from `/proc/self/stat`; zero elsewhere.
fn cpu_time() -> Duration {
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

/// Raw ML-DSA-65 signatures per second on `threads` threads over `duration`.
fn raw_signing_rate(threads: usize, duration: Duration) -> f64 {
    let key = Arc::new(SigningKey::generate(SignatureAlgorithm::MlDsa65).unwrap());
    // An ID token's signing input: header and claims, base64url, about 420 bytes.
    let message = Arc::new(vec![b'e'; 420]);
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

struct Setup {
    store: Arc<dyn RegistryStore>,
    client_id: String,
    secret: String,
    redirect_uri: String,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| url.starts_with("postgres"))
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    if url.starts_with("postgres") {
        // A fresh database of its own, as the contract tests make.
        let name = format!("bench_token_{}", std::process::id());
        let admin = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
    }
    let url = if url.starts_with("postgres") {
        let (base, _) = url.rsplit_once('/').unwrap();
        format!("{base}/bench_token_{}", std::process::id())
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
    let organisation = store
        .insert_organisation(&NewOrganisation {
            tax_code: "0100000999".parse::<TaxCode>().unwrap(),
            name: "Mạng Xã Hội Đo Tải".to_owned(),
            kind: dinhdanh_core::OrganisationKind::Platform,
            parent_id: None,
        })
        .await
        .unwrap();
    let redirect_uri = "https://bench.example.vn/cb".to_owned();
    let registered = dinhdanh_server::register_client(
        store.as_ref(),
        organisation.id,
        &ClientRegistration {
            client_id: "rp-bench".to_owned(),
            name: "Đo tải".to_owned(),
            redirect_uris: vec![redirect_uri.clone()],
            sector: None,
            scopes: "openid verified age".to_owned(),
            require_par: false,
            min_level: 1,
            id_token_alg: Some("ML-DSA-65".to_owned()),
            auth_method: "client_secret_basic".to_owned(),
            jwks: None,
        },
    )
    .await
    .unwrap();
    Setup {
        store,
        client_id: "rp-bench".to_owned(),
        secret: registered.secret.unwrap().reveal().to_owned(),
        redirect_uri,
        _dir: dir,
    }
}

/// Records `count` grants, spread over 1,000 synthetic people, each with a live code.
async fn grants(setup: &Setup, count: usize) -> Vec<String> {
    let now = jiff::Timestamp::now();
    let today = today_in_vietnam(now);
    let people: Vec<NewPerson> = dinhdanh_synth::population(&PopulationSpec {
        seed: 7,
        people: 1_000,
        as_of: today,
    })
    .map(|p| NewPerson {
        personal: PersonalData::new(p.citizen_number, p.name, p.birth_date, p.sex, today).unwrap(),
        status: dinhdanh_core::PersonStatus::Active,
        eid_level: EidLevel::Level1,
    })
    .collect();
    let ids = setup.store.insert_persons(&people).await.unwrap();
    let challenge = CodeVerifier::parse(VERIFIER).unwrap().challenge().encoded();
    let oidc = setup.store.oidc();
    let mut codes = Vec::with_capacity(count);
    for i in 0..count {
        let code = format!("bench-code-{i:08}-{}", uuid::Uuid::now_v7().simple());
        oidc.insert_grant(
            &NewGrant {
                client_id: setup.client_id.clone(),
                person_id: ids[i % ids.len()],
                scopes: "openid verified age".to_owned(),
                redirect_uri: setup.redirect_uri.clone(),
                code_challenge: challenge.clone(),
                nonce: Some(format!("n{i}")),
                eid_level: EidLevel::Level1,
                auth_time: now,
                actor_id: None,
            },
            &NewToken {
                hash: TokenHash::of(&code),
                kind: TokenKind::Code,
                expires_at: now + jiff::SignedDuration::from_secs(3600),
            },
        )
        .await
        .unwrap();
        codes.push(code);
    }
    codes
}

fn main() {
    let count = tokens();
    let single = raw_signing_rate(1, Duration::from_secs(3));
    let double = raw_signing_rate(2, Duration::from_secs(3));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (rate, backend, busy, cpu_per_exchange) = runtime.block_on(async {
        let setup = setup().await;
        let backend = setup.store.backend().as_str().to_owned();
        let codes = grants(&setup, count).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let state =
            AppState::new(setup.store.clone(), HttpConfig::default()).with_oidc(OidcConfig {
                issuer: format!("http://{address}"),
                code_ttl_seconds: 3600,
                ..OidcConfig::default()
            });
        let app = dinhdanh_server::app(state);
        tokio::spawn(dinhdanh_server::serve(
            listener,
            app,
            std::future::pending(),
        ));
        let http = {
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            reqwest::Client::builder()
        }
        .no_proxy()
        .build()
        .unwrap();
        let url = format!("http://{address}/token");
        let queue = Arc::new(std::sync::Mutex::new(codes));
        let cpu_before = cpu_time();
        let started = Instant::now();
        let workers: Vec<_> = (0..CONCURRENCY)
            .map(|_| {
                let (http, url, queue) = (http.clone(), url.clone(), queue.clone());
                let (id, secret, redirect) = (
                    setup.client_id.clone(),
                    setup.secret.clone(),
                    setup.redirect_uri.clone(),
                );
                tokio::spawn(async move {
                    loop {
                        let Some(code) = queue.lock().unwrap().pop() else {
                            break;
                        };
                        let response = http
                            .post(&url)
                            .basic_auth(&id, Some(&secret))
                            .form(&[
                                ("grant_type", "authorization_code"),
                                ("code", code.as_str()),
                                ("redirect_uri", redirect.as_str()),
                                ("code_verifier", VERIFIER),
                            ])
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
                        let body: serde_json::Value = response.json().await.unwrap();
                        assert!(body["id_token"].as_str().unwrap().len() > 4_000);
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.unwrap();
        }
        let elapsed = started.elapsed();
        let cpu = cpu_time().saturating_sub(cpu_before);
        // Every exchange left its disclosure record.
        let (size, waiting) = setup.store.disclosure_log().sizes().await.unwrap();
        assert_eq!(size + waiting, count as u64);
        (
            count as f64 / elapsed.as_secs_f64(),
            backend,
            cpu.as_secs_f64() / elapsed.as_secs_f64() / 2.0,
            cpu.as_secs_f64() * 1e6 / count as f64,
        )
    });

    println!("token endpoint on {backend}: {count} code exchanges, {CONCURRENCY} in flight");
    println!("| what | rate | against raw ML-DSA-65 signing |");
    println!("|---|---|---|");
    println!("| raw ML-DSA-65 signing, 1 thread | {single:.0}/s | 100 % |");
    println!("| raw ML-DSA-65 signing, 2 threads | {double:.0}/s | — |");
    println!(
        "| **token endpoint** (code → ML-DSA-65 ID token → disclosure record) | **{rate:.0}/s** | **{:.0} %** of 1 thread, {:.0} % of 2 |",
        100.0 * rate / single,
        100.0 * rate / double
    );
    println!(
        "(both cores {:.0} % busy during the exchanges; {cpu_per_exchange:.0} µs of CPU per exchange, load generator included)",
        100.0 * busy
    );
}
