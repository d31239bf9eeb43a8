//! Property tests of the parsers that take untrusted input: compact JWS (`verify_compact`,
//! `verify_compact_with_set`), JWK and JWK Sets, JWT claims, hybrid public keys (text and
//! bytes), hybrid recipient keys and sealed messages, and raw verifying keys.
//!
//! - arbitrary strings and bytes, and inputs shaped like each format, never panic a parser,
//!   and are refused wherever accepting them would mean a forgery;
//! - changing any one character of a valid signed token (ML-DSA-65, EdDSA) makes it fail;
//! - every algorithm's JWK, public or private, round-trips through `to_json` / `from_json`;
//! - a valid token whose header names another algorithm, or `none`, is refused even when it
//!   is re-signed by the right key (RFC 8725 §2.1, §3.1: the key pins the algorithm).
//!
//! Keys and tokens are made once, outside the properties; case counts are kept small so that
//! the file runs in a few seconds in a debug build. The companion fuzz targets live in
//! `fuzz/` (see `fuzz/README.md`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dinhdanh_crypto::jose::{
    ClaimChecks, JoseError, Jwk, Jwks, MAX_LEEWAY_SECONDS, check_claims, sign_compact,
    verify_compact, verify_compact_with_set,
};
use dinhdanh_crypto::{
    HybridPublicKey, HybridRecipientKey, SignatureAlgorithm, SigningKey, VerifyingKey,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

const ISSUER: &str = "https://id.dinhdanh.invalid";
const AUDIENCE: &str = "rp-prop";
const NOW: i64 = 1_800_000_000;

fn checks() -> ClaimChecks<'static> {
    ClaimChecks {
        issuer: ISSUER,
        audience: AUDIENCE,
        now: NOW,
        leeway: 30,
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// One algorithm's key and a token it signed.
struct Signed {
    alg: SignatureAlgorithm,
    private: Jwk,
    public: Jwk,
    token: String,
    payload: Vec<u8>,
}

fn signed(alg: SignatureAlgorithm) -> Signed {
    let kid = format!("prop-{}", alg.jose_name());
    let private = Jwk::private(SigningKey::generate(alg).unwrap(), Some(kid));
    let payload = serde_json::to_vec(&json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "pairwise-synthetic",
        "iat": NOW, "exp": NOW + 300,
    }))
    .unwrap();
    let token = sign_compact(&private, Some("JWT"), &payload).unwrap();
    Signed {
        alg,
        public: private.to_public(),
        private,
        token,
        payload,
    }
}

/// One signed token per algorithm, in `SignatureAlgorithm::ALL` order.
static SIGNED: LazyLock<Vec<Signed>> =
    LazyLock::new(|| SignatureAlgorithm::ALL.into_iter().map(signed).collect());

fn signed_by(alg: SignatureAlgorithm) -> &'static Signed {
    SIGNED.iter().find(|s| s.alg == alg).unwrap()
}

/// The public keys of every algorithm, each with its `kid`.
static SET: LazyLock<Jwks> =
    LazyLock::new(|| Jwks::new(SIGNED.iter().map(|s| s.public.clone()).collect()));

static RECIPIENT: LazyLock<HybridRecipientKey> =
    LazyLock::new(|| HybridRecipientKey::generate().unwrap());

/// A message sealed to [`RECIPIENT`] under the associated data `b"aad"`.
static SEALED: LazyLock<Vec<u8>> = LazyLock::new(|| {
    RECIPIENT
        .public_key()
        .seal(b"aad", b"a synthetic backup")
        .unwrap()
});

/// Runs every string parser on `text` and checks that none accepts it: a random string is
/// neither a token one of our keys signed, nor a JWK, nor valid claims, nor a hybrid key.
fn assert_every_text_parser_refuses(text: &str) -> Result<(), TestCaseError> {
    for s in SIGNED.iter() {
        prop_assert!(verify_compact(text, &s.public).is_err());
    }
    prop_assert!(verify_compact_with_set(text, &SET).is_err());
    prop_assert!(HybridPublicKey::from_text(text).is_err());
    prop_assert!(Jwk::from_json(text.as_bytes()).is_err());
    prop_assert!(Jwks::from_json(text.as_bytes()).is_err());
    prop_assert!(check_claims(text.as_bytes(), &checks()).is_err());
    Ok(())
}

