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

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{CONCURRENCY, Platform, cpu_time, raw_signing_rate, setting};
use dinhdanh_core::EidLevel;
use dinhdanh_crypto::TokenHash;
use dinhdanh_oidc::CodeVerifier;
use dinhdanh_server::{AppState, HttpConfig, OidcConfig};
use dinhdanh_store::{NewGrant, NewToken, RegistryStore, TokenKind};

const VERIFIER: &str = "bench-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";

/// Records `count` grants, spread over 1,000 synthetic people, each with a live code.
async fn grants(store: &dyn RegistryStore, platform: &Platform, count: usize) -> Vec<String> {
    let now = jiff::Timestamp::now();
    let ids = common::people(store, 1_000, false).await;
    let challenge = CodeVerifier::parse(VERIFIER).unwrap().challenge().encoded();
    let oidc = store.oidc();
    let mut codes = Vec::with_capacity(count);
    for i in 0..count {
        let code = format!("bench-code-{i:08}-{}", uuid::Uuid::now_v7().simple());
        oidc.insert_grant(
            &NewGrant {
                client_id: platform.client_id.clone(),
                person_id: ids[i % ids.len()],
                scopes: "openid verified age".to_owned(),
                redirect_uri: platform.redirect_uri.clone(),
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
    let count = setting("TOKENS", 20_000);
    // An ID token's signing input: header and claims, base64url, about 420 bytes.
    let single = raw_signing_rate(1, Duration::from_secs(3), 420);
    let double = raw_signing_rate(2, Duration::from_secs(3), 420);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (rate, backend, busy, cpu_per_exchange) = runtime.block_on(async {
        let (store, _dir) = common::open_store("token").await;
        let setup = common::platform(
            store.as_ref(),
            "0100000999",
            "rp-bench",
            "openid verified age",
        )
        .await;
        let backend = store.backend().as_str().to_owned();
        let codes = grants(store.as_ref(), &setup, count).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let state = AppState::new(store.clone(), HttpConfig::default()).with_oidc(OidcConfig {
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
        let http = common::http_client();
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
        let (size, waiting) = store.disclosure_log().sizes().await.unwrap();
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
