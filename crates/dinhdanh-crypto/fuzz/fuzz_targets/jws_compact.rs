//! Compact JWS verification on arbitrary UTF-8, against one key and against a key set.
//! Must never panic; and the two paths must agree: a token that one key accepts and that names
//! that key's `kid` is accepted through the set too, with the same payload. (The seeds are
//! signed by these keys, so the fuzzer starts from tokens that verify.)
#![no_main]

use dinhdanh_crypto::jose::{verify_compact, verify_compact_with_set};
use dinhdanh_crypto_fuzz::jws_keys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let keys = jws_keys();
    for key in [&keys.ml_dsa_65, &keys.ed25519] {
        if let Ok(verified) = verify_compact(token, key) {
            // Whatever verified must verify again the same way through the set.
            let again = verify_compact_with_set(token, &keys.set);
            if verified.header.contains_key("kid") {
                let again = again.expect("a token one key verifies, its set verifies too");
                assert_eq!(again.payload, verified.payload);
            }
        }
    }
    let _ = verify_compact_with_set(token, &keys.set);
});
