//! The signing-key life cycle as a relying party sees it: through `/.well-known/jwks.json`,
//! with a real JWS verified against the published set at every step.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::BTreeSet;

use common::TestApp;
use dinhdanh_crypto::jose::{JoseError, Jwk, Jwks, sign_compact, verify_compact_with_set};
use dinhdanh_crypto::{SignatureAlgorithm, SigningKey};
use dinhdanh_store::SigningKeyState;
use reqwest::Method;

async fn published(app: &TestApp) -> (Jwks, BTreeSet<String>) {
    let response = app
        .anonymous(Method::GET, "/.well-known/jwks.json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/jwk-set+json"
    );
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let body = response.bytes().await.unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        !text.contains("\"priv\"") && !text.contains("\"d\""),
        "no private member is ever published"
    );
    let set = Jwks::from_json(&body).unwrap();
    let kids = set
        .keys()
        .iter()
        .map(|key| key.kid().unwrap().to_owned())
        .collect();
    (set, kids)
}

fn kids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|kid| (*kid).to_owned()).collect()
}

#[tokio::test]
async fn rotation_keeps_retiring_keys_verifiable_until_they_retire() {
    let app = TestApp::builder().without_provider_keys().start().await;
    let store = app.store();
    let alg = SignatureAlgorithm::MlDsa65;
    let (set, published_kids) = published(&app).await;
    assert!(set.keys().is_empty() && published_kids.is_empty());

    let first = SigningKey::generate(alg).unwrap();
    let first_private = first.private_bytes();
    let a = store
        .insert_signing_key(&first, SigningKeyState::Active)
        .await
        .unwrap();
    let b = store
        .insert_signing_key(&SigningKey::generate(alg).unwrap(), SigningKeyState::Next)
        .await
        .unwrap();
    // A token signed by the active key, as the token endpoint will sign it.
    let (record, key) = store.find_active_signing_key(alg).await.unwrap().unwrap();
    assert_eq!(record.kid, a.kid);
    assert_eq!(key.private_bytes().as_slice(), first_private.as_slice());
    let token = sign_compact(
        &Jwk::private(key, Some(record.kid.clone())),
        Some("JWT"),
        br#"{"sub":"pairwise"}"#,
    )
    .unwrap();

    // Step 1: active A and next B are published; the token verifies.
    let (set, published_kids) = published(&app).await;
    assert_eq!(published_kids, kids(&[&a.kid, &b.kid]));
    assert_eq!(
        verify_compact_with_set(&token, &set).unwrap().payload,
        br#"{"sub":"pairwise"}"#
    );

    // Step 2: rotate. A retires gradually: still published, the token still verifies.
    store.rotate_signing_keys(alg).await.unwrap();
    let c = store
        .insert_signing_key(&SigningKey::generate(alg).unwrap(), SigningKeyState::Next)
        .await
        .unwrap();
    let (set, published_kids) = published(&app).await;
    assert_eq!(published_kids, kids(&[&a.kid, &b.kid, &c.kid]));
    assert!(verify_compact_with_set(&token, &set).is_ok());

    // Step 3: rotate again. A is retired: gone from the set, its token no longer verifies.
    store.rotate_signing_keys(alg).await.unwrap();
    let (set, published_kids) = published(&app).await;
    assert_eq!(published_kids, kids(&[&b.kid, &c.kid]));
    assert_eq!(
        verify_compact_with_set(&token, &set).unwrap_err(),
        JoseError::NoMatchingKey
    );
}
