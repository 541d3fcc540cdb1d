//! The OpenAPI 3.1 document of the native REST API, served at `/v1/openapi.json`.
//!
//! It is built from [`ROUTES`], one entry per route the server registers outside the AWS
//! protocol endpoint (`POST /` and `GET /`, whose contract is AWS's own model). The same table
//! tells the fallback service which methods a path has, so a wrong method is a 405 with
//! `Allow` and an undocumented path a 404, both AWS-shaped; `tests/openapi.rs` fails when a
//! registered route is missing here (decision 0021).

use serde_json::{json, Map, Value};

/// How a route is authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// AWS Signature Version 4, service `kms` (the `sigv4` security scheme).
    SigV4,
    /// No credentials: probes, metrics and this document.
    None,
}

/// One documented route.
pub struct Route {
    pub method: &'static str,
    /// The OpenAPI path template (`{name}` is one path segment).
    pub path: &'static str,
    pub operation_id: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
    parameters: fn() -> Vec<Value>,
    /// The 200 response object.
    ok: fn() -> Value,
    /// The error statuses it can answer, besides those every signed route can.
    errors: &'static [u16],
}

/// The statuses any SigV4 route can answer: 400 (a bad request or signature, throttling),
/// 403 (denied or unsigned), 500 (the ledger could not record the call, so nothing was
/// answered), 503 (still starting).
const SIGNED_ERRORS: &[u16] = &[400, 403, 500, 503];

