//! `dinhdanh`: the one binary. `demo` runs everything with no configuration; `serve` runs a
//! production node; `seed`, `migrate`, `tokens` and `data-key` manage a store.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args, Parser, Subcommand};
use dinhdanh::config::{Config, LogFormat, sqlite_url};
use dinhdanh::log_audit::{Trusted, verify_log};
use dinhdanh::seed;
use dinhdanh_core::{TaxCode, today_in_vietnam};
use dinhdanh_crypto::jose::Jwk;
use dinhdanh_crypto::{ApiToken, MASTER_KEY_ENV, MasterKey, SignatureAlgorithm, SigningKey};
use dinhdanh_ledger::NoteVerifier;
use dinhdanh_oidc::ClientRegistration;
use dinhdanh_server::{AppState, LogConfig, OidcConfig, TlsIdentity};
use dinhdanh_store::{
    NewOperatorToken, OperatorRole, OperatorTokenId, RegistryStore, SigningKeyRecord,
    SigningKeyState, StoreError, StoreOptions,
};
use dinhdanh_synth::PopulationSpec;
use jiff::{SignedDuration, Timestamp};

/// dinhdanh: national cyberspace identity and trust platform.
#[derive(Debug, Parser)]
#[command(name = "dinhdanh", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run everything on this machine with synthetic data: no configuration needed.
    Demo(DemoArgs),
    /// Run a server node from a config file, DINHDANH_* variables and flags.
    Serve(ServeArgs),
    /// Load a synthetic population and organisations into a store.
    Seed(SeedArgs),
    /// Apply pending database migrations.
    Migrate(StoreArgs),
    /// Manage operator API tokens.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Manage the data keys that seal personal fields.
    #[command(subcommand, name = "data-key")]
    DataKey(DataKeyCommand),
    /// Manage the signing keys of tokens, events and log checkpoints.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the master key that wraps the data keys.
    #[command(subcommand, name = "master-key")]
    MasterKey(MasterKeyCommand),
    /// Check and publish the disclosure log.
    #[command(subcommand)]
    Log(LogCommand),
    /// Register the relying parties of the OpenID Connect provider.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Classify a telecom operator's whole subscriber base against the registry, and write
    /// reports (reads the store, changes nothing).
    Reconcile(ReconcileArgs),
}

