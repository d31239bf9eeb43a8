//! NIST ACVP known-answer tests for ML-DSA (FIPS 204) and ML-KEM (FIPS 203), from the vector
//! files in `shared/vectors/acvp/` (see the README there for their provenance).
//!
//! Every test case of every file is either checked or counted under a written reason, and the
//! counts are asserted at the end of each test, so that a vector that silently stops being
//! checked fails the build. Three kinds of line appear in the tallies:
//!
//! - `checked by aws-lc-rs` / `checked by dinhdanh-crypto`: the operation under test, run by the
//!   provider the platform uses (through this crate's API where it has one), matches NIST's
//!   answer.
//! - `not exposed by aws-lc-rs`: aws-lc-rs has no API for the operation under test; the reason
//!   says what is missing.
//! - `checked by libcrux`: the same case run by the independent implementation that
//!   `tests/differential.rs` compares aws-lc-rs with. A case aws-lc-rs cannot run is therefore
//!   still covered one step removed: libcrux matches NIST here, and aws-lc-rs matches libcrux
//!   there.
//!
//! Some lines mark a weaker check of aws-lc-rs on the same vectors (key import consistency);
//! they say so.
//!
//! If `shared/` is missing (a checkout without it), the tests print why and pass, except under
//! `CI=true`, where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use aws_lc_rs::encoding::AsRawBytes;
use aws_lc_rs::kem::{self, Ciphertext, DecapsulationKey, EncapsulationKey};
use aws_lc_rs::signature::{self as aws_signature, KeyPair, PqdsaKeyPair, PqdsaSigningAlgorithm};
use dinhdanh_crypto::{
    KemDecapsulationKey, KemEncapsulationKey, SignatureAlgorithm, SigningKey, VerifyingKey,
};
use serde_json::Value;

mod common;
use common::array;

const ACVP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/vectors/acvp");

// ---------------------------------------------------------------------------------------------
// Reasons for what aws-lc-rs 1.19 does not expose. Each is counted per case.
// ---------------------------------------------------------------------------------------------

/// These files test the internal functions of FIPS 204 on a raw message M′. aws-lc-rs offers
/// only pure ML-DSA with an empty context, which is Verify_internal over M′ = 0x00 ‖ 0x00 ‖ M,
/// and no external-μ or internal entry point (its `verify_digest_sig` always fails for
/// ML-DSA). A case is checkable only when its M′ happens to start with 00 00.
const NO_VERIFY_INTERNAL: &str = "not exposed by aws-lc-rs: ML-DSA.Verify_internal on a raw M' \
     (only pure ML-DSA with empty context, i.e. M' = 00 00 || M, is offered; M' here does not start with 00 00)";

/// Sign_internal(sk, M′, rnd) with a given rnd: aws-lc-rs signs pure ML-DSA (M′ = 00 00 ‖ M)
/// with fresh randomness only; neither the deterministic variant nor a caller-given rnd is
/// offered, so no signature can be reproduced.
const NO_SIGN_INTERNAL: &str = "not exposed by aws-lc-rs: ML-DSA.Sign_internal(sk, M', rnd) \
     (only hedged pure signing with internal randomness is offered)";

/// aws-lc-rs generates ML-KEM keys only from its own RNG; KeyGen_internal(d, z) has no API.
const NO_KEM_KEYGEN_INTERNAL: &str =
    "not exposed by aws-lc-rs: ML-KEM.KeyGen_internal(d, z) (keys come from its own RNG only)";

/// aws-lc-rs draws the encapsulation randomness m itself; Encaps_internal(ek, m) has no API.
const NO_KEM_ENCAPS_INTERNAL: &str =
    "not exposed by aws-lc-rs: ML-KEM.Encaps_internal(ek, m) (m comes from its own RNG only)";

// ---------------------------------------------------------------------------------------------
// Loading and joining the files
// ---------------------------------------------------------------------------------------------

/// One ACVP folder: `prompt.json` and `expectedResults.json`.
struct VectorFile {
    prompt: Value,
    expected: Value,
}