pub const ROUTES: &[Route] = &[
    Route {
        method: "post",
        path: "/v1/accounts",
        operation_id: "CreateAccount",
        summary: "Create an account and its root user's access key (the admin-credentials.json \
                  format). Only the bootstrap account's root user or admin may call it.",
        auth: Auth::SigV4,
        parameters: Vec::new,
        ok: || json_ok("The new account's root credentials.", credentials_schema()),
        errors: &[413],
    },
    Route {
        method: "get",
        path: "/v1/keys/{KeyId}",
        operation_id: "GetKeyAsOf",
        summary: "A key as it was at a time or ledger position (now by default): metadata, \
                  policy, aliases, tags and grants, folded from the ledger.",
        auth: Auth::SigV4,
        parameters: || {
            vec![
                key_id_parameter(),
                query(
                    "as_of",
                    "An RFC 3339 time, or a ledger position (a decimal integer).",
                    json!({ "type": "string" }),
                ),
            ]
        },
        ok: || json_ok("The key at that point.", key_as_of_schema()),
        errors: &[404],
    },
    Route {
        method: "get",
        path: "/v1/keys/{KeyId}/history",
        operation_id: "ListKeyHistory",
        summary: "Every lifecycle event of a key, oldest first.",
        auth: Auth::SigV4,
        parameters: || vec![key_id_parameter()],
        ok: || json_ok("The key's lifecycle events.", key_history_schema()),
        errors: &[404],
    },
    Route {
        method: "get",
        path: "/v1/trail",
        operation_id: "QueryTrail",
        summary: "The trail's CloudTrail records, newest first, filtered by the index kept in \
                  the append transaction.",
        auth: Auth::SigV4,
        parameters: trail_parameters,
        // 404: the KeyId names no key.
        ok: || {
            json_ok(
                "One page of records.",
                json!({
                    "type": "object",
                    "required": ["Events"],
                    "properties": {
                        "Events": { "type": "array", "items": { "type": "object" } },
                        "NextToken": { "type": "string" },
                    },
                }),
            )
        },
        errors: &[404],
    },
    Route {
        method: "get",
        path: "/v1/trail/vkey",
        operation_id: "GetTrailVerifierKey",
        summary: "The ledger's verifier key, as a C2SP signed-note verifier key string.",
        auth: Auth::SigV4,
        parameters: Vec::new,
        ok: || text_ok("`<name>+<hash>+<base64 key>`."),
        errors: &[],
    },
    Route {
        method: "get",
        path: "/v1/trail/checkpoint",
        operation_id: "GetTrailCheckpoint",
        summary: "The latest signed checkpoint (C2SP tlog-checkpoint in a signed note).",
        auth: Auth::SigV4,
        parameters: Vec::new,
        ok: || text_ok("The signed note, byte for byte."),
        errors: &[404],
    },
    Route {
        method: "get",
        path: "/v1/trail/events/{event_id}/inclusion",
        operation_id: "GetTrailInclusionProof",
        summary: "An RFC 9162 inclusion proof of one event in a checkpointed tree.",
        auth: Auth::SigV4,
        parameters: || {
            vec![
                path_parameter("event_id", "The event's id (its `eventID`)."),
                query(
                    "tree_size",
                    "A checkpointed tree size (the latest checkpoint by default).",
                    size_schema(),
                ),
            ]
        },
        ok: || {
            json_ok(
                "The proof and the checkpoint it leads to.",
                inclusion_schema(),
            )
        },
        errors: &[404],
    },
    Route {
        method: "get",
        path: "/v1/trail/consistency",
        operation_id: "GetTrailConsistencyProof",
        summary: "An RFC 9162 consistency proof between two checkpointed tree sizes.",
        auth: Auth::SigV4,
        parameters: || {
            vec![
                required(query("from", "The older tree size.", size_schema())),
                required(query("to", "The newer tree size.", size_schema())),
            ]
        },
        ok: || {
            json_ok(
                "The proof.",
                json!({
                    "type": "object",
                    "required": ["from", "to", "proof"],
                    "properties": {
                        "from": { "type": "integer", "minimum": 0 },
                        "to": { "type": "integer", "minimum": 0 },
                        "proof": base64_list(),
                    },
                }),
            )
        },
        errors: &[404],
    },
    Route {
        method: "get",
        path: "/v1/trail/tlog/checkpoint",
        operation_id: "GetTrailTlogCheckpoint",
        summary: "C2SP tlog-tiles: the latest checkpoint. Unsigned requests are served too \
                  with --public-tlog.",
        auth: Auth::SigV4,
        parameters: Vec::new,
        ok: || text_ok("The signed note."),
        errors: &[404],
    },
    Route {
        method: "get",
        path: "/v1/trail/tlog/tile/{level}/{index}",
        operation_id: "GetTrailTile",
        summary: "C2SP tlog-tiles: a full hash tile. An index of 1000 or more is written in \
                  segments (`x001/234`). Unsigned requests are served with --public-tlog.",
        auth: Auth::SigV4,
        parameters: || vec![tile_level(), tile_index()],
        ok: tile_ok,
        errors: &[404],
    },
    Route {
        method: "get",
        path: "/v1/trail/tlog/tile/{level}/{index}.p/{width}",
        operation_id: "GetTrailPartialTile",
        summary: "C2SP tlog-tiles: a partial hash tile of `width` hashes.",
        auth: Auth::SigV4,
        parameters: || vec![tile_level(), tile_index(), tile_width()],
        ok: tile_ok,
        errors: &[404],
    },
    Route {
        method: "get",
        path: "/v1/trail/tlog/tile/entries/{index}",
        operation_id: "GetTrailEntryBundle",
        summary: "C2SP tlog-tiles: a full entry bundle (the stored events). Operator only; \
                  always signed.",
        auth: Auth::SigV4,
        parameters: || vec![tile_index()],
        ok: tile_ok,
        errors: &[404],
    },
    Route {
        method: "get",
        path: "/v1/trail/tlog/tile/entries/{index}.p/{width}",
        operation_id: "GetTrailPartialEntryBundle",
        summary: "C2SP tlog-tiles: a partial entry bundle of `width` entries.",
        auth: Auth::SigV4,
        parameters: || vec![tile_index(), tile_width()],
        ok: tile_ok,
        errors: &[404],
    },
    Route {
        method: "get",
        path: "/v1/reports/billing",
        operation_id: "GetBillingReport",
        summary: "Usage billing of a month, per account: key-months, requests per 10,000.",
        auth: Auth::SigV4,
        parameters: || {
            vec![
                query(
                    "month",
                    "`YYYY-MM` (the current month by default).",
                    json!({ "type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$" }),
                ),
                query(
                    "account",
                    "One account's id (every account by default).",
                    json!({ "type": "string", "pattern": "^[0-9]{12}$" }),
                ),
                query(
                    "format",
                    "The body's format.",
                    json!({ "type": "string", "enum": ["json", "csv", "html"] }),
                ),
            ]
        },
        ok: || {
            json!({
                "description": "The report.",
                "content": {
                    "application/json": { "schema": { "type": "object" } },
                    "text/csv; charset=utf-8": { "schema": { "type": "string" } },
                    "text/html; charset=utf-8": { "schema": { "type": "string" } },
                },
            })
        },
        errors: &[],
    },
    Route {
        method: "get",
        path: "/v1/reports/compliance",
        operation_id: "GetComplianceReport",
        summary: "Compliance reporting: keys by state, rotation, deletion and use, now or as of \
                  a time.",
        auth: Auth::SigV4,
        parameters: || {
            vec![
                query(
                    "as_of",
                    "An RFC 3339 time (now by default).",
                    json!({ "type": "string", "format": "date-time" }),
                ),
                query(
                    "format",
                    "The body's format.",
                    json!({ "type": "string", "enum": ["json", "html"] }),
                ),
            ]
        },
        ok: || {
            json!({
                "description": "The report.",
                "content": {
                    "application/json": { "schema": { "type": "object" } },
                    "text/html; charset=utf-8": { "schema": { "type": "string" } },
                },
            })
        },
        errors: &[],
    },
    Route {
        method: "get",
        path: "/healthz",
        operation_id: "Health",
        summary: "The process is alive and its ledger open; says whether it runs in FIPS mode.",
        auth: Auth::None,
        parameters: Vec::new,
        ok: || {
            json_ok(
                "Alive.",
                json!({
                    "type": "object",
                    "required": ["status", "fips"],
                    "properties": {
                        "status": { "const": "ok" },
                        "fips": { "type": "boolean" },
                    },
                }),
            )
        },
        errors: &[503],
    },
    Route {
        method: "get",
        path: "/readyz",
        operation_id: "Ready",
        summary: "Ready to serve: the ledger writer runs and the projections are caught up.",
        auth: Auth::None,
        parameters: Vec::new,
        ok: || {
            json_ok(
                "Ready.",
                json!({
                    "type": "object",
                    "required": ["status", "tail_lag_events", "tail_lag_seconds"],
                    "properties": {
                        "status": { "const": "ready" },
                        "tail_lag_events": { "type": "integer", "minimum": 0 },
                        "tail_lag_seconds": { "type": "number", "minimum": 0 },
                    },
                }),
            )
        },
        errors: &[503],
    },
    Route {
        method: "get",
        path: "/metrics",
        operation_id: "Metrics",
        summary: "Prometheus text exposition.",
        auth: Auth::None,
        parameters: Vec::new,
        ok: || {
            json!({
                "description": "The metrics.",
                "content": { "text/plain; version=0.0.4": { "schema": { "type": "string" } } },
            })
        },
        errors: &[],
    },
    Route {
        method: "get",
        path: "/v1/openapi.json",
        operation_id: "GetOpenApiDocument",
        summary: "This document.",
        auth: Auth::None,
        parameters: Vec::new,
        ok: || json_ok("The OpenAPI 3.1 document.", json!({ "type": "object" })),
        errors: &[],
    },
];

