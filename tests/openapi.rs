//! `/v1/openapi.json`: an OpenAPI 3.1 document that names every route the server registers,
//! and whose statuses, media types and schemas are what the live server answers.

mod common;

use common::{signed_get_response, started_server, Server};
use serde_json::Value;
use std::collections::BTreeSet;

async fn document(s: &Server) -> Value {
    let response = reqwest::get(format!("{}/v1/openapi.json", s.endpoint))
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "served without credentials");
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "a JSON document"
    );
    response.json().await.unwrap()
}

/// Every `.route("<path>", web::<method>()…)` in `src/http`, as (method, actix pattern).
fn registered_routes() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let trimmed = rest.trim_start();
            let Some(literal) = trimmed.strip_prefix('"') else {
                continue;
            };
            let path = &literal[..literal.find('"').unwrap()];
            let after = literal[path.len() + 1..].trim_start_matches([',', ' ', '\n']);
            let method = after
                .strip_prefix("web::")
                .and_then(|m| m.split_once("()"))
                .map(|(m, _)| m.to_owned());
            if let Some(method) = method {
                routes.insert((method, path.to_owned()));
            }
        }
    }
    routes
}

/// Does the OpenAPI template `documented` cover the actix pattern `registered`? Parameters
/// match by position; a tail pattern (`{path:.*}`) is covered by documented paths below it.
fn covers(documented: &str, registered: &str) -> bool {
    if let Some(brace) = registered.find('{') {
        let tail = &registered[brace..];
        if tail.contains(":.*}") || tail.contains(":.+}") {
            return documented.starts_with(&registered[..brace]);
        }
    }
    let strip = |p: &str| {
        p.split('/')
            .map(|s| if s.starts_with('{') { "{}" } else { s })
            .collect::<Vec<_>>()
            .join("/")
    };
    strip(documented) == strip(registered)
}

#[tokio::test]
async fn every_registered_route_is_documented_with_sigv4_security() {
    let (_dir, s) = started_server().await;
    let doc = document(&s).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"],
        "awsSigv4"
    );
    let paths = doc["paths"].as_object().unwrap();
    let routes = registered_routes();
    // The scan itself must see the routes, or this test would pass on nothing.
    assert!(routes.len() >= 15, "found only {routes:?}");
    assert!(routes.contains(&("get".into(), "/v1/trail/vkey".into())));
    for (method, path) in &routes {
        if path == "/" {
            continue; // AWS's protocol endpoint: its contract is AWS's model
        }
        let documented = paths
            .iter()
            .any(|(p, item)| covers(p, path) && item.get(method.as_str()).is_some());
        assert!(
            documented,
            "{method} {path} is served but not in /v1/openapi.json"
        );
    }
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let security = op["security"].as_array().unwrap();
            let signed = !security.is_empty();
            let probe = ["/healthz", "/readyz", "/metrics", "/v1/openapi.json"];
            assert_eq!(signed, !probe.contains(&path.as_str()), "{method} {path}");
        }
    }
    s.stop();
}

/// A response as `conforms` reads it: status, media type, body.
async fn answered(response: reqwest::Response) -> (u16, String, Vec<u8>) {
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (
        status,
        content_type,
        response.bytes().await.unwrap().to_vec(),
    )
}

/// The response's status is documented for the operation, its media type is one documented
/// for that status, and a JSON body validates against the documented schema.
fn conforms(
    doc: &Value,
    method: &str,
    template: &str,
    status: u16,
    content_type: &str,
    body: &[u8],
) {
    let op = &doc["paths"][template][method];
    let response = &op["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {template} answered {status}, which it does not document: {}",
        String::from_utf8_lossy(body)
    );
    let content = response["content"].as_object().unwrap();
    let media = content
        .get(content_type)
        .unwrap_or_else(|| panic!("{method} {template} {status}: {content_type} undocumented"));
    if content_type.starts_with("application/json") || content_type.contains("amz-json") {
        let mut schema = media["schema"].clone();
        if schema.get("$ref").is_some() {
            schema = doc["components"]["schemas"]["Error"].clone();
        }
        let value: Value = serde_json::from_slice(body).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {template} {status}: {errors:?} in {value}"
        );
    }
}