#[derive(Debug, Subcommand)]
enum ClientsCommand {
    /// Register a client for an organisation of the registry; prints it as JSON, with its
    /// secret (shown once) for a client_secret_basic client.
    #[command(group(clap::ArgGroup::new("auth").required(true).args(["jwks", "client_secret_basic"])))]
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// Tax code of the organisation that runs the client.
        #[arg(long)]
        organisation: String,
        /// Client id (1 to 64 of A-Z a-z 0-9 - _ .); made up if not given.
        #[arg(long, default_value = "")]
        client_id: String,
        /// Name shown to citizens on the consent page.
        #[arg(long)]
        name: String,
        /// An exact redirect URI (https, or http on loopback); repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Scopes the client may ask for, space-separated.
        #[arg(long, default_value = "openid verified age")]
        scope: String,
        /// Sector host for pairwise subjects (needed when redirect URIs span several hosts).
        #[arg(long)]
        sector: Option<String>,
        /// Require pushed authorization requests (RFC 9126).
        #[arg(long)]
        require_par: bool,
        /// Lowest e-ID level accepted: 1 or 2.
        #[arg(long, default_value_t = 1)]
        min_level: u8,
        /// ID token algorithm: ML-DSA-65 (default), EdDSA or ES256.
        #[arg(long)]
        id_token_alg: Option<String>,
        /// A JWK Set file with the client's public keys: private_key_jwt authentication.
        #[arg(long)]
        jwks: Option<PathBuf>,
        /// Authenticate with a client secret (client_secret_basic), for legacy clients.
        #[arg(long)]
        client_secret_basic: bool,
    },
    /// List registered clients.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum LogCommand {
    /// Rebuild the tree from the stored entries; check every checkpoint's signatures and every
    /// stored tile and root against it. Exits non-zero naming the first changed, missing or
    /// reordered entry.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// Verifier keys to trust instead of the store's own (the text of `/log/keys`, kept
        /// apart from the database).
        #[arg(long)]
        keys: Option<PathBuf>,
        /// A checkpoint saved earlier from `/log/checkpoint`: the log must still contain it.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Move waiting records into the tree and sign a checkpoint now.
    Publish {
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// A signature algorithm by its JOSE name.
fn signature_algorithm(name: &str) -> Result<SignatureAlgorithm, String> {
    SignatureAlgorithm::from_jose_name(name).ok_or_else(|| {
        let names: Vec<_> = SignatureAlgorithm::ALL
            .iter()
            .map(|alg| alg.jose_name())
            .collect();
        format!("expected one of: {}", names.join(", "))
    })
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a signing key: active if the algorithm has none, otherwise next.
    Generate {
        #[command(flatten)]
        store: StoreArgs,
        /// ML-DSA-44, ML-DSA-65, ML-DSA-87, EdDSA or ES256.
        #[arg(long, default_value = "ML-DSA-65", value_parser = signature_algorithm)]
        alg: SignatureAlgorithm,
    },
    /// Rotate an algorithm's keys: retiring → retired, active → retiring, next → active, and
    /// a new next key.
    Rotate {
        #[command(flatten)]
        store: StoreArgs,
        /// The algorithm whose keys rotate.
        #[arg(long, default_value = "ML-DSA-65", value_parser = signature_algorithm)]
        alg: SignatureAlgorithm,
    },
    /// List signing keys (public parts and states only).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Create a backup recipient key pair: the private key goes to a file (mode 0600), the
    /// public key (ddpk1.…) is printed for `keys export --to`.
    Recipient {
        /// Where to write the recipient's private key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Seal every signing key to a recipient's public key (ML-KEM-768 + X25519).
    Export {
        #[command(flatten)]
        store: StoreArgs,
        /// The recipient's public key, as printed by `keys recipient`.
        #[arg(long)]
        to: dinhdanh_crypto::HybridPublicKey,
        /// Where to write the sealed backup.
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore signing keys from a sealed backup (all or nothing).
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// The sealed backup.
        backup: PathBuf,
        /// The recipient's private key file.
        #[arg(long)]
        key: PathBuf,
    },
}

/// Associated data of a sealed signing-key backup.
const BACKUP_AAD: &[u8] = b"dinhdanh signing key backup v1";

#[derive(Debug, Subcommand)]
enum MasterKeyCommand {
    /// Create the master key file (mode 0600) before a first start on PostgreSQL.
    Create {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Where the demo keeps its database, master key and token.
    #[arg(long, default_value = "dinhdanh-data", env = "DINHDANH_DATA_DIR")]
    data_dir: PathBuf,
    /// Address to serve on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080", env = "DINHDANH_LISTEN")]
    listen: SocketAddr,
    /// Synthetic people to seed into a new database.
    #[arg(long, default_value_t = 10_000)]
    people: usize,
    /// Seed of the synthetic population.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Serve plain HTTP instead of TLS with the demo's self-signed certificate.
    #[arg(long)]
    plain_http: bool,
}

/// Where the store is and how to open it.
#[derive(Debug, Args)]
struct StoreArgs {
    /// A TOML config file (see README.md).
    #[arg(long, env = "DINHDANH_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (SQLite database and master key by default).
    #[arg(long, env = "DINHDANH_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// `sqlite://path` or `postgres://user@host:port/db`.
    #[arg(long, env = "DINHDANH_DATABASE_URL")]
    database_url: Option<String>,
    /// Master key file (ignored when DINHDANH_MASTER_KEY is set).
    #[arg(long, env = "DINHDANH_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
}

impl StoreArgs {
    fn config(&self) -> Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(url) = &self.database_url {
            config.database_url = Some(url.clone());
        }
        if let Some(file) = &self.master_key_file {
            config.master_key_file = Some(file.clone());
        }
        Ok(config)
    }
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Address to listen on.
    #[arg(long, env = "DINHDANH_LISTEN")]
    listen: Option<SocketAddr>,
    /// Log format.
    #[arg(long, value_enum, env = "DINHDANH_LOG_FORMAT")]
    log_format: Option<LogFormat>,
    /// Pooled database connections.
    #[arg(long, env = "DINHDANH_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..=1000))]
    max_connections: Option<u32>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "DINHDANH_BODY_LIMIT_BYTES", value_parser = clap::value_parser!(u64).range(1024..=16_777_216))]
    body_limit_bytes: Option<u64>,
    /// Longest a request may take, in milliseconds.
    #[arg(long, env = "DINHDANH_REQUEST_TIMEOUT_MS", value_parser = clap::value_parser!(u64).range(100..=600_000))]
    request_timeout_ms: Option<u64>,
    /// PEM certificate chain for TLS.
    #[arg(long, env = "DINHDANH_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    #[arg(long, env = "DINHDANH_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP: only behind a proxy that terminates TLS.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    plain_http: bool,
    /// The OpenID Connect issuer: the public base URL (default `https://<listen>`).
    #[arg(long, env = "DINHDANH_ISSUER")]
    issuer: Option<String>,
    /// Longest time between a disclosure and the checkpoint that covers it, in milliseconds.
    #[arg(long, env = "DINHDANH_CHECKPOINT_INTERVAL_MS", value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    checkpoint_interval_ms: Option<u64>,
    /// Publish a checkpoint at once after this many disclosures.
    #[arg(long, env = "DINHDANH_CHECKPOINT_AFTER_ENTRIES", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    checkpoint_after_entries: Option<u64>,
}

#[derive(Debug, Args)]
struct SeedArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// How many synthetic people.
    #[arg(long, default_value_t = 10_000)]
    people: usize,
    /// Seed of the synthetic population; a different seed gives different people.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

