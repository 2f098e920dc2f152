//! The OpenAPI 3.1 document of the API, served at `/api/v1/openapi.json`. It is
//! written by hand next to the routes of [`super::router`]; `tests/api-schema`
//! runs schemathesis against a live center to check that they agree, and a unit
//! test checks every route is described.

use axum::Json;
use serde_json::{json, Value};

fn param(name: &str, place: &str, schema: Value, required: bool, doc: &str) -> Value {
    json!({"name": name, "in": place, "required": required, "schema": schema, "description": doc})
}

fn q(name: &str, schema: Value, doc: &str) -> Value {
    param(name, "query", schema, false, doc)
}

fn p(name: &str, schema: Value) -> Value {
    param(name, "path", schema, true, name)
}

fn text() -> Value {
    json!({"type": "string"})
}

fn county() -> Value {
    json!({"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"})
}

fn hash() -> Value {
    json!({"type": "string", "pattern": "^[0-9a-f]{64}$"})
}

fn paging() -> Vec<Value> {
    vec![
        q(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": 500}),
            "rows a page (default 50)",
        ),
        q(
            "cursor",
            json!({"type": "string", "pattern": "^([0-9a-f]{2})*$"}),
            "`next` of the previous page",
        ),
    ]
}

fn errors(extra: &[&str]) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    let mut codes = vec!["400", "401", "403", "404"];
    codes.extend_from_slice(extra);
    for c in codes {
        m.insert(
            c.into(),
            json!({"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
    }
    m
}

fn op(summary: &str, params: Vec<Value>, ok: Value, body: Option<&str>, extra: &[&str]) -> Value {
    let mut responses = errors(extra);
    responses.insert(
        "200".into(),
        json!({"description": "OK", "content": {"application/json": {"schema": ok}}}),
    );
    let mut o = json!({
        "summary": summary,
        "parameters": params,
        "responses": responses,
        "security": [{"bearer": []}],
    });
    if let Some(schema) = body {
        o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
    }
    o
}

fn list(key: &str, row: &str) -> Value {
    json!({"type": "object", "required": [key], "properties": {
        key: {"type": "array", "items": {"$ref": format!("#/components/schemas/{row}")}},
        "next": {"type": ["string", "null"]},
    }})
}

fn object() -> Value {
    json!({"type": "object"})
}

fn schemas() -> Value {
    json!({
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
        "Item": {"type": "object", "required": ["hash", "size", "county", "officer", "device", "capture_start", "state", "class"],
            "properties": {"hash": {"type": "string"}, "size": {"type": "integer"}, "county": {"type": "string"},
                "officer": {"type": "string"}, "device": {"type": "string"}, "activity": {"type": ["string", "null"]},
                "capture_start": {"type": "integer"}, "state": {"enum": ["verified", "held"]},
                "expires_at": {"type": ["integer", "null"], "description": "when the ordinary retention (art. 15: 3 months after the activity ended, or after the capture for an unlinked item) lets a keeper clear it; null when held"},
                "class": {"$ref": "#/components/schemas/Class"}}},
        "Class": {"enum": ["ordinary", "personal-privacy", "commercial-secret", "state-secret"]},
        "ActivityRow": {"type": "object", "required": ["county", "activity", "class", "items", "pending"],
            "properties": {"county": {"type": "string"}, "activity": {"type": "object"},
                "class": {"$ref": "#/components/schemas/Class"}, "deadline": {"type": ["integer", "null"]},
                "items": {"type": "integer"}, "pending": {"type": "integer"},
                "deliveries": {"type": "array", "items": {"$ref": "#/components/schemas/Delivery"}, "description": "(one activity only) decisions made at the center and whether the edge has received them"}}},
        "Finding": {"type": "object", "required": ["county", "owner", "article", "finding"]},
        "Device": {"type": "object", "required": ["county", "device", "items"]},
        "DeviceLedger": {"type": "object", "required": ["county", "device", "items", "checkouts"],
            "properties": {"county": {"type": "string"}, "device": {"type": "string"},
                "registered": {"type": ["object", "null"], "description": "the device's entry in its county's registry (kind, serial, unit, status)"},
                "items": {"type": "integer"}, "last_capture": {"type": ["integer", "null"]},
                "checkouts": {"type": "array", "items": {"$ref": "#/components/schemas/CheckOut"}},
                "next": {"type": ["string", "null"]}}},
        "CheckOut": {"type": "object", "required": ["county", "month", "id", "device", "officer", "out_at", "check", "check_failures"],
            "properties": {"county": {"type": "string"}, "month": {"type": "string"}, "id": {"type": "string"},
                "device": {"type": "string"}, "officer": {"type": "string"}, "out_at": {"type": "integer"},
                "purpose": {"type": "string"},
                "check": {"type": "object", "required": ["clock_offset_ms"], "description": "the pre-use check (art. 7); clock_offset_ms: device minus station clock at check-out"},
                "check_failures": {"type": "array", "items": {"type": "string"}},
                "override_reason": {"type": ["string", "null"], "description": "why the device left although the check failed"},
                "in_at": {"type": ["integer", "null"]}, "in_note": {"type": ["string", "null"]}}},
        "EquipmentReport": {"type": "object", "required": ["target", "units"],
            "properties": {"target": {"type": "number"}, "next": {"type": ["string", "null"]},
                "units": {"type": "array", "items": {"type": "object", "required": ["county", "officers", "devices", "ratio", "below"],
                    "properties": {"county": {"type": "string"}, "officers": {"type": "integer"}, "devices": {"type": "integer"},
                        "ratio": {"type": ["number", "null"], "description": "devices per officer; null with no officer"},
                        "target": {"type": "number"}, "below": {"type": "boolean"}}}}}},
        "Delivery": {"type": "object", "required": ["action", "by", "at", "heads", "received"],
            "description": "a decision made at the center and whether the county's edge has it: received is null while it waits for the edge's next sync",
            "properties": {"action": {"type": "string"}, "by": {"type": "string"}, "at": {"type": "integer"},
                "heads": {"type": "array", "items": {"type": "string"}},
                "received": {"type": ["object", "null"], "properties": {"node": {"type": "string"}, "at": {"type": "integer"}}}}},
        "Edge": {"type": "object", "required": ["node", "county", "last_contact", "lag_ms"]},
        "AuditEntry": {"type": "object", "required": ["seq", "at", "actor", "action", "subject"]},
        "Decision": {"type": "object", "required": ["approve"], "additionalProperties": false,
            "properties": {"approve": {"type": "boolean"}, "note": {"type": ["string", "null"]}}},
        "HoldRequest": {"type": "object", "required": ["reason"], "additionalProperties": false,
            "properties": {"reason": {"type": "string", "minLength": 1}}},
        "ClassRequest": {"type": "object", "required": ["class"], "additionalProperties": false,
            "properties": {"class": {"$ref": "#/components/schemas/Class"}}},
        "AnnotationRequest": {"type": "object", "required": ["kind", "text"], "additionalProperties": false,
            "properties": {"kind": {"enum": ["place", "time", "scene", "participants", "officer-conduct", "party-conduct", "violation", "evidence"]},
                "text": {"type": "string", "minLength": 1, "pattern": "\\S"}, "item": {"type": ["string", "null"], "pattern": "^[0-9a-fA-F]{64}$"},
                "at": {"type": ["integer", "null"]}}},
        "GrantRequest": {"type": "object", "required": ["user", "target"], "additionalProperties": false,
            "properties": {"user": {"type": "string"}, "target": {"type": "string", "description": "activity:COUNTY/ID or item:HASH"},
                "days": {"type": "integer", "minimum": 1, "maximum": 3650}, "revoke": {"type": "boolean"}}},
        "Login": {"type": "object", "required": ["name", "password"], "additionalProperties": false,
            "properties": {"name": {"type": "string"}, "password": {"type": "string"}}},
    })
}

fn activity_path() -> Vec<Value> {
    vec![p("county", county()), p("id", county())]
}

pub fn document() -> Value {
    let mut item_params = vec![
        q("county", county(), "county code"),
        q("activity", text(), "activity id (with county)"),
        q("officer", text(), "officer badge"),
        q("device", text(), "device id"),
        q(
            "from",
            text(),
            "capture start at or after (ms since 1970, or RFC 3339)",
        ),
        q(
            "to",
            text(),
            "capture start before (ms since 1970, or RFC 3339)",
        ),
        q("state", json!({"enum": ["verified", "held"]}), "item state"),
        q(
            "hash",
            json!({"type": "string", "pattern": "^[0-9a-f]{4,64}$"}),
            "hash prefix",
        ),
        q(
            "expires_before",
            text(),
            "items whose ordinary retention ends before this time (ms since 1970, or RFC 3339), soonest first; held items never",
        ),
    ];
    item_params.extend(paging());
    let mut act_params = vec![
        q("county", county(), "county code"),
        q("officer", text(), "officer badge"),
        q(
            "pending",
            json!({"type": "boolean"}),
            "with interruptions waiting for approval",
        ),
        q("held", json!({"type": "boolean"}), "on hold"),
    ];
    act_params.extend(paging());
    let mut county_page = vec![q("county", county(), "county code")];
    county_page.extend(paging());
    let mut device_params = vec![p("county", county()), p("device", county())];
    device_params.extend(paging());
    let mut decision_params = activity_path();
    decision_params.push(p("interruption", county()));
    let content = {
        let mut o = op(
            "an item's footage (Range: bytes=A-B, or up to 16 ranges as multipart/byteranges)",
            vec![
                p("hash", hash()),
                param(
                    "Range",
                    "header",
                    json!({"type": "string"}),
                    false,
                    "bytes=A-B, bytes=A-, bytes=-N, or up to 16 of them separated by commas (answered as multipart/byteranges); none satisfiable, or more than 16: 416",
                ),
            ],
            json!({}),
            None,
            &["416"],
        );
        o["responses"]["200"] = json!({"description": "the whole item", "content": {"application/octet-stream": {}, "video/mp4": {}, "image/jpeg": {}, "audio/wav": {}, "audio/mpeg": {}}});
        o["responses"]["206"] = json!({"description": "the range asked for; several as multipart/byteranges, one part each", "content": {"application/octet-stream": {}, "video/mp4": {}, "image/jpeg": {}, "audio/wav": {}, "audio/mpeg": {}, "multipart/byteranges": {}}});
        o
    };
    let mut login = op(
        "a token for a password (one day)",
        vec![],
        json!({"type": "object", "required": ["token", "expires_at"]}),
        Some("Login"),
        &[],
    );
    login["security"] = json!([]);
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Jilu center API", "version": "1",
            "description": "The city center's records: items, activities, findings, edges, audit; footage with Range; decisions (art. 12, 14, 16). Bearer tokens from `center user token` or POST /login. A record the caller may not see is absent from lists and 404 by id."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas(),
        },
        "paths": {
            "/api/v1/login": {"post": login},
            "/api/v1/items": {"get": op("items, filtered and paged", item_params, list("items", "Item"), None, &[])},
            "/api/v1/items/{hash}": {"get": op("an item's record and custody chain, and its own classification decisions with whether the edge has received them", vec![p("hash", hash())], json!({"type": "object", "required": ["item", "custody", "deliveries"], "properties": {"deliveries": {"type": "array", "items": {"$ref": "#/components/schemas/Delivery"}}}}), None, &[])},
            "/api/v1/items/{hash}/content": {"get": content},
            "/api/v1/items/{hash}/classification": {"put": op("set an item's own classification (art. 14; supervisor); the item's class is the stricter of its own and its activity's", vec![p("hash", hash())], object(), Some("ClassRequest"), &["422"])},
            "/api/v1/activities": {"get": op("activities, filtered and paged", act_params, list("activities", "ActivityRow"), None, &[])},
            "/api/v1/activities/{county}/{id}": {"get": op("an activity with its items", activity_path(), json!({"$ref": "#/components/schemas/ActivityRow"}), None, &[])},
            "/api/v1/activities/{county}/{id}/interruptions/{interruption}/decision": {"post": op("approve or return an interruption record (art. 12; head)", decision_params, object(), Some("Decision"), &["422"])},
            "/api/v1/activities/{county}/{id}/hold": {"post": op("set a hold (art. 16; supervisor)", activity_path(), object(), Some("HoldRequest"), &["422"])},
            "/api/v1/activities/{county}/{id}/annotations": {"post": op("annotate an activity (art. 10; keeper of the county)", activity_path(), object(), Some("AnnotationRequest"), &["422"])},
            "/api/v1/activities/{county}/{id}/classification": {"put": op("set the classification (art. 14; supervisor)", activity_path(), object(), Some("ClassRequest"), &["422"])},
            "/api/v1/grants": {
                "get": op("every grant (supervisor)", vec![], json!({"type": "object", "required": ["grants"]}), None, &[]),
                "post": op("grant or revoke access to a classified record (supervisor)", vec![], object(), Some("GrantRequest"), &["422"]),
            },
            "/api/v1/devices": {"get": op("devices, from the items they recorded and the registries", county_page.clone(), list("devices", "Device"), None, &[])},
            "/api/v1/devices/{county}/{device}": {"get": op("a device: its registry entry and a page of its check-out ledger with pre-use checks, overrides and clock offsets (art. 4, 7)", device_params, json!({"$ref": "#/components/schemas/DeviceLedger"}), None, &[])},
            "/api/v1/reports/equipment": {"get": op("devices per enforcement officer of each county against [report] devices_per_officer (art. 3); below: under the target", county_page.clone(), json!({"$ref": "#/components/schemas/EquipmentReport"}), None, &[])},
            "/api/v1/edges": {"get": op("edges with last contact, queue and lag", vec![], json!({"type": "object", "required": ["edges"], "properties": {"edges": {"type": "array", "items": {"$ref": "#/components/schemas/Edge"}}}}), None, &[])},
            "/api/v1/findings": {"get": op("compliance findings (art. 5, 6, 8/12, 13), overridden pre-use checks (art. 7) and interruption records waiting for approval (art. 12)", vec![q("county", county(), "county code"), paging()[0].clone(), paging()[1].clone()],
                json!({"type": "object", "required": ["findings", "overdue"], "properties": {"findings": {"type": "array", "items": {"$ref": "#/components/schemas/Finding"}}, "overdue": {"type": "array"}, "next": {"type": ["string", "null"]}}}), None, &[])},
            "/api/v1/audit": {"get": op("the audit log (auditor)", vec![
                q("after", json!({"type": "integer", "minimum": 0}), "entries after this seq"),
                q("actor", text(), "who acted"), q("action", text(), "what was done"),
                q("subject", text(), "subject prefix (item:, doc:, user:)"), paging()[0].clone()],
                json!({"type": "object", "required": ["entries"], "properties": {"entries": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}}, "next": {"type": ["integer", "null"]}}}), None, &[])},
        },
    })
}

pub async fn serve() -> Json<Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_described() {
        let doc = super::document();
        let src = include_str!("../http.rs");
        for line in src
            .lines()
            .filter(|l| l.trim_start().starts_with(".route(\"/"))
        {
            let path = line.split('"').nth(1).unwrap_or_default();
            if ["/healthz", "/readyz", "/metrics", "/openapi.json"].contains(&path) {
                continue;
            }
            let full = format!("/api/v1{path}");
            assert!(
                doc["paths"].get(&full).is_some(),
                "{full} is not in the OpenAPI document"
            );
        }
    }
}