/// Runs every byte parser on `bytes`. Only what cannot be a forgery is required to fail
/// (random bytes can be a valid Ed25519 point or, in principle, a JWK); whatever parses
/// must give back the bytes it came from.
fn assert_byte_parsers_hold(bytes: &[u8]) -> Result<(), TestCaseError> {
    let _ = Jwk::from_json(bytes);
    let _ = Jwks::from_json(bytes);
    let _ = check_claims(bytes, &checks());
    if let Ok(key) = HybridPublicKey::from_bytes(bytes) {
        prop_assert_eq!(key.to_bytes(), bytes);
    }
    if let Ok(key) = HybridRecipientKey::from_bytes(bytes) {
        prop_assert_eq!(&key.to_bytes()[..], bytes);
    }
    prop_assert!(RECIPIENT.open(b"aad", bytes).is_err());
    prop_assert!(RECIPIENT.open(b"", bytes).is_err());
    for alg in SignatureAlgorithm::ALL {
        if let Ok(key) = VerifyingKey::from_bytes(alg, bytes) {
            prop_assert_eq!(key.as_bytes(), bytes);
            prop_assert_eq!(bytes.len(), alg.public_key_len());
        }
    }
    Ok(())
}

/// A JSON value of the kinds JWK members and JOSE headers hold, biased towards the names and
/// lengths the parsers look for.
fn member_value() -> impl Strategy<Value = Value> {
    let names = vec![
        "AKP",
        "OKP",
        "EC",
        "RSA",
        "oct",
        "Ed25519",
        "P-256",
        "X25519",
        "ML-DSA-44",
        "ML-DSA-65",
        "ML-DSA-87",
        "EdDSA",
        "ES256",
        "none",
        "sig",
        "",
    ];
    let lengths = vec![0usize, 1, 31, 32, 33, 64, 65, 1312, 1952, 2592];
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        select(names).prop_map(Value::from),
        select(lengths)
            .prop_flat_map(|n| vec(any::<u8>(), n))
            .prop_map(|bytes| Value::from(b64(&bytes))),
        "\\PC{0,16}".prop_map(Value::from),
        vec(any::<u8>(), 0..4).prop_map(Value::from),
    ]
}

/// A JSON object over the member names a JWK or a JOSE header uses.
fn jose_object() -> impl Strategy<Value = Map<String, Value>> {
    let names = vec![
        "kty", "crv", "alg", "x", "y", "d", "pub", "priv", "kid", "use", "keys", "crit", "typ",
    ];
    btree_map(select(names).prop_map(str::to_owned), member_value(), 0..8)
        .prop_map(|map| map.into_iter().collect())
}

/// A valid JWK (any algorithm, public or private) with one member replaced or removed.
fn mutated_jwk() -> impl Strategy<Value = Map<String, Value>> {
    let members = vec![
        "kty", "crv", "alg", "x", "y", "d", "pub", "priv", "kid", "use",
    ];
    (
        0..SignatureAlgorithm::ALL.len(),
        any::<bool>(),
        select(members),
        prop::option::of(member_value()),
    )
        .prop_map(|(index, private, member, value)| {
            let s = &SIGNED[index];
            let key = if private { &s.private } else { &s.public };
            let Value::Object(mut object) = key.to_json() else {
                unreachable!("a JWK is a JSON object")
            };
            match value {
                Some(value) => object.insert(member.to_owned(), value),
                None => object.remove(member),
            };
            object
        })
}

