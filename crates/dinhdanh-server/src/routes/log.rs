//! `/log/…`: the disclosure log's public face, per C2SP `tlog-tiles`: the latest signed
//! checkpoint, the hash tiles, and the verifier keys. Hash tiles reveal only how many entries
//! there are; entry bundles are not served, since entries say who received whose data — a
//! person reads their own entries, with proofs, through an authenticated route.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dinhdanh_ledger::TileId;

use crate::AppState;
use crate::problem::Problem;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/log/checkpoint", get(checkpoint))
        .route("/log/keys", get(keys))
        .route("/log/tile/{*path}", get(tile))
}

fn with_headers(
    body: impl IntoResponse,
    content_type: &'static str,
    cache: &'static str,
) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// The latest checkpoint, signed with ML-DSA-65 and co-signed with Ed25519.
#[utoipa::path(get, path = "/log/checkpoint", tag = "log",
    responses(
        (status = 200, description = "C2SP tlog-checkpoint signed note", content_type = "text/plain"),
        (status = 404, description = "No checkpoint yet", content_type = "application/problem+json")))]
pub(crate) async fn checkpoint(State(state): State<AppState>) -> Result<Response, Problem> {
    let checkpoint = state
        .log
        .latest_checkpoint()
        .await?
        .ok_or_else(|| Problem::not_found("checkpoint"))?;
    // C2SP tlog-tiles: the checkpoint is mutable; it is not cached beyond a few seconds.
    Ok(with_headers(
        checkpoint.note,
        "text/plain; charset=utf-8",
        "public, max-age=2",
    ))
}

/// The keys that sign checkpoints, one verifier key per line (`<name>+<key id>+<key>`).
#[utoipa::path(get, path = "/log/keys", tag = "log",
    responses((status = 200, description = "Signed-note verifier keys: ML-DSA-65, then Ed25519", content_type = "text/plain")))]
pub(crate) async fn keys(State(state): State<AppState>) -> Response {
    let mut body = String::new();
    for verifier in state.log.verifiers() {
        body.push_str(&verifier.to_vkey());
        body.push('\n');
    }
    with_headers(body, "text/plain; charset=utf-8", "public, max-age=300")
}

/// A hash tile: `tile/<L>/<N>[.p/<W>]`, 32-byte hashes concatenated.
#[utoipa::path(get, path = "/log/tile/{path}", tag = "log",
    params(("path" = String, Path, description = "`<L>/<N>[.p/<W>]` as in C2SP tlog-tiles, e.g. `0/x001/234.p/5`")),
    responses(
        (status = 200, description = "The tile", content_type = "application/octet-stream"),
        (status = 404, description = "No such tile, or not a tile path", content_type = "application/problem+json")))]
pub(crate) async fn tile(
    State(state): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, Problem> {
    if path.starts_with("entries/") {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "entry bundles are not public: entries say who received whose data",
        ));
    }
    let id = TileId::parse_path(&path).map_err(|_| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "not a tile path: expected <level>/<index>[.p/<width>] as in C2SP tlog-tiles",
        )
    })?;
    let stored = state
        .log
        .find_tile(id.level, id.index)
        .await?
        .ok_or_else(|| Problem::not_found("tile"))?;
    let width = usize::from(id.width) * 32;
    if stored.len() < width {
        return Err(Problem::not_found("tile"));
    }
    // A partial tile is a prefix of the stored one: hashes in a tile never change.
    Ok(with_headers(
        stored[..width].to_vec(),
        "application/octet-stream",
        "public, max-age=31536000, immutable",
    ))
}
