//! Platforms' side of verification, against the limits measured in the same run:
//!
//! - **binding checks**: `GET /v1/bindings/{id}` over HTTP/1.1 on loopback with a service
//!   token: the token's lookup, the binding, the person's record (opened from its sealed
//!   fields), the age brackets, and the disclosure record written before the answer. Its
//!   limits: the same server answering `GET /healthz` (HTTP and the runtime), and the
//!   disclosure log recording the same records with nothing else (the one write a check
//!   makes), each at the same concurrency.
//! - **events delivered**: people with a binding each die; the transmitter fans each signal
//!   out to the platform's push stream (outbox row and disclosure record), signs a security
//!   event token with ML-DSA-65 and pushes it to a receiver in the same process, which
//!   answers 202. Counted from the transmitter's start to the last event received. Its limit:
//!   raw ML-DSA-65 signing of a message the size of the token's signing input.
//!
//! `cargo bench -p dinhdanh-server --bench signals` (`DINHDANH_BENCH_CHECKS`, 20,000 by
//! default; `DINHDANH_BENCH_EVENTS`, 5,000; `DINHDANH_BENCH_CONNECTIONS` the pool, 8;
//! `DATABASE_URL=postgres://…` runs it on PostgreSQL). The load generator and the receiver
//! run in the same process, on the same two cores.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Load, cpu_time, load, raw_signing_rate, serve, service_token, setting};
use dinhdanh_core::{BindingStatus, PersonStatus};
use dinhdanh_server::SignalsConfig;
use dinhdanh_store::{NewBinding, NewDisclosure, PersonUpdate, Purpose, Recipient, RegistryStore};

/// Binds each of `people` on the platform, and returns the bindings' ids.
async fn bind_all(
    store: &dyn RegistryStore,
    organisation: dinhdanh_store::OrganisationId,
    people: &[dinhdanh_store::PersonId],
) -> Vec<String> {
    let mut ids = Vec::with_capacity(people.len());
    for (i, person) in people.iter().enumerate() {
        let (binding, _) = store
            .bindings()
            .insert_binding(
                &NewBinding {
                    organisation_id: organisation,
                    person_id: *person,
                    subject: format!("sub-{i}"),
                    handle: format!("@nguoi.dung.{i}"),
                    status: BindingStatus::Active,
                    guardian_consent: None,
                    age_bracket: None,
                },
                5,
                &disclosure(*person, organisation),
            )
            .await
            .unwrap();
        ids.push(binding.id.to_string());
    }
    ids
}

fn disclosure(
    person: dinhdanh_store::PersonId,
    organisation: dinhdanh_store::OrganisationId,
) -> NewDisclosure {
    NewDisclosure {
        subject: person,
        recipient: Recipient::Organisation(organisation),
        fields: vec![
            "binding_status",
            "person_status",
            "guardian_consent",
            "age_over_16",
            "age_over_18",
        ],
        purpose: Purpose::new("checking a platform account's binding").unwrap(),
        legal_basis: "legal-obligation",
    }
}

struct Checks {
    backend: String,
    checks: f64,
    checks_cpu: f64,
    healthz: f64,
    records: f64,
}

async fn binding_checks(count: usize) -> Checks {
    let (store, _dir) = common::open_store("checks").await;
    let backend = store.backend().as_str().to_owned();
    let platform = common::platform(store.as_ref(), "0100000998", "rp-checks", "openid").await;
    let people = common::people(store.as_ref(), 1_000, true).await;
    let bindings = Arc::new(bind_all(store.as_ref(), platform.organisation, &people).await);
    let (address, _) = serve(&store).await;
    let http = common::http_client();
    let token = Arc::new(service_token(&http, address, &platform, "bindings").await);

    let before = store.disclosure_log().sizes().await.unwrap();
    let Load {
        rate: checks,
        cpu: checks_cpu,
        ..
    } = {
        let (http, bindings, token) = (http.clone(), bindings.clone(), token.clone());
        load(count, move |i| {
            let (http, bindings, token) = (http.clone(), bindings.clone(), token.clone());
            async move {
                let id = &bindings[i % bindings.len()];
                let response = http
                    .get(format!("http://{address}/v1/bindings/{id}"))
                    .bearer_auth(token.as_str())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                let body: serde_json::Value = response.json().await.unwrap();
                assert_eq!(body["valid"], true);
            }
        })
        .await
    };
    // Every check left its disclosure record.
    let after = store.disclosure_log().sizes().await.unwrap();
    assert_eq!(after.0 + after.1 - before.0 - before.1, count as u64);

    let healthz = common::healthz(&http, address, count).await.rate;
    let organisation = platform.organisation;
    let records = common::records(&store, count, move |i| {
        disclosure(people[i % people.len()], organisation)
    })
    .await
    .rate;
    Checks {
        backend,
        checks,
        checks_cpu,
        healthz,
        records,
    }
}