#[derive(Debug, Args)]
struct ReconcileArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The operator's tax code, as the registry holds it.
    #[arg(long)]
    operator: String,
    /// The subscriber file: CSV with the header
    /// msisdn,citizen_number,name,birth_date,tax_code,activated_on, or JSON Lines (.jsonl)
    /// with those members.
    file: PathBuf,
    /// The directory for the reports (made if missing; its reports are replaced).
    #[arg(long)]
    out: PathBuf,
    /// Lines a person may hold at this operator: 3 by default, more under a contract.
    #[arg(long, default_value_t = 3)]
    limit: u32,
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Create a token and print it once.
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// registry-reader, registry-writer or admin.
        #[arg(long)]
        role: OperatorRole,
        /// Who holds the token, or what it is for.
        #[arg(long, default_value = "operator")]
        label: String,
        /// Days until it expires (never, if not given).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires_in_days: Option<u32>,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a token by id.
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        /// The token id shown by `tokens list`.
        id: OperatorTokenId,
    },
}

#[derive(Debug, Subcommand)]
enum DataKeyCommand {
    /// Make a new field key active; rows sealed before stay readable.
    Rotate {
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo(args) => demo(args).await,
        Command::Serve(args) => serve(args).await,
        Command::Seed(args) => seed_command(args).await,
        Command::Migrate(args) => {
            let config = args.config()?;
            dinhdanh_store::Backend::from_url(&config.database_url())?;
            prepare_data_dir(&config)?;
            let applied = dinhdanh_store::migrate(&config.database_url()).await?;
            println!("database is at migration {applied}");
            Ok(())
        }
        Command::Tokens(command) => tokens(command).await,
        Command::Log(command) => log_command(command).await,
        Command::Clients(command) => clients(command).await,
        Command::Reconcile(args) => reconcile_command(args).await,
        Command::Keys(command) => keys(command).await,
        Command::DataKey(DataKeyCommand::Rotate { store }) => {
            let store = open_store(&store.config()?).await?;
            let kid = store.rotate_field_key().await?;
            println!("new active field key: {kid}");
            println!("running servers seal with it within 30 s; rows sealed before stay readable");
            Ok(())
        }
        Command::MasterKey(MasterKeyCommand::Create { store }) => {
            let config = store.config()?;
            let path = config.master_key_file();
            if path.exists() {
                bail!("{} already exists; it is left as it is", path.display());
            }
            prepare_data_dir(&config)?;
            MasterKey::load_or_create(&path)?;
            println!(
                "created {} (mode 0600): back it up apart from the database",
                path.display()
            );
            Ok(())
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.compact().try_init(),
    };
}

/// Creates the data directory (mode 0700) when the store or key file lives in it.
fn prepare_data_dir(config: &Config) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !config.data_dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&config.data_dir)
            .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    }
    Ok(())
}

/// The master key: `DINHDANH_MASTER_KEY`, else the key file. The file is created on first
/// start only for a SQLite store, whose data lives beside it; a PostgreSQL store's key must
/// exist beforehand (`dinhdanh master-key create`), so that no node silently creates the only
/// key to a shared database on a disk that may not outlive it.
fn master_key(config: &Config) -> Result<MasterKey> {
    if let Some(value) = std::env::var_os(MASTER_KEY_ENV) {
        let text = value
            .into_string()
            .map_err(|_| anyhow::anyhow!("{MASTER_KEY_ENV} is not valid UTF-8"))?;
        return MasterKey::from_base64(&text)
            .with_context(|| format!("{MASTER_KEY_ENV} is invalid"));
    }
    let path = config.master_key_file();
    let backend = dinhdanh_store::Backend::from_url(&config.database_url())?;
    if backend != dinhdanh_store::Backend::Sqlite && !path.exists() {
        bail!(
            "no master key: set {MASTER_KEY_ENV}, or create {} with `dinhdanh master-key create` and back it up",
            path.display()
        );
    }
    let (key, created) = MasterKey::load_or_create(&path)?;
    if created {
        eprintln!(
            "created a new master key at {} (mode 0600): back it up, the data cannot be read without it",
            path.display()
        );
    }
    Ok(key)
}