#[tokio::test]
async fn the_live_server_answers_as_documented() {
    let (_dir, s) = started_server().await;
    let key = common::create_key(&s.client, None).await;
    let receipt = s
        .client
        .encrypt()
        .key_id(&key)
        .plaintext(aws_sdk_kms::primitives::Blob::new(b"x".to_vec()))
        .send()
        .await
        .unwrap();
    assert!(receipt.ciphertext_blob.is_some());
    common::wait_for_checkpoint(&s.data_dir);
    let doc = document(&s).await;
    // An event id to prove: the newest record of the trail.
    let (status, trail) =
        common::signed_get(&s.endpoint, &s.credentials, "/v1/trail?MaxResults=1").await;
    assert_eq!(status, 200);
    let event_id = trail["Events"][0]["eventID"].as_str().unwrap().to_owned();
    let probes: Vec<(&str, String)> = vec![
        ("/v1/keys/{KeyId}", format!("/v1/keys/{key}")),
        (
            "/v1/keys/{KeyId}",
            "/v1/keys/1234abcd-0000-0000-0000-000000000000".into(),
        ),
        (
            "/v1/keys/{KeyId}",
            format!("/v1/keys/{key}?as_of=not-a-time"),
        ),
        (
            "/v1/keys/{KeyId}/history",
            format!("/v1/keys/{key}/history"),
        ),
        ("/v1/trail", "/v1/trail?MaxResults=2".into()),
        ("/v1/trail", "/v1/trail?MaxResults=0".into()),
        ("/v1/trail", "/v1/trail?Unknown=1".into()),
        ("/v1/trail/vkey", "/v1/trail/vkey".into()),
        ("/v1/trail/checkpoint", "/v1/trail/checkpoint".into()),
        (
            "/v1/trail/events/{event_id}/inclusion",
            format!("/v1/trail/events/{event_id}/inclusion"),
        ),
        (
            "/v1/trail/events/{event_id}/inclusion",
            "/v1/trail/events/nope/inclusion".into(),
        ),
        (
            "/v1/trail/consistency",
            "/v1/trail/consistency?from=1&to=1".into(),
        ),
        (
            "/v1/trail/consistency",
            "/v1/trail/consistency?from=x".into(),
        ),
        (
            "/v1/trail/tlog/checkpoint",
            "/v1/trail/tlog/checkpoint".into(),
        ),
        (
            "/v1/trail/tlog/tile/{level}/{index}.p/{width}",
            "/v1/trail/tlog/tile/0/000.p/1".into(),
        ),
        (
            "/v1/trail/tlog/tile/{level}/{index}",
            "/v1/trail/tlog/tile/0/999".into(),
        ),
        (
            "/v1/trail/tlog/tile/entries/{index}.p/{width}",
            "/v1/trail/tlog/tile/entries/000.p/1".into(),
        ),
        ("/v1/reports/billing", "/v1/reports/billing".into()),
        (
            "/v1/reports/billing",
            "/v1/reports/billing?format=csv".into(),
        ),
        (
            "/v1/reports/billing",
            "/v1/reports/billing?format=pdf".into(),
        ),
        (
            "/v1/reports/compliance",
            "/v1/reports/compliance?format=html".into(),
        ),
        ("/healthz", "/healthz".into()),
        ("/readyz", "/readyz".into()),
        ("/metrics", "/metrics".into()),
    ];
    let mut statuses = BTreeSet::new();
    for (template, path) in &probes {
        let response = signed_get_response(&s.endpoint, &s.credentials, path).await;
        let (status, content_type, body) = answered(response).await;
        conforms(&doc, "get", template, status, &content_type, &body);
        statuses.insert(status);
    }
    // The probes reach the answers that matter, not only one kind.
    assert!(
        statuses.is_superset(&BTreeSet::from([200, 400, 404])),
        "{statuses:?}"
    );

    // Unsigned, a signed route is refused as documented.
    let unsigned = reqwest::get(format!("{}/v1/trail", s.endpoint))
        .await
        .unwrap();
    let (status, content_type, body) = answered(unsigned).await;
    conforms(&doc, "get", "/v1/trail", status, &content_type, &body);
    assert_eq!(status, 403);

    // Credentials that are not a signature: AWS's 400, documented too.
    let garbled = reqwest::Client::new()
        .get(format!("{}/v1/trail", s.endpoint))
        .header("authorization", "Bearer nothing")
        .send()
        .await
        .unwrap();
    let (status, content_type, body) = answered(garbled).await;
    conforms(&doc, "get", "/v1/trail", status, &content_type, &body);
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("IncompleteSignatureException"));

    // A documented path asked with another method: 405 and what it does answer.
    let wrong = reqwest::Client::new()
        .delete(format!("{}/v1/trail", s.endpoint))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 405);
    assert_eq!(wrong.headers()["allow"], "GET");
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["__type"], "MethodNotAllowedException");
    // A path that is not ours: an AWS-shaped 404.
    let missing = reqwest::get(format!("{}/v1/nothing-here", s.endpoint))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["__type"], "NotFoundException");
    s.stop();
}
