//! Hybrid public keys from text and from bytes, recipient keys from bytes, and sealed messages
//! opened by a fixed recipient, on arbitrary input. Must never panic; a public key that parses
//! must give back the same text and bytes.
#![no_main]

use dinhdanh_crypto::{HybridPublicKey, HybridRecipientKey};
use dinhdanh_crypto_fuzz::{HYBRID_AAD, recipient};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(key) = HybridPublicKey::from_text(text)
    {
        assert_eq!(key.to_text(), text.trim());
    }
    if let Ok(key) = HybridPublicKey::from_bytes(data) {
        assert_eq!(key.to_bytes(), data);
    }
    if let Ok(key) = HybridRecipientKey::from_bytes(data) {
        assert_eq!(&key.to_bytes()[..], data);
    }
    let recipient = recipient();
    let _ = recipient.open(HYBRID_AAD, data);
    let _ = recipient.open(b"", data);
});