/// One test case: its prompt group, its prompt and its expected answer.
struct Case<'a> {
    group: &'a Value,
    prompt: &'a Value,
    expected: &'a Value,
}

impl Case<'_> {
    fn parameter_set(&self) -> &str {
        text(self.group, "parameterSet")
    }

    fn prompt_bytes(&self, name: &str) -> Vec<u8> {
        bytes(self.prompt, name)
    }

    fn expected_bytes(&self, name: &str) -> Vec<u8> {
        bytes(self.expected, name)
    }

    fn test_passed(&self) -> bool {
        self.expected["testPassed"]
            .as_bool()
            .expect("testPassed is a boolean")
    }
}

fn text<'v>(value: &'v Value, name: &str) -> &'v str {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("missing string field {name}"))
}

fn bytes(value: &Value, name: &str) -> Vec<u8> {
    hex::decode(text(value, name)).unwrap_or_else(|e| panic!("field {name} is not hex: {e}"))
}

/// Loads a folder, or returns `None` (after saying why) when `shared/` is absent outside CI.
fn load(folder: &str) -> Option<VectorFile> {
    let root = Path::new(ACVP_DIR);
    if !root.is_dir() {
        let why = format!(
            "NIST ACVP vectors not found at {} (shared/ sits beside the repository)",
            root.display()
        );
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{why}; CI=true requires them");
        }
        eprintln!("skipping: {why}");
        return None;
    }
    let read = |name: &str| -> Value {
        let path = root.join(folder).join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    Some(VectorFile {
        prompt: read("prompt.json"),
        expected: read("expectedResults.json"),
    })
}

impl VectorFile {
    /// Joins prompts and answers on `tgId`, then `tcId`; every prompt has exactly one answer
    /// and every answer a prompt.
    fn cases(&self) -> Vec<Case<'_>> {
        let mut answers: HashMap<u64, HashMap<u64, &Value>> = HashMap::new();
        let mut answer_count = 0;
        for group in self.expected["testGroups"].as_array().expect("testGroups") {
            let tg = group["tgId"].as_u64().expect("tgId");
            let tests = answers.entry(tg).or_default();
            for test in group["tests"].as_array().expect("tests") {
                let tc = test["tcId"].as_u64().expect("tcId");
                assert!(
                    tests.insert(tc, test).is_none(),
                    "duplicate answer tcId {tc}"
                );
                answer_count += 1;
            }
        }
        let mut cases = Vec::new();
        for group in self.prompt["testGroups"].as_array().expect("testGroups") {
            let tg = group["tgId"].as_u64().expect("tgId");
            let group_answers = answers
                .get(&tg)
                .unwrap_or_else(|| panic!("no answers for tgId {tg}"));
            for prompt in group["tests"].as_array().expect("tests") {
                let tc = prompt["tcId"].as_u64().expect("tcId");
                let expected = group_answers
                    .get(&tc)
                    .unwrap_or_else(|| panic!("no answer for tgId {tg} tcId {tc}"));
                cases.push(Case {
                    group,
                    prompt,
                    expected,
                });
            }
        }
        assert_eq!(cases.len(), answer_count, "answers without a prompt");
        cases
    }
}

/// Counts per line; compared with the expected table at the end of a test.
struct Tally {
    file: &'static str,
    counts: BTreeMap<String, usize>,
}

impl Tally {
    fn new(file: &'static str) -> Self {
        Self {
            file,
            counts: BTreeMap::new(),
        }
    }

    fn add(&mut self, line: String) {
        *self.counts.entry(line).or_default() += 1;
    }

    fn finish(self, expected: Vec<(String, usize)>) {
        println!("{}:", self.file);
        for (line, count) in &self.counts {
            println!("  {count:>3}  {line}");
        }
        let expected: BTreeMap<String, usize> = expected.into_iter().collect();
        assert_eq!(self.counts, expected, "{}: counts differ", self.file);
    }
}