async fn open_store(config: &Config) -> Result<Arc<dyn RegistryStore>> {
    // Refuse a bad URL before anything is created on disk.
    dinhdanh_store::Backend::from_url(&config.database_url())?;
    prepare_data_dir(config)?;
    let master = master_key(config)?;
    let mut options = StoreOptions::new(config.database_url());
    options.max_connections = config.max_connections;
    dinhdanh_store::open(&options, &master)
        .await
        .context("cannot open the store")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn serve(args: ServeArgs) -> Result<()> {
    let mut config = args.store.config()?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(format) = args.log_format {
        config.log_format = format;
    }
    if let Some(max) = args.max_connections {
        config.max_connections = max;
    }
    if let Some(limit) = args.body_limit_bytes {
        config.http.body_limit_bytes = usize::try_from(limit)?;
    }
    if let Some(timeout) = args.request_timeout_ms {
        config.http.request_timeout_ms = timeout;
    }
    if args.tls_cert.is_some() {
        config.tls_cert = args.tls_cert;
        config.tls_key = args.tls_key;
        config.plain_http = false;
    }
    if args.plain_http {
        config.plain_http = true;
    }
    if let Some(issuer) = args.issuer {
        config.oidc.issuer = issuer;
    }
    if let Some(interval) = args.checkpoint_interval_ms {
        config.disclosure_log.checkpoint_interval_ms = interval;
    }
    if let Some(count) = args.checkpoint_after_entries {
        config.disclosure_log.checkpoint_after_entries = count;
    }
    // Refuse a missing certificate before anything is opened or created.
    let tls = if config.plain_http {
        None
    } else {
        let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
            bail!(
                "serve needs --tls-cert and --tls-key, or --plain-http behind a proxy that terminates TLS"
            );
        };
        Some(TlsIdentity::from_pem_files(cert, key)?.server_config()?)
    };
    init_logging(config.log_format);
    let store = open_store(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    for alg in dinhdanh_server::ensure_signing_keys(store.as_ref()).await? {
        tracing::info!(
            alg = alg.jose_name(),
            "made the first signing key for ID tokens"
        );
    }
    let oidc = config.oidc();
    tracing::info!(%address, backend = store.backend().as_str(), tls = tls.is_some(), issuer = %oidc.issuer, "serving");
    dinhdanh_server::spawn_log_publisher(store.disclosure_log(), config.disclosure_log.clone());
    let state = AppState::new(store, config.http.clone()).with_oidc(oidc);
    dinhdanh_server::spawn_transmitter(state.clone(), config.signals.clone());
    let app = dinhdanh_server::app(state);
    run_server(listener, app, tls).await
}

/// Serves over TLS when a configuration is given, plain HTTP otherwise.
async fn run_server(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<()> {
    match tls {
        Some(config) => {
            dinhdanh_server::serve_tls(listener, app, config, shutdown_signal()).await?
        }
        None => dinhdanh_server::serve(listener, app, shutdown_signal()).await?,
    }
    Ok(())
}

/// The demo's TLS identity: a self-signed certificate for localhost and 127.0.0.1, made on the
/// first start and kept in the data directory (key mode 0600).
fn demo_tls(data_dir: &Path) -> Result<(TlsIdentity, PathBuf)> {
    let cert = data_dir.join("tls-cert.pem");
    let key = data_dir.join("tls-key.pem");
    if !cert.exists() || !key.exists() {
        let (cert_pem, key_pem) =
            dinhdanh_server::self_signed_pem(&["localhost", "127.0.0.1", "::1"])?;
        write_private(&key, &key_pem)?;
        std::fs::write(&cert, cert_pem)
            .with_context(|| format!("cannot write {}", cert.display()))?;
    }
    Ok((TlsIdentity::from_pem_files(&cert, &key)?, cert))
}

/// `AB:CD:…`: the SHA-256 fingerprint of a DER certificate, as browsers show it.
fn fingerprint(der: &[u8]) -> String {
    dinhdanh_crypto::sha256(der)
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn population_spec(people: usize, seed: u64) -> PopulationSpec {
    PopulationSpec {
        seed,
        people,
        as_of: today_in_vietnam(Timestamp::now()),
    }
}

async fn seed_command(args: SeedArgs) -> Result<()> {
    let config = args.store.config()?;
    let store = open_store(&config).await?;
    let spec = population_spec(args.people, args.seed);
    let report = seed::seed_all(&store, &spec, std::io::stderr().is_terminal()).await?;
    println!(
        "seeded {} people ({} guardianships) and {} organisations in {:.1} s: {:.0} people/s",
        report.people,
        report.guardianships,
        report.organisations,
        report.elapsed.as_secs_f64(),
        report.people_per_second()
    );
    Ok(())
}

async fn reconcile_command(args: ReconcileArgs) -> Result<()> {
    use dinhdanh::reconcile::{self, Format};
    let tax_code = args
        .operator
        .trim()
        .parse::<TaxCode>()
        .map_err(|err| anyhow::anyhow!("--operator: {err}"))?;
    if args.limit == 0 {
        bail!("--limit must be at least 1");
    }
    let input = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let size = input.metadata().map(|meta| meta.len()).unwrap_or(0);
    let store = open_store(&args.store.config()?).await?;
    let operator = store
        .find_organisation_by_tax_code(&tax_code)
        .await?
        .with_context(|| format!("no organisation has the tax code {tax_code}"))?;
    if operator.kind != dinhdanh_core::OrganisationKind::TelecomOperator {
        bail!("{tax_code} ({}) is not a telecom operator", operator.name);
    }
    let people = store.count_persons().await?;
    let loading = progress_bar(people, "people");
    let registry =
        reconcile::load_registry(store.as_ref(), |done| loading.set_position(done)).await?;
    loading.finish_and_clear();
    let index = &registry.index;
    let elsewhere = reconcile::load_lines_elsewhere(store.as_ref(), &registry, operator.id).await?;
    let bar = reconcile::progress_bar(size);
    let started = std::time::Instant::now();
    // The reports wait beside the output until the log records what they tell.
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let staging = args.out.join(".reconciling");
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("cannot clear {}", staging.display()))?;
    }
    let report = reconcile::reconcile(
        index,
        &elsewhere,
        args.limit,
        std::io::BufReader::with_capacity(1 << 20, input),
        size,
        Format::of(&args.file),
        &staging,
        |bytes, rows| reconcile::show(&bar, started, bytes, rows),
    )?;
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    // What the reports tell the operator about registered people goes into their logs.
    let recording = progress_bar(report.told.len() as u64, "disclosures");
    let log = store.disclosure_log();
    let recorded =
        reconcile::record_answers(log.as_ref(), operator.id, &registry, &report.told, |done| {
            recording.set_position(done)
        })
        .await?;
    recording.finish_and_clear();
    reconcile::publish_reports(&staging, &args.out)?;
    let get = |class| report.classes.get(class).copied().unwrap_or(0);
    println!(
        "{}: {} lines in {elapsed:.1} s ({:.0} lines/s) against {} people: {} verified, {} \
         rejected, {} duplicate, {} malformed; reports in {}; {recorded} people's disclosure \
         logs record the answers about them",
        operator.name,
        report.rows,
        report.rows as f64 / elapsed.max(1e-3),
        index.people(),
        get("verified"),
        get("rejected"),
        get("duplicate"),
        get("malformed"),
        args.out.display()
    );
    Ok(())
}

/// Writes a secret to a new file readable by its owner only, replacing an older one.
fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    Ok(())
}

