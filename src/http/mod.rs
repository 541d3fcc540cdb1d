//! HTTP: the AWS KMS JSON 1.1 endpoint at `POST /`, the IAM and STS query protocol on the
//! same path (`query`), `/healthz`, SigV4 and the mapping of errors to AWS status codes and
//! `__type` names.

pub mod admin_client;
pub mod auth;
mod evidence;
pub mod openapi;
mod query;
mod reports;
pub mod sigv4;
pub mod tls;
pub mod trail_query;

use crate::app::{limits, ApiError, Caller, Receipt, RequestContext, Service};
use actix_web::dev::Server;
use actix_web::http::{header::HeaderMap, StatusCode};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use auth::Authenticator;
use std::sync::{Arc, OnceLock};

/// Largest request body accepted (AWS KMS requests are at most a few tens of KB).
const MAX_BODY: usize = 1 << 20;
/// How much of an oversized body is read and dropped before it is refused.
const DRAIN_LIMIT: usize = 16 << 20;
const JSON_1_1: &str = "application/x-amz-json-1.1";
const TARGET_PREFIX: &str = "TrentService.";

/// The service once projections are rebuilt and the writer runs; until then `/healthz` says 503.
pub struct Ready {
    pub service: Arc<Service>,
    pub authenticator: Authenticator,
}

/// How the HTTP layer is set up.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Serve the tlog checkpoint and hash tiles without credentials (for witnesses).
    pub public_tlog: bool,
    /// Prices and compliance thresholds of the reports.
    pub reports: crate::app::reports::ReportSettings,
    /// Request quotas (`[quotas]`) [default: AWS's, on].
    pub quotas: crate::app::quotas::QuotaSettings,
    /// The Regions a request may be signed for; `None`: any of AWS's form.
    pub regions: Option<Vec<crate::domain::ids::Region>>,
}

#[derive(Default)]
pub struct Shared {
    ready: OnceLock<Ready>,
    options: Options,
    /// Requests by operation and outcome, with their latency (`/metrics`).
    requests: crate::metrics::Requests,
}

impl Shared {
    pub fn new(options: Options) -> Shared {
        Shared {
            ready: OnceLock::new(),
            options,
            requests: crate::metrics::Requests::default(),
        }
    }

    /// The authenticator, once the service is ready.
    pub fn authenticator(&self) -> Option<&Authenticator> {
        self.ready.get().map(|ready| &ready.authenticator)
    }

    pub fn set_ready(&self, service: Arc<Service>) {
        service.quotas.configure(&self.options.quotas);
        let authenticator = Authenticator::new(
            service.projections.clone(),
            service.clock.clone(),
            self.options.regions.clone(),
        );
        let _ = self.ready.set(Ready {
            service,
            authenticator,
        });
    }
}

/// How long a graceful stop (SIGINT, SIGTERM) waits for requests in flight before it drops
/// them; then the writer drains and the last checkpoint is written.
pub const SHUTDOWN_TIMEOUT_SECONDS: u64 = 30;

/// Serve plain HTTP on an already-bound listener (tests bind port 0). Stop it with the
/// returned handle.
pub fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    workers: usize,
) -> std::io::Result<Server> {
    serve_on(listener, shared, workers, None)
}

/// Serve HTTPS on an already-bound listener, with `tls` (see [`tls::server_config`]).
pub fn serve_tls(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    workers: usize,
    tls: rustls::ServerConfig,
) -> std::io::Result<Server> {
    serve_on(listener, shared, workers, Some(tls))
}

fn serve_on(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    workers: usize,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<Server> {
    let data = web::Data::from(shared);
    let server = HttpServer::new(move || {
        App::new()
            .wrap_fn(|req, service| {
                use actix_web::dev::Service as _;
                use tracing::Instrument as _;
                let (req, span) = with_request_id(normalised(req));
                let started = std::time::Instant::now();
                let call = span.in_scope(|| service.call(req));
                async move {
                    let mut answered = call.await;
                    if let Ok(response) = &mut answered {
                        answered_with_request_id(response, started);
                    }
                    answered
                }
                .instrument(span)
            })
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .route("/", trail_query::cloudtrail_route())
            .route("/", query::post_route())
            .route("/", query::get_route())
            .route("/", web::post().to(aws_json))
            .route("/v1/accounts", web::post().to(query::create_account))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(metrics))
            .route("/v1/keys/{key:.+}", web::get().to(native_key))
            .configure(evidence::routes)
            .configure(reports::routes)
            .route("/v1/trail", web::get().to(trail_query::trail))
            .route("/v1/openapi.json", web::get().to(openapi_document))
            .default_service(web::to(no_route))
    })
    .workers(workers.max(1))
    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECONDS)
    // The binary stops it on SIGINT and SIGTERM (gracefully, both); tests with the handle.
    .disable_signals();
    let server = match tls {
        Some(config) => server.listen_rustls_0_23(listener, config)?,
        None => server.listen(listener)?,
    };
    Ok(server.run())
}