/// The document: every route of [`ROUTES`], the SigV4 security scheme and the error shape.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let item = paths
            .entry(route.path)
            .or_insert_with(|| Value::Object(Map::new()));
        item[route.method] = operation(route);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "keyledger native REST API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "keyledger's own routes beside the AWS KMS, IAM, STS and CloudTrail \
                            protocol endpoint (POST /, whose contract is AWS's model). Signed \
                            routes take AWS Signature Version 4 for service `kms`, as the AWS \
                            SDKs sign; every signed call is recorded in the trail before it is \
                            answered, and carries `x-keyledger-event-id` and \
                            `x-keyledger-position` receipt headers.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "sigv4": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "AWS Signature Version 4 (`AWS4-HMAC-SHA256 Credential=…/\
                                    <date>/<region>/kms/aws4_request, SignedHeaders=…, \
                                    Signature=…`), with `X-Amz-Date` (and \
                                    `X-Amz-Security-Token` for session credentials).",
                    "x-amazon-apigateway-authtype": "awsSigv4",
                },
            },
            "schemas": { "Error": error_schema() },
        },
    })
}

fn operation(route: &Route) -> Value {
    let mut responses = Map::new();
    responses.insert("200".into(), (route.ok)());
    let mut statuses: Vec<u16> = route.errors.to_vec();
    if route.auth == Auth::SigV4 {
        statuses.extend_from_slice(SIGNED_ERRORS);
    }
    statuses.sort_unstable();
    statuses.dedup();
    for status in statuses {
        responses.insert(status.to_string(), error_response(status));
    }
    let mut op = json!({
        "operationId": route.operation_id,
        "summary": route.summary,
        "parameters": (route.parameters)(),
        "responses": responses,
    });
    op["security"] = match route.auth {
        Auth::SigV4 => json!([{ "sigv4": [] }]),
        Auth::None => json!([]),
    };
    if route.method == "post" && route.path == "/v1/accounts" {
        op["requestBody"] = json!({
            "required": false,
            "content": { "application/json": { "schema": {
                "type": "object",
                "properties": {
                    "AccountId": {
                        "type": ["string", "null"],
                        "pattern": "^[0-9]{12}$",
                        "description": "The new account's id (a fresh one by default).",
                    },
                },
            } } },
        });
    }
    op
}

