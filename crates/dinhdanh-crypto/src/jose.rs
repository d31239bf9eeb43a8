//! A thin JOSE layer: JWK (RFC 7517, RFC 9964 `AKP` keys for ML-DSA, `OKP` Ed25519, `EC`
//! P-256), JWKS, JWS compact serialisation (RFC 7515) and JWT claim checks (RFC 7519).
//!
//! No maintained Rust JOSE crate speaks ML-DSA yet, so this module owns the little that
//! dinhdanh needs, strictly:
//! - the algorithm is pinned by the key, never taken from the token: a header `alg` that is not
//!   the key's is refused, and `none` is refused before anything else;
//! - any `crit` header is refused (this layer understands no extension);
//! - JSON with a duplicate member name is refused (RFC 7515 §5.2 lets a parser reject it; a
//!   duplicate is the classic way to make two parsers disagree);
//! - input over a size bound is refused before it is decoded;
//! - base64url must be canonical and unpadded (RFC 7515 §2).
//!
//! It never logs, and no error carries key material or token contents.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::{SignatureAlgorithm, SigningKey, VerifyingKey};

/// Largest compact JWS accepted, in bytes. An ML-DSA-87 signature alone is 6,170 base64url
/// characters; 64 KiB leaves room for any ID token or security event token.
pub const MAX_JWS_BYTES: usize = 64 * 1024;

/// Largest JWK or JWKS document accepted, in bytes.
pub const MAX_JWK_BYTES: usize = 256 * 1024;

/// Largest clock skew a JWT check may allow, in seconds.
pub const MAX_LEEWAY_SECONDS: i64 = 300;