/// The id of one request, made when it arrives: the trail's `requestID`, the
/// `x-amzn-RequestId` header and the `request_id` of every log line of the request.
#[derive(Debug, Clone)]
struct RequestId(String);

/// How much of a path a log line shows.
const LOGGED_PATH_CHARS: usize = 200;

/// Give the request its id and the `request` span its log lines are written in. The span
/// shows the method and the path, never the query (presigned URLs carry signatures there)
/// nor the body or headers.
fn with_request_id(
    req: actix_web::dev::ServiceRequest,
) -> (actix_web::dev::ServiceRequest, tracing::Span) {
    use actix_web::HttpMessage as _;
    let id = uuid::Uuid::new_v4().to_string();
    let path: String = req.path().chars().take(LOGGED_PATH_CHARS).collect();
    let operation: String = header(req.headers(), "x-amz-target")
        .unwrap_or_default()
        .chars()
        .take(LOGGED_PATH_CHARS)
        .collect();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %path,
        operation = %operation,
    );
    let label = operation_label(&req);
    req.extensions_mut().insert(RequestId(id));
    req.extensions_mut().insert(OperationLabel(label));
    (req, span)
}

/// The operation a request names, as the request metrics label it: a catalog name, a route's
/// operation id, or one of a few fixed words (never caller text, so the series are bounded).
#[derive(Clone, Copy, Debug)]
struct OperationLabel(&'static str);

/// The error code of an AWS-shaped error response, for the request metrics.
#[derive(Clone, Copy, Debug)]
struct Outcome(&'static str);

fn operation_label(req: &actix_web::dev::ServiceRequest) -> &'static str {
    match header(req.headers(), "x-amz-target") {
        Some(target) => {
            if let Some(name) = target.strip_prefix(TARGET_PREFIX) {
                crate::app::catalog::find(name).map_or("unknown", |spec| spec.name)
            } else if target.strip_prefix(trail_query::CLOUDTRAIL_TARGET_PREFIX)
                == Some(crate::app::trail_query::LOOKUP_EVENTS)
            {
                crate::app::trail_query::LOOKUP_EVENTS
            } else {
                "unknown"
            }
        }
        // The IAM and STS query protocol.
        None if req.path() == "/" => "iam_sts",
        None => openapi::operation_of(req.method().as_str(), req.path()).unwrap_or("no_route"),
    }
}

/// A JSON answer's bytes: written straight into a buffer (`Value`'s `Display` goes through
/// a formatter adapter, a few thousand instructions more per Encrypt).
fn json_bytes(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("a JSON value always serializes")
}

/// Log the answer (in the request's span), and give it the request id header if its
/// handler did not (a route that does not exist, a body the extractor refused).
fn answered_with_request_id<B>(
    response: &mut actix_web::dev::ServiceResponse<B>,
    started: std::time::Instant,
) {
    use actix_web::HttpMessage as _;
    let id = response.request().extensions().get::<RequestId>().cloned();
    if let Some(RequestId(id)) = id {
        let headers = response.headers_mut();
        if !headers.contains_key("x-amzn-requestid") {
            if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&id) {
                headers.insert(
                    actix_web::http::header::HeaderName::from_static("x-amzn-requestid"),
                    value,
                );
            }
        }
    }
    let took = started.elapsed();
    let status = response.status();
    let operation = response
        .request()
        .extensions()
        .get::<OperationLabel>()
        .map_or("unknown", |l| l.0);
    let outcome = match response.response().extensions().get::<Outcome>() {
        Some(Outcome(code)) => code,
        None if status.is_success() => "ok",
        None if status.is_client_error() => "client_error",
        None => "server_error",
    };
    if let Some(shared) = response.request().app_data::<web::Data<Shared>>() {
        shared.requests.observe(operation, outcome, took);
    }
    tracing::info!(
        status = status.as_u16(),
        elapsed_ms = took.as_secs_f64() * 1e3,
        "answered"
    );
}

