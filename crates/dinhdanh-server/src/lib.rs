#![doc = include_str!("../README.md")]

mod client_auth;
mod disclosure;
mod extract;
mod metrics;
mod openapi;
mod pages;
mod problem;
mod provider;
mod publisher;
mod routes;
mod tls;
mod transmitter;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use dinhdanh_store::{DisclosureLog, RegistryStore};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

pub use metrics::Metrics;
pub use openapi::openapi_document;
pub use problem::{PROBLEM_BASE, Problem};
pub use provider::{OidcConfig, PROVIDER_ALGORITHMS, ensure_signing_keys};
pub use publisher::{LogConfig, publish_log, spawn_log_publisher};
pub use routes::clients::{ClientRegistrationError, RegisteredClient, register_client};
pub use tls::{TlsError, TlsIdentity, self_signed_pem, serve_tls};
pub use transmitter::{SignalsConfig, announce_ages, apply_line_stages, spawn_transmitter};

/// Limits and behaviour of the HTTP server.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Largest accepted request body, in bytes. Default 65,536.
    pub body_limit_bytes: usize,
    /// Longest a request may take before it is answered 503, in milliseconds. Default 10,000.
    pub request_timeout_ms: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit_bytes: 64 * 1024,
            request_timeout_ms: 10_000,
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The registry.
    pub store: Arc<dyn RegistryStore>,
    /// The disclosure log, in the registry's database.
    pub log: Arc<dyn DisclosureLog>,
    /// Server limits.
    pub config: Arc<HttpConfig>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// The OpenID Connect provider's settings and in-memory state.
    pub(crate) oidc: Arc<provider::Provider>,
}

impl AppState {
    /// State for a store with the given limits.
    pub fn new(store: Arc<dyn RegistryStore>, config: HttpConfig) -> Self {
        Self {
            log: store.disclosure_log(),
            store,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::new()),
            oidc: Arc::new(provider::Provider::new(OidcConfig::default())),
        }
    }

    /// The same state with these OpenID Connect provider settings.
    pub fn with_oidc(mut self, config: OidcConfig) -> Self {
        self.oidc = Arc::new(provider::Provider::new(config));
        self
    }

    /// The same store and settings with empty caches and throttles: what a node that
    /// restarted would have.
    pub fn restarted(&self) -> Self {
        Self::new(Arc::clone(&self.store), (*self.config).clone())
            .with_oidc(self.oidc.config.clone())
    }
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    let body_limit = state.config.body_limit_bytes;
    routes::router()
        .fallback(|| async { Problem::not_found("route") })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this route does not accept this method",
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(
            // Spans carry the method and the route template only: never a raw URI, whose
            // path or query could carry personal data, and never a body.
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("unmatched", MatchedPath::as_str);
                tracing::info_span!("http", method = %request.method(), route)
            }),
        )
        .with_state(state)
}

/// Times each request out, counts it by route template and status, and logs its outcome.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let started = Instant::now();
    let timeout = Duration::from_millis(state.config.request_timeout_ms);
    let response = match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Problem::unavailable("the request took too long").into_response(),
    };
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    // HTTP lets a client invent method names; only standard ones become labels, so that a
    // client can neither grow the metrics without bound nor put its own text into them.
    let method = match method.as_str() {
        known @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => known,
        _ => "other",
    };
    state.metrics.observe(method, &route, status, elapsed);
    tracing::info!(
        method,
        route = %route,
        status,
        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// Serves `app` on `listener` until `shutdown` completes, then finishes requests in flight.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