async fn create_token(
    store: &Arc<dyn RegistryStore>,
    role: OperatorRole,
    label: &str,
    expires_in_days: Option<u32>,
) -> Result<ApiToken> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 200 {
        bail!("--label must be 1 to 200 characters");
    }
    let token = ApiToken::generate()?;
    let expires_at = expires_in_days
        .map(|days| Timestamp::now().checked_add(SignedDuration::from_hours(24 * i64::from(days))))
        .transpose()?;
    store
        .insert_operator_token(&NewOperatorToken {
            hash: token.hash(),
            role,
            label: label.to_owned(),
            expires_at,
        })
        .await?;
    Ok(token)
}

async fn tokens(command: TokensCommand) -> Result<()> {
    match command {
        TokensCommand::Create {
            store,
            role,
            label,
            expires_in_days,
        } => {
            let store = open_store(&store.config()?).await?;
            let token = create_token(&store, role, &label, expires_in_days).await?;
            println!("{}", token.reveal());
            eprintln!("this token is shown once; only its hash is stored");
        }
        TokensCommand::List { store } => {
            let store = open_store(&store.config()?).await?;
            let now = Timestamp::now();
            println!(
                "{:<36}  {:<15}  {:<8}  {:<20}  label",
                "id", "role", "state", "created"
            );
            for token in store.list_operator_tokens().await? {
                let state = if token.revoked_at.is_some() {
                    "revoked"
                } else if token.is_usable(now) {
                    "active"
                } else {
                    "expired"
                };
                println!(
                    "{:<36}  {:<15}  {:<8}  {:<20}  {}",
                    token.id,
                    token.role.as_str(),
                    state,
                    token.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    token.label
                );
            }
        }
        TokensCommand::Revoke { store, id } => {
            let store = open_store(&store.config()?).await?;
            store.revoke_operator_token(id).await?;
            println!("revoked {id}");
        }
    }
    Ok(())
}

async fn clients(command: ClientsCommand) -> Result<()> {
    match command {
        ClientsCommand::Create {
            store,
            organisation,
            client_id,
            name,
            redirect_uris,
            scope,
            sector,
            require_par,
            min_level,
            id_token_alg,
            jwks,
            client_secret_basic,
        } => {
            let tax_code: TaxCode = organisation
                .parse()
                .map_err(|err| anyhow::anyhow!("--organisation: {err}"))?;
            let jwks = match &jwks {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?,
                ),
                None => None,
            };
            let auth_method = if client_secret_basic {
                "client_secret_basic"
            } else {
                "private_key_jwt"
            };
            let store = open_store(&store.config()?).await?;
            let organisation = store
                .find_organisation_by_tax_code(&tax_code)
                .await?
                .with_context(|| format!("no organisation has tax code {tax_code}"))?;
            let registration = ClientRegistration {
                client_id,
                name,
                redirect_uris,
                sector,
                scopes: scope,
                require_par,
                min_level,
                id_token_alg,
                auth_method: auth_method.to_owned(),
                jwks,
            };
            let registered =
                dinhdanh_server::register_client(store.as_ref(), organisation.id, &registration)
                    .await?;
            let client = &registered.client.registration;
            let mut shown = serde_json::json!({
                "client_id": client.id,
                "organisation": tax_code.as_str(),
                "client_name": client.name,
                "redirect_uris": client.redirect_uris,
                "sector_identifier": client.sector,
                "scope": client.scopes,
                "require_pushed_authorization_requests": client.require_par,
                "min_level": client.min_level.as_u8(),
                "id_token_signed_response_alg": client.id_token_alg.jose_name(),
                "token_endpoint_auth_method": client.auth.method(),
            });
            if let Some(secret) = &registered.secret {
                shown["client_secret"] = secret.reveal().into();
                eprintln!("the client secret is shown once; only its hash is stored");
            }
            println!("{}", serde_json::to_string_pretty(&shown)?);
        }
        ClientsCommand::List { store } => {
            let store = open_store(&store.config()?).await?;
            println!(
                "{:<40}  {:<20}  {:<10}  {:<19}  name",
                "client id", "auth", "id token", "sector"
            );
            for client in store.oidc().list_clients().await? {
                let client = client.registration;
                println!(
                    "{:<40}  {:<20}  {:<10}  {:<19}  {}",
                    client.id,
                    client.auth.method(),
                    client.id_token_alg.jose_name(),
                    client.sector,
                    client.name
                );
            }
        }
    }
    Ok(())
}