/// The id [`with_request_id`] gave the request (a fresh one for a request that did not
/// pass through it).
fn request_id(req: &HttpRequest) -> String {
    use actix_web::HttpMessage as _;
    req.extensions()
        .get::<RequestId>()
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), |id| id.0.clone())
}

/// The request with its path as SigV4 verifies it (dot segments removed, `//` collapsed), so
/// every route matches the path the signature covers: `/v1/keys/x/../KID` is routed as
/// `/v1/keys/KID`, which is what it was signed as.
fn normalised(mut req: actix_web::dev::ServiceRequest) -> actix_web::dev::ServiceRequest {
    use actix_web::http::uri::{PathAndQuery, Uri};
    let std::borrow::Cow::Owned(path) = sigv4::normalize_path(req.path()) else {
        return req;
    };
    let path_and_query = match req.query_string() {
        "" => path,
        query => format!("{path}?{query}"),
    };
    let mut parts = req.head().uri.clone().into_parts();
    let Ok(path_and_query) = PathAndQuery::try_from(path_and_query) else {
        return req;
    };
    parts.path_and_query = Some(path_and_query);
    let Ok(uri) = Uri::from_parts(parts) else {
        return req;
    };
    req.match_info_mut().get_mut().update(&uri);
    req.head_mut().uri = uri;
    req
}

/// Alive and opened; says whether the process runs in FIPS mode (decision 0015).
async fn healthz(shared: web::Data<Shared>) -> HttpResponse {
    match shared.ready.get() {
        Some(_) => HttpResponse::Ok().json(serde_json::json!({
            "status": "ok",
            "fips": crate::crypto::mode::fips(),
        })),
        None => HttpResponse::ServiceUnavailable()
            .content_type("application/json")
            .body(r#"{"status":"starting"}"#),
    }
}

/// A node behind other nodes' appends for longer than this is not ready: it would answer
/// from stale key state (a load balancer sends requests to the others meanwhile).
pub const READY_MAX_TAIL_LAG_SECONDS: f64 = 5.0;

/// Ready to serve: opened, its ledger writer running, and not behind the other nodes on its
/// database by more than [`READY_MAX_TAIL_LAG_SECONDS`].
async fn readyz(shared: web::Data<Shared>) -> HttpResponse {
    let Some(ready) = shared.ready.get() else {
        return HttpResponse::ServiceUnavailable()
            .content_type("application/json")
            .body(r#"{"status":"starting"}"#);
    };
    if !ready.service.ledger.is_running() {
        // Every call must be recorded before it is answered (audit-first), so none can be.
        return HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "status": "writer stopped",
            "reason": "the ledger writer has stopped: no call can be recorded, so every call fails",
        }));
    }
    let lag = ready.service.ledger.tail_lag();
    let body = serde_json::json!({
        "tail_lag_events": lag.events,
        "tail_lag_seconds": lag.seconds,
    });
    if lag.seconds > READY_MAX_TAIL_LAG_SECONDS {
        let mut body = body;
        body["status"] = "behind".into();
        return HttpResponse::ServiceUnavailable().json(body);
    }
    let mut body = body;
    body["status"] = "ready".into();
    HttpResponse::Ok().json(body)
}

/// The query's parameters on a native route: each at most once, and only those in `known`
/// (an AWS-shaped ValidationException otherwise, which the call's record then carries).
fn query_parameters(
    req: &HttpRequest,
    known: &[&str],
) -> Result<std::collections::HashMap<String, String>, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|_| ApiError::Validation("the query string is not valid".into()))?
        .into_inner();
    let mut query = std::collections::HashMap::new();
    for (name, value) in pairs {
        let shown: String = name.chars().take(32).collect();
        if !known.contains(&name.as_str()) {
            return Err(ApiError::Validation(format!(
                "unknown parameter {shown:?}; this route takes {}",
                known.join(", ")
            )));
        }
        if query.insert(name, value).is_some() {
            return Err(ApiError::Validation(format!(
                "{shown} is given more than once"
            )));
        }
    }
    Ok(query)
}

