//! `/v1/trail/…` evidence: the verifier key, signed checkpoints, inclusion and consistency
//! proofs, and the C2SP `tlog-tiles` read API under `/v1/trail/tlog/`. SigV4-signed and
//! recorded like every call; with `--public-tlog` the tlog checkpoint and hash tiles (never
//! the entries) are also served without credentials, unrecorded, for witnesses.

use super::{authenticate_request, native_error_response, starting, with_receipt, Shared};
use crate::app::evidence::{self, ProofError};
use crate::app::ApiError;
use actix_web::{web, HttpRequest, HttpResponse};
use replay::trail::{TILE_HEIGHT, TILE_WIDTH};
use serde_json::{json, Value};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/trail/vkey", web::get().to(vkey))
        .route("/v1/trail/checkpoint", web::get().to(checkpoint))
        .route(
            "/v1/trail/events/{event_id}/inclusion",
            web::get().to(inclusion),
        )
        .route("/v1/trail/consistency", web::get().to(consistency))
        .route("/v1/trail/tlog/checkpoint", web::get().to(tlog_checkpoint))
        .route("/v1/trail/tlog/tile/{path:.*}", web::get().to(tlog_tile));
}

/// A response body, its content type and any further headers.
pub(super) struct Answer {
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

impl Answer {
    /// The 200 that carries it, with the request id.
    fn into_response(self, request_id: &str) -> HttpResponse {
        let mut response = HttpResponse::Ok();
        response
            .insert_header(("x-amzn-RequestId", request_id))
            .content_type(self.content_type);
        for header in self.headers {
            response.insert_header(header);
        }
        response.body(self.body)
    }

    pub fn text(text: String) -> Answer {
        Answer {
            content_type: "text/plain; charset=utf-8",
            body: text.into_bytes(),
            headers: Vec::new(),
        }
    }

    pub fn json(value: impl serde::Serialize) -> Answer {
        Answer {
            content_type: "application/json",
            body: serde_json::to_vec(&value).expect("plain data serializes"),
            headers: Vec::new(),
        }
    }
}

fn proof_error(e: ProofError) -> ApiError {
    match e {
        ProofError::NotFound(m) => ApiError::NotFound(m),
        ProofError::Invalid(m) => ApiError::Validation(m),
        ProofError::Store(e) => ApiError::Internal(format!("the trail could not be read: {e}")),
    }
}

/// Authenticate, answer, record, reply — the answer leaves only once its event is durable.
pub(super) async fn recorded(
    req: &HttpRequest,
    shared: &Shared,
    operation: &str,
    parameters: Value,
    answer: impl AsyncFnOnce(&crate::app::Service) -> Result<Answer, ApiError>,
) -> HttpResponse {
    let request_id = super::request_id(req);
    let Some(ready) = shared.ready.get() else {
        return starting(&request_id);
    };
    let (ctx, caller) = authenticate_request(ready, req, b"", &request_id);
    let answered = match &caller {
        Ok(caller) => match ready.service.authorize_native(caller, &ctx, operation) {
            Ok(()) => answer(&ready.service).await,
            Err(denied) => Err(denied),
        },
        Err(e) => Err(e.clone()),
    };
    let handled = ready
        .service
        .record(
            &ctx,
            caller.as_ref().map_err(Clone::clone),
            operation,
            parameters,
            answered.as_ref().map(|_| ()).map_err(Clone::clone),
        )
        .await;
    let response = match (handled.result, answered) {
        (Ok(_), Ok(answer)) => answer.into_response(&request_id),
        (Err(e), _) | (Ok(_), Err(e)) => native_error_response(&request_id, &e),
    };
    with_receipt(response, handled.receipt.as_ref())
}

async fn vkey(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    recorded(
        &req,
        &shared,
        "GetTrailVerifierKey",
        json!({}),
        async |service| {
            let key = service
                .projections
                .trail_keys
                .current()
                .ok_or_else(|| ApiError::NotFound("the ledger has no note key yet".into()))?;
            Ok(Answer::text(format!("{}\n", key.verifier_key)))
        },
    )
    .await
}

async fn latest_note(service: &crate::app::Service) -> Result<Answer, ApiError> {
    let checkpoint = evidence::checkpoint_of(&service.reader, None)
        .await
        .map_err(proof_error)?;
    let mut answer = Answer::text(checkpoint.note);
    // tlog-tiles: a checkpoint's headers SHOULD prevent caching beyond a few seconds.
    answer.headers.push(("cache-control", "no-cache".into()));
    Ok(answer)
}

async fn checkpoint(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    recorded(&req, &shared, "GetTrailCheckpoint", json!({}), latest_note).await
}

/// A decimal size from a query string, or a ValidationException naming the parameter.
fn size_param(name: &str, value: Option<&str>) -> Result<Option<u64>, ApiError> {
    value
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::Validation(format!("{name} must be a non-negative integer, not {v:?}"))
            })
        })
        .transpose()
}

