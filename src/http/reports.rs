//! `GET /v1/reports/billing` and `GET /v1/reports/compliance`: the reports as JSON, CSV
//! (billing) or one HTML page. SigV4-signed and recorded like every call.

use super::evidence::{recorded, Answer};
use super::Shared;
use crate::app::{report_html, reports, ApiError, Service};
use actix_web::{web, HttpRequest, HttpResponse};
use replay::billing::BillingMonth;
use serde_json::json;
use std::collections::HashMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/reports/billing", web::get().to(billing))
        .route("/v1/reports/compliance", web::get().to(compliance));
}

/// Nothing on the page may reach the network or run: inline styles and SVG only.
const HTML_POLICY: &str = report_html::PAGE_POLICY;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Html,
}

fn format(query: &HashMap<String, String>, allowed: &[(&str, Format)]) -> Result<Format, ApiError> {
    let name = query.get("format").map_or("json", String::as_str);
    allowed
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .ok_or_else(|| {
            let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
            ApiError::Validation(format!("format must be one of {}", names.join(", ")))
        })
}

/// The request parameters as recorded: only what parsed (no caller text in the ledger).
fn recorded_parameters(query: &HashMap<String, String>) -> serde_json::Value {
    let month = query
        .get("month")
        .filter(|m| BillingMonth::parse(m).is_ok());
    let account = query
        .get("account")
        .filter(|a| crate::domain::ids::AccountId::parse(a).is_some());
    let format = query
        .get("format")
        .filter(|f| ["json", "csv", "html"].contains(&f.as_str()));
    let as_of = query
        .get("as_of")
        .filter(|t| OffsetDateTime::parse(t, &Rfc3339).is_ok());
    json!({ "month": month, "account": account, "format": format, "asOf": as_of })
}

async fn billing(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let query = super::query_parameters(&req, &["month", "account", "format"]);
    let logged = query.as_ref().map(recorded_parameters).unwrap_or(json!({}));
    let settings = shared.options.reports.clone();
    recorded(
        &req,
        &shared,
        "GetBillingReport",
        logged,
        async |service: &Service| {
            let query = query?;
            let now = service.clock.now();
            let month = match query.get("month") {
                None => BillingMonth::of_time(now),
                Some(m) => BillingMonth::parse(m).map_err(ApiError::Validation)?,
            };
            let account = match query.get("account") {
                None => None,
                Some(a) => Some(crate::domain::ids::AccountId::parse(a).ok_or_else(|| {
                    ApiError::Validation("account must be a 12-digit account id".into())
                })?),
            };
            let format = format(
                &query,
                &[
                    ("json", Format::Json),
                    ("csv", Format::Csv),
                    ("html", Format::Html),
                ],
            )?;
            let report = reports::billing(
                &service.reader,
                month,
                account.as_ref().map(|a| a.as_str()),
                &settings.prices,
                now,
            )
            .await
            .map_err(|e| ApiError::Internal(format!("the billing model could not be read: {e}")))?;
            Ok(match format {
                Format::Json => json_answer(report.to_json()),
                Format::Csv => Answer {
                    content_type: "text/csv; charset=utf-8",
                    body: report.to_csv().into_bytes(),
                    headers: vec![(
                        "content-disposition",
                        format!(
                            "attachment; filename=\"keyledger-billing-{}.csv\"",
                            report.month
                        ),
                    )],
                },
                Format::Html => html_answer(report_html::billing_page(&report)),
            })
        },
    )
    .await
}

async fn compliance(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let query = super::query_parameters(&req, &["as_of", "format"]);
    let logged = query.as_ref().map(recorded_parameters).unwrap_or(json!({}));
    let settings = shared.options.reports.clone();
    recorded(
        &req,
        &shared,
        "GetComplianceReport",
        logged,
        async |service: &Service| {
            let query = query?;
            let format = format(&query, &[("json", Format::Json), ("html", Format::Html)])?;
            let now = service.clock.now();
            let as_of = match query.get("as_of") {
                None => None,
                Some(t) => {
                    let t = OffsetDateTime::parse(t, &Rfc3339).map_err(|_| {
                        ApiError::Validation("as_of must be an RFC 3339 time".into())
                    })?;
                    if t > now {
                        return Err(ApiError::Validation("as_of is in the future".into()));
                    }
                    Some(t)
                }
            };
            let vkey = service
                .projections
                .trail_keys
                .current()
                .map(|k| k.verifier_key.clone());
            let report = reports::compliance(
                &service.reader,
                as_of.unwrap_or(now).unix_timestamp_nanos() as i64,
                as_of.is_none(),
                &settings.compliance,
                vkey.as_deref(),
            )
            .await
            .map_err(|e| {
                ApiError::Internal(format!("the compliance model could not be read: {e}"))
            })?;
            Ok(match format {
                Format::Html => html_answer(report_html::compliance_page(&report)),
                _ => json_answer(report.to_json()),
            })
        },
    )
    .await
}

fn json_answer(text: String) -> Answer {
    Answer {
        content_type: "application/json",
        body: text.into_bytes(),
        headers: Vec::new(),
    }
}

fn html_answer(page: String) -> Answer {
    Answer {
        content_type: "text/html; charset=utf-8",
        body: page.into_bytes(),
        headers: vec![("content-security-policy", HTML_POLICY.to_owned())],
    }
}