/// `GET /v1/openapi.json`: the native REST API's OpenAPI 3.1 document, unauthenticated.
async fn openapi_document() -> HttpResponse {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HttpResponse::Ok().content_type("application/json").body(
        DOCUMENT
            .get_or_init(|| openapi::document().to_string())
            .as_str(),
    )
}

/// What no route matched: a documented path asked with another method is 405 with `Allow`;
/// anything else is 404. Both AWS-shaped, neither recorded (no operation was named).
async fn no_route(req: HttpRequest) -> HttpResponse {
    let request_id = request_id(&req);
    let methods = openapi::methods_of(req.path());
    let (status, code, message) = if methods.is_empty() {
        (
            StatusCode::NOT_FOUND,
            "NotFoundException",
            "No such route.".to_owned(),
        )
    } else {
        let allowed = methods.join(", ").to_uppercase();
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowedException",
            format!("This route answers {allowed} only."),
        )
    };
    let mut response = HttpResponse::build(status);
    response.insert_header(("x-amzn-RequestId", request_id.as_str()));
    if !methods.is_empty() {
        response.insert_header(("Allow", methods.join(", ").to_uppercase()));
    }
    response
        .content_type(JSON_1_1)
        .body(serde_json::json!({ "__type": code, "message": message }).to_string())
}

