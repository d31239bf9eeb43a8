//! The harness of the end-to-end tests, after crates.io's `TestApp::init()`: a real server on
//! an ephemeral port over a fresh SQLite database in a temporary directory, one operator token
//! per role, and a synthetic population to feed it.
//!
//! Every test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dinhdanh_core::today_in_vietnam;
use dinhdanh_crypto::{ApiToken, MasterKey};
use dinhdanh_server::{AppState, HttpConfig, OidcConfig, PROBLEM_BASE};
use dinhdanh_store::{NewOperatorToken, OperatorRole, OperatorToken, RegistryStore, StoreOptions};
use dinhdanh_synth::{PopulationSpec, SyntheticPerson};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Seed of the synthetic population every test draws from.
pub(crate) const POPULATION_SEED: u64 = 20_240_901;

/// Builds a [`TestApp`]; `TestApp::init()` is the usual entry.
pub(crate) struct TestAppBuilder {
    config: HttpConfig,
    oidc: OidcConfig,
    provider_keys: bool,
    localhost: bool,
}

impl TestAppBuilder {
    /// Uses these server limits instead of the defaults.
    pub(crate) fn with_config(mut self, config: HttpConfig) -> Self {
        self.config = config;
        self
    }

    /// Uses these OpenID Connect provider settings (the issuer is always the test server).
    pub(crate) fn with_oidc(mut self, oidc: OidcConfig) -> Self {
        self.oidc = oidc;
        self
    }

    /// Names the server `http://localhost:<port>` (issuer and base URL) rather than by its
    /// IP address: passkeys need a domain name (WebAuthn §5.1.4.1).
    pub(crate) fn on_localhost(mut self) -> Self {
        self.localhost = true;
        self
    }

    /// Starts with no signing keys at all (the provider's are made by default).
    pub(crate) fn without_provider_keys(mut self) -> Self {
        self.provider_keys = false;
        self
    }

    /// Opens a fresh store, issues the tokens and starts the server.
    pub(crate) async fn start(self) -> TestApp {
        let data_dir = tempfile::Builder::new()
            .prefix("dinhdanh-server-test-")
            .tempdir()
            .unwrap();
        let url = format!("sqlite://{}", data_dir.path().join("dinhdanh.db").display());
        let store = dinhdanh_store::open(&StoreOptions::new(url), &MasterKey::generate().unwrap())
            .await
            .unwrap();

        let reader = issue_token(&*store, OperatorRole::RegistryReader, None).await;
        let writer = issue_token(&*store, OperatorRole::RegistryWriter, None).await;
        let admin = issue_token(&*store, OperatorRole::Admin, None).await;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        if self.provider_keys {
            dinhdanh_server::ensure_signing_keys(&*store).await.unwrap();
        }
        let base_url = if self.localhost {
            format!("http://localhost:{}", addr.port())
        } else {
            format!("http://{addr}")
        };
        let oidc = OidcConfig {
            issuer: base_url.clone(),
            ..self.oidc
        };
        let state = AppState::new(store.clone(), self.config).with_oidc(oidc);
        let transmitter = dinhdanh_server::spawn_transmitter(state.clone(), signals_config());
        let app = dinhdanh_server::app(state.clone());
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(dinhdanh_server::serve(listener, app, async move {
            // A dropped sender shuts down as well as a sent message.
            let _ = shutdown_rx.await;
        }));

        let client = {
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            reqwest::Client::builder()
        }
        // Tests talk to 127.0.0.1 only; an HTTP(S)_PROXY in the environment must not
        // reroute them.
        .no_proxy()
        .build()
        .unwrap();

        TestApp {
            base_url,
            client,
            reader: reader.0,
            writer: writer.0,
            admin: admin.0,
            store: Some(store),
            data_dir: Some(data_dir),
            shutdown: Some(shutdown_tx),
            server: Some(server),
            state,
            transmitter: Some(transmitter),
        }
    }
}

/// Push retries in tens of milliseconds, so that a test sees several in a second.
fn signals_config() -> dinhdanh_server::SignalsConfig {
    dinhdanh_server::SignalsConfig {
        retry_base_ms: 50,
        retry_cap_seconds: 1,
        tick_ms: 20,
        push_timeout_seconds: 2,
        ..dinhdanh_server::SignalsConfig::default()
    }
}

/// A running server with a fresh database, and what a test needs to talk to it.
pub(crate) struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub(crate) base_url: String,
    /// A plain HTTP client.
    pub(crate) client: reqwest::Client,
    /// Bearer token of a `registry-reader`.
    pub(crate) reader: String,
    /// Bearer token of a `registry-writer`.
    pub(crate) writer: String,
    /// Bearer token of an `admin`.
    pub(crate) admin: String,
    store: Option<Arc<dyn RegistryStore>>,
    data_dir: Option<TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    state: AppState,
    transmitter: Option<JoinHandle<()>>,
}

impl TestApp {
    /// Kills the Shared Signals transmitter mid-flight, as a crash would.
    pub(crate) fn stop_transmitter(&mut self) {
        if let Some(transmitter) = self.transmitter.take() {
            transmitter.abort();
        }
    }

    /// Starts a new transmitter with fresh in-memory state over the same database, as a
    /// restarted node would.
    pub(crate) fn start_transmitter(&mut self) {
        self.stop_transmitter();
        let state = self.state.restarted();
        self.transmitter = Some(dinhdanh_server::spawn_transmitter(state, signals_config()));
    }
}