/// The label of the admin token `demo` prints.
const DEMO_TOKEN_LABEL: &str = "demo";

async fn keys(command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::Generate { store, alg } => {
            let store = open_store(&store.config()?).await?;
            let state = if store.find_active_signing_key(alg).await?.is_some() {
                SigningKeyState::Next
            } else {
                SigningKeyState::Active
            };
            let record = store
                .insert_signing_key(&SigningKey::generate(alg)?, state)
                .await
                .map_err(|err| match err {
                    StoreError::Conflict(_) => {
                        anyhow::anyhow!("{} already has a next key; rotate first", alg.jose_name())
                    }
                    other => other.into(),
                })?;
            println!("{} {} key {}", record.state, alg.jose_name(), record.kid);
        }
        KeysCommand::Rotate { store, alg } => {
            let store = open_store(&store.config()?).await?;
            if store.find_active_signing_key(alg).await?.is_none() {
                bail!(
                    "{} has no active key: run `dinhdanh keys generate --alg {}` first",
                    alg.jose_name(),
                    alg.jose_name()
                );
            }
            let has_next = store
                .list_signing_keys()
                .await?
                .iter()
                .any(|k| k.algorithm == alg && k.state == SigningKeyState::Next);
            if !has_next {
                store
                    .insert_signing_key(&SigningKey::generate(alg)?, SigningKeyState::Next)
                    .await?;
            }
            store.rotate_signing_keys(alg).await?;
            store
                .insert_signing_key(&SigningKey::generate(alg)?, SigningKeyState::Next)
                .await?;
            for key in store.list_signing_keys().await? {
                if key.algorithm == alg && key.state.is_published() {
                    println!("{:<8}  {}", key.state.as_str(), key.kid);
                }
            }
        }
        KeysCommand::Recipient { out } => {
            if out.exists() {
                bail!("{} already exists; it is left as it is", out.display());
            }
            let recipient = dinhdanh_crypto::HybridRecipientKey::generate()?;
            let text =
                zeroize::Zeroizing::new(URL_SAFE_NO_PAD.encode(recipient.to_bytes().as_slice()));
            write_private(&out, &text)?;
            println!("{}", recipient.public_key().to_text());
            eprintln!(
                "private key written to {} (mode 0600); keep it offline",
                out.display()
            );
        }
        KeysCommand::Export { store, to, out } => {
            let store = open_store(&store.config()?).await?;
            let keys = store.export_signing_keys().await?;
            if keys.is_empty() {
                bail!("there are no signing keys to export");
            }
            let entries: Vec<serde_json::Value> = keys
                .into_iter()
                .map(|(record, key)| {
                    let micros = |t: Option<Timestamp>| t.map(|t| t.as_microsecond());
                    serde_json::json!({
                        "jwk": Jwk::private(key, Some(record.kid.clone())).to_json(),
                        "state": record.state.as_str(),
                        "created_at": record.created_at.as_microsecond(),
                        "activated_at": micros(record.activated_at),
                        "retiring_at": micros(record.retiring_at),
                        "retired_at": micros(record.retired_at),
                    })
                })
                .collect();
            let count = entries.len();
            let plain = zeroize::Zeroizing::new(serde_json::to_vec(
                &serde_json::json!({ "version": 1, "keys": entries }),
            )?);
            let sealed = to.seal(BACKUP_AAD, &plain)?;
            std::fs::write(&out, sealed)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("sealed {count} signing keys to {}", out.display());
        }
        KeysCommand::Import { store, backup, key } => {
            let text = zeroize::Zeroizing::new(
                std::fs::read_to_string(&key)
                    .with_context(|| format!("cannot read {}", key.display()))?,
            );
            let recipient = URL_SAFE_NO_PAD
                .decode(text.trim())
                .ok()
                .and_then(|bytes| dinhdanh_crypto::HybridRecipientKey::from_bytes(&bytes).ok())
                .ok_or_else(|| anyhow::anyhow!("{} is not a recipient key", key.display()))?;
            let sealed = std::fs::read(&backup)
                .with_context(|| format!("cannot read {}", backup.display()))?;
            let plain = recipient.open(BACKUP_AAD, &sealed).map_err(|_| {
                anyhow::anyhow!(
                    "{} does not open with this key (wrong key, or altered)",
                    backup.display()
                )
            })?;
            let keys = parse_backup(&plain)?;
            let store = open_store(&store.config()?).await?;
            store.import_signing_keys(&keys).await.map_err(|err| match err {
                StoreError::Conflict(_) => anyhow::anyhow!(
                    "the store already has one of these keys, or an active or next key of the same algorithm; nothing was imported"
                ),
                other => other.into(),
            })?;
            println!("imported {} signing keys", keys.len());
        }
        KeysCommand::List { store } => {
            let store = open_store(&store.config()?).await?;
            println!(
                "{:<36}  {:<9}  {:<8}  {:<20}  activated",
                "kid", "alg", "state", "created"
            );
            let time = |t: Option<Timestamp>| {
                t.map_or_else(
                    || "-".to_owned(),
                    |t| t.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                )
            };
            for key in store.list_signing_keys().await? {
                println!(
                    "{:<36}  {:<9}  {:<8}  {:<20}  {}",
                    key.kid,
                    key.algorithm.jose_name(),
                    key.state.as_str(),
                    time(Some(key.created_at)),
                    time(key.activated_at)
                );
            }
        }
    }
    Ok(())
}