/// A push receiver that counts what it is sent and answers 202 (RFC 8935).
async fn receiver() -> (String, Arc<AtomicUsize>) {
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let app = axum::Router::new().route(
        "/events",
        axum::routing::post(move |body: axum::body::Bytes| {
            let counter = counter.clone();
            async move {
                assert!(body.len() > 4_000, "an ML-DSA-65 token");
                counter.fetch_add(1, Ordering::SeqCst);
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

struct Events {
    delivered: f64,
    cpu: f64,
}

async fn events_delivered(count: usize) -> Events {
    let (store, _dir) = common::open_store("events").await;
    let platform = common::platform(store.as_ref(), "0100000997", "rp-events", "openid").await;
    let people = common::people(store.as_ref(), count, true).await;
    bind_all(store.as_ref(), platform.organisation, &people).await;
    let (address, state) = serve(&store).await;
    let (url, received) = receiver().await;
    let http = common::http_client();
    let token = &service_token(&http, address, &platform, "signals").await;
    let stream = http
        .post(format!("http://{address}/ssf/streams"))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "delivery": {
                "method": "urn:ietf:rfc:8935",
                "endpoint_url": url,
            },
            "events_requested": [
                "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
            ],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 201, "{}", stream.text().await.unwrap());
    // Everyone dies before the transmitter starts: their signals wait in the store.
    for person in &people {
        store
            .update_person(
                *person,
                &PersonUpdate {
                    status: Some(PersonStatus::Deceased),
                    ..PersonUpdate::default()
                },
            )
            .await
            .unwrap();
    }
    let cpu_before = cpu_time();
    let started = Instant::now();
    let transmitter = dinhdanh_server::spawn_transmitter(
        state,
        SignalsConfig {
            tick_ms: 1,
            ..SignalsConfig::default()
        },
    );
    while received.load(Ordering::SeqCst) < count {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "only {} of {count} events arrived",
            received.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    transmitter.abort();
    assert_eq!(received.load(Ordering::SeqCst), count, "each event once");
    Events {
        delivered: count as f64 / elapsed.as_secs_f64(),
        cpu: cpu.as_secs_f64() / elapsed.as_secs_f64() / 2.0,
    }
}

fn main() {
    let checks = setting("CHECKS", 20_000);
    let events = setting("EVENTS", 5_000);
    // A security event token's signing input (header, claims with `sub_id`, `events`,
    // `txn`), base64url: about 520 bytes.
    let signing = raw_signing_rate(1, Duration::from_secs(3), 520);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let measured = runtime.block_on(binding_checks(checks));
    let delivered = runtime.block_on(events_delivered(events));
    let limit = measured.healthz.min(measured.records);
    println!(
        "binding checks on {}: {checks} checks, {} in flight",
        measured.backend,
        common::CONCURRENCY
    );
    println!("| what | rate | against the limit |");
    println!("|---|---|---|");
    println!(
        "| `GET /healthz` (HTTP and runtime) | {:.0}/s | — |",
        measured.healthz
    );
    println!(
        "| disclosure records alone, one per call | {:.0}/s | — |",
        measured.records
    );
    println!(
        "| **binding checks** | **{:.0}/s** | **{:.0} %** of the lower limit |",
        measured.checks,
        100.0 * measured.checks / limit
    );
    println!(
        "(both cores {:.0} % busy during the checks)",
        100.0 * measured.checks_cpu
    );
    println!();
    println!("events delivered: {events} account-disabled events, one push stream");
    println!("| what | rate | against raw ML-DSA-65 signing |");
    println!("|---|---|---|");
    println!("| raw ML-DSA-65 signing, 1 thread | {signing:.0}/s | 100 % |");
    println!(
        "| **events delivered** (fan-out, outbox, sign, push, mark delivered) | **{:.0}/s** | **{:.0} %** |",
        delivered.delivered,
        100.0 * delivered.delivered / signing
    );
    println!(
        "(both cores {:.0} % busy during delivery)",
        100.0 * delivered.cpu
    );
}