/// Prometheus text exposition: what operators alert on.
async fn metrics(shared: web::Data<Shared>) -> HttpResponse {
    let refused = shared.ready.get().map_or(0, |r| {
        r.service
            .refused_unaudited
            .load(std::sync::atomic::Ordering::Relaxed)
    });
    let lag = shared.ready.get().map(|r| r.service.ledger.tail_lag());
    let (lag_events, lag_seconds) = lag.map_or((0, 0.0), |l| (l.events, l.seconds));
    let throttled = shared
        .ready
        .get()
        .map(|r| r.service.quotas.metrics())
        .unwrap_or_default();
    let mut body = format!(
        "# HELP keyledger_calls_refused_unaudited_total Calls failed because their audit event could not be written.\n\
         # TYPE keyledger_calls_refused_unaudited_total counter\n\
         keyledger_calls_refused_unaudited_total {refused}\n\
         # HELP keyledger_tail_lag_events Events other nodes appended that this node has not applied yet.\n\
         # TYPE keyledger_tail_lag_events gauge\n\
         keyledger_tail_lag_events {lag_events}\n\
         # HELP keyledger_tail_lag_seconds How long this node has been behind other nodes' appends.\n\
         # TYPE keyledger_tail_lag_seconds gauge\n\
         keyledger_tail_lag_seconds {lag_seconds}\n\
         {throttled}"
    );
    shared.requests.render(&mut body);
    if let Some(ready) = shared.ready.get() {
        ledger_metrics(&mut body, &ready.service);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}

/// The writer's batch sizes, commit times and failed commits, and the keys by state.
fn ledger_metrics(out: &mut String, service: &Service) {
    use std::fmt::Write as _;
    let writer = service.ledger.metrics();
    out.push_str(
        "# HELP keyledger_ledger_batch_events Events per committed group (group commit).\n\
         # TYPE keyledger_ledger_batch_events histogram\n",
    );
    writer
        .batch_events
        .render(out, "keyledger_ledger_batch_events", "");
    out.push_str(
        "# HELP keyledger_ledger_commit_seconds One group's commit on the store, its fsync included.\n\
         # TYPE keyledger_ledger_commit_seconds histogram\n",
    );
    writer
        .commit_seconds
        .render(out, "keyledger_ledger_commit_seconds", "");
    let _ = write!(
        out,
        "# HELP keyledger_ledger_append_failures_total Groups whose commit failed (their calls failed unaudited).\n\
         # TYPE keyledger_ledger_append_failures_total counter\n\
         keyledger_ledger_append_failures_total {}\n",
        writer
            .append_failures
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    let mut by_state = std::collections::BTreeMap::new();
    for state in crate::domain::key::KeyState::ALL {
        by_state.insert(state.as_str(), 0u64);
    }
    for key in service.projections.keys.all() {
        *by_state.entry(key.state.as_str()).or_default() += 1;
    }
    out.push_str(
        "# HELP keyledger_keys Keys by key state, every account and Region.\n\
         # TYPE keyledger_keys gauge\n",
    );
    for (state, n) in by_state {
        let _ = writeln!(out, "keyledger_keys{{state=\"{state}\"}} {n}");
    }
}

/// HTTP status of each AWS error type, as the AWS KMS service model gives them: every client
/// error is 400, `DryRunOperationException` 412, the service's own failures 500.
fn status(error: &ApiError) -> StatusCode {
    match error {
        ApiError::Internal(_) | ApiError::AwsManagedKeyNeeded(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        ApiError::DryRun => StatusCode::PRECONDITION_FAILED,
        ApiError::MissingAuthenticationToken(_) | ApiError::AccessDenied(_) => {
            StatusCode::FORBIDDEN
        }
        ApiError::Query { status, .. } => {
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST)
        }
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The AWS-shaped error of the AWS JSON 1.1 endpoints (`POST /`: KMS, CloudTrail).
fn error_response(request_id: &str, error: &ApiError) -> HttpResponse {
    error_response_with(request_id, error, status(error))
}

/// The same error body on the native REST routes under `/v1/`, where a resource that does not
/// exist is HTTP 404 (as REST clients and the C2SP tlog-tiles clients expect: a missing
/// partial tile is retried as a full one only on a 404); every other status is AWS's.
fn native_error_response(request_id: &str, error: &ApiError) -> HttpResponse {
    let status = match error {
        ApiError::NotFound(_) => StatusCode::NOT_FOUND,
        other => status(other),
    };
    error_response_with(request_id, error, status)
}

fn error_response_with(request_id: &str, error: &ApiError, status: StatusCode) -> HttpResponse {
    let message = limits::error_message(error.to_string());
    // AWS leaves `message` out when it has none (e.g. `NotAuthorizedException`).
    let body = if message.is_empty() {
        serde_json::json!({ "__type": error.code() })
    } else {
        serde_json::json!({ "__type": error.code(), "message": message })
    };
    let mut response = HttpResponse::build(status)
        .insert_header(("x-amzn-RequestId", request_id))
        .content_type(JSON_1_1)
        .body(body.to_string());
    response.extensions_mut().insert(Outcome(error.code()));
    response
}

/// The receipt headers of a recorded call: where its event is in the trail.
fn with_receipt(mut response: HttpResponse, receipt: Option<&Receipt>) -> HttpResponse {
    if let Some(receipt) = receipt {
        let headers = response.headers_mut();
        use actix_web::http::header::{HeaderName, HeaderValue};
        if let Ok(id) = HeaderValue::from_str(&receipt.event_id) {
            headers.insert(HeaderName::from_static("x-keyledger-event-id"), id);
        }
        headers.insert(
            HeaderName::from_static("x-keyledger-position"),
            HeaderValue::from(receipt.position),
        );
    }
    response
}

/// `Content-Type: application/x-amz-json-1.1` (any case, parameters allowed), as every AWS
/// SDK, the CLI and the Encryption SDKs send it. The IAM and STS query protocol on the same
/// path (form-urlencoded) is routed before this endpoint (`query`).
fn is_json_1_1(headers: &HeaderMap) -> bool {
    header(headers, "content-type").is_some_and(|value| {
        let essence = value.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case(JSON_1_1)
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Step 1 for any endpoint: SigV4 over the request exactly as received, and what is
/// known of the caller whether or not it succeeded.
fn authenticate_request(
    ready: &Ready,
    req: &HttpRequest,
    body: &[u8],
    request_id: &str,
) -> (RequestContext, Result<Caller, ApiError>) {
    authenticate_request_for(auth::SERVICE, ready, req, body, request_id)
}

/// [`authenticate_request`] for an endpoint whose SigV4 scope names `service`.
fn authenticate_request_for(
    service: &'static str,
    ready: &Ready,
    req: &HttpRequest,
    body: &[u8],
    request_id: &str,
) -> (RequestContext, Result<Caller, ApiError>) {
    let headers = req.headers();
    // Every header, a value that is not visible ASCII included (lossily): SigV4 refuses a
    // signed header that is not text or comes twice, rather than verify without it.
    let header_values: Vec<(&str, std::borrow::Cow<'_, str>)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), String::from_utf8_lossy(value.as_bytes())))
        .collect();
    let header_pairs: Vec<(&str, &str)> = header_values
        .iter()
        .map(|(name, value)| (*name, value.as_ref()))
        .collect();
    let payload_hash = sigv4::sha256_hex(body);
    let uri = req.uri();
    let parts = sigv4::RequestParts {
        method: req.method().as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or_default(),
        headers: &header_pairs,
        payload_sha256_hex: &payload_hash,
    };
    // Signatures are checked against the wall clock, whatever the service's (injectable) clock says.
    let now = time::OffsetDateTime::now_utc();
    let oversized = headers
        .iter()
        .find(|(_, value)| value.len() > limits::MAX_HEADER_VALUE);
    let authenticated = match oversized {
        // Refused before SigV4 reads anything; the claimed access key is kept, bounded.
        Some((name, value)) => auth::Authenticated {
            access_key_id: header(headers, "authorization").and_then(auth::claimed_access_key),
            region: None,
            caller: Err(ApiError::Validation(format!(
                "The request header '{}' is {} bytes, over the {}-byte limit.",
                limits::echo(name.as_str()),
                value.len(),
                limits::MAX_HEADER_VALUE
            ))),
        },
        None => ready.authenticator.authenticate_for(
            service,
            header(headers, "authorization"),
            header(headers, "x-amz-date"),
            &parts,
            now,
        ),
    };
    let ctx = RequestContext {
        request_id: request_id.to_owned(),
        region: authenticated
            .region
            .clone()
            .unwrap_or_else(|| ready.service.default_region.clone()),
        source_ip: req
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
        user_agent: header(headers, "user-agent")
            .unwrap_or_default()
            .chars()
            .take(limits::MAX_USER_AGENT)
            .collect(),
        access_key_id: authenticated.access_key_id.clone(),
        // Set by the listener: true only where it serves TLS (never from a header a client
        // or proxy could send).
        secure_transport: req.app_config().secure(),
    };
    (ctx, authenticated.caller)
}

fn starting(request_id: &str) -> HttpResponse {
    // Nothing can be recorded before the ledger is open, so nothing is done.
    let mut response = error_response(
        request_id,
        &ApiError::Internal("keyledger is starting; retry shortly.".into()),
    );
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
}

/// The body, unless it is over `limit` bytes (then nothing more of it is read).
async fn bounded_body(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    use futures_util::StreamExt as _;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::Serialization(format!("the request body could not be read: {e}"))
        })?;
        if body.len() + chunk.len() > limit {
            // Read (and drop) a bounded rest, so that the client sees the answer rather than
            // a connection reset while it is still sending.
            let mut drained = body.len() + chunk.len();
            while drained <= DRAIN_LIMIT {
                match payload.next().await {
                    Some(Ok(more)) => drained += more.len(),
                    _ => break,
                }
            }
            return Err(ApiError::Validation(format!(
                "The request body is over the {limit}-byte limit."
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

async fn aws_json(
    req: HttpRequest,
    payload: web::Payload,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let request_id = request_id(&req);
    let Some(ready) = shared.ready.get() else {
        return starting(&request_id);
    };
    let target = header(req.headers(), "x-amz-target").unwrap_or_default();
    let operation = target
        .strip_prefix(TARGET_PREFIX)
        .unwrap_or(if target.is_empty() { "" } else { target });
    let body = match bounded_body(payload, MAX_BODY).await {
        Ok(body) => body,
        Err(refused) => {
            // Refused before it could be authenticated (the signature covers the body), but
            // recorded like any failed call: who claimed to call, what, and why it failed.
            let (ctx, _) = authenticate_request(ready, &req, b"", &request_id);
            let handled = ready
                .service
                .handle_with_receipt(&ctx, Err(refused), operation, b"")
                .await;
            let error = handled.result.err().unwrap_or_else(|| {
                ApiError::Internal("an oversized request was not refused".into())
            });
            let mut response = error_response(&request_id, &error);
            if matches!(error, ApiError::Validation(_)) {
                *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            }
            return with_receipt(response, handled.receipt.as_ref());
        }
    };
    let (ctx, mut caller) = authenticate_request(ready, &req, &body, &request_id);
    if caller.is_ok() && !is_json_1_1(req.headers()) {
        // As AWS's JSON services answer a body they cannot read as their protocol.
        caller = Err(ApiError::UnknownOperation(format!(
            "The Content-Type must be {JSON_1_1}."
        )));
    }
    if caller.is_ok() && !target.is_empty() && !target.starts_with(TARGET_PREFIX) {
        caller = Err(ApiError::UnknownOperation(format!(
            "{} is not a TrentService target.",
            crate::app::trail::event_name(target)
        )));
    }
    if caller.is_ok() && crate::app::trail_query::NOT_KMS_OPERATIONS.contains(&operation) {
        caller = Err(ApiError::UnknownOperation(format!(
            "Operation {operation} is not an operation of TrentService."
        )));
    }
    let handled = ready
        .service
        .handle_with_receipt(
            &ctx,
            caller.as_ref().map_err(Clone::clone),
            operation,
            &body,
        )
        .await;
    let response = match handled.result {
        Ok(mut response) => {
            without_null_members(&mut response);
            HttpResponse::Ok()
                .insert_header(("x-amzn-RequestId", request_id.as_str()))
                .content_type(JSON_1_1)
                .body(json_bytes(&response))
        }
        Err(e) => error_response(&request_id, &e),
    };
    with_receipt(response, handled.receipt.as_ref())
}

/// AWS's JSON protocol leaves an absent member out; it never sends `null`.
fn without_null_members(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(members) => {
            members.retain(|_, member| !member.is_null());
            members.values_mut().for_each(without_null_members);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(without_null_members),
        _ => {}
    }
}

/// `GET /v1/keys/{key}?as_of=…` and `GET /v1/keys/{key}/history` (the key percent-encoded
/// when it is an ARN). SigV4-signed like the AWS endpoint, recorded like any call.
async fn native_key(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let request_id = request_id(&req);
    let Some(ready) = shared.ready.get() else {
        return starting(&request_id);
    };
    let raw = req
        .uri()
        .path()
        .strip_prefix("/v1/keys/")
        .unwrap_or_default();
    let (raw_key, operation) = match raw.strip_suffix("/history") {
        Some(key) => (key, crate::app::history::KEY_HISTORY),
        None => (raw, crate::app::history::KEY_AS_OF),
    };
    let key = percent_encoding::percent_decode_str(raw_key)
        .decode_utf8_lossy()
        .into_owned();
    let query = query_parameters(&req, &["as_of"]);
    let as_of = query.as_ref().ok().and_then(|q| q.get("as_of").cloned());
    let body = serde_json::json!({ "KeyId": key, "AsOf": as_of }).to_string();
    let (ctx, caller) = authenticate_request(ready, &req, b"", &request_id);
    let caller = match query {
        Ok(_) => caller,
        Err(e) => caller.and(Err(e)),
    };
    let handled = ready
        .service
        .handle_with_receipt(
            &ctx,
            caller.as_ref().map_err(Clone::clone),
            operation,
            body.as_bytes(),
        )
        .await;
    let response = match handled.result {
        Ok(response) => HttpResponse::Ok()
            .insert_header(("x-amzn-RequestId", request_id.as_str()))
            .content_type("application/json")
            .body(json_bytes(&response)),
        Err(e) => {
            let mut response = native_error_response(&request_id, &e);
            response.headers_mut().insert(
                actix_web::http::header::CONTENT_TYPE,
                actix_web::http::header::HeaderValue::from_static("application/json"),
            );
            response
        }
    };
    with_receipt(response, handled.receipt.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_the_aws_kms_models() {
        let m = || "m".to_owned();
        for client in [
            ApiError::NotFound(m()),
            ApiError::Disabled(m()),
            ApiError::InvalidState(m()),
            ApiError::AlreadyExists(m()),
            ApiError::Conflict(m()),
            ApiError::NotAuthorized(m()),
            ApiError::Validation(m()),
            ApiError::LimitExceeded(m()),
        ] {
            assert_eq!(status(&client), StatusCode::BAD_REQUEST, "{client:?}");
        }
        assert_eq!(status(&ApiError::DryRun), StatusCode::PRECONDITION_FAILED);
        assert_eq!(
            status(&ApiError::Internal(m())),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        // The native REST routes: 404 for what does not exist, AWS's status otherwise.
        let native = native_error_response("r", &ApiError::NotFound(m()));
        assert_eq!(native.status(), StatusCode::NOT_FOUND);
        let native = native_error_response("r", &ApiError::Disabled(m()));
        assert_eq!(native.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn null_members_are_left_out_at_any_depth() {
        let mut value = serde_json::json!({
            "A": null,
            "B": { "C": null, "D": 1 },
            "E": [{ "F": null, "G": "x" }],
        });
        without_null_members(&mut value);
        assert_eq!(
            value,
            serde_json::json!({ "B": { "D": 1 }, "E": [{ "G": "x" }] })
        );
    }
}