/// Why a JOSE object was refused. Each refusal has its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoseError {
    /// The input is larger than the bound for its kind.
    #[error("input exceeds {0} bytes")]
    Oversized(usize),
    /// A compact JWS is not three base64url parts separated by dots.
    #[error("not a compact JWS (three base64url parts)")]
    NotCompact,
    /// A part is not canonical, unpadded base64url.
    #[error("invalid base64url in {0}")]
    Base64(&'static str),
    /// A part is not a JSON object, or not valid JSON.
    #[error("{0} is not a JSON object")]
    NotJsonObject(&'static str),
    /// A JSON object names the same member twice.
    #[error("duplicate member {0:?} in JSON")]
    DuplicateMember(String),
    /// The header has no `alg`, or it is not a string.
    #[error("header has no alg")]
    MissingAlg,
    /// The header says `alg: none`: unsecured JWS is never accepted.
    #[error("alg none is refused")]
    AlgNone,
    /// The header's `alg` is not the verifying key's algorithm.
    #[error("header alg does not match the key's algorithm")]
    AlgMismatch,
    /// The header has a `crit` member; no extension is understood.
    #[error("critical header extension not understood")]
    UnknownCritical,
    /// The header's `kid` is not the key's.
    #[error("header kid does not match the key")]
    KidMismatch,
    /// No key of the set has the header's `kid` (or the header has none and the set has
    /// several keys).
    #[error("no key matches the token")]
    NoMatchingKey,
    /// The signature does not verify.
    #[error("signature verification failed")]
    BadSignature,
    /// A JWK is malformed: missing or ill-typed member, unknown key type or curve, bad length.
    #[error("invalid JWK: {0}")]
    InvalidJwk(&'static str),
    /// A JWT claim has the wrong type.
    #[error("claim {0} has the wrong type")]
    ClaimType(&'static str),
    /// A required JWT claim is absent.
    #[error("claim {0} is missing")]
    MissingClaim(&'static str),
    /// `exp` is past.
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` is in the future.
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `iss` is not the expected issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` does not name the expected audience.
    #[error("wrong audience")]
    WrongAudience,
    /// The skew asked for is over [`MAX_LEEWAY_SECONDS`] or negative.
    #[error("leeway must be between 0 and {MAX_LEEWAY_SECONDS} seconds")]
    Leeway,
    /// Signing failed inside the cryptographic library.
    #[error("signing failed")]
    SigningFailed,
}

// ---------------------------------------------------------------------------------------------
// Strict JSON
// ---------------------------------------------------------------------------------------------

/// A JSON value parsed with duplicate member names refused, at every depth.
struct StrictValue(Value);

impl<'de> serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

/// The marker the visitor puts in a custom error, to tell duplicates from other errors.
const DUPLICATE_MARKER: &str = "dinhdanh-duplicate-member:";

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let StrictValue(value) = map.next_value()?;
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("{DUPLICATE_MARKER}{key}")));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Parses a JSON object, refusing duplicate member names at any depth.
fn strict_object(bytes: &[u8], what: &'static str) -> Result<Map<String, Value>, JoseError> {
    match serde_json::from_slice::<StrictValue>(bytes) {
        Ok(StrictValue(Value::Object(object))) => Ok(object),
        Ok(_) => Err(JoseError::NotJsonObject(what)),
        Err(err) => {
            let message = err.to_string();
            match message.find(DUPLICATE_MARKER) {
                Some(at) => {
                    let rest = &message[at + DUPLICATE_MARKER.len()..];
                    let name = rest.split(" at line").next().unwrap_or(rest);
                    Err(JoseError::DuplicateMember(name.to_owned()))
                }
                None => Err(JoseError::NotJsonObject(what)),
            }
        }
    }
}

fn b64_decode(text: &str, what: &'static str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| JoseError::Base64(what))
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

// ---------------------------------------------------------------------------------------------
// JWK
// ---------------------------------------------------------------------------------------------

/// A key as a JWK: public only, or with its private part.
#[derive(Clone)]
enum KeyMaterial {
    Public(VerifyingKey),
    Private(std::sync::Arc<SigningKey>),
}

/// A JSON Web Key for one signature algorithm, with an optional `kid` and `use`.
#[derive(Clone)]
pub struct Jwk {
    kid: Option<String>,
    key_use: Option<String>,
    material: KeyMaterial,
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("alg", &self.algorithm().jose_name())
            .field("private", &matches!(self.material, KeyMaterial::Private(_)))
            .finish()
    }
}

impl Jwk {
    /// A public JWK.
    pub fn public(key: VerifyingKey, kid: Option<String>) -> Self {
        Self {
            kid,
            key_use: Some("sig".to_owned()),
            material: KeyMaterial::Public(key),
        }
    }

    /// A private JWK (for key backups; never published).
    pub fn private(key: SigningKey, kid: Option<String>) -> Self {
        Self {
            kid,
            key_use: Some("sig".to_owned()),
            material: KeyMaterial::Private(std::sync::Arc::new(key)),
        }
    }

    /// The key id.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithm the key is pinned to.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        match &self.material {
            KeyMaterial::Public(key) => key.algorithm(),
            KeyMaterial::Private(key) => key.algorithm(),
        }
    }

    /// The public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        match &self.material {
            KeyMaterial::Public(key) => key.clone(),
            KeyMaterial::Private(key) => key.verifying_key(),
        }
    }

    /// The private key, if this JWK has one.
    pub fn signing_key(&self) -> Option<&SigningKey> {
        match &self.material {
            KeyMaterial::Public(_) => None,
            KeyMaterial::Private(key) => Some(key),
        }
    }

    /// The public half of this JWK.
    pub fn to_public(&self) -> Jwk {
        Jwk {
            kid: self.kid.clone(),
            key_use: self.key_use.clone(),
            material: KeyMaterial::Public(self.verifying_key()),
        }
    }

    /// The JWK as a JSON object. Private members (`priv`, `d`) appear only for a private JWK.
    pub fn to_json(&self) -> Value {
        let algorithm = self.algorithm();
        let public = self.verifying_key();
        let mut object = Map::new();
        match algorithm {
            SignatureAlgorithm::Ed25519 => {
                object.insert("kty".into(), "OKP".into());
                object.insert("crv".into(), "Ed25519".into());
                object.insert("x".into(), b64(public.as_bytes()).into());
            }
            SignatureAlgorithm::EcdsaP256 => {
                // Uncompressed SEC1 point: 0x04 ‖ x ‖ y (RFC 7518 §6.2.1).
                let point = public.as_bytes();
                object.insert("kty".into(), "EC".into());
                object.insert("crv".into(), "P-256".into());
                object.insert("x".into(), b64(&point[1..33]).into());
                object.insert("y".into(), b64(&point[33..65]).into());
            }
            _ => {
                // RFC 9964: key type AKP, public key in `pub`.
                object.insert("kty".into(), "AKP".into());
                object.insert("pub".into(), b64(public.as_bytes()).into());
            }
        }
        object.insert("alg".into(), algorithm.jose_name().into());
        if let Some(kid) = &self.kid {
            object.insert("kid".into(), kid.clone().into());
        }
        if let Some(key_use) = &self.key_use {
            object.insert("use".into(), key_use.clone().into());
        }
        if let KeyMaterial::Private(key) = &self.material {
            let member = match algorithm {
                SignatureAlgorithm::Ed25519 | SignatureAlgorithm::EcdsaP256 => "d",
                _ => "priv",
            };
            object.insert(member.into(), b64(&key.private_bytes()).into());
        }
        Value::Object(object)
    }

    /// Parses a JWK from JSON text, strictly.
    pub fn from_json(text: &[u8]) -> Result<Self, JoseError> {
        if text.len() > MAX_JWK_BYTES {
            return Err(JoseError::Oversized(MAX_JWK_BYTES));
        }
        Self::from_object(&strict_object(text, "JWK")?)
    }

    fn from_object(object: &Map<String, Value>) -> Result<Self, JoseError> {
        let text = |name: &'static str| -> Result<Option<&str>, JoseError> {
            match object.get(name) {
                None => Ok(None),
                Some(Value::String(value)) => Ok(Some(value)),
                Some(_) => Err(JoseError::InvalidJwk(name)),
            }
        };
        let bytes = |name: &'static str| -> Result<Option<Vec<u8>>, JoseError> {
            text(name)?.map(|value| b64_decode(value, name)).transpose()
        };
        let required = |name: &'static str| -> Result<Vec<u8>, JoseError> {
            bytes(name)?.ok_or(JoseError::InvalidJwk(name))
        };
        let alg = text("alg")?;
        let (algorithm, public, private) = match text("kty")? {
            Some("AKP") => {
                // RFC 9964 §2: `alg` is required for AKP keys.
                let algorithm = alg
                    .and_then(SignatureAlgorithm::from_jose_name)
                    .filter(|a| {
                        matches!(
                            a,
                            SignatureAlgorithm::MlDsa44
                                | SignatureAlgorithm::MlDsa65
                                | SignatureAlgorithm::MlDsa87
                        )
                    })
                    .ok_or(JoseError::InvalidJwk("alg"))?;
                (algorithm, required("pub")?, bytes("priv")?)
            }
            Some("OKP") => {
                if text("crv")? != Some("Ed25519") {
                    return Err(JoseError::InvalidJwk("crv"));
                }
                (SignatureAlgorithm::Ed25519, required("x")?, bytes("d")?)
            }
            Some("EC") => {
                if text("crv")? != Some("P-256") {
                    return Err(JoseError::InvalidJwk("crv"));
                }
                let (x, y) = (required("x")?, required("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(JoseError::InvalidJwk("x"));
                }
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                (SignatureAlgorithm::EcdsaP256, point, bytes("d")?)
            }
            _ => return Err(JoseError::InvalidJwk("kty")),
        };
        // An `alg` given on an OKP or EC key must be the one its curve pins.
        if let Some(alg) = alg
            && alg != algorithm.jose_name()
        {
            return Err(JoseError::InvalidJwk("alg"));
        }
        let verifying = VerifyingKey::from_bytes(algorithm, &public)
            .map_err(|_| JoseError::InvalidJwk("public key"))?;
        let material = match private {
            None => KeyMaterial::Public(verifying),
            Some(private) => {
                let signing = SigningKey::from_private_bytes(algorithm, &private)
                    .map_err(|_| JoseError::InvalidJwk("private key"))?;
                if signing.verifying_key() != verifying {
                    return Err(JoseError::InvalidJwk(
                        "private key does not match public key",
                    ));
                }
                KeyMaterial::Private(std::sync::Arc::new(signing))
            }
        };
        Ok(Jwk {
            kid: text("kid")?.map(str::to_owned),
            key_use: text("use")?.map(str::to_owned),
            material,
        })
    }
}