/// Records a token for `role` directly in the store and returns its clear text and record.
pub(crate) async fn issue_token(
    store: &dyn RegistryStore,
    role: OperatorRole,
    expires_at: Option<jiff::Timestamp>,
) -> (String, OperatorToken) {
    let token = ApiToken::generate().unwrap();
    let record = store
        .insert_operator_token(&NewOperatorToken {
            hash: token.hash(),
            role,
            label: format!("test {role}"),
            expires_at,
        })
        .await
        .unwrap();
    (token.reveal().to_owned(), record)
}

impl TestApp {
    /// A server with default limits.
    pub(crate) async fn init() -> TestApp {
        Self::builder().start().await
    }

    /// A builder, to change limits before starting.
    pub(crate) fn builder() -> TestAppBuilder {
        TestAppBuilder {
            config: HttpConfig::default(),
            oidc: OidcConfig::default(),
            provider_keys: true,
            localhost: false,
        }
    }

    /// The store behind the server, for direct assertions.
    pub(crate) fn store(&self) -> &dyn RegistryStore {
        // Only `shutdown` takes the store, and it consumes the app.
        &**self.store.as_ref().unwrap()
    }

    /// The server's state, for calling its workers directly (with a clock of the test's).
    pub(crate) fn state(&self) -> AppState {
        self.state.clone()
    }

    /// The directory that holds the database files.
    pub(crate) fn data_dir(&self) -> &Path {
        // Only `shutdown` takes the directory, and it consumes the app.
        self.data_dir.as_ref().unwrap().path()
    }

    /// `base_url` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A request with no credentials.
    pub(crate) fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request carrying `Authorization: Bearer <token>`.
    pub(crate) fn request(&self, token: &str, method: Method, path: &str) -> RequestBuilder {
        self.anonymous(method, path).bearer_auth(token)
    }

    /// GET as `token`.
    pub(crate) async fn get(&self, token: &str, path: &str) -> Response {
        self.request(token, Method::GET, path).send().await.unwrap()
    }

    /// POST a JSON body as `token`.
    pub(crate) async fn post(&self, token: &str, path: &str, body: &Value) -> Response {
        self.request(token, Method::POST, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// PATCH a JSON body as `token`.
    pub(crate) async fn patch(&self, token: &str, path: &str, body: &Value) -> Response {
        self.request(token, Method::PATCH, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Registers a person as the writer and returns the response body; panics unless 201.
    pub(crate) async fn create_person(&self, body: &Value) -> Value {
        let response = self.post(&self.writer, "/v1/persons", body).await;
        expect_json(response, StatusCode::CREATED).await
    }

    /// Registers an organisation as the writer and returns the response body; panics unless 201.
    pub(crate) async fn create_organisation(&self, body: &Value) -> Value {
        let response = self.post(&self.writer, "/v1/organisations", body).await;
        expect_json(response, StatusCode::CREATED).await
    }

    /// How many people the store holds.
    pub(crate) async fn person_count(&self) -> u64 {
        self.store().count_persons().await.unwrap()
    }

    /// Stops the server (letting requests in flight finish), drops every handle on the store
    /// so that its connections close, and hands back the data directory, which is deleted
    /// when the returned value is dropped.
    pub(crate) async fn shutdown(mut self) -> TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(std::time::Duration::from_secs(30), server)
                .await
                .expect("the server did not shut down within 30 s")
                .unwrap()
                .unwrap();
        }
        drop(self.store.take());
        // The pool closes its SQLite connections on background threads once dropped; give
        // them a moment so that the files on disk are in their closed state.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        // Only this method takes the directory, and it consumes the app.
        self.data_dir.take().unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop_transmitter();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Asserts the status and returns the JSON body.
pub(crate) async fn expect_json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
}

/// Asserts that `response` is an RFC 9457 problem with this status and `type`
/// (`PROBLEM_BASE` + `slug`), and returns its body.
pub(crate) async fn expect_problem(response: Response, status: StatusCode, slug: &str) -> Value {
    let actual = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    assert_eq!(
        content_type.as_deref(),
        Some("application/problem+json"),
        "body: {text}"
    );
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"));
    assert_eq!(
        body["type"],
        format!("{PROBLEM_BASE}{slug}"),
        "body: {text}"
    );
    assert_eq!(body["status"], status.as_u16(), "body: {text}");
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "no title: {text}"
    );
    assert!(body["detail"].is_string(), "no detail: {text}");
    body
}

/// The first `count` people of the fixed synthetic population, with ages reckoned today in
/// Vietnam (as the server reckons them).
pub(crate) fn synthetic_people(count: usize) -> Vec<SyntheticPerson> {
    dinhdanh_synth::population(&PopulationSpec {
        seed: POPULATION_SEED,
        people: count,
        as_of: today_in_vietnam(jiff::Timestamp::now()),
    })
    .collect()
}

/// The body of `POST /v1/persons` that registers `person`.
pub(crate) fn person_body(person: &SyntheticPerson) -> Value {
    json!({
        "citizen_number": person.citizen_number.as_str(),
        "name": person.name.as_str(),
        "birth_date": person.birth_date.to_string(),
        "sex": person.sex.to_string(),
        "status": person.status.as_str(),
    })
}

/// The first `count` synthetic people as bodies for `POST /v1/persons`.
pub(crate) fn synthetic_person_bodies(count: usize) -> Vec<Value> {
    synthetic_people(count).iter().map(person_body).collect()
}

/// Every regular file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    files
}
