//! The binary as a newcomer uses it: `demo` from nothing, then `curl`-like calls with the token
//! it printed; and the one-line errors of bad invocations.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{dinhdanh, get_json, run_in, start_demo, start_demo_with, token};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_the_registry_with_the_printed_token() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let demo = start_demo(&data_dir, 500);
    let token = token(&data_dir);
    assert!(token.starts_with("ddo_"));
    use std::os::unix::fs::PermissionsExt;
    for file in ["demo-operator.token", "master.key"] {
        let mode = std::fs::metadata(data_dir.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{file} must be private");
    }

    let client = {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        reqwest::Client::new()
    };
    let created = client
        .post(format!("{}/v1/persons", demo.base))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "citizen_number": "079305000123",
            "name": "Trần Thị Mai",
            "birth_date": "2005-08-15",
            "sex": "female"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let read: serde_json::Value = client
        .get(format!("{}/v1/persons/{id}", demo.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["name"], "Trần Thị Mai");
    assert_eq!(read["citizen_number"], "079305000123");
    assert_eq!(read["age_bracket"], "adult");

    // The seeded organisations are there: a telecom operator, by tax code lookup.
    let operator = dinhdanh_synth::organisations(2026)
        .into_iter()
        .find(|o| o.kind == dinhdanh_core::OrganisationKind::TelecomOperator)
        .unwrap();
    let found = get_json(
        &client,
        &format!(
            "{}/v1/organisations?tax_code={}",
            demo.base,
            operator.tax_code.as_str()
        ),
        Some(&token),
    )
    .await;
    assert_eq!(found["name"], operator.name.as_str());
    assert_eq!(found["kind"], "telecom_operator");
    let ready = get_json(&client, &format!("{}/readyz", demo.base), None).await;
    assert_eq!(ready["backend"], "sqlite");
    // The demo publishes its ID token keys, active and next, for ML-DSA-65, EdDSA and ES256,
    // and names itself as the issuer at the address it serves.
    let jwks = get_json(
        &client,
        &format!("{}/.well-known/jwks.json", demo.base),
        None,
    )
    .await;
    let keys = jwks["keys"].as_array().unwrap();
    for alg in ["ML-DSA-65", "EdDSA", "ES256"] {
        assert_eq!(keys.iter().filter(|k| k["alg"] == alg).count(), 2, "{alg}");
    }
    assert_eq!(keys.len(), 6);
    let discovery = get_json(
        &client,
        &format!("{}/.well-known/openid-configuration", demo.base),
        None,
    )
    .await;
    assert_eq!(discovery["issuer"], demo.base.as_str());
    drop(demo);

    // A second start keeps the data, seeds nothing new, and issues a fresh working token.
    let demo = start_demo(&data_dir, 500);
    let second = self::token(&data_dir);
    assert_ne!(second, token);
    // The token of the first start no longer works.
    let stale = client
        .get(format!("{}/v1/persons/{id}", demo.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401);
    let again = client
        .post(format!("{}/v1/persons/lookup", demo.base))
        .bearer_auth(&second)
        .json(&serde_json::json!({ "citizen_number": "079305000123" }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
}

/// Runs a command on a data directory: whether it succeeded, its stdout and its stderr.
fn run_fails(args: &[&str], data_dir: &Path) -> String {
    let output = dinhdanh()
        .args(args)
        .env("DINHDANH_DATA_DIR", data_dir)
        .output()
        .unwrap();
    assert!(!output.status.success(), "{args:?} must fail");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn bad_invocations_fail_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();

    let err = run_fails(
        &[
            "serve",
            "--plain-http",
            "--database-url",
            "mysql://localhost/x",
        ],
        data,
    );
    assert!(err.contains("unsupported database URL"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let err = run_fails(&["tokens", "create", "--role", "superuser"], data);
    assert!(err.contains("superuser") || err.contains("role"), "{err}");

    let err = run_fails(&["tokens", "revoke", "not-a-uuid"], data);
    assert!(err.contains("invalid"), "{err}");

    let err = run_fails(&["serve", "--config", "/nonexistent/dinhdanh.toml"], data);
    assert!(err.contains("cannot read config file"), "{err}");

    // An auditor's trusted keys that are not verifier keys are refused before the store opens.
    let keys = data.join("not-keys.txt");
    std::fs::write(&keys, "not a verifier key\n").unwrap();
    let err = run_fails(&["log", "verify", "--keys", keys.to_str().unwrap()], data);
    assert!(err.contains("not verifier keys"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let err = run_fails(
        &["log", "verify", "--checkpoint", "/nonexistent/checkpoint"],
        data,
    );
    assert!(err.contains("cannot read /nonexistent/checkpoint"), "{err}");
    assert!(
        !data.join("dinhdanh.db").exists(),
        "nothing is created for a refused audit"
    );

    // A PostgreSQL store never gets a master key made up on the spot.
    let err = run_fails(
        &[
            "tokens",
            "list",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
        ],
        data,
    );
    assert!(err.contains("no master key"), "{err}");
    assert!(!data.join("master.key").exists());
}

#[test]
fn tokens_and_seed_commands_work_and_reseeding_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let run = |args: &[&str]| run_in(data, args);
    let (ok, out, _) = run(&["seed", "--people", "300", "--seed", "5"]);
    assert!(ok);
    assert!(out.contains("seeded 300 people"), "{out}");
    let started = Instant::now();
    let (ok, _, err) = run(&["seed", "--people", "300", "--seed", "5"]);
    assert!(!ok);
    assert!(err.contains("already in the database"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(60));

    let (ok, token, _) = run(&[
        "tokens",
        "create",
        "--role",
        "registry-reader",
        "--label",
        "kiểm thử",
    ]);
    assert!(ok);
    assert!(token.trim().starts_with("ddo_"));
    let (ok, list, _) = run(&["tokens", "list"]);
    assert!(ok);
    assert!(
        list.contains("registry-reader") && list.contains("active"),
        "{list}"
    );
    assert!(
        !list.contains(token.trim()),
        "a listing never shows a secret"
    );
    let id = list
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let (ok, _, _) = run(&["tokens", "revoke", &id]);
    assert!(ok);
    let (_, list, _) = run(&["tokens", "list"]);
    assert!(list.contains("revoked"), "{list}");
    // Signing keys: generate (active, then next), rotate, list.
    let (ok, out, _) = run(&["keys", "generate", "--alg", "EdDSA"]);
    assert!(ok && out.starts_with("active EdDSA key"), "{out}");
    let (ok, out, _) = run(&["keys", "generate", "--alg", "EdDSA"]);
    assert!(ok && out.starts_with("next EdDSA key"), "{out}");
    let (ok, _, err) = run(&["keys", "generate", "--alg", "EdDSA"]);
    assert!(!ok && err.contains("already has a next key"), "{err}");
    let (ok, out, _) = run(&["keys", "rotate", "--alg", "EdDSA"]);
    assert!(ok, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("retiring")).count(),
        1,
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("active")).count(),
        1,
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("next")).count(),
        1,
        "{out}"
    );
    let (ok, _, err) = run(&["keys", "rotate", "--alg", "ES256"]);
    assert!(!ok && err.contains("no active key"), "{err}");
    let (ok, _, err) = run(&["keys", "generate", "--alg", "RS256"]);
    assert!(!ok && err.contains("ML-DSA-65"), "{err}");
    let (ok, list, _) = run(&["keys", "list"]);
    assert!(ok && list.lines().count() == 4, "{list}");
    // Relying parties: registered for a seeded platform, listed without their secret; a
    // plain-http redirect URI off loopback is one clear line and writes nothing.
    let platform = dinhdanh_synth::organisations(5)
        .into_iter()
        .find(|o| o.kind == dinhdanh_core::OrganisationKind::Platform)
        .unwrap();
    let tax_code = platform.tax_code.as_str();
    let (ok, out, err) = run(&[
        "clients",
        "create",
        "--organisation",
        tax_code,
        "--client-id",
        "rp-cli",
        "--name",
        "Ứng dụng thử",
        "--redirect-uri",
        "https://rp.example.vn/cb",
        "--client-secret-basic",
    ]);
    assert!(ok, "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["client_id"], "rp-cli");
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let (ok, _, err) = run(&[
        "clients",
        "create",
        "--organisation",
        tax_code,
        "--client-id",
        "rp-bad",
        "--name",
        "Sai",
        "--redirect-uri",
        "http://rp.example.vn/cb",
        "--client-secret-basic",
    ]);
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("redirect"), "{err}");
    let (ok, list, _) = run(&["clients", "list"]);
    assert!(ok);
    assert!(
        list.contains("rp-cli") && !list.contains("rp-bad"),
        "{list}"
    );
    assert!(!list.contains(&secret), "a listing never shows a secret");

    let (ok, out, _) = run(&["data-key", "rotate"]);
    assert!(ok, "{out}");
    let (ok, out, _) = run(&["migrate"]);
    assert!(ok && out.contains("migration"), "{out}");
}

#[test]
fn a_refused_invocation_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("never-created");
    run_fails(&["serve", "--database-url", "mysql://localhost/x"], &data);
    run_fails(&["migrate", "--database-url", "oracle://x"], &data);
    assert!(
        !data.exists(),
        "a refused command must not create its data directory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_tls_with_the_hybrid_post_quantum_key_exchange() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let demo = start_demo_with(&data_dir, 50, &[]);
    let address = demo
        .base
        .strip_prefix("https://")
        .expect("TLS by default")
        .to_owned();

    // Trust only the demo's own certificate, as `curl --cacert` would. The client's default
    // provider offers X25519MLKEM768 first, as current browsers do.
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(data_dir.join("tls-cert.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data_dir.join("tls-key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "the TLS key must be private");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(&address).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    let (_, session) = tls.get_ref();
    assert_eq!(
        session
            .negotiated_key_exchange_group()
            .map(|group| group.name()),
        Some(rustls::NamedGroup::X25519MLKEM768)
    );
    assert_eq!(
        session.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await.unwrap_or_default();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#"{"status":"ok"}"#), "{answer}");

    // A client that offers only classical groups still connects, on X25519.
    let mut classical = rustls::crypto::aws_lc_rs::default_provider();
    classical.kx_groups = vec![rustls::crypto::aws_lc_rs::kx_group::X25519];
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(data_dir.join("tls-cert.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(classical))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(&address).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(
        tls.get_ref()
            .1
            .negotiated_key_exchange_group()
            .map(|group| group.name()),
        Some(rustls::NamedGroup::X25519)
    );
}

#[test]
fn serve_refuses_to_start_without_tls_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let err = run_fails(&["serve"], dir.path());
    assert!(
        err.contains("--tls-cert") && err.contains("--plain-http"),
        "{err}"
    );
    assert!(
        !dir.path().join("master.key").exists(),
        "nothing is created before the refusal"
    );
    let err = run_fails(
        &[
            "serve",
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
        ],
        dir.path(),
    );
    assert!(err.contains("certificate"), "{err}");
}

#[test]
fn signing_keys_survive_a_sealed_backup_into_a_new_store() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let target = dir.path().join("target");
    let run = run_in;
    for alg in ["ML-DSA-65", "EdDSA"] {
        assert!(run(&source, &["keys", "generate", "--alg", alg]).0);
    }
    let recipient_file = dir.path().join("recipient.key");
    let recipient_path = recipient_file.to_str().unwrap();
    let (ok, public, _) = run(&source, &["keys", "recipient", "--out", recipient_path]);
    assert!(ok && public.trim().starts_with("ddpk1."), "{public}");
    let (ok, _, err) = run(&source, &["keys", "recipient", "--out", recipient_path]);
    assert!(!ok && err.contains("already exists"), "{err}");

    let backup = dir.path().join("keys.sealed");
    let backup_path = backup.to_str().unwrap();
    let (ok, out, err) = run(
        &source,
        &[
            "keys",
            "export",
            "--to",
            public.trim(),
            "--out",
            backup_path,
        ],
    );
    assert!(ok && out.contains("sealed 2 signing keys"), "{out}{err}");
    // The backup holds no private key in clear: the source store's listing has the kids, and
    // neither kid nor any JSON member name appears in the sealed bytes.
    let sealed = std::fs::read(&backup).unwrap();
    let (_, source_list, _) = run(&source, &["keys", "list"]);
    let first_kid = source_list
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert!(
        !sealed
            .windows(first_kid.len())
            .any(|w| w == first_kid.as_bytes())
    );
    assert!(!sealed.windows(6).any(|w| w == b"\"priv\""));

    let (ok, out, err) = run(
        &target,
        &["keys", "import", backup_path, "--key", recipient_path],
    );
    assert!(ok && out.contains("imported 2 signing keys"), "{out}{err}");
    let (_, target_list, _) = run(&target, &["keys", "list"]);
    assert_eq!(source_list, target_list);

    // Again: refused whole. A wrong key, or an altered backup, does not open.
    let (ok, _, err) = run(
        &target,
        &["keys", "import", backup_path, "--key", recipient_path],
    );
    assert!(!ok && err.contains("nothing was imported"), "{err}");
    let other = dir.path().join("other.key");
    assert!(
        run(
            &source,
            &["keys", "recipient", "--out", other.to_str().unwrap()]
        )
        .0
    );
    let (ok, _, err) = run(
        &target,
        &[
            "keys",
            "import",
            backup_path,
            "--key",
            other.to_str().unwrap(),
        ],
    );
    assert!(!ok && err.contains("does not open"), "{err}");
    let mut altered = sealed.clone();
    let middle = altered.len() / 2;
    altered[middle] ^= 1;
    std::fs::write(&backup, &altered).unwrap();
    let (ok, _, err) = run(
        &target,
        &["keys", "import", backup_path, "--key", recipient_path],
    );
    assert!(!ok && err.contains("does not open"), "{err}");
}
