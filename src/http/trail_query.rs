//! The trail's endpoints: `GET /v1/trail` (native REST, SigV4 service `kms` like
//! `/v1/keys/…`) and CloudTrail's JSON 1.1 protocol at `POST /` (`X-Amz-Target:
//! com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.<Op>`, SigV4 service `cloudtrail`),
//! of which keyledger serves `LookupEvents`. Both are recorded like every call
//! (`crate::app::trail_query`).

use super::{
    authenticate_request, authenticate_request_for, error_response, header, native_error_response,
    starting, Shared, JSON_1_1,
};
use crate::app::trail_query::{LIST_TRAIL_EVENTS, LOOKUP_EVENTS};
use crate::app::ApiError;
use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::{guard, web, HttpRequest, HttpResponse};

/// The target prefix of CloudTrail's operations (API version 2013-11-01).
pub const CLOUDTRAIL_TARGET_PREFIX: &str =
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.";

/// `POST /` with a CloudTrail target (registered before the KMS route, which takes the rest).
pub fn cloudtrail_route() -> actix_web::Route {
    web::post()
        .guard(guard::fn_guard(|ctx| {
            ctx.head()
                .headers()
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| t.starts_with(CLOUDTRAIL_TARGET_PREFIX))
        }))
        .to(cloudtrail)
}

async fn cloudtrail(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let request_id = super::request_id(&req);
    let Some(ready) = shared.ready.get() else {
        return starting(&request_id);
    };
    let operation = header(req.headers(), "x-amz-target")
        .and_then(|t| t.strip_prefix(CLOUDTRAIL_TARGET_PREFIX))
        .unwrap_or_default();
    let (ctx, mut caller) = authenticate_request_for(
        super::auth::CLOUDTRAIL_SERVICE,
        ready,
        &req,
        &body,
        &request_id,
    );
    if caller.is_ok() && operation != LOOKUP_EVENTS {
        caller = Err(ApiError::UnknownOperation(format!(
            "keyledger serves CloudTrail's LookupEvents only, not {}.",
            crate::app::trail::event_name(operation)
        )));
    }
    match ready
        .service
        .handle(
            &ctx,
            caller.as_ref().map_err(Clone::clone),
            operation,
            &body,
        )
        .await
    {
        Ok(response) => HttpResponse::Ok()
            .insert_header(("x-amzn-RequestId", request_id.as_str()))
            .content_type(JSON_1_1)
            .body(response.to_string()),
        Err(e) => error_response(&request_id, &e),
    }
}

/// `GET /v1/trail?KeyId=…&EventName=…&Principal=…&ErrorCode=…&ReadOnly=…&StartTime=…&EndTime=…
/// &MaxResults=…&NextToken=…` → `{"Events": [CloudTrail records], "NextToken": …}`.
pub async fn trail(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let request_id = super::request_id(&req);
    let Some(ready) = shared.ready.get() else {
        return starting(&request_id);
    };
    let (ctx, caller) = authenticate_request(ready, &req, b"", &request_id);
    // The parameters as a JSON object of strings; one given twice becomes a list, which the
    // service refuses by name.
    let mut params = serde_json::Map::new();
    let parsed = web::Query::<Vec<(String, String)>>::from_query(req.query_string());
    let caller = match parsed {
        Ok(pairs) => {
            for (name, value) in pairs.into_inner() {
                match params.get_mut(&name) {
                    None => {
                        params.insert(name, value.into());
                    }
                    Some(existing) => {
                        let first = existing.take();
                        *existing = match first {
                            serde_json::Value::Array(mut values) => {
                                values.push(value.into());
                                values.into()
                            }
                            other => vec![other, value.into()].into(),
                        };
                    }
                }
            }
            caller
        }
        Err(e) => caller.and(Err(ApiError::Validation(format!(
            "The query string cannot be read: {e}"
        )))),
    };
    let body = serde_json::Value::Object(params).to_string();
    match ready
        .service
        .handle(
            &ctx,
            caller.as_ref().map_err(Clone::clone),
            LIST_TRAIL_EVENTS,
            body.as_bytes(),
        )
        .await
    {
        Ok(response) => HttpResponse::Ok()
            .insert_header(("x-amzn-RequestId", request_id.as_str()))
            .content_type("application/json")
            .body(response.to_string()),
        Err(e) => {
            let mut response = native_error_response(&request_id, &e);
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
    }
}