/// Reads the plaintext of a signing-key backup.
fn parse_backup(plain: &[u8]) -> Result<Vec<(SigningKeyRecord, SigningKey)>> {
    let document: serde_json::Value =
        serde_json::from_slice(plain).context("the backup is not JSON")?;
    if document["version"] != 1 {
        bail!("unknown backup version");
    }
    let entries = document["keys"]
        .as_array()
        .context("the backup has no keys")?;
    let time = |value: &serde_json::Value| -> Result<Option<Timestamp>> {
        match value {
            serde_json::Value::Null => Ok(None),
            value => Ok(Some(Timestamp::from_microsecond(
                value
                    .as_i64()
                    .context("a time in the backup is not a number")?,
            )?)),
        }
    };
    let mut keys = Vec::with_capacity(entries.len());
    for entry in entries {
        let jwk = Jwk::from_json(&serde_json::to_vec(&entry["jwk"])?)
            .map_err(|err| anyhow::anyhow!("a key in the backup is invalid: {err}"))?;
        let kid = jwk
            .kid()
            .context("a key in the backup has no kid")?
            .to_owned();
        let state = entry["state"]
            .as_str()
            .and_then(SigningKeyState::parse)
            .context("a key in the backup has no valid state")?;
        let private = jwk
            .signing_key()
            .context("a key in the backup has no private part")?;
        let key = SigningKey::from_private_bytes(jwk.algorithm(), &private.private_bytes())?;
        keys.push((
            SigningKeyRecord {
                kid,
                algorithm: jwk.algorithm(),
                state,
                public_key: key.verifying_key().as_bytes().to_vec(),
                created_at: time(&entry["created_at"])?
                    .context("a key in the backup has no creation time")?,
                activated_at: time(&entry["activated_at"])?,
                retiring_at: time(&entry["retiring_at"])?,
                retired_at: time(&entry["retired_at"])?,
            },
            key,
        ));
    }
    Ok(keys)
}