async fn inclusion(
    req: HttpRequest,
    path: web::Path<String>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let event_id = path.into_inner();
    let query = super::query_parameters(&req, &["tree_size"]);
    let tree_size = query
        .as_ref()
        .ok()
        .and_then(|q| q.get("tree_size").cloned());
    let parameters = json!({ "eventId": event_id, "treeSize": tree_size });
    recorded(
        &req,
        &shared,
        "GetTrailInclusionProof",
        parameters,
        async |service| {
            query?;
            let tree_size = size_param("tree_size", tree_size.as_deref())?;
            let proof = evidence::inclusion(&service.reader, &event_id, tree_size)
                .await
                .map_err(proof_error)?;
            Ok(Answer::json(proof))
        },
    )
    .await
}

async fn consistency(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let query = super::query_parameters(&req, &["from", "to"]);
    let get = |name: &str| query.as_ref().ok().and_then(|q| q.get(name).cloned());
    let (from, to) = (get("from"), get("to"));
    let parameters = json!({ "from": from, "to": to });
    recorded(
        &req,
        &shared,
        "GetTrailConsistencyProof",
        parameters,
        async |service| {
            query?;
            let (Some(from), Some(to)) = (
                size_param("from", from.as_deref())?,
                size_param("to", to.as_deref())?,
            ) else {
                return Err(ApiError::Validation(
                    "from and to (tree sizes of two checkpoints) are required".into(),
                ));
            };
            let proof = evidence::consistency(&service.reader, from, to)
                .await
                .map_err(proof_error)?;
            Ok(Answer::json(proof))
        },
    )
    .await
}

/// A tile path after `tile/`: C2SP tlog-tiles `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TilePath {
    /// `None` for an entry bundle.
    level: Option<u8>,
    index: u64,
    /// Hashes (or entries) in the tile: 256 for a full one.
    width: u64,
}

fn parse_tile_path(path: &str) -> Option<TilePath> {
    if path.len() > 96 {
        return None;
    }
    let (level, rest) = path.split_once('/')?;
    let level = if level == "entries" {
        None
    } else {
        // Decimal without leading zeros, at most 63 (tile levels of a 64-bit tree).
        if !canonical_decimal(level) || level.len() > 2 {
            return None;
        }
        let l: u8 = level.parse().ok()?;
        (l <= 63).then_some(l)?;
        Some(l)
    };
    let (index_path, width) = match rest.split_once(".p/") {
        Some((index, width)) => {
            if !canonical_decimal(width) || width.len() > 3 {
                return None;
            }
            let w: u64 = width.parse().ok()?;
            ((1..TILE_WIDTH).contains(&w)).then_some(())?;
            (index, w)
        }
        None => (rest, TILE_WIDTH),
    };
    // N in groups of three digits, every group but the last prefixed with 'x'.
    let groups: Vec<&str> = index_path.split('/').collect();
    let mut index: u64 = 0;
    for (i, group) in groups.iter().enumerate() {
        let digits = if i + 1 < groups.len() {
            group.strip_prefix('x')?
        } else {
            group
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        index = index
            .checked_mul(1000)?
            .checked_add(digits.parse::<u64>().ok()?)?;
    }
    // No leading zero groups: "x000/123" is not the canonical path of 123.
    if groups.len() > 1 && groups[0] == "x000" {
        return None;
    }
    Some(TilePath {
        level,
        index,
        width,
    })
}

/// ASCII digits with no leading zero (`str::parse` would also take a sign: `+7`).
fn canonical_decimal(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text.len() == 1 || !text.starts_with('0'))
}

/// A tile's path names bytes that never change (a partial one's too: the first W of a tile
/// that only grows), so tlog-tiles asks for long-lived caching headers. Behind SigV4 a shared
/// cache must not keep them (`private`); the credential-free hash tiles may be (`public`).
const TILE_CACHING_PRIVATE: &str = "private, max-age=31536000, immutable";
const TILE_CACHING_PUBLIC: &str = "public, max-age=31536000, immutable";