fn error_response(status: u16) -> Value {
    let description = match status {
        400 => "A client error (validation, signature, throttling): AWS's `__type`.",
        403 => "Denied, or not signed.",
        404 => "The resource does not exist.",
        405 => "The path has no such method.",
        413 => "The body is over the limit.",
        500 => "An internal error, or the ledger could not record the call (so nothing was done).",
        503 => "Starting, or the ledger writer has stopped.",
        _ => "An error.",
    };
    let schema = json!({ "$ref": "#/components/schemas/Error" });
    json!({
        "description": description,
        "content": {
            "application/x-amz-json-1.1": { "schema": schema },
            "application/json": { "schema": schema },
        },
    })
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "description": "AWS's error shape. The probes answer 503 with a `status` member instead.",
        "properties": {
            "__type": { "type": "string" },
            "message": { "type": "string" },
            "status": { "type": "string" },
            "reason": { "type": "string" },
        },
        "anyOf": [{ "required": ["__type"] }, { "required": ["status"] }],
    })
}

fn json_ok(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

fn text_ok(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "text/plain; charset=utf-8": { "schema": { "type": "string" } } },
    })
}

fn tile_ok() -> Value {
    json!({
        "description": "The tile's bytes, as C2SP tlog-tiles defines them.",
        "content": { "application/octet-stream": {
            "schema": { "type": "string", "contentMediaType": "application/octet-stream" },
        } },
    })
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description,
            "schema": schema })
}

fn required(mut parameter: Value) -> Value {
    parameter["required"] = true.into();
    parameter
}

fn path_parameter(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description,
            "schema": { "type": "string", "minLength": 1, "maxLength": 2048 } })
}

fn key_id_parameter() -> Value {
    path_parameter(
        "KeyId",
        "A key id, key ARN, alias name or alias ARN (an ARN percent-encoded).",
    )
}

