//! API errors: a status, a stable code scripts can match, and one sentence.
//! `{"error": {"code": "not_found", "message": "..."}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// a denial to be written to the audit log (404s of hidden records included)
    pub denied: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: &str) -> ApiError {
        ApiError {
            status,
            code,
            message: message.to_string(),
            denied: None,
        }
    }

    pub fn bad_request(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(400, "bad_request", &message.to_string())
    }

    /// Not there, or not for this user: the same answer, so existence does not leak.
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(404, "not_found", &format!("no {what}"))
    }

    /// A record the user may not see: answered as [`ApiError::not_found`], audited.
    pub fn hidden(what: &str) -> ApiError {
        ApiError {
            denied: Some("hidden"),
            ..ApiError::not_found(what)
        }
    }

    /// The user sees the record (or the endpoint) but the role may not do this.
    pub fn forbidden(message: &str) -> ApiError {
        ApiError {
            denied: Some("forbidden"),
            ..ApiError::new(403, "forbidden", message)
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError::new(500, "internal", &format!("the center failed: {e}"))
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        if e.downcast_ref::<crate::index::query::BadCursor>().is_some() {
            return ApiError::new(400, "bad_cursor", &e.to_string());
        }
        ApiError::internal(format!("{e:#}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response()
    }
}

pub async fn not_found() -> ApiError {
    ApiError::new(
        404,
        "no_such_path",
        "no such path: see /api/v1/openapi.json",
    )
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> ApiError {
        ApiError::internal(e)
    }
}

impl From<jilu_store::db::StoreError> for ApiError {
    fn from(e: jilu_store::db::StoreError) -> ApiError {
        ApiError::internal(e)
    }
}
