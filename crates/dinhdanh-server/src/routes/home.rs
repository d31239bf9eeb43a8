//! `/`: a page for people who open the server in a browser: what it is, where the API and its
//! documents are, and whether it is ready. No personal data, no external assets.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/", get(home))
}

const PAGE: &str = r#"<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dinhdanh — hệ thống định danh</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; background: #fff; }
  h1 { font-size: 1.6rem; margin-bottom: .2rem; }
  .lead { color: #444; margin-top: 0; }
  .status { display: inline-block; padding: .15rem .6rem; border-radius: 1rem; font-weight: 600; }
  .ok { background: #dff3e4; color: #0b5b22; }
  .down { background: #fde2e1; color: #8a1c14; }
  table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
  th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
  code { background: #f3f3f3; padding: 0 .25rem; border-radius: 3px; }
  a { color: #0645ad; }
  a:focus { outline: 3px solid #ffbf47; }
</style>
</head>
<body>
<main>
<h1>dinhdanh</h1>
<p class="lead">Hệ thống định danh và xác thực quốc gia trên không gian mạng — national cyberspace identity and trust platform.</p>
<p>Trạng thái / status: <span class="status {{STATUS_CLASS}}">{{STATUS}}</span> · {{BACKEND}}</p>
<table>
  <thead><tr><th scope="col">Đường dẫn / path</th><th scope="col">Nội dung / what</th></tr></thead>
  <tbody>
    <tr><td><a href="/openapi.json">/openapi.json</a></td><td>OpenAPI 3.1 của API đăng ký / the registry API</td></tr>
    <tr><td><code>/v1/persons</code>, <code>/v1/organisations</code></td><td>Đăng ký công dân và tổ chức (cần mã thông báo) / the registry, with an operator token</td></tr>
    <tr><td><a href="/log/checkpoint">/log/checkpoint</a>, <a href="/log/keys">/log/keys</a></td><td>Nhật ký cung cấp dữ liệu cá nhân, ký ML-DSA-65 và Ed25519 / the disclosure log, signed with ML-DSA-65 and Ed25519: {{LOG}}</td></tr>
    <tr><td><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a></td><td>Tình trạng hoạt động / liveness and readiness</td></tr>
    <tr><td><a href="/metrics">/metrics</a></td><td>Số liệu Prometheus / Prometheus metrics</td></tr>
  </tbody>
</table>
<p>Dữ liệu cá nhân được mã hóa khi lưu trữ; không có dữ liệu cá nhân trên trang này.
Personal data is encrypted at rest; this page shows none.</p>
</main>
</body>
</html>
"#;

/// The home page.
pub(crate) async fn home(State(state): State<AppState>) -> Response {
    let ready = state.store.ping().await.is_ok();
    let log = match (state.log.sizes().await, state.log.latest_checkpoint().await) {
        (Ok((size, waiting)), Ok(checkpoint)) => format!(
            "{size} bản ghi / records, {waiting} đang chờ / waiting; điểm kiểm tra / checkpoint: {}",
            checkpoint.map_or_else(|| "—".to_owned(), |c| c.size.to_string())
        ),
        _ => "—".to_owned(),
    };
    let page = PAGE
        .replace("{{STATUS_CLASS}}", if ready { "ok" } else { "down" })
        .replace(
            "{{STATUS}}",
            if ready {
                "sẵn sàng / ready"
            } else {
                "không sẵn sàng / not ready"
            },
        )
        .replace("{{BACKEND}}", state.store.backend().as_str())
        .replace("{{LOG}}", &log);
    let mut response = Html(page).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    response
}