/// A JWK Set (RFC 7517 §5).
#[derive(Clone, Debug, Default)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

impl Jwks {
    /// A set of keys.
    pub fn new(keys: Vec<Jwk>) -> Self {
        Self { keys }
    }

    /// The keys.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// The set as JSON, with public members only: a private key never leaves through here.
    pub fn to_public_json(&self) -> Value {
        let keys = self
            .keys
            .iter()
            .map(|key| key.to_public().to_json())
            .collect();
        let mut object = Map::new();
        object.insert("keys".into(), Value::Array(keys));
        Value::Object(object)
    }

    /// Parses a JWK Set. Keys of a type or algorithm this layer does not know are skipped, as
    /// RFC 7517 §5 asks; a malformed key of a known type is an error.
    pub fn from_json(text: &[u8]) -> Result<Self, JoseError> {
        if text.len() > MAX_JWK_BYTES {
            return Err(JoseError::Oversized(MAX_JWK_BYTES));
        }
        let object = strict_object(text, "JWK Set")?;
        let Some(Value::Array(items)) = object.get("keys") else {
            return Err(JoseError::InvalidJwk("keys"));
        };
        let mut keys = Vec::new();
        for item in items {
            let Value::Object(item) = item else {
                return Err(JoseError::InvalidJwk("keys"));
            };
            match Jwk::from_object(item) {
                Ok(key) => keys.push(key),
                Err(JoseError::InvalidJwk("kty" | "crv")) => continue,
                Err(other) => return Err(other),
            }
        }
        Ok(Self { keys })
    }