/// `(format!("{set}: {line}"), count)` for each parameter set.
fn per_set(sets: &[&str], line: &str, count: usize) -> Vec<(String, usize)> {
    sets.iter()
        .map(|set| (format!("{set}: {line}"), count))
        .collect()
}

const ML_DSA_SETS: [&str; 3] = ["ML-DSA-44", "ML-DSA-65", "ML-DSA-87"];
const ML_KEM_SETS: [&str; 3] = ["ML-KEM-512", "ML-KEM-768", "ML-KEM-1024"];

// ---------------------------------------------------------------------------------------------
// The implementations under test, by parameter set name
// ---------------------------------------------------------------------------------------------

fn signature_algorithm(set: &str) -> SignatureAlgorithm {
    SignatureAlgorithm::from_jose_name(set).unwrap_or_else(|| panic!("unknown set {set}"))
}

fn aws_ml_dsa(set: &str) -> &'static PqdsaSigningAlgorithm {
    match set {
        "ML-DSA-44" => &aws_signature::ML_DSA_44_SIGNING,
        "ML-DSA-65" => &aws_signature::ML_DSA_65_SIGNING,
        "ML-DSA-87" => &aws_signature::ML_DSA_87_SIGNING,
        other => panic!("unknown ML-DSA parameter set {other}"),
    }
}

fn aws_ml_kem(set: &str) -> &'static kem::Algorithm {
    match set {
        "ML-KEM-512" => &kem::ML_KEM_512,
        "ML-KEM-768" => &kem::ML_KEM_768,
        "ML-KEM-1024" => &kem::ML_KEM_1024,
        other => panic!("unknown ML-KEM parameter set {other}"),
    }
}

