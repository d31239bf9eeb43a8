//! JWK and JWK Set parsing on arbitrary bytes. Must never panic; a JWK that parses must
//! round-trip through `to_json` to an equal key.
#![no_main]

use dinhdanh_crypto::jose::{Jwk, Jwks};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(jwk) = Jwk::from_json(data) {
        let json = serde_json::to_vec(&jwk.to_json()).expect("a JSON value serialises");
        let again = Jwk::from_json(&json).expect("a parsed JWK's own JSON parses");
        assert_eq!(again.verifying_key(), jwk.verifying_key());
        assert_eq!(again.kid(), jwk.kid());
        assert_eq!(again.signing_key().is_some(), jwk.signing_key().is_some());
    }
    if let Ok(set) = Jwks::from_json(data) {
        let json = serde_json::to_vec(&set.to_public_json()).expect("a JSON value serialises");
        let again = Jwks::from_json(&json).expect("a parsed set's own JSON parses");
        assert_eq!(again.keys().len(), set.keys().len());
    }
});