// (a) Arbitrary input never panics a parser, and nothing random is accepted as a token.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_strings_are_refused(text in any::<String>()) {
        assert_every_text_parser_refuses(&text)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..1400)) {
        assert_byte_parsers_hold(&bytes)?;
    }

    #[test]
    fn bytes_of_each_exact_length_never_panic(
        bytes in select(vec![
            32usize, 65, 1312, 1952, 2592, HybridPublicKey::LEN, HybridRecipientKey::LEN,
            HybridPublicKey::OVERHEAD, HybridPublicKey::OVERHEAD + 20,
        ])
        .prop_flat_map(|n| (vec(any::<u8>(), n), any::<bool>()))
        .prop_map(|(mut bytes, versioned)| {
            // Version 1 gets the input past the version check to the length and key checks.
            if versioned {
                bytes[0] = 1;
            }
            bytes
        })
    ) {
        assert_byte_parsers_hold(&bytes)?;
    }

    #[test]
    fn token_shaped_strings_are_refused(
        text in "[A-Za-z0-9_-]{0,48}\\.[A-Za-z0-9_-]{0,48}\\.[A-Za-z0-9_=-]{0,96}"
    ) {
        assert_every_text_parser_refuses(&text)?;
    }

    #[test]
    fn tokens_with_arbitrary_headers_are_refused(
        header in jose_object(),
        payload in vec(any::<u8>(), 0..64),
        signature in select(vec![0usize, 64, 2420, 3309, 4627])
            .prop_flat_map(|n| vec(any::<u8>(), n)),
    ) {
        let header = serde_json::to_vec(&header).unwrap();
        let token = format!("{}.{}.{}", b64(&header), b64(&payload), b64(&signature));
        assert_every_text_parser_refuses(&token)?;
    }

    #[test]
    fn hybrid_key_text_shaped_strings_never_panic(
        bytes in (1195usize..1240).prop_flat_map(|n| vec(any::<u8>(), n)),
        padding in select(vec!["", " ", "\n", "=", "=="]),
    ) {
        let mut bytes = bytes;
        bytes[0] = 1;
        let text = format!("ddpk1.{}{padding}", b64(&bytes));
        if let Ok(key) = HybridPublicKey::from_text(&text) {
            prop_assert_eq!(key.to_text(), text.trim());
        }
        assert_byte_parsers_hold(text.as_bytes())?;
    }

    #[test]
    fn jwk_shaped_objects_never_panic_and_round_trip(
        object in prop_oneof![jose_object(), mutated_jwk()]
    ) {
        let json = serde_json::to_vec(&object).unwrap();
        if let Ok(jwk) = Jwk::from_json(&json) {
            let again = Jwk::from_json(&serde_json::to_vec(&jwk.to_json()).unwrap()).unwrap();
            prop_assert_eq!(again.verifying_key(), jwk.verifying_key());
            prop_assert_eq!(again.kid(), jwk.kid());
        }
        let set = serde_json::to_vec(&json!({ "keys": [object] })).unwrap();
        let _ = Jwks::from_json(&set);
    }

    #[test]
    fn a_changed_member_of_a_valid_jwk_never_yields_another_key(object in mutated_jwk()) {
        // Whatever still parses is one of the fixed keys, unchanged: no member but the key
        // material can make a different key, and random key material that parses is
        // possible only for the Ed25519 `x` (any point) and is then not equal to ours.
        let json = serde_json::to_vec(&object).unwrap();
        if let Ok(jwk) = Jwk::from_json(&json) {
            let ours = SIGNED.iter().any(|s| s.public.verifying_key() == jwk.verifying_key());
            let replaced_material = ["x", "y", "pub"]
                .iter()
                .any(|m| object.get(*m).is_some_and(|v| {
                    SIGNED.iter().all(|s| s.public.to_json().get(*m) != Some(v))
                }));
            prop_assert!(ours || replaced_material, "{object:?}");
        }
    }
}

/// A value for `exp`, `nbf` or `iat`: often within two seconds of a boundary the checks draw
/// (`now - leeway` for `exp`, `now + leeway` for `nbf` and `iat`), whole or fractional; else
/// anywhere, at the extremes of `i64` and beyond, or not a number.
fn time_value(now: i64, leeway: i64) -> impl Strategy<Value = Option<Value>> {
    let edges = vec![now.saturating_sub(leeway), now.saturating_add(leeway)];
    prop_oneof![
        1 => Just(None),
        4 => (select(edges.clone()), -2i64..=2)
            .prop_map(|(edge, d)| Some(Value::from(edge.saturating_add(d)))),
        // Half a second either side of the edge: which side the fraction falls matters.
        3 => (select(edges), select(vec![-0.5, 0.5]))
            .prop_map(|(edge, half)| Some(json!(edge as f64 + half))),
        1 => (NOW - 400..NOW + 400).prop_map(|t| Some(Value::from(t))),
        1 => select(vec![i64::MIN, -1, 0, i64::MAX]).prop_map(|t| Some(Value::from(t))),
        1 => Just(Some(Value::from(u64::MAX))),
        1 => (-1e19f64..1e19).prop_map(|t| Some(json!(t))),
        1 => Just(Some(Value::from("soon"))),
        1 => Just(Some(Value::Bool(true))),
    ]
}