fn ml_kem_ciphertext_len(set: &str) -> usize {
    match set {
        "ML-KEM-512" => 768,
        "ML-KEM-768" => 1088,
        "ML-KEM-1024" => 1568,
        other => panic!("unknown ML-KEM parameter set {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// ML-DSA
// ---------------------------------------------------------------------------------------------

#[test]
fn ml_dsa_key_gen() {
    let Some(file) = load("ML-DSA-keyGen-FIPS204") else {
        return;
    };
    let mut tally = Tally::new("ML-DSA-keyGen-FIPS204");
    for case in file.cases() {
        let set = case.parameter_set();
        let seed = case.prompt_bytes("seed");
        let (pk, sk) = (case.expected_bytes("pk"), case.expected_bytes("sk"));
        let tc = &case.prompt["tcId"];

        // FIPS 204 Algorithm 6, through this crate's API (the seed is RFC 9964's `priv`)…
        let key = SigningKey::from_private_bytes(signature_algorithm(set), &seed).unwrap();
        assert_eq!(key.verifying_key().as_bytes(), pk, "{set} tcId {tc}: pk");
        // …and the expanded private key, which only aws-lc-rs itself exports.
        let pair = PqdsaKeyPair::from_seed(aws_ml_dsa(set), &seed).unwrap();
        let expanded = pair.private_key().as_raw_bytes().unwrap();
        assert_eq!(expanded.as_ref(), sk, "{set} tcId {tc}: sk");
        tally.add(format!(
            "{set}: checked by aws-lc-rs: KeyGen_internal(seed) = (pk, sk)"
        ));

        assert_eq!(
            common::dsa_key_gen(set, array(&seed)),
            (pk, sk),
            "{set} tcId {tc}: libcrux"
        );
        tally.add(format!(
            "{set}: checked by libcrux: KeyGen_internal(seed) = (pk, sk)"
        ));
    }
    let mut expected = per_set(
        &ML_DSA_SETS,
        "checked by aws-lc-rs: KeyGen_internal(seed) = (pk, sk)",
        25,
    );
    expected.extend(per_set(
        &ML_DSA_SETS,
        "checked by libcrux: KeyGen_internal(seed) = (pk, sk)",
        25,
    ));
    tally.finish(expected);
}

#[test]
fn ml_dsa_sig_ver() {
    let Some(file) = load("ML-DSA-sigVer-FIPS204") else {
        return;
    };
    let mut tally = Tally::new("ML-DSA-sigVer-FIPS204");
    let mut outcomes = [0usize; 2];
    for case in file.cases() {
        let set = case.parameter_set();
        let pk = bytes(case.group, "pk");
        let message = case.prompt_bytes("message");
        let signature = case.prompt_bytes("signature");
        let passed = case.test_passed();
        outcomes[usize::from(passed)] += 1;
        let tc = &case.prompt["tcId"];

        // The group's public key parses as a raw FIPS 204 key in this crate.
        let key = VerifyingKey::from_bytes(signature_algorithm(set), &pk).unwrap();
        // These files predate the `signatureInterface` / `preHash` / `context` group fields:
        // every group is the internal interface on a raw M′.
        assert!(case.group.get("signatureInterface").is_none());
        match message.strip_prefix(&[0u8, 0u8][..]) {
            // M′ = 00 00 ‖ M: pure ML-DSA with an empty context over M.
            Some(pure_message) => {
                assert_eq!(
                    key.verify(pure_message, &signature).is_ok(),
                    passed,
                    "{set} tcId {tc}"
                );
                tally.add(format!(
                    "{set}: checked by dinhdanh-crypto (aws-lc-rs): Verify"
                ));
            }
            None => tally.add(format!("{set}: {NO_VERIFY_INTERNAL}")),
        }

        assert_eq!(
            common::dsa_verify_internal(set, &pk, &message, &signature),
            passed,
            "{set} tcId {tc}: libcrux"
        );
        tally.add(format!(
            "{set}: checked by libcrux: Verify_internal(pk, M', sig) = testPassed"
        ));
    }
    // Both answers occur, so a verifier that always accepts or always refuses fails.
    assert_eq!(outcomes, [36, 9], "[rejected, accepted] cases");
    let mut expected = per_set(&ML_DSA_SETS, NO_VERIFY_INTERNAL, 15);
    expected.extend(per_set(
        &ML_DSA_SETS,
        "checked by libcrux: Verify_internal(pk, M', sig) = testPassed",
        15,
    ));
    tally.finish(expected);
}

#[test]
fn ml_dsa_sig_gen() {
    let Some(file) = load("ML-DSA-sigGen-FIPS204") else {
        return;
    };
    let mut tally = Tally::new("ML-DSA-sigGen-FIPS204");
    for case in file.cases() {
        let set = case.parameter_set();
        let sk = case.prompt_bytes("sk");
        let message = case.prompt_bytes("message");
        let expected = case.expected_bytes("signature");
        let deterministic = case.group["deterministic"]
            .as_bool()
            .expect("deterministic is a boolean");
        // FIPS 204 Algorithm 2: rnd = {0}³² for the deterministic variant.
        let rnd: [u8; 32] = if deterministic {
            [0; 32]
        } else {
            array(&case.prompt_bytes("rnd"))
        };
        let tc = &case.prompt["tcId"];
        let variant = if deterministic {
            "deterministic"
        } else {
            "hedged"
        };

        tally.add(format!("{set} {variant}: {NO_SIGN_INTERNAL}"));

        // Weaker check of aws-lc-rs on the same key: it imports NIST's expanded sk, the public
        // key it derives verifies NIST's signature (Verify_internal, run by libcrux), and its
        // own pure signature with that key verifies under libcrux's pure Verify.
        let pair = PqdsaKeyPair::from_raw_private_key(aws_ml_dsa(set), &sk).unwrap();
        let pk = pair.public_key().as_ref().to_vec();
        assert!(
            common::dsa_verify_internal(set, &pk, &message, &expected),
            "{set} tcId {tc}: NIST's signature under the pk aws-lc-rs derived from sk"
        );
        let mut own = vec![0u8; signature_algorithm(set).signature_len()];
        let len = pair.sign(&message, &mut own).unwrap();
        assert!(
            common::dsa_verify(set, &pk, &message, b"", &own[..len]),
            "{set} tcId {tc}: aws-lc-rs's pure signature with NIST's sk"
        );
        tally.add(format!(
            "{set} {variant}: aws-lc-rs imports sk (weaker check): derived pk verifies NIST's signature"
        ));

        assert_eq!(
            common::dsa_sign_internal(set, &sk, &message, rnd),
            expected,
            "{set} tcId {tc}: libcrux signature"
        );
        tally.add(format!(
            "{set} {variant}: checked by libcrux: Sign_internal(sk, M', rnd) byte for byte"
        ));
    }
    let mut expected = Vec::new();
    for variant in ["deterministic", "hedged"] {
        let sets = ML_DSA_SETS.map(|set| format!("{set} {variant}"));
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        expected.extend(per_set(&sets, NO_SIGN_INTERNAL, 10));
        expected.extend(per_set(
            &sets,
            "aws-lc-rs imports sk (weaker check): derived pk verifies NIST's signature",
            10,
        ));
        expected.extend(per_set(
            &sets,
            "checked by libcrux: Sign_internal(sk, M', rnd) byte for byte",
            10,
        ));
    }
    tally.finish(expected);
}

// ---------------------------------------------------------------------------------------------
// ML-KEM
// ---------------------------------------------------------------------------------------------

#[test]
fn ml_kem_key_gen() {
    let Some(file) = load("ML-KEM-keyGen-FIPS203") else {
        return;
    };
    let mut tally = Tally::new("ML-KEM-keyGen-FIPS203");
    for case in file.cases() {
        let set = case.parameter_set();
        let (d, z) = (case.prompt_bytes("d"), case.prompt_bytes("z"));
        let (ek, dk) = (case.expected_bytes("ek"), case.expected_bytes("dk"));
        let tc = &case.prompt["tcId"];

        tally.add(format!("{set}: {NO_KEM_KEYGEN_INTERNAL}"));

        // Weaker check of aws-lc-rs: NIST's pair imports; a secret aws-lc-rs encapsulates to
        // ek comes back out of dk, and so does one libcrux encapsulates (with a fixed m).
        let alg = aws_ml_kem(set);
        let aws_dk = DecapsulationKey::new(alg, &dk).unwrap();
        assert_eq!(aws_dk.key_bytes().unwrap().as_ref(), dk, "{set} tcId {tc}");
        let (c, k) = EncapsulationKey::new(alg, &ek)
            .unwrap()
            .encapsulate()
            .unwrap();
        assert_eq!(
            aws_dk
                .decapsulate(Ciphertext::from(c.as_ref()))
                .unwrap()
                .as_ref(),
            k.as_ref(),
            "{set} tcId {tc}"
        );
        let (c, k) = common::kem_encaps(set, &ek, [0x5a; 32]);
        assert_eq!(
            aws_dk
                .decapsulate(Ciphertext::from(&c[..]))
                .unwrap()
                .as_ref(),
            k,
            "{set} tcId {tc}: libcrux's ciphertext"
        );
        if set == "ML-KEM-768" {
            // The same through this crate's API, which also reads ek out of dk.
            let ours = KemDecapsulationKey::from_bytes(&dk).unwrap();
            assert_eq!(ours.encapsulation_key().as_bytes(), ek);
            assert_eq!(*ours.private_bytes().unwrap(), dk);
            let (c, k) = KemEncapsulationKey::from_bytes(&ek)
                .unwrap()
                .encapsulate()
                .unwrap();
            assert_eq!(*ours.decapsulate(&c).unwrap(), *k);
        }
        tally.add(format!(
            "{set}: aws-lc-rs imports (ek, dk) (weaker check): encapsulations to ek decapsulate under dk"
        ));

        assert_eq!(
            common::kem_key_gen(set, &d, &z),
            (ek, dk),
            "{set} tcId {tc}: libcrux"
        );
        tally.add(format!(
            "{set}: checked by libcrux: KeyGen_internal(d, z) = (ek, dk)"
        ));
    }
    let mut expected = per_set(&ML_KEM_SETS, NO_KEM_KEYGEN_INTERNAL, 25);
    expected.extend(per_set(
        &ML_KEM_SETS,
        "aws-lc-rs imports (ek, dk) (weaker check): encapsulations to ek decapsulate under dk",
        25,
    ));
    expected.extend(per_set(
        &ML_KEM_SETS,
        "checked by libcrux: KeyGen_internal(d, z) = (ek, dk)",
        25,
    ));
    tally.finish(expected);
}

#[test]
fn ml_kem_encap_decap() {
    let Some(file) = load("ML-KEM-encapDecap-FIPS203") else {
        return;
    };
    let mut tally = Tally::new("ML-KEM-encapDecap-FIPS203");
    let mut key_check_outcomes = [0usize; 2];
    for case in file.cases() {
        let set = case.parameter_set();
        let function = text(case.group, "function");
        let alg = aws_ml_kem(set);
        let tc = &case.prompt["tcId"];
        let line = |what: &str| format!("{set} {function}: {what}");
        match function {
            "encapsulation" => {
                let ek = case.prompt_bytes("ek");
                let m = array(&case.prompt_bytes("m"));
                let (c, k) = (case.expected_bytes("c"), case.expected_bytes("k"));
                tally.add(line(NO_KEM_ENCAPS_INTERNAL));
                assert_eq!(
                    common::kem_encaps(set, &ek, m),
                    (c, k),
                    "{set} tcId {tc}: libcrux"
                );
                tally.add(line("checked by libcrux: Encaps_internal(ek, m) = (c, k)"));
            }
            "decapsulation" => {
                let dk = case.prompt_bytes("dk");
                let c = case.prompt_bytes("c");
                let k = case.expected_bytes("k");
                if set == "ML-KEM-768" {
                    let ours = KemDecapsulationKey::from_bytes(&dk).unwrap();
                    assert_eq!(*ours.decapsulate(&c).unwrap(), k, "{set} tcId {tc}");
                    tally.add(line(
                        "checked by dinhdanh-crypto (aws-lc-rs): Decaps(dk, c) = k",
                    ));
                } else {
                    let key = DecapsulationKey::new(alg, &dk).unwrap();
                    let got = key.decapsulate(Ciphertext::from(&c[..])).unwrap();
                    assert_eq!(got.as_ref(), k, "{set} tcId {tc}");
                    tally.add(line("checked by aws-lc-rs: Decaps(dk, c) = k"));
                }
                assert_eq!(
                    common::kem_decaps(set, &dk, &c),
                    k,
                    "{set} tcId {tc}: libcrux"
                );
                tally.add(line("checked by libcrux: Decaps(dk, c) = k"));
            }
            "decapsulationKeyCheck" => {
                let dk = case.prompt_bytes("dk");
                let passed = case.test_passed();
                key_check_outcomes[usize::from(passed)] += 1;
                // aws-lc-rs parses any dk of the right length (its documentation says so) and
                // applies the §7.3 hash check when it decapsulates.
                let zero = vec![0u8; ml_kem_ciphertext_len(set)];
                let key = DecapsulationKey::new(alg, &dk).unwrap();
                let decapsulates = key.decapsulate(Ciphertext::from(&zero[..])).is_ok();
                assert_eq!(decapsulates, passed, "{set} tcId {tc}: aws-lc-rs");
                tally.add(line(
                    "checked by aws-lc-rs: §7.3 hash check (a failing dk cannot decapsulate)",
                ));
                if set == "ML-KEM-768" {
                    let accepted = KemDecapsulationKey::from_bytes(&dk).is_ok();
                    assert_eq!(accepted, passed, "{set} tcId {tc}: from_bytes");
                    tally.add(line(
                        "checked by dinhdanh-crypto: KemDecapsulationKey::from_bytes refuses a failing dk",
                    ));
                }
                assert_eq!(common::kem_dk_valid(set, &dk), passed, "{set} tcId {tc}");
                tally.add(line("checked by libcrux: §7.3 hash check"));
            }
            "encapsulationKeyCheck" => {
                let ek = case.prompt_bytes("ek");
                let passed = case.test_passed();
                key_check_outcomes[usize::from(passed)] += 1;
                // aws-lc-rs checks the length when it parses ek and the modulus when it
                // encapsulates. (Every failing ek in this file fails on its length; the modulus
                // check is exercised by the unit tests and by tests/differential.rs.)
                let usable =
                    EncapsulationKey::new(alg, &ek).is_ok_and(|key| key.encapsulate().is_ok());
                assert_eq!(usable, passed, "{set} tcId {tc}: aws-lc-rs");
                tally.add(line(
                    "checked by aws-lc-rs: §7.2 checks (EncapsulationKey::new, then encapsulate)",
                ));
                if set == "ML-KEM-768" {
                    let accepted = KemEncapsulationKey::from_bytes(&ek).is_ok();
                    assert_eq!(accepted, passed, "{set} tcId {tc}: from_bytes");
                    tally.add(line(
                        "checked by dinhdanh-crypto: KemEncapsulationKey::from_bytes refuses a failing ek",
                    ));
                }
                assert_eq!(common::kem_ek_valid(set, &ek), passed, "{set} tcId {tc}");
                tally.add(line("checked by libcrux: §7.2 checks"));
            }
            other => panic!("unknown function {other}"),
        }
    }
    // Both answers occur among the key checks, so an always-accept check fails.
    assert_eq!(
        key_check_outcomes,
        [30, 30],
        "[refused, accepted] key checks"
    );

    let with = |function: &str, what: &str, sets: &[&str], count: usize| {
        sets.iter()
            .map(|set| (format!("{set} {function}: {what}"), count))
            .collect::<Vec<_>>()
    };
    let mut expected = Vec::new();
    expected.extend(with(
        "encapsulation",
        NO_KEM_ENCAPS_INTERNAL,
        &ML_KEM_SETS,
        25,
    ));
    expected.extend(with(
        "encapsulation",
        "checked by libcrux: Encaps_internal(ek, m) = (c, k)",
        &ML_KEM_SETS,
        25,
    ));
    expected.extend(with(
        "decapsulation",
        "checked by aws-lc-rs: Decaps(dk, c) = k",
        &["ML-KEM-512", "ML-KEM-1024"],
        10,
    ));
    expected.extend(with(
        "decapsulation",
        "checked by dinhdanh-crypto (aws-lc-rs): Decaps(dk, c) = k",
        &["ML-KEM-768"],
        10,
    ));
    expected.extend(with(
        "decapsulation",
        "checked by libcrux: Decaps(dk, c) = k",
        &ML_KEM_SETS,
        10,
    ));
    expected.extend(with(
        "decapsulationKeyCheck",
        "checked by aws-lc-rs: §7.3 hash check (a failing dk cannot decapsulate)",
        &ML_KEM_SETS,
        10,
    ));
    expected.extend(with(
        "decapsulationKeyCheck",
        "checked by dinhdanh-crypto: KemDecapsulationKey::from_bytes refuses a failing dk",
        &["ML-KEM-768"],
        10,
    ));
    expected.extend(with(
        "decapsulationKeyCheck",
        "checked by libcrux: §7.3 hash check",
        &ML_KEM_SETS,
        10,
    ));
    expected.extend(with(
        "encapsulationKeyCheck",
        "checked by aws-lc-rs: §7.2 checks (EncapsulationKey::new, then encapsulate)",
        &ML_KEM_SETS,
        10,
    ));
    expected.extend(with(
        "encapsulationKeyCheck",
        "checked by dinhdanh-crypto: KemEncapsulationKey::from_bytes refuses a failing ek",
        &["ML-KEM-768"],
        10,
    ));
    expected.extend(with(
        "encapsulationKeyCheck",
        "checked by libcrux: §7.2 checks",
        &ML_KEM_SETS,
        10,
    ));
    tally.finish(expected);
}