fn tile_level() -> Value {
    json!({ "name": "level", "in": "path", "required": true,
            "schema": { "type": "string", "pattern": "^[0-9]{1,2}$" } })
}

fn tile_index() -> Value {
    json!({ "name": "index", "in": "path", "required": true,
            "description": "Three decimal digits (earlier segments `x001/` for larger indexes).",
            "schema": { "type": "string", "pattern": "^[0-9]{3}$" } })
}

fn tile_width() -> Value {
    json!({ "name": "width", "in": "path", "required": true,
            "schema": { "type": "string", "pattern": "^[0-9]{1,3}$" } })
}

fn size_schema() -> Value {
    json!({ "type": "integer", "minimum": 0, "maximum": u64::MAX })
}

fn base64_list() -> Value {
    json!({ "type": "array", "items": { "type": "string", "contentEncoding": "base64" } })
}

fn trail_parameters() -> Vec<Value> {
    let text = || json!({ "type": "string" });
    vec![
        query(
            "KeyId",
            "A key id, key ARN, alias name or alias ARN.",
            text(),
        ),
        query("EventName", "An operation, e.g. `Encrypt`.", text()),
        query("Principal", "A principal ARN or an access key id.", text()),
        query(
            "ErrorCode",
            "An error code, e.g. `AccessDeniedException`.",
            text(),
        ),
        query(
            "ReadOnly",
            "CloudTrail's readOnly.",
            json!({ "type": "string", "enum": ["true", "false"] }),
        ),
        query("StartTime", "RFC 3339 or Unix seconds.", text()),
        query("EndTime", "RFC 3339 or Unix seconds.", text()),
        query(
            "MaxResults",
            "Records per page.",
            json!({ "type": "integer", "minimum": 1, "maximum": 1000 }),
        ),
        query("NextToken", "The token of the previous page.", text()),
    ]
}

fn credentials_schema() -> Value {
    json!({
        "type": "object",
        "required": ["access_key_id", "secret_access_key", "account_id", "region"],
        "properties": {
            "access_key_id": { "type": "string" },
            "secret_access_key": { "type": "string" },
            "account_id": { "type": "string", "pattern": "^[0-9]{12}$" },
            "region": { "type": "string" },
        },
    })
}

fn key_as_of_schema() -> Value {
    json!({
        "type": "object",
        "required": ["KeyMetadata", "Aliases", "Tags", "Grants", "KeyVersions",
                     "LastLifecyclePosition"],
        "properties": {
            "KeyMetadata": { "type": "object", "required": ["KeyId", "Arn", "KeyState"] },
            "Policy": { "type": "string" },
            "Aliases": { "type": "array", "items": { "type": "object" } },
            "Tags": { "type": "array", "items": { "type": "object" } },
            "Grants": { "type": "array", "items": { "type": "object" } },
            "KeyVersions": { "type": "integer", "minimum": 0 },
            "AsOf": { "type": ["string", "integer", "null"] },
            "LastLifecyclePosition": { "type": "integer", "minimum": 0 },
        },
    })
}

fn key_history_schema() -> Value {
    json!({ "type": "object" })
}

fn inclusion_schema() -> Value {
    json!({
        "type": "object",
        "required": ["event_id", "position", "leaf_index", "tree_size", "leaf",
                     "inclusion_path", "checkpoint"],
        "properties": {
            "event_id": { "type": "string" },
            "position": { "type": "integer", "minimum": 0 },
            "leaf_index": { "type": "integer", "minimum": 0 },
            "tree_size": { "type": "integer", "minimum": 1 },
            "leaf": { "type": "string", "contentEncoding": "base64" },
            "inclusion_path": base64_list(),
            "checkpoint": { "type": "string" },
        },
    })
}

