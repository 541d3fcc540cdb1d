//! The AWS query protocol of IAM and STS on the same endpoint: `POST /` with a
//! form-encoded body (`Action=…&Version=…`) and no `X-Amz-Target` (or a `GET /?Action=…`),
//! the SigV4 scope's service (`iam` / `sts`) picking the API; XML answers with AWS's
//! namespaces and `ResponseMetadata/RequestId` equal to the `x-amzn-RequestId` header.
//! Also `POST /v1/accounts`, the native route of `keyledger admin create-account`.

use super::{
    authenticate_request, authenticate_request_for, bounded_body, header, starting, with_receipt,
    Shared, MAX_BODY,
};
use crate::app::iam::{to_query_error, xml_escape, Params, QueryApi};
use crate::app::ApiError;
use actix_web::{guard, web, HttpRequest, HttpResponse};

const FORM: &str = "application/x-www-form-urlencoded";
const XML: &str = "text/xml";

/// `POST /` with a form body and no `X-Amz-Target`.
pub fn post_route() -> actix_web::Route {
    web::post()
        .guard(guard::fn_guard(|ctx| {
            let headers = ctx.head().headers();
            headers.get("x-amz-target").is_none()
                && headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|t| t.to_ascii_lowercase().starts_with(FORM))
        }))
        .to(query)
}

/// `GET /?Action=…` (STS's query API accepts GET too).
pub fn get_route() -> actix_web::Route {
    web::get()
        .guard(guard::fn_guard(|ctx| {
            ctx.head()
                .uri
                .query()
                .is_some_and(|q| q.split('&').any(|p| p.starts_with("Action=")))
        }))
        .to(query)
}

/// The service the SigV4 scope names, if it is one of ours.
fn scoped_api(req: &HttpRequest) -> Option<QueryApi> {
    let authorization = header(req.headers(), "authorization")?;
    let auth = super::sigv4::parse_authorization(authorization).ok()?;
    QueryApi::from_service(auth.service)
}

async fn query(req: HttpRequest, payload: web::Payload, shared: web::Data<Shared>) -> HttpResponse {
    let request_id = super::request_id(&req);
    let Some(ready) = shared.ready.get() else {
        return starting(&request_id);
    };
    let body = bounded_body(payload, MAX_BODY).await;
    let params = match (&body, req.method() == actix_web::http::Method::GET) {
        (_, true) => Params::parse(req.uri().query().unwrap_or_default().as_bytes()),
        (Ok(body), false) => Params::parse(body),
        (Err(_), false) => Params::default(),
    };
    let api = scoped_api(&req).unwrap_or_else(|| QueryApi::of_action(params.action()));
    let service = match api {
        QueryApi::Iam => super::auth::IAM_SERVICE,
        QueryApi::Sts => super::auth::STS_SERVICE,
    };
    let signed_body = body.as_deref().unwrap_or_default();
    let (ctx, caller) = authenticate_request_for(service, ready, &req, signed_body, &request_id);
    // Refused before it could be authenticated when it is too big, but recorded all the same.
    let caller = match body {
        Ok(_) => caller,
        Err(refused) => Err(refused),
    };
    let handled = ready
        .service
        .handle_query(&ctx, caller.as_ref().map_err(Clone::clone), api, &params)
        .await;
    let action = crate::app::trail::event_name(params.action());
    let response = match handled.result {
        Ok(result) => success(api, action, &request_id, result.as_str()),
        Err(e) => error(api, &request_id, &e),
    };
    with_receipt(response, handled.receipt.as_ref())
}

/// `<{Action}Response xmlns=…>[<{Action}Result>…</{Action}Result>]<ResponseMetadata>…`.
fn success(api: QueryApi, action: &str, request_id: &str, inner: Option<&str>) -> HttpResponse {
    let mut body = format!("<{action}Response xmlns=\"{}\">", api.namespace());
    if let Some(inner) = inner {
        body.push_str(&format!("<{action}Result>{inner}</{action}Result>"));
    }
    body.push_str(&format!(
        "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        xml_escape(request_id)
    ));
    HttpResponse::Ok()
        .insert_header(("x-amzn-RequestId", request_id))
        .content_type(XML)
        .body(body)
}

/// `<ErrorResponse><Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error>…`.
fn error(api: QueryApi, request_id: &str, error: &ApiError) -> HttpResponse {
    let error = to_query_error(api, error.clone());
    let ApiError::Query {
        code,
        status,
        message,
        ..
    } = &error
    else {
        unreachable!("to_query_error gives a query error")
    };
    let kind = if *status >= 500 { "Receiver" } else { "Sender" };
    let body = format!(
        "<ErrorResponse xmlns=\"{}\"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        api.namespace(),
        xml_escape(message),
        xml_escape(request_id)
    );
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(*status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .insert_header(("x-amzn-RequestId", request_id))
    .content_type(XML)
    .body(body)
}

#[derive(serde::Deserialize, Default)]
struct CreateAccountRequest {
    #[serde(rename = "AccountId", default)]
    account_id: Option<String>,
}

/// `POST /v1/accounts` (`{"AccountId": "…"}` or `{}`), SigV4 (service `kms`): a new account
/// and its root user's credentials, in the `admin-credentials.json` format. Only the
/// bootstrap account's root user or `admin` may call it.
pub async fn create_account(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let request_id = super::request_id(&req);
    let Some(ready) = shared.ready.get() else {
        return starting(&request_id);
    };
    let (ctx, mut caller) = authenticate_request(ready, &req, &body, &request_id);
    let request: CreateAccountRequest = if body.is_empty() {
        CreateAccountRequest::default()
    } else {
        // Only an object: serde would also read a struct from a JSON array.
        let object = serde_json::from_slice::<serde_json::Value>(&body)
            .map_err(|e| e.to_string())
            .and_then(|v| match v {
                serde_json::Value::Object(_) => {
                    serde_json::from_value(v).map_err(|e| e.to_string())
                }
                _ => Err("not an object".to_owned()),
            });
        match object {
            Ok(r) => r,
            Err(e) => {
                if caller.is_ok() {
                    caller = Err(ApiError::Serialization(format!(
                        "The request body is not a JSON object: {e}"
                    )));
                }
                CreateAccountRequest::default()
            }
        }
    };
    let handled = ready
        .service
        .create_account(
            &ctx,
            caller.as_ref().map_err(Clone::clone),
            request.account_id.as_deref(),
        )
        .await;
    let response = match handled.result {
        Ok(mut created) => {
            created["region"] = ctx.region.as_str().into();
            HttpResponse::Ok()
                .insert_header(("x-amzn-RequestId", request_id.as_str()))
                .content_type("application/json")
                .body(created.to_string())
        }
        Err(e) => {
            let mut response = super::error_response(&request_id, &e);
            response.headers_mut().insert(
                actix_web::http::header::CONTENT_TYPE,
                actix_web::http::header::HeaderValue::from_static("application/json"),
            );
            response
        }
    };
    with_receipt(response, handled.receipt.as_ref())
}
