//! Writes the seed corpus of every fuzz target into `corpus/<target>/`: valid tokens, JWKs,
//! claims and sealed messages made by dinhdanh-crypto with the fixed fuzzing keys, and a few
//! near misses. All synthetic.
//!
//! From this folder:
//!
//! ```text
//! cargo run --example seed_corpus                      # (re)writes corpus/
//! cargo run --example seed_corpus -- --new-recipient   # replaces fixtures/hybrid_recipient.bin
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dinhdanh_crypto::jose::{Jwks, sign_compact, verify_compact_with_set};
use dinhdanh_crypto::{HybridRecipientKey, SignatureAlgorithm};
use dinhdanh_crypto_fuzz::{CLAIM_CHECKS, HYBRID_AAD, jws_keys, private_jwk, recipient};
use serde_json::json;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if std::env::args().any(|arg| arg == "--new-recipient") {
        let path = root.join("fixtures/hybrid_recipient.bin");
        fs::write(&path, &*HybridRecipientKey::generate()?.to_bytes())?;
        println!("wrote {}", path.display());
        return Ok(());
    }
    let corpus = root.join("corpus");
    jws_compact(&corpus.join("jws_compact"))?;
    jwk(&corpus.join("jwk"))?;
    claims(&corpus.join("claims"))?;
    hybrid_text(&corpus.join("hybrid_text"))?;
    println!("wrote {}", corpus.display());
    Ok(())
}

fn writer(dir: &Path) -> Result<impl FnMut(&str, &[u8]) -> Result<()>> {
    fs::create_dir_all(dir)?;
    let dir: PathBuf = dir.to_owned();
    Ok(move |name: &str, bytes: &[u8]| Ok(fs::write(dir.join(name), bytes)?))
}

fn claims_json(now: i64) -> Vec<u8> {
    json!({
        "iss": CLAIM_CHECKS.issuer,
        "aud": ["rp-other", CLAIM_CHECKS.audience],
        "sub": "pairwise-synthetic",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    })
    .to_string()
    .into_bytes()
}

fn jws_compact(dir: &Path) -> Result<()> {
    let mut write = writer(dir)?;
    let payload = claims_json(CLAIM_CHECKS.now);
    for alg in SignatureAlgorithm::ALL {
        let key = private_jwk(alg);
        let name = alg.jose_name().to_ascii_lowercase();
        let token = sign_compact(&key, Some("JWT"), &payload)?;
        // The seeds are worth most when they verify under the keys the target holds.
        verify_compact_with_set(&token, &jws_keys().set)?;
        write(&format!("{name}.jwt"), token.as_bytes())?;
        write(
            &format!("{name}-short.jws"),
            sign_compact(&key, None, b"x")?.as_bytes(),
        )?;
    }
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let unsigned = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(&payload));
    write("alg-none.jws", unsigned.as_bytes())?;
    let crit = format!(
        "{}.{}.",
        b64(br#"{"alg":"EdDSA","crit":["exp"]}"#),
        b64(&payload)
    );
    write("crit.jws", crit.as_bytes())?;
    write("not-compact.jws", b"a.b")?;
    Ok(())
}

fn jwk(dir: &Path) -> Result<()> {
    let mut write = writer(dir)?;
    let mut public = Vec::new();
    for alg in SignatureAlgorithm::ALL {
        let key = private_jwk(alg);
        let name = alg.jose_name().to_ascii_lowercase();
        write(
            &format!("{name}-private.json"),
            key.to_json().to_string().as_bytes(),
        )?;
        write(
            &format!("{name}-public.json"),
            key.to_public().to_json().to_string().as_bytes(),
        )?;
        public.push(key.to_public());
    }
    let set: Jwks = Jwks::new(public);
    write("jwks.json", set.to_public_json().to_string().as_bytes())?;
    write(
        "jwks-unknown-kty.json",
        br#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#,
    )?;
    write("duplicate.json", br#"{"kty":"OKP","kty":"EC"}"#)?;
    Ok(())
}

fn claims(dir: &Path) -> Result<()> {
    let mut write = writer(dir)?;
    let now = CLAIM_CHECKS.now;
    dinhdanh_crypto::jose::check_claims(&claims_json(now), &CLAIM_CHECKS)?;
    write("valid.json", &claims_json(now))?;
    let single_aud = json!({
        "iss": CLAIM_CHECKS.issuer, "aud": CLAIM_CHECKS.audience, "exp": 1.8e9 + 10.5
    });
    write(
        "single-aud-float-exp.json",
        single_aud.to_string().as_bytes(),
    )?;
    write("expired.json", &claims_json(now - 10_000))?;
    write("duplicate.json", br#"{"exp":1,"exp":2}"#)?;
    write(
        "extremes.json",
        br#"{"iss":"https://id.dinhdanh.invalid","aud":"rp-fuzz","exp":9223372036854775807,"nbf":-9223372036854775808,"iat":1e300}"#,
    )?;
    Ok(())
}

fn hybrid_text(dir: &Path) -> Result<()> {
    let mut write = writer(dir)?;
    let recipient = recipient();
    let public = recipient.public_key();
    write("public.txt", public.to_text().as_bytes())?;
    write(
        "public-line.txt",
        format!("  {}\n", public.to_text()).as_bytes(),
    )?;
    write("public.bin", &public.to_bytes())?;
    write("recipient.bin", &recipient.to_bytes())?;
    write("sealed-empty.bin", &public.seal(HYBRID_AAD, b"")?)?;
    let sealed = public.seal(HYBRID_AAD, b"synthetic backup for fuzzing")?;
    recipient.open(HYBRID_AAD, &sealed)?;
    write("sealed.bin", &sealed)?;
    write("sealed-no-aad.bin", &public.seal(b"", b"x")?)?;
    Ok(())
}