/// A clock, a leeway (sometimes out of bounds) and claims drawn around them.
fn claims_case() -> impl Strategy<Value = (i64, i64, Map<String, Value>)> {
    let now = prop_oneof![
        4 => NOW - 100..NOW + 100,
        1 => select(vec![i64::MIN, 0, i64::MAX]),
    ];
    let leeway = prop_oneof![
        8 => 0..=MAX_LEEWAY_SECONDS,
        1 => select(vec![-1, MAX_LEEWAY_SECONDS + 1]),
    ];
    (now, leeway)
        .prop_flat_map(|(now, leeway)| {
            (
                Just(now),
                Just(leeway),
                time_value(now, leeway),
                time_value(now, leeway),
                time_value(now, leeway),
                issuer_value(),
                audience_value(),
            )
        })
        .prop_map(|(now, leeway, exp, nbf, iat, iss, aud)| {
            let mut claims = Map::new();
            for (name, value) in [
                ("exp", exp),
                ("nbf", nbf),
                ("iat", iat),
                ("iss", iss),
                ("aud", aud),
            ] {
                if let Some(value) = value {
                    claims.insert(name.to_owned(), value);
                }
            }
            (now, leeway, claims)
        })
}

fn issuer_value() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        8 => Just(Some(Value::from(ISSUER))),
        1 => Just(None),
        1 => Just(Some(Value::from("https://evil.invalid"))),
        1 => Just(Some(Value::from(7))),
        1 => Just(Some(json!([ISSUER]))),
    ]
}

fn audience_value() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        4 => Just(Some(Value::from(AUDIENCE))),
        4 => Just(Some(json!(["rp-other", AUDIENCE]))),
        1 => Just(None),
        1 => Just(Some(Value::from("rp-other"))),
        1 => Just(Some(json!(["rp-other"]))),
        1 => Just(Some(json!([]))),
        1 => Just(Some(json!([AUDIENCE, 7]))),
        1 => Just(Some(Value::from(7))),
    ]
}

/// RFC 7519 §4.1, restated: what `check_claims` must decide, computed in `i128` so that no
/// sum overflows (the code under test saturates instead).
fn claims_expected(claims: &Map<String, Value>, now: i64, leeway: i64) -> bool {
    if !(0..=MAX_LEEWAY_SECONDS).contains(&leeway) {
        return false;
    }
    // A NumericDate may be fractional (RFC 7519 §2); the whole second before it counts.
    let time = |name: &str| -> Result<Option<i128>, ()> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(Some(match n.as_i64() {
                Some(t) => i128::from(t),
                None => i128::from(n.as_f64().ok_or(())?.floor() as i64),
            })),
            Some(_) => Err(()),
        }
    };
    let (now, leeway) = (i128::from(now), i128::from(leeway));
    let Ok(Some(exp)) = time("exp") else {
        return false;
    };
    let (Ok(nbf), Ok(iat)) = (time("nbf"), time("iat")) else {
        return false;
    };
    let issuer_ok = claims.get("iss") == Some(&Value::from(ISSUER));
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == AUDIENCE,
        Some(Value::Array(auds)) => {
            auds.iter().all(Value::is_string) && auds.contains(&Value::from(AUDIENCE))
        }
        _ => false,
    };
    now <= exp + leeway
        && nbf.is_none_or(|nbf| now + leeway >= nbf)
        && iat.is_none_or(|iat| iat <= now + leeway)
        && issuer_ok
        && audience_ok
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn claim_checks_agree_with_rfc_7519((now, leeway, claims) in claims_case()) {
        // Read back as the parser will: `1.8e9` written by serde_json is read as a float.
        let bytes = serde_json::to_vec(&claims).unwrap();
        let claims: Map<String, Value> = serde_json::from_slice(&bytes).unwrap();
        let checks = ClaimChecks { issuer: ISSUER, audience: AUDIENCE, now, leeway };
        let result = check_claims(&bytes, &checks);
        prop_assert_eq!(result.is_ok(), claims_expected(&claims, now, leeway), "{:?}", result);
        if !(0..=MAX_LEEWAY_SECONDS).contains(&leeway) {
            prop_assert_eq!(result.unwrap_err(), JoseError::Leeway);
        } else if let Ok(returned) = result {
            prop_assert_eq!(returned, claims);
        }
    }
}

/// An index into `token` in one of its three parts (chosen first, so that the short header
/// and payload are hit as often as the long signature), and a replacement character.
fn one_character_change(token: &'static str) -> impl Strategy<Value = (usize, char)> {
    let first = token.find('.').unwrap();
    let second = first + 1 + token[first + 1..].find('.').unwrap();
    let position = prop_oneof![
        0..=first,
        first + 1..=second,
        second + 1..token.len(),
        Just(token.len() - 1),
    ];
    let alphabet: Vec<char> = ('A'..='Z')
        .chain('a'..='z')
        .chain('0'..='9')
        .chain("-_.=+/ ".chars())
        .collect();
    let replacement = prop_oneof![4 => select(alphabet), 1 => any::<char>()];
    (position, replacement)
}

