//! TLS for `serve` and `demo`: rustls on the aws-lc-rs provider, preferring the hybrid
//! post-quantum key exchange X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem), then X25519 and
//! P-256 for clients that do not offer it.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls::crypto::aws_lc_rs::{self as provider, kx_group};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use zeroize::Zeroizing;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file could not be read or holds no certificate.
    #[error("certificate {path}: {reason}")]
    Certificate {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The private key file could not be read or holds no key.
    #[error("private key {path}: {reason}")]
    PrivateKey {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The certificate and key do not form a usable server configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
    /// A self-signed certificate could not be made.
    #[error("self-signed certificate: {0}")]
    SelfSigned(String),
}

/// A certificate chain and its private key.
pub struct TlsIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("certificates", &self.chain.len())
            .finish()
    }
}

impl TlsIdentity {
    /// Reads a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(certificate: &Path, key: &Path) -> Result<Self, TlsError> {
        let certificate_error = |reason: String| TlsError::Certificate {
            path: certificate.display().to_string(),
            reason,
        };
        let chain = CertificateDer::pem_file_iter(certificate)
            .map_err(|err| certificate_error(err.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| certificate_error(err.to_string()))?;
        if chain.is_empty() {
            return Err(certificate_error("no certificate in the file".to_owned()));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(|err| TlsError::PrivateKey {
            path: key.display().to_string(),
            reason: err.to_string(),
        })?;
        Ok(Self { chain, key })
    }

    /// The leaf certificate, DER-encoded.
    pub fn leaf(&self) -> &[u8] {
        self.chain.first().map_or(&[], |cert| cert.as_ref())
    }

    /// A rustls server configuration: TLS 1.3 and 1.2, X25519MLKEM768 first, HTTP/1.1.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let mut provider = provider::default_provider();
        provider.kx_groups = vec![
            kx_group::X25519MLKEM768,
            kx_group::X25519,
            kx_group::SECP256R1,
        ];
        let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .map_err(|err| TlsError::Config(err.to_string()))?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|err| TlsError::Config(err.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// A new self-signed certificate for `names` (DNS names or IP addresses), as PEM: the
/// certificate, and the private key (ECDSA P-256, made by aws-lc-rs).
pub fn self_signed_pem(names: &[&str]) -> Result<(String, Zeroizing<String>), TlsError> {
    let names = names
        .iter()
        .map(|name| (*name).to_owned())
        .collect::<Vec<_>>();
    let certified = rcgen::generate_simple_self_signed(names)
        .map_err(|err| TlsError::SelfSigned(err.to_string()))?;
    Ok((
        certified.cert.pem(),
        Zeroizing::new(certified.key_pair.serialize_pem()),
    ))
}

/// How long in-flight requests get to finish after shutdown is asked for.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app` over TLS on `listener` until `shutdown` completes, then lets connections in
/// flight finish (for at most ten seconds).
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    config: Arc<ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(config);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let acceptor = acceptor.clone();
        // The peer's address goes with each request, as `serve` gives it over plain HTTP: the
        // login throttle counts attempts per address.
        let service = TowerToHyperService::new(tower::ServiceExt::map_request(
            app.clone(),
            move |mut request: axum::http::Request<_>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        ));
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(
                Duration::from_secs(10),
                acceptor.accept(stream),
            )
            .await
            {
                Ok(Ok(stream)) => stream,
                Ok(Err(err)) => {
                    tracing::debug!(%peer, error = %err, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let builder = auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(err) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain period; closing them");
    }
    Ok(())
}
