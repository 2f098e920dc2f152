//! The OpenAPI 3.1 document of the API, served at `/api/v1/openapi.json`.

use axum::Json;
use serde_json::Value;

pub fn document() -> Value {
    serde_json::json!({"openapi": "3.1.0", "info": {"title": "Jilu center API", "version": "1"}, "paths": {}})
}

pub async fn serve() -> Json<Value> {
    Json(document())
}