fn change(token: &str, (at, replacement): (usize, char)) -> Option<String> {
    // Every token is ASCII (base64url and dots), so byte positions are characters.
    let original = token[at..].chars().next()?;
    if original == replacement {
        return None;
    }
    let mut changed = String::with_capacity(token.len() + 4);
    changed.push_str(&token[..at]);
    changed.push(replacement);
    changed.push_str(&token[at + 1..]);
    Some(changed)
}

fn assert_changed_token_fails(s: &Signed, changed: &str) -> Result<(), TestCaseError> {
    for result in [
        verify_compact(changed, &s.public),
        verify_compact_with_set(changed, &SET),
    ] {
        match result {
            Err(_) => {}
            Ok(verified) => prop_assert!(
                false,
                "changed token verified (payload changed: {})",
                verified.payload != s.payload
            ),
        }
    }
    Ok(())
}

// (b) One character changed anywhere in a valid token makes it fail.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_changed_character_breaks_an_ml_dsa_65_token(
        edit in one_character_change(&signed_by(SignatureAlgorithm::MlDsa65).token)
    ) {
        let s = signed_by(SignatureAlgorithm::MlDsa65);
        let Some(changed) = change(&s.token, edit) else { return Ok(()) };
        assert_changed_token_fails(s, &changed)?;
    }

    #[test]
    fn any_changed_character_breaks_an_eddsa_token(
        edit in one_character_change(&signed_by(SignatureAlgorithm::Ed25519).token)
    ) {
        let s = signed_by(SignatureAlgorithm::Ed25519);
        let Some(changed) = change(&s.token, edit) else { return Ok(()) };
        assert_changed_token_fails(s, &changed)?;
    }
}

// (c) Every algorithm's JWK round-trips, with any kid.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_jwk_round_trips_through_json(
        alg in select(SignatureAlgorithm::ALL.to_vec()),
        seed in any::<[u8; 32]>(),
        kid in prop::option::of(any::<String>()),
        private in any::<bool>(),
    ) {
        // A P-256 scalar of zero or not below the group order is no key (probability 2^-32).
        let Ok(key) = SigningKey::from_private_bytes(alg, &seed) else {
            prop_assume!(alg != SignatureAlgorithm::EcdsaP256);
            unreachable!("any 32 bytes are an ML-DSA or Ed25519 seed");
        };
        let public = key.verifying_key();
        let jwk = if private { Jwk::private(key, kid.clone()) } else { Jwk::public(public.clone(), kid.clone()) };
        let json = jwk.to_json();
        let parsed = Jwk::from_json(&serde_json::to_vec(&json).unwrap()).unwrap();
        prop_assert_eq!(parsed.algorithm(), alg);
        prop_assert_eq!(parsed.kid(), kid.as_deref());
        prop_assert_eq!(&parsed.verifying_key(), &public);
        prop_assert_eq!(
            parsed.signing_key().map(|k| k.private_bytes().to_vec()),
            private.then(|| seed.to_vec())
        );
        prop_assert_eq!(parsed.to_json(), json);
        // The public half never carries a private member, and parses to the same key.
        let public_json = jwk.to_public().to_json();
        prop_assert!(public_json.get("d").is_none() && public_json.get("priv").is_none());
        let parsed = Jwk::from_json(&serde_json::to_vec(&public_json).unwrap()).unwrap();
        prop_assert!(parsed.signing_key().is_none());
        prop_assert_eq!(&parsed.verifying_key(), &public);
        // A JWK Set of it round-trips too.
        let set = Jwks::from_json(&serde_json::to_vec(&Jwks::new(vec![jwk]).to_public_json()).unwrap()).unwrap();
        prop_assert_eq!(set.keys().len(), 1);
        prop_assert_eq!(&set.keys()[0].verifying_key(), &public);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn a_jwk_whose_halves_do_not_match_is_refused(
        alg in select(SignatureAlgorithm::ALL.to_vec()),
        seed in any::<[u8; 32]>(),
    ) {
        let Ok(other) = SigningKey::from_private_bytes(alg, &seed) else {
            prop_assume!(alg != SignatureAlgorithm::EcdsaP256);
            unreachable!("any 32 bytes are an ML-DSA or Ed25519 seed");
        };
        let other = Jwk::private(other, None).to_json();
        let ours = signed_by(alg).private.to_json();
        let (private, public): (&[&str], &[&str]) = match alg {
            SignatureAlgorithm::Ed25519 => (&["d"], &["x"]),
            SignatureAlgorithm::EcdsaP256 => (&["d"], &["x", "y"]),
            _ => (&["priv"], &["pub"]),
        };
        // Our public key with another private key, then our private key with another
        // public key: both are refused, not silently taken as either half.
        for members in [private, public] {
            let mut mixed = ours.clone();
            for member in members {
                mixed[*member] = other[*member].clone();
            }
            prop_assert_eq!(
                Jwk::from_json(&serde_json::to_vec(&mixed).unwrap()).unwrap_err(),
                JoseError::InvalidJwk("private key does not match public key")
            );
        }
    }
}

