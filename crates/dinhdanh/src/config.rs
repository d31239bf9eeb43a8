//! Configuration: a TOML file, then `DINHDANH_*` environment variables, then flags, each
//! overriding the one before. `demo` needs none of it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use dinhdanh_server::{HttpConfig, LogConfig, OidcConfig, SignalsConfig};
use serde::{Deserialize, Serialize};

/// Everything `serve` reads.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the SQLite database and the master key file live. Default `./dinhdanh-data`.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`. Default: `dinhdanh.db` in `data_dir`.
    pub database_url: Option<String>,
    /// Address to listen on. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// The master key file. Default `master.key` in `data_dir`. `DINHDANH_MASTER_KEY`, when set,
    /// is used instead.
    pub master_key_file: Option<PathBuf>,
    /// Pooled database connections. Default 8.
    pub max_connections: u32,
    /// `json` (default) or `text`.
    pub log_format: LogFormat,
    /// HTTP limits.
    pub http: HttpConfig,
    /// PEM certificate chain for TLS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP (only behind a proxy that terminates TLS). Default false.
    pub plain_http: bool,
    /// When the disclosure log publishes checkpoints.
    pub disclosure_log: LogConfig,
    /// How Shared Signals events are pushed to receivers.
    pub signals: SignalsConfig,
    /// The OpenID Connect provider. Its `issuer` defaults to `https://<listen>` (or `http://`
    /// with `plain_http`); set it to the public URL behind a proxy.
    pub oidc: OidcConfig,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    #[default]
    Json,
    /// Human-readable lines.
    Text,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("dinhdanh-data"),
            database_url: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            master_key_file: None,
            max_connections: 8,
            log_format: LogFormat::Json,
            http: HttpConfig::default(),
            tls_cert: None,
            tls_key: None,
            plain_http: false,
            disclosure_log: LogConfig::default(),
            signals: SignalsConfig::default(),
            oidc: OidcConfig::default(),
        }
    }
}

impl Config {
    /// Reads a TOML file; unknown keys are an error.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| sqlite_url(&self.data_dir.join("dinhdanh.db")))
    }

    /// The provider settings in force: an empty `issuer` becomes the listen address's URL.
    pub fn oidc(&self) -> OidcConfig {
        let mut oidc = self.oidc.clone();
        if oidc.issuer.is_empty() {
            let scheme = if self.plain_http { "http" } else { "https" };
            oidc.issuer = format!("{scheme}://{}", self.listen);
        }
        oidc
    }

    /// The master key file in force.
    pub fn master_key_file(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }
}

/// The SQLite URL of a file path.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn file_values_override_defaults_and_unknown_keys_fail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dinhdanh.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\ndata_dir = \"/srv/dd\"\n[http]\nbody_limit_bytes = 1024\n",
        )
        .unwrap();
        let config = Config::from_file(&path).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.http.body_limit_bytes, 1024);
        assert_eq!(config.http.request_timeout_ms, 10_000);
        assert_eq!(config.database_url(), "sqlite:///srv/dd/dinhdanh.db");
        assert_eq!(
            config.master_key_file(),
            PathBuf::from("/srv/dd/master.key")
        );

        std::fs::write(&path, "listen_port = 1\n").unwrap();
        let err = Config::from_file(&path).unwrap_err();
        assert!(format!("{err:#}").contains("unknown field"));
    }
}