    /// The key a token's header names: by `kid`, or the only key when the header has none.
    fn select(&self, kid: Option<&str>) -> Result<&Jwk, JoseError> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|key| key.kid() == Some(kid))
                .ok_or(JoseError::NoMatchingKey),
            None if self.keys.len() == 1 => Ok(&self.keys[0]),
            None => Err(JoseError::NoMatchingKey),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JWS compact
// ---------------------------------------------------------------------------------------------

/// Signs `payload` as a compact JWS with `key`. The header carries `alg` (the key's), `kid`
/// (the key's, if it has one) and `typ` if given.
pub fn sign_compact(key: &Jwk, typ: Option<&str>, payload: &[u8]) -> Result<String, JoseError> {
    let signing = key
        .signing_key()
        .ok_or(JoseError::InvalidJwk("no private key"))?;
    // Header members in a fixed order, for stable output.
    let mut header = BTreeMap::new();
    header.insert("alg", Value::from(signing.algorithm().jose_name()));
    if let Some(kid) = key.kid() {
        header.insert("kid", Value::from(kid));
    }
    if let Some(typ) = typ {
        header.insert("typ", Value::from(typ));
    }
    let header = serde_json::to_vec(&header).map_err(|_| JoseError::SigningFailed)?;
    let signature_len = signing.algorithm().signature_len();
    let mut token =
        String::with_capacity((header.len() + payload.len() + signature_len) * 4 / 3 + 8);
    URL_SAFE_NO_PAD.encode_string(&header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = signing
        .sign(token.as_bytes())
        .map_err(|_| JoseError::SigningFailed)?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
    Ok(token)
}

/// A JWS whose signature verified: its protected header and payload.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

struct CompactParts<'a> {
    signing_input: &'a str,
    header: Map<String, Value>,
    payload_b64: &'a str,
    signature_b64: &'a str,
}

fn split_compact(token: &str) -> Result<CompactParts<'_>, JoseError> {
    if token.len() > MAX_JWS_BYTES {
        return Err(JoseError::Oversized(MAX_JWS_BYTES));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::NotCompact);
    };
    let header = strict_object(&b64_decode(header_b64, "header")?, "header")?;
    // RFC 7515 §4.1.1: `alg` is required. `none` is refused before anything else is read.
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg,
        _ => return Err(JoseError::MissingAlg),
    };
    if alg.eq_ignore_ascii_case("none") {
        return Err(JoseError::AlgNone);
    }
    // RFC 7515 §4.1.11: extensions listed in `crit` must be understood; none are.
    if header.contains_key("crit") {
        return Err(JoseError::UnknownCritical);
    }
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    Ok(CompactParts {
        signing_input,
        header,
        payload_b64,
        signature_b64,
    })
}