async fn demo(args: DemoArgs) -> Result<()> {
    init_logging(LogFormat::Text);
    let config = Config {
        data_dir: args.data_dir.clone(),
        database_url: Some(sqlite_url(&args.data_dir.join("dinhdanh.db"))),
        listen: args.listen,
        ..Config::default()
    };
    let store = open_store(&config).await?;
    if store.count_persons().await? == 0 {
        eprintln!(
            "seeding {} synthetic people (seed {})…",
            args.people, args.seed
        );
        let spec = population_spec(args.people, args.seed);
        let report = seed::seed_all(&store, &spec, std::io::stderr().is_terminal()).await?;
        eprintln!(
            "seeded {} people and {} organisations in {:.1} s",
            report.people,
            report.organisations,
            report.elapsed.as_secs_f64()
        );
    }
    // Signing keys for ID tokens (ML-DSA-65, Ed25519, P-256): an active key and the next one
    // of each, published in the JWKS from the first start.
    dinhdanh_server::ensure_signing_keys(store.as_ref()).await?;
    // One demo token at a time: the ones printed by earlier starts stop working.
    for old in store.list_operator_tokens().await? {
        if old.label == DEMO_TOKEN_LABEL && old.revoked_at.is_none() {
            store.revoke_operator_token(old.id).await?;
        }
    }
    let token = create_token(&store, OperatorRole::Admin, DEMO_TOKEN_LABEL, None).await?;
    let token_file = args.data_dir.join("demo-operator.token");
    write_private(&token_file, token.reveal())?;

    let tls = if args.plain_http {
        None
    } else {
        Some(demo_tls(&args.data_dir)?)
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    // On loopback the demo names itself `localhost`, as its certificate does: passkeys need a
    // domain name, not an IP address, as the site's identity (WebAuthn §5.1.4.1).
    let base = if address.ip().is_loopback() {
        format!("{scheme}://localhost:{}", address.port())
    } else {
        format!("{scheme}://{address}")
    };
    let token_path = token_file.display();
    println!(
        "dinhdanh demo: synthetic data only, stored in {}",
        args.data_dir.display()
    );
    println!("listening on {base}");
    let curl = match &tls {
        Some((identity, cert)) => {
            println!(
                "  TLS: self-signed certificate {} (X25519MLKEM768 key exchange preferred)",
                cert.display()
            );
            println!("  SHA-256 fingerprint: {}", fingerprint(identity.leaf()));
            format!("curl -s --cacert {}", cert.display())
        }
        None => "curl -s".to_owned(),
    };
    println!();
    println!("  operator token (admin): {}", token.reveal());
    println!("  saved to:               {token_path}");
    println!();
    println!("  health:   {base}/healthz   ready: {base}/readyz   metrics: {base}/metrics");
    println!("  OpenAPI:  {base}/openapi.json   signing keys: {base}/.well-known/jwks.json");
    println!("  disclosure log: {base}/log/checkpoint   verifier keys: {base}/log/keys");
    println!("  OpenID Connect: {base}/.well-known/openid-configuration");
    println!();
    println!("try:");
    println!("  TOKEN=$(cat {token_path})");
    println!(
        "  {curl} -X POST {base}/v1/persons -H \"Authorization: Bearer $TOKEN\" \\\n       -H 'content-type: application/json' \\\n       -d '{{\"citizen_number\":\"079305000123\",\"name\":\"Trần Thị Mai\",\"birth_date\":\"2005-08-15\",\"sex\":\"female\"}}'"
    );
    println!("  {curl} {base}/v1/persons/<id from the answer> -H \"Authorization: Bearer $TOKEN\"");
    println!(
        "  {curl} {base}/v1/persons/<id>/disclosures -H \"Authorization: Bearer $TOKEN\"   (who read this person's data)"
    );
    println!();
    let tls = match tls {
        Some((identity, _)) => Some(identity.server_config()?),
        None => None,
    };
    dinhdanh_server::spawn_log_publisher(store.disclosure_log(), config.disclosure_log.clone());
    let oidc = OidcConfig {
        issuer: base.clone(),
        ..OidcConfig::default()
    };
    let state = AppState::new(store, config.http.clone()).with_oidc(oidc);
    dinhdanh_server::spawn_transmitter(state.clone(), config.signals.clone());
    let app = dinhdanh_server::app(state);
    run_server(listener, app, tls).await
}

async fn log_command(command: LogCommand) -> Result<()> {
    match command {
        LogCommand::Publish { store } => {
            let store = open_store(&store.config()?).await?;
            let log = store.disclosure_log();
            let batch = LogConfig::default().integration_batch;
            match dinhdanh_server::publish_log(log.as_ref(), batch).await? {
                Some(checkpoint) => print!("{}", checkpoint.note),
                None => println!("nothing new to publish"),
            }
            Ok(())
        }
        LogCommand::Verify {
            store,
            keys,
            checkpoint,
        } => {
            let pinned = match keys {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    let verifiers = text
                        .lines()
                        .filter(|line| !line.trim().is_empty())
                        .map(NoteVerifier::parse_vkey)
                        .collect::<Result<Vec<_>, _>>()
                        .with_context(|| format!("{}: not verifier keys", path.display()))?;
                    if verifiers.is_empty() {
                        bail!("{}: no verifier key in it", path.display());
                    }
                    Some(verifiers)
                }
                None => None,
            };
            let saved = checkpoint
                .map(|path| {
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))
                })
                .transpose()?;
            if pinned.is_none() {
                println!(
                    "note: trusting the store's own checkpoint keys; pass --keys with a copy of \
                     /log/keys kept elsewhere to catch replaced keys"
                );
            }
            let store = open_store(&store.config()?).await?;
            let log = store.disclosure_log();
            let (size, _) = log.sizes().await?;
            let bar = progress_bar(size, "entries");
            let trusted = Trusted {
                keys: pinned,
                checkpoint: saved,
            };
            let report = verify_log(log.as_ref(), trusted, |done| bar.set_position(done)).await?;
            bar.finish_and_clear();
            println!(
                "{} entries, {} checkpoints (largest signs {}), {} waiting to enter the tree",
                report.entries, report.checkpoints, report.signed_size, report.waiting
            );
            if report.entries > report.signed_size {
                println!(
                    "entries {} to {} are in the tree but no checkpoint signs them yet",
                    report.signed_size,
                    report.entries - 1
                );
            }
            match report.problems.first() {
                None => {
                    println!("the disclosure log verifies");
                    Ok(())
                }
                Some(first) => {
                    for problem in report.problems.iter().skip(1).take(20) {
                        eprintln!("also: {problem}");
                    }
                    bail!("the disclosure log does not verify: {first}")
                }
            }
        }
    }
}

/// A progress bar on a terminal, hidden otherwise.
fn progress_bar(total: u64, unit: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    let template = format!("{{bar:40}} {{pos}}/{{len}} {unit} ({{per_sec}}, {{eta}} left)");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }
}
