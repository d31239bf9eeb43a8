//! The operator's single check, against the limits measured in the same run:
//!
//! - **checks**: `POST /v1/subscriber-checks` over HTTP/1.1 on loopback with the operator's
//!   service token, for people the registry holds (each answer `verified`): the token's
//!   lookup, the body parsed and every field checked, the person found by the blind index of
//!   their citizen number and opened from their sealed fields, the name folded and compared,
//!   the operator's live lines counted and the number's holder looked up, and the disclosure
//!   record written before the answer. Throughput, and the latency of each request (median
//!   and 99th percentile) with 32 in flight.
//! - **limits**: the same server answering `GET /healthz` (HTTP and the runtime), and the
//!   disclosure log recording the same records with nothing else (the one write a check
//!   makes), at the same concurrency.
//!
//! `cargo bench -p dinhdanh-server --bench subscriber_check` (`DINHDANH_BENCH_CHECKS`, 20,000
//! by default; `DINHDANH_BENCH_CONNECTIONS` the pool, 8; `DATABASE_URL=postgres://…` runs it
//! on PostgreSQL). The load generator runs in the same process, on the same two cores.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::{CONCURRENCY, Load, load, serve, service_token, setting};
use dinhdanh_core::OrganisationKind;
use dinhdanh_store::{NewDisclosure, Purpose, Recipient};
use serde_json::{Value, json};

fn main() {
    let count = setting("CHECKS", 20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let (store, _dir) = common::open_store("subscriber_checks").await;
        let operator = common::organisation(
            store.as_ref(),
            OrganisationKind::TelecomOperator,
            "0100000996",
            "operator-checks",
            "openid",
        )
        .await;
        let people = common::people(store.as_ref(), 1_000, true).await;
        let bodies: Arc<Vec<Value>> = Arc::new(
            common::synthetic(1_000, true)
                .iter()
                .enumerate()
                .map(|(i, person)| {
                    json!({
                        "msisdn": format!("+8496{:07}", i),
                        "holder": {
                            "citizen_number": person.citizen_number.as_str(),
                            "name": person.name.as_str(),
                            "birth_date": person.birth_date.to_string(),
                        },
                        "activated_on": "2026-01-05",
                    })
                })
                .collect(),
        );
        let (address, _) = serve(&store).await;
        let http = common::http_client();
        let token = Arc::new(service_token(&http, address, &operator, "subscribers").await);

        let before = store.disclosure_log().sizes().await.unwrap();
        let checks = {
            let (http, token, bodies) = (http.clone(), token.clone(), bodies.clone());
            load(count, move |i| {
                let (http, token, bodies) = (http.clone(), token.clone(), bodies.clone());
                async move {
                    let response = http
                        .post(format!("http://{address}/v1/subscriber-checks"))
                        .bearer_auth(token.as_str())
                        .json(&bodies[i % bodies.len()])
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200);
                    let answer: Value = response.json().await.unwrap();
                    assert_eq!(answer["result"], "verified", "{answer}");
                }
            })
            .await
        };
        // Every check left its disclosure record.
        let after = store.disclosure_log().sizes().await.unwrap();
        assert_eq!(after.0 + after.1 - before.0 - before.1, count as u64);

        let healthz = common::healthz(&http, address, count).await;
        let organisation = operator.organisation;
        let records = common::records(&store, count, move |i| NewDisclosure {
            subject: people[i % people.len()],
            recipient: Recipient::Organisation(organisation),
            fields: vec!["subscriber_check"],
            purpose: Purpose::new("checking a telecom subscriber's declared identity").unwrap(),
            legal_basis: "legal-obligation",
        })
        .await;
        let limit = healthz.rate.min(records.rate);
        let Load {
            rate,
            cpu,
            p50,
            p99,
        } = checks;
        println!(
            "subscriber checks on {}: {count} checks, {CONCURRENCY} in flight",
            store.backend().as_str()
        );
        println!("| what | rate | p50 | p99 | against the limit |");
        println!("|---|---|---|---|---|");
        println!(
            "| **limit:** `GET /healthz` | {:.0}/s | {:.2} ms | {:.2} ms | |",
            healthz.rate,
            healthz.p50.as_secs_f64() * 1e3,
            healthz.p99.as_secs_f64() * 1e3
        );
        println!(
            "| **limit:** disclosure records alone | {:.0}/s | {:.2} ms | {:.2} ms | |",
            records.rate,
            records.p50.as_secs_f64() * 1e3,
            records.p99.as_secs_f64() * 1e3
        );
        println!(
            "| **single check** (`POST /v1/subscriber-checks`) | **{rate:.0}/s** | {:.2} ms | **{:.2} ms** | **{:.0} %** of the lower limit |",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            100.0 * rate / limit
        );
        println!("CPU during the checks: {:.0} % of both cores", cpu * 100.0);
    });
}