/// The documented methods of a request path (`GET` for `/v1/trail`), matching templates one
/// segment per `{name}`, and the tile routes' longer index paths; empty when it is not ours.
pub fn methods_of(path: &str) -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = ROUTES
        .iter()
        .filter(|r| matches_template(r.path, path))
        .map(|r| r.method)
        .collect();
    if methods.is_empty() && catch_all_get(path).is_some() {
        methods.push("get");
    }
    methods.sort_unstable();
    methods.dedup();
    methods
}

/// The operation id of the documented route a request names (`method` lowercase or not),
/// for the request metrics; `None` when no route has it.
pub fn operation_of(method: &str, path: &str) -> Option<&'static str> {
    let method = method.to_ascii_lowercase();
    ROUTES
        .iter()
        .find(|r| r.method == method && matches_template(r.path, path))
        .map(|r| r.operation_id)
        .or_else(|| catch_all_get(path).filter(|_| method == "get"))
}

/// The GET routes whose paths take more segments than their templates show (tile indexes of
/// 1000 and more, alias names with their own `/`): their operation id. The one place that
/// knows them, for both the 405/404 fallback and the metrics' labels.
fn catch_all_get(path: &str) -> Option<&'static str> {
    let below = |prefix: &str| path.strip_prefix(prefix).filter(|rest| !rest.is_empty());
    if below("/v1/trail/tlog/tile/").is_some() {
        Some("GetTrailTile")
    } else if below("/v1/keys/").is_some() {
        Some(if path.ends_with("/history") {
            "ListKeyHistory"
        } else {
            "GetKeyAsOf"
        })
    } else {
        None
    }
}

fn matches_template(template: &str, path: &str) -> bool {
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) => {
                if !segment_matches(ts, ps) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// `{name}` matches any non-empty segment; `{name}.p` any segment ending `.p`.
fn segment_matches(template: &str, segment: &str) -> bool {
    match template.find('{') {
        None => template == segment,
        Some(start) => {
            let end = template.find('}').unwrap_or(template.len() - 1);
            let (prefix, suffix) = (&template[..start], &template[end + 1..]);
            segment.len() > prefix.len() + suffix.len()
                && segment.starts_with(prefix)
                && segment.ends_with(suffix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_signed_or_says_it_is_not_and_ids_are_unique() {
        let doc = document();
        let mut ids = std::collections::BTreeSet::new();
        for route in ROUTES {
            let op = &doc["paths"][route.path][route.method];
            assert!(op["security"].is_array(), "{} has no security", route.path);
            assert!(
                ids.insert(route.operation_id),
                "{} twice",
                route.operation_id
            );
            for p in op["parameters"].as_array().unwrap() {
                if p["in"] == "path" {
                    let name = p["name"].as_str().unwrap();
                    assert!(route.path.contains(&format!("{{{name}}}")), "{name}");
                }
            }
        }
    }

    #[test]
    fn paths_match_their_templates_and_nothing_else() {
        assert_eq!(methods_of("/v1/trail"), ["get"]);
        assert_eq!(methods_of("/v1/accounts"), ["post"]);
        assert_eq!(methods_of("/v1/keys/abc/history"), ["get"]);
        assert_eq!(methods_of("/v1/trail/tlog/tile/0/001.p/5"), ["get"]);
        assert_eq!(methods_of("/v1/trail/tlog/tile/0/x001/234"), ["get"]);
        assert!(methods_of("/v1/nothing").is_empty());
        assert!(methods_of("/v1/trail/extra").is_empty());
        assert!(methods_of("/v1/keys/").is_empty());
        assert_eq!(
            operation_of("GET", "/v1/keys/alias/a/history"),
            Some("ListKeyHistory")
        );
        assert_eq!(
            operation_of("GET", "/v1/trail/tlog/tile/0/x001/234"),
            Some("GetTrailTile")
        );
        assert_eq!(operation_of("GET", "/v1/keys/"), None);
        assert_eq!(operation_of("POST", "/v1/keys/abc"), None);
    }
}
