//! The OpenAPI description of the web API, served at `/api/openapi.json`. It is written by
//! hand beside the routes; a test (fake-server/tests/web_api.rs) checks that every route is
//! described and every described path is served.

use axum::http::header;
use axum::response::{IntoResponse, Response};

pub const OPENAPI_JSON: &str = include_str!("assets/openapi.json");

pub async fn serve() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}