fn verify_parts(parts: CompactParts<'_>, key: &Jwk) -> Result<VerifiedJws, JoseError> {
    let verifying = key.verifying_key();
    // The algorithm is the key's; the header must agree, never choose.
    if parts.header.get("alg").and_then(Value::as_str) != Some(verifying.algorithm().jose_name()) {
        return Err(JoseError::AlgMismatch);
    }
    if let (Some(expected), Some(found)) = (key.kid(), parts.header.get("kid"))
        && found.as_str() != Some(expected)
    {
        return Err(JoseError::KidMismatch);
    }
    let signature = b64_decode(parts.signature_b64, "signature")?;
    verifying
        .verify(parts.signing_input.as_bytes(), &signature)
        .map_err(|_| JoseError::BadSignature)?;
    let payload = b64_decode(parts.payload_b64, "payload")?;
    Ok(VerifiedJws {
        header: parts.header,
        payload,
    })
}

/// Verifies a compact JWS with one key.
pub fn verify_compact(token: &str, key: &Jwk) -> Result<VerifiedJws, JoseError> {
    verify_parts(split_compact(token)?, key)
}

/// Verifies a compact JWS with the key of a set its header's `kid` names.
pub fn verify_compact_with_set(token: &str, keys: &Jwks) -> Result<VerifiedJws, JoseError> {
    let parts = split_compact(token)?;
    let kid = match parts.header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.as_str()),
        Some(_) => return Err(JoseError::NoMatchingKey),
    };
    let key = keys.select(kid)?;
    verify_parts(parts, key)
}

// ---------------------------------------------------------------------------------------------
// JWT claims
// ---------------------------------------------------------------------------------------------

/// What a JWT must satisfy besides its signature.
#[derive(Debug, Clone)]
pub struct ClaimChecks<'a> {
    /// The expected `iss`.
    pub issuer: &'a str,
    /// The audience that must appear in `aud`.
    pub audience: &'a str,
    /// Now, in seconds since the epoch.
    pub now: i64,
    /// Allowed clock skew, in seconds (at most [`MAX_LEEWAY_SECONDS`]).
    pub leeway: i64,
}