/// The bytes of a tile of the tree as of the newest checkpoint.
async fn tile_bytes(
    service: &crate::app::Service,
    tile: TilePath,
    public: bool,
) -> Result<Answer, ApiError> {
    let caching = vec![(
        "cache-control",
        if public {
            TILE_CACHING_PUBLIC
        } else {
            TILE_CACHING_PRIVATE
        }
        .to_owned(),
    )];
    let checkpoint = evidence::checkpoint_of(&service.reader, None)
        .await
        .map_err(proof_error)?;
    let level_bits = u32::from(tile.level.unwrap_or(0)) * u32::from(TILE_HEIGHT);
    let available = checkpoint.size.checked_shr(level_bits).unwrap_or(0);
    let start = tile
        .index
        .checked_mul(TILE_WIDTH)
        .ok_or_else(|| ApiError::NotFound("no such tile".into()))?;
    let end = start.saturating_add(tile.width);
    if end > available {
        return Err(ApiError::NotFound(format!(
            "the tile is beyond the newest checkpoint (tree size {})",
            checkpoint.size
        )));
    }
    let store = |e: crate::ledger::StoreError| ApiError::Internal(e.to_string());
    match tile.level {
        Some(level) => {
            let hashes = service
                .reader
                .stored_hashes(level * TILE_HEIGHT, start..end)
                .await
                .map_err(store)?;
            Ok(Answer {
                content_type: "application/octet-stream",
                body: hashes.concat(),
                headers: caching,
            })
        }
        None => {
            // An entry bundle: each entry as a big-endian uint16 length and its bytes.
            let events = service
                .reader
                .read_all(start, tile.width as usize)
                .await
                .map_err(store)?;
            let mut body = Vec::new();
            for event in &events {
                let len = u16::try_from(event.data.len()).map_err(|_| {
                    ApiError::Internal(format!(
                        "event {} is over 65535 bytes and cannot be bundled",
                        event.position
                    ))
                })?;
                body.extend_from_slice(&len.to_be_bytes());
                body.extend_from_slice(&event.data);
            }
            Ok(Answer {
                content_type: "application/octet-stream",
                body,
                headers: caching,
            })
        }
    }
}

fn public_answer(request_id: &str, answer: Result<Answer, ApiError>) -> HttpResponse {
    match answer {
        Ok(answer) => answer.into_response(request_id),
        Err(e) => native_error_response(request_id, &e),
    }
}

async fn tlog_checkpoint(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    if shared.options.public_tlog {
        let request_id = super::request_id(&req);
        let Some(ready) = shared.ready.get() else {
            return starting(&request_id);
        };
        return public_answer(&request_id, latest_note(&ready.service).await);
    }
    recorded(&req, &shared, "GetTrailCheckpoint", json!({}), latest_note).await
}

async fn tlog_tile(
    req: HttpRequest,
    path: web::Path<String>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let path = path.into_inner();
    let tile = parse_tile_path(&path);
    let public = shared.options.public_tlog && tile.is_some_and(|t| t.level.is_some());
    if public {
        let request_id = super::request_id(&req);
        let Some(ready) = shared.ready.get() else {
            return starting(&request_id);
        };
        let tile = tile.expect("checked above");
        return public_answer(&request_id, tile_bytes(&ready.service, tile, true).await);
    }
    let parameters = json!({ "tile": format!("tile/{path}") });
    recorded(&req, &shared, "GetTrailTile", parameters, async |service| {
        let tile = tile
            .ok_or_else(|| ApiError::NotFound(format!("tile/{path} is not a tlog-tiles path")))?;
        tile_bytes(service, tile, false).await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_parse_as_c2sp_tlog_tiles_names_them() {
        let t = |level, index, width| {
            Some(TilePath {
                level,
                index,
                width,
            })
        };
        assert_eq!(parse_tile_path("0/000"), t(Some(0), 0, 256));
        assert_eq!(
            parse_tile_path("1/x001/x234/067"),
            t(Some(1), 1_234_067, 256)
        );
        assert_eq!(parse_tile_path("0/005.p/17"), t(Some(0), 5, 17));
        // What replay's formatter writes, the parser reads back.
        for n in [0, 5, 999, 1000, 1_234_067, u64::MAX] {
            let path = format!("2/{}", replay::trail::tile_index_path(n));
            assert_eq!(parse_tile_path(&path), t(Some(2), n, 256), "{path}");
        }
        assert_eq!(
            parse_tile_path("entries/x001/002.p/255"),
            t(None, 1002, 255)
        );
        for bad in [
            "0/5",
            "0/0005",
            "00/000",
            "64/000",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p/07",
            "0/x000/001",
            "0/001/x002",
            "entries/",
            "x/000",
            "0/000.p/",
            "0/abc",
            "+1/000",
            "0/000.p/+7",
            "0/000.p/+07",
            "-0/000",
            " 1/000",
        ] {
            assert_eq!(parse_tile_path(bad), None, "{bad}");
        }
    }
}