/// `token` with its header's `alg` replaced by `alg`, re-encoded; re-signed by `key` when
/// given, else with the original signature.
fn with_alg(token: &str, alg: &str, key: Option<&SigningKey>) -> String {
    let mut parts = token.split('.');
    let (header, payload, signature) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let mut header: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header.insert("alg".to_owned(), Value::from(alg));
    let input = format!("{}.{payload}", b64(&serde_json::to_vec(&header).unwrap()));
    let signature = match key {
        Some(key) => b64(&key.sign(input.as_bytes()).unwrap()),
        None => signature.to_owned(),
    };
    format!("{input}.{signature}")
}

fn alg_name() -> impl Strategy<Value = String> {
    let mut names: Vec<String> = SignatureAlgorithm::ALL
        .iter()
        .flat_map(|alg| {
            let name = alg.jose_name();
            [
                name.to_owned(),
                name.to_ascii_lowercase(),
                format!("{name} "),
            ]
        })
        .collect();
    names.extend(
        [
            "none", "None", "NONE", "nOnE", "HS256", "RS256", "Ed25519", "ML-DSA", "",
        ]
        .map(str::to_owned),
    );
    prop_oneof![4 => select(names), 1 => "\\PC{0,12}"]
}

// (d) Re-encoding the header with another `alg` is refused, signed again or not.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a_header_naming_another_algorithm_is_refused(
        alg in select(SignatureAlgorithm::ALL.to_vec()),
        name in alg_name(),
        resign in any::<bool>(),
    ) {
        let s = signed_by(alg);
        let signing = s.private.signing_key().unwrap();
        let token = with_alg(&s.token, &name, resign.then_some(signing));
        for result in [verify_compact(&token, &s.public), verify_compact_with_set(&token, &SET)] {
            if name == alg.jose_name() {
                // The control: the same re-encoding with the key's own name verifies.
                if resign {
                    prop_assert_eq!(result.unwrap().payload, s.payload.clone());
                }
            } else if name.eq_ignore_ascii_case("none") {
                prop_assert_eq!(result.unwrap_err(), JoseError::AlgNone);
            } else {
                prop_assert_eq!(result.unwrap_err(), JoseError::AlgMismatch);
            }
        }
    }

    #[test]
    fn a_sealed_message_with_any_byte_changed_does_not_open(
        at in 0..SEALED.len(),
        flip in 1..=255u8,
    ) {
        let mut changed = SEALED.clone();
        changed[at] ^= flip;
        prop_assert!(RECIPIENT.open(b"aad", &changed).is_err());
    }
}

/// The fixtures the properties start from are valid: each token verifies with its key and
/// through the set, and the sealed message opens. Without this, properties (b) and (d) would
/// pass against a verifier that refused everything.
#[test]
fn the_unchanged_fixtures_verify() {
    for s in SIGNED.iter() {
        assert_eq!(
            verify_compact(&s.token, &s.public).unwrap().payload,
            s.payload
        );
        assert_eq!(
            verify_compact_with_set(&s.token, &SET).unwrap().payload,
            s.payload
        );
        let claims = check_claims(&s.payload, &checks()).unwrap();
        assert_eq!(claims["sub"], "pairwise-synthetic");
        let resigned = with_alg(
            &s.token,
            s.alg.jose_name(),
            Some(s.private.signing_key().unwrap()),
        );
        assert!(verify_compact(&resigned, &s.public).is_ok());
    }
    assert_eq!(
        &RECIPIENT.open(b"aad", &SEALED).unwrap()[..],
        b"a synthetic backup"
    );
    let text = RECIPIENT.public_key().to_text();
    assert_eq!(
        HybridPublicKey::from_text(&format!(" {text}\n")).unwrap(),
        RECIPIENT.public_key()
    );
}