/// Checks the registered claims of a verified JWT payload (RFC 7519 §4.1) and returns the
/// claims. `exp`, `iss` and `aud` are required; `nbf` and `iat` are checked when present.
pub fn check_claims(
    payload: &[u8],
    checks: &ClaimChecks<'_>,
) -> Result<Map<String, Value>, JoseError> {
    if !(0..=MAX_LEEWAY_SECONDS).contains(&checks.leeway) {
        return Err(JoseError::Leeway);
    }
    let claims = strict_object(payload, "payload")?;
    let number = |name: &'static str| -> Result<Option<i64>, JoseError> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f.floor() as i64))
                .map(Some)
                .ok_or(JoseError::ClaimType(name)),
            Some(_) => Err(JoseError::ClaimType(name)),
        }
    };
    let exp = number("exp")?.ok_or(JoseError::MissingClaim("exp"))?;
    if checks.now > exp.saturating_add(checks.leeway) {
        return Err(JoseError::Expired);
    }
    if let Some(nbf) = number("nbf")?
        && checks.now.saturating_add(checks.leeway) < nbf
    {
        return Err(JoseError::NotYetValid);
    }
    if let Some(iat) = number("iat")?
        && iat > checks.now.saturating_add(checks.leeway)
    {
        return Err(JoseError::IssuedInFuture);
    }
    match claims.get("iss") {
        None => return Err(JoseError::MissingClaim("iss")),
        Some(Value::String(iss)) if iss == checks.issuer => {}
        Some(Value::String(_)) => return Err(JoseError::WrongIssuer),
        Some(_) => return Err(JoseError::ClaimType("iss")),
    }
    let audience_ok = match claims.get("aud") {
        None => return Err(JoseError::MissingClaim("aud")),
        Some(Value::String(aud)) => aud == checks.audience,
        Some(Value::Array(auds)) => {
            if auds.iter().any(|a| !a.is_string()) {
                return Err(JoseError::ClaimType("aud"));
            }
            auds.iter().any(|a| a.as_str() == Some(checks.audience))
        }
        Some(_) => return Err(JoseError::ClaimType("aud")),
    };
    if !audience_ok {
        return Err(JoseError::WrongAudience);
    }
    Ok(claims)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn private(alg: SignatureAlgorithm, kid: &str) -> Jwk {
        Jwk::private(SigningKey::generate(alg).unwrap(), Some(kid.to_owned()))
    }

    fn claims(now: i64) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "iss": "https://id.dinhdanh.invalid",
            "aud": ["rp-1", "rp-2"],
            "sub": "pairwise-abc",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
        }))
        .unwrap()
    }

    fn checks(now: i64) -> ClaimChecks<'static> {
        ClaimChecks {
            issuer: "https://id.dinhdanh.invalid",
            audience: "rp-2",
            now,
            leeway: 30,
        }
    }

    /// A compact JWS with the given header JSON, signed by `key` over whatever header it has.
    fn forge(header: &str, payload: &[u8], key: &SigningKey) -> String {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload));
        let signature = key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", b64(&signature))
    }

    #[test]
    fn every_algorithm_round_trips_through_jws_and_jwk() {
        let now = 1_800_000_000;
        for alg in SignatureAlgorithm::ALL {
            let key = private(alg, "k1");
            let token = sign_compact(&key, Some("JWT"), &claims(now)).unwrap();
            let public =
                Jwk::from_json(&serde_json::to_vec(&key.to_public().to_json()).unwrap()).unwrap();
            assert_eq!(public.algorithm(), alg);
            assert!(public.signing_key().is_none());
            let verified = verify_compact(&token, &public).unwrap();
            assert_eq!(verified.header["alg"], alg.jose_name());
            assert_eq!(verified.header["typ"], "JWT");
            let claims = check_claims(&verified.payload, &checks(now)).unwrap();
            assert_eq!(claims["sub"], "pairwise-abc");

            // The private JWK round-trips and signs the same way.
            let again = Jwk::from_json(&serde_json::to_vec(&key.to_json()).unwrap()).unwrap();
            assert_eq!(again.verifying_key(), key.verifying_key());
            let token = sign_compact(&again, None, b"x").unwrap();
            assert_eq!(verify_compact(&token, &public).unwrap().payload, b"x");
        }
    }

    #[test]
    fn rfc_9964_member_names_are_used_for_ml_dsa() {
        let key = private(SignatureAlgorithm::MlDsa65, "pq");
        let json = key.to_json();
        assert_eq!(json["kty"], "AKP");
        assert_eq!(json["alg"], "ML-DSA-65");
        assert_eq!(
            b64_decode(json["pub"].as_str().unwrap(), "pub")
                .unwrap()
                .len(),
            1952
        );
        assert_eq!(
            b64_decode(json["priv"].as_str().unwrap(), "priv")
                .unwrap()
                .len(),
            32
        );
        let public = key.to_public().to_json();
        assert!(public.get("priv").is_none());
    }

    #[test]
    fn a_token_resigned_with_another_algorithm_or_none_is_refused() {
        let ml = private(SignatureAlgorithm::MlDsa65, "k1");
        let ed = private(SignatureAlgorithm::Ed25519, "k1");
        let payload = claims(1_800_000_000);
        // Signed by an Ed25519 key claiming EdDSA, checked against the ML-DSA key: refused.
        let token = sign_compact(&ed, None, &payload).unwrap();
        assert_eq!(
            verify_compact(&token, &ml.to_public()).unwrap_err(),
            JoseError::AlgMismatch
        );
        // Header says ML-DSA-65 but the signature is Ed25519's: the signature fails.
        let forged = forge(
            r#"{"alg":"ML-DSA-65","kid":"k1"}"#,
            &payload,
            ed.signing_key().unwrap(),
        );
        assert_eq!(
            verify_compact(&forged, &ml.to_public()).unwrap_err(),
            JoseError::BadSignature
        );
        // alg none, with or without a signature, in any case.
        for header in [r#"{"alg":"none"}"#, r#"{"alg":"NONE"}"#] {
            let unsigned = format!("{}.{}.", b64(header.as_bytes()), b64(&payload));
            assert_eq!(
                verify_compact(&unsigned, &ml.to_public()).unwrap_err(),
                JoseError::AlgNone
            );
        }
    }

    #[test]
    fn each_malformed_input_has_its_own_error() {
        let key = private(SignatureAlgorithm::Ed25519, "k1");
        let signing = key.signing_key().unwrap();
        let public = key.to_public();
        let payload = br#"{"a":1}"#;
        let cases: Vec<(String, JoseError)> = vec![
            ("a.b".to_owned(), JoseError::NotCompact),
            ("a.b.c.d".to_owned(), JoseError::NotCompact),
            ("!!.e30.".to_owned(), JoseError::Base64("header")),
            (
                format!("{}.e30.", b64(b"[1,2]")),
                JoseError::NotJsonObject("header"),
            ),
            (
                format!("{}.e30.", b64(br#"{"kid":"k1"}"#)),
                JoseError::MissingAlg,
            ),
            (
                forge(r#"{"alg":"EdDSA","alg":"none"}"#, payload, signing),
                JoseError::DuplicateMember("alg".to_owned()),
            ),
            (
                forge(
                    r#"{"alg":"EdDSA","crit":["exp"],"exp":1}"#,
                    payload,
                    signing,
                ),
                JoseError::UnknownCritical,
            ),
            (
                forge(r#"{"alg":"EdDSA","kid":"other"}"#, payload, signing),
                JoseError::KidMismatch,
            ),
            (
                format!("{}=", sign_compact(&key, None, payload).unwrap()),
                JoseError::Base64("signature"),
            ),
            (
                "x".repeat(MAX_JWS_BYTES + 1),
                JoseError::Oversized(MAX_JWS_BYTES),
            ),
        ];
        for (token, expected) in cases {
            assert_eq!(
                verify_compact(&token, &public).unwrap_err(),
                expected,
                "{token:.60}"
            );
        }
        // A tampered payload.
        let token = sign_compact(&key, None, payload).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let other = b64(br#"{"a":2}"#);
        parts[1] = &other;
        assert_eq!(
            verify_compact(&parts.join("."), &public).unwrap_err(),
            JoseError::BadSignature
        );
        // Duplicate claims in a correctly signed payload.
        let token = sign_compact(&key, None, br#"{"exp":1,"exp":2}"#).unwrap();
        let verified = verify_compact(&token, &public).unwrap();
        assert_eq!(
            check_claims(&verified.payload, &checks(0)).unwrap_err(),
            JoseError::DuplicateMember("exp".to_owned())
        );
    }

    #[test]
    fn claim_checks_refuse_each_bad_claim() {
        let now = 1_800_000_000;
        let with = |patch: serde_json::Value| {
            let mut claims: Value = serde_json::from_slice(&claims(now)).unwrap();
            for (k, v) in patch.as_object().unwrap() {
                if v.is_null() {
                    claims.as_object_mut().unwrap().remove(k);
                } else {
                    claims[k] = v.clone();
                }
            }
            serde_json::to_vec(&claims).unwrap()
        };
        let cases = [
            (serde_json::json!({"exp": now - 31}), JoseError::Expired),
            (serde_json::json!({"nbf": now + 31}), JoseError::NotYetValid),
            (
                serde_json::json!({"iat": now + 31}),
                JoseError::IssuedInFuture,
            ),
            (
                serde_json::json!({"iss": "https://evil.invalid"}),
                JoseError::WrongIssuer,
            ),
            (serde_json::json!({"aud": "rp-3"}), JoseError::WrongAudience),
            (
                serde_json::json!({"aud": ["rp-1"]}),
                JoseError::WrongAudience,
            ),
            (
                serde_json::json!({"exp": null}),
                JoseError::MissingClaim("exp"),
            ),
            (
                serde_json::json!({"iss": null}),
                JoseError::MissingClaim("iss"),
            ),
            (
                serde_json::json!({"aud": null}),
                JoseError::MissingClaim("aud"),
            ),
            (
                serde_json::json!({"exp": "soon"}),
                JoseError::ClaimType("exp"),
            ),
            (serde_json::json!({"aud": 7}), JoseError::ClaimType("aud")),
        ];
        for (patch, expected) in cases {
            assert_eq!(
                check_claims(&with(patch.clone()), &checks(now)).unwrap_err(),
                expected,
                "{patch}"
            );
        }
        // Within the leeway is accepted; a single-string audience works.
        assert!(check_claims(&with(serde_json::json!({"exp": now - 29})), &checks(now)).is_ok());
        assert!(check_claims(&with(serde_json::json!({"aud": "rp-2"})), &checks(now)).is_ok());
        let mut too_lenient = checks(now);
        too_lenient.leeway = MAX_LEEWAY_SECONDS + 1;
        assert_eq!(
            check_claims(&claims(now), &too_lenient).unwrap_err(),
            JoseError::Leeway
        );
    }

    #[test]
    fn jwks_selects_by_kid_and_publishes_no_private_member() {
        let a = private(SignatureAlgorithm::MlDsa65, "a");
        let b = private(SignatureAlgorithm::EcdsaP256, "b");
        let set = Jwks::new(vec![a.clone(), b.clone()]);
        let json = serde_json::to_vec(&set.to_public_json()).unwrap();
        let text = String::from_utf8(json.clone()).unwrap();
        assert!(!text.contains("\"priv\"") && !text.contains("\"d\""));
        let parsed = Jwks::from_json(&json).unwrap();
        assert_eq!(parsed.keys().len(), 2);
        let token = sign_compact(&b, None, b"p").unwrap();
        assert_eq!(
            verify_compact_with_set(&token, &parsed).unwrap().payload,
            b"p"
        );
        let orphan =
            sign_compact(&private(SignatureAlgorithm::EcdsaP256, "c"), None, b"p").unwrap();
        assert_eq!(
            verify_compact_with_set(&orphan, &parsed).unwrap_err(),
            JoseError::NoMatchingKey
        );
        // Unknown key types are skipped, not fatal (RFC 7517 §5).
        let with_rsa = br#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#;
        assert!(Jwks::from_json(with_rsa).unwrap().keys().is_empty());
    }

    #[test]
    fn malformed_jwks_are_refused() {
        let key = private(SignatureAlgorithm::Ed25519, "k").to_json();
        let mut wrong_alg = key.clone();
        wrong_alg["alg"] = "ES256".into();
        let mut bad_point = private(SignatureAlgorithm::EcdsaP256, "k")
            .to_public()
            .to_json();
        bad_point["y"] = b64(&[0u8; 32]).into();
        let mut mismatched = private(SignatureAlgorithm::MlDsa44, "k").to_json();
        mismatched["pub"] = private(SignatureAlgorithm::MlDsa44, "k")
            .to_public()
            .to_json()["pub"]
            .clone();
        let cases = [
            (
                serde_json::json!({"kty": "AKP", "pub": "AAAA"}),
                JoseError::InvalidJwk("alg"),
            ),
            (
                serde_json::json!({"kty": "OKP", "crv": "X25519", "x": "AAAA"}),
                JoseError::InvalidJwk("crv"),
            ),
            (wrong_alg, JoseError::InvalidJwk("alg")),
            (bad_point, JoseError::InvalidJwk("public key")),
            (
                mismatched,
                JoseError::InvalidJwk("private key does not match public key"),
            ),
        ];
        for (jwk, expected) in cases {
            assert_eq!(
                Jwk::from_json(&serde_json::to_vec(&jwk).unwrap()).unwrap_err(),
                expected,
                "{jwk}"
            );
        }
        assert_eq!(
            Jwk::from_json(br#"{"kty":"OKP","kty":"EC"}"#).unwrap_err(),
            JoseError::DuplicateMember("kty".to_owned())
        );
    }
}
