//! The command handler: authenticate → resolve → decide + crypto → append →
//! reply. Every call, successful or not, ends as a CloudTrail-shaped usage
//! event in the ledger, durable before the caller hears anything.

pub mod asymmetric;
pub mod authz;
pub mod aws_managed;
pub mod bootstrap;
pub mod catalog;
pub mod error;
pub mod evidence;
pub mod export;
pub mod grants;
pub mod history;
pub mod iam;
pub mod import;
pub mod keys;
pub mod lifecycle;
pub mod limits;
pub mod multi_region;
pub mod operations;
pub mod quotas;
pub mod report_html;
pub mod reports;
pub mod request;
pub mod scheduler;
pub mod shapes;
pub mod symmetric;
pub mod trail;
pub mod trail_query;

use crate::crypto::keyring::Keyring;
use crate::domain::events::{Actor, DomainEvent, Envelope, EventBody, EVENT_VERSION};
use crate::domain::ids::{AccountId, KeyId, Region};
use crate::ledger::{AppendBatch, AppendError, Columns, Ledger, LedgerReader, NewEvent};
use crate::projections::Projections;
use serde_json::Value;
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

pub use error::ApiError;

/// Where the time comes from: injectable so tests can move it.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock tests set and move by hand.
pub struct ManualClock(std::sync::Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> ManualClock {
        ManualClock(std::sync::Mutex::new(start))
    }

    pub fn advance(&self, by: time::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: AccountId,
    /// The ARN the trail records (CloudTrail's `userIdentity.arn`): the root's, the user's,
    /// or a role session's `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub principal_arn: String,
    pub user_name: String,
    pub access_key_id: String,
    pub kind: CallerKind,
}

/// What kind of IAM identity signed the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerKind {
    /// The account's root user (`arn:aws:iam::<account>:root`).
    Root,
    /// An IAM user; `Caller::user_name` is its name.
    User,
    /// A session of a role, from AssumeRole's temporary credentials.
    AssumedRole {
        /// `arn:aws:iam::<account>:role/<path><name>`: what policies name.
        role_arn: String,
        role_name: String,
        session_name: String,
        /// When STS issued the session's credentials (`aws:TokenIssueTime`, CloudTrail's
        /// `sessionContext.attributes.creationDate`).
        issued: OffsetDateTime,
        expires: OffsetDateTime,
    },
}

impl Caller {
    /// The caller as policies match it.
    pub fn principal(&self) -> crate::domain::policy::Principal {
        let (arn, session_arn) = match &self.kind {
            CallerKind::AssumedRole { role_arn, .. } => {
                (role_arn.clone(), Some(self.principal_arn.clone()))
            }
            CallerKind::Root | CallerKind::User => (self.principal_arn.clone(), None),
        };
        crate::domain::policy::Principal {
            account: self.account.to_string(),
            arn,
            session_arn,
            root: self.kind == CallerKind::Root,
        }
    }
}

/// What is known of a request before it is handled.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    /// The region of the SigV4 credential scope (the service default when it could not be read).
    pub region: Region,
    pub source_ip: String,
    pub user_agent: String,
    /// The access key the request claimed, even when authentication failed.
    pub access_key_id: Option<String>,
    /// Whether it came over TLS (`aws:SecureTransport`). The service's own calls (scheduled
    /// rotation and deletion, AWS managed keys) never cross a network: true.
    pub secure_transport: bool,
}

/// What an operation leaves for the trail, filled in as it goes.
#[derive(Debug, Default)]
pub struct CallRecord {
    pub read_only: bool,
    /// The action the operation is authorized as (its declaration in `catalog`).
    pub action: &'static str,
    /// The key-state rule its key is checked against (its declaration in `catalog`).
    pub state: Option<crate::domain::key::Operation>,
    pub request_parameters: Value,
    pub response_elements: Value,
    /// ARNs of the keys the call touched.
    pub resources: Vec<String>,
    /// Lifecycle events with the stream version each takes.
    pub lifecycle: Vec<(DomainEvent, u64)>,
    pub shredding_keys: Vec<(KeyId, Vec<u8>)>,
    /// Keys crypto-shredded by this call.
    pub shredded: Vec<KeyId>,
    /// Set for what the service does by itself (scheduled rotation, deletion), recorded as a
    /// CloudTrail `AwsServiceEvent` in this account.
    pub service_account: Option<AccountId>,
    /// CloudTrail's `eventSource` [default: `kms.amazonaws.com`]; IAM and STS calls set it.
    pub event_source: Option<&'static str>,
    /// A request quota still to charge once the call's key (or key pair spec) is known.
    pub quota: Option<quotas::Charge>,
    /// The call was charged already: this is a decision taken again (after an optimistic
    /// concurrency conflict, or once an AWS managed key exists); a call is charged once.
    pub quota_charged: bool,
}

/// How many times a command is re-decided after an optimistic-concurrency conflict.
const MAX_CONFLICT_RETRIES: usize = 16;

pub struct Service {
    pub ledger: Ledger,
    /// Reads of the log, for what is folded on demand (point-in-time state, history).
    pub reader: LedgerReader,
    pub projections: Arc<Projections>,
    pub keyring: Arc<Keyring>,
    pub clock: Arc<dyn Clock>,
    pub default_region: Region,
    /// Calls failed because their event could not be written (served at `/metrics`).
    pub refused_unaudited: std::sync::atomic::AtomicU64,
    /// Request quotas: per account, Region and class; per source for failed authentication.
    pub quotas: quotas::Quotas,
}

/// Where a recorded call is in the trail: the response headers `x-keyledger-event-id` and
/// `x-keyledger-position`, so a client can later fetch the inclusion proof of its own call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub event_id: String,
    pub position: u64,
}

impl Receipt {
    /// The usage event is the last of the batch that recorded a call.
    fn of_usage(
        usage_event_id: Option<String>,
        positions: std::ops::Range<u64>,
    ) -> Option<Receipt> {
        Some(Receipt {
            event_id: usage_event_id?,
            position: positions.end.checked_sub(1)?,
        })
    }
}

/// A handled call: its answer, and where it was recorded (`None` only when it was not).
pub struct Handled {
    pub result: Result<Value, ApiError>,
    pub receipt: Option<Receipt>,
}

impl Service {
    /// Handle one API call and record it. `caller` is the outcome of authentication:
    /// a failed one is recorded like any other failed call.
    pub async fn handle(
        &self,
        ctx: &RequestContext,
        caller: Result<&Caller, ApiError>,
        operation: &str,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        self.handle_with_receipt(ctx, caller, operation, body)
            .await
            .result
    }

    /// Record a call the HTTP layer answered itself (the trail's evidence endpoints), before
    /// the answer leaves: `result` is what it will answer.
    pub async fn record(
        &self,
        ctx: &RequestContext,
        caller: Result<&Caller, ApiError>,
        operation: &str,
        request_parameters: Value,
        result: Result<(), ApiError>,
    ) -> Handled {
        let caller = match self.unauthenticated_gate(ctx, caller) {
            Ok(caller) => caller,
            Err(unrecorded) => return unrecorded,
        };
        let record = CallRecord {
            read_only: true,
            request_parameters,
            ..CallRecord::default()
        };
        // A failed authentication is the call's outcome, whatever was answered.
        let (caller, mut result) = match caller {
            Ok(caller) => (Some(caller), result.map(|()| Value::Null)),
            Err(e) => (None, Err(e)),
        };
        let batch = self.audit_batch(
            ctx,
            caller,
            operation,
            self.clock.now(),
            record,
            &mut result,
        );
        self.append_call(ctx, batch, result)
            .await
            .unwrap_or_else(|| self.unavailable_handled())
    }

    /// Append the batch that records a call; `result` is answered only once it is durable
    /// (audit-first). `None`: a stream had moved on (optimistic concurrency), decide again.
    async fn append_call(
        &self,
        ctx: &RequestContext,
        batch: AppendBatch,
        result: Result<Value, ApiError>,
    ) -> Option<Handled> {
        let usage = batch.events.last().map(|e| e.columns.event_id.clone());
        match self.ledger.append(batch).await {
            Ok(positions) => Some(Handled {
                result,
                receipt: Receipt::of_usage(usage, positions),
            }),
            Err(AppendError::Conflict { .. }) => None,
            Err(AppendError::Unavailable(reason)) => {
                tracing::error!(request_id = %ctx.request_id, %reason, "call not recorded; failing it");
                Some(self.unavailable_handled())
            }
        }
    }

    fn unavailable_handled(&self) -> Handled {
        Handled {
            result: Err(self.ledger_unavailable()),
            receipt: None,
        }
    }

    /// Nothing is answered unaudited: the call fails when its event cannot be written, and
    /// is counted.
    pub(crate) fn ledger_unavailable(&self) -> ApiError {
        self.refused_unaudited
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ApiError::Internal("The request was not processed: the audit ledger is unavailable.".into())
    }

    /// [`Service::handle`], with the call's receipt.
    pub async fn handle_with_receipt(
        &self,
        ctx: &RequestContext,
        caller: Result<&Caller, ApiError>,
        operation: &str,
        body: &[u8],
    ) -> Handled {
        let caller = match self.unauthenticated_gate(ctx, caller) {
            Ok(caller) => caller,
            Err(unrecorded) => return unrecorded,
        };
        for attempt in 0..=MAX_CONFLICT_RETRIES {
            let now = self.clock.now();
            let mut record = CallRecord {
                quota_charged: attempt > 0,
                ..CallRecord::default()
            };
            let mut result = match &caller {
                Ok(caller) => {
                    self.execute(caller, ctx, operation, body, now, &mut record)
                        .await
                }
                Err(e) => Err(e.clone()),
            };
            if matches!(result, Err(ApiError::Conflict(_))) {
                // Decided against a state that moved on: decide again, record only the outcome.
                continue;
            }
            if let (Err(ApiError::AwsManagedKeyNeeded(alias)), Ok(caller)) = (&result, &caller) {
                // First use of an AWS managed key's alias: the service creates the key, then
                // the request is decided again and finds it; if it may not, that is its answer.
                let alias = alias.clone();
                match self
                    .create_aws_managed_key_for(caller, ctx, operation, &alias)
                    .await
                {
                    Ok(()) => continue,
                    Err(e) => result = Err(e),
                }
            }
            let batch = self.audit_batch(
                ctx,
                caller.as_ref().ok().copied(),
                operation,
                now,
                record,
                &mut result,
            );
            if let Some(handled) = self.append_call(ctx, batch, result).await {
                return handled;
            }
        }
        // Give up, but still on the record: a failed call is an event too.
        let error = ApiError::Internal(
            "The request conflicted with concurrent changes too often; retry it.".into(),
        );
        let now = self.clock.now();
        let mut failed = Err(error.clone());
        let batch = self.audit_batch(
            ctx,
            caller.as_ref().ok().copied(),
            operation,
            now,
            CallRecord::default(),
            &mut failed,
        );
        self.append_call(ctx, batch, Err(error))
            .await
            .unwrap_or_else(|| self.unavailable_handled())
    }

    /// A call that failed before it had a caller (bad signature, unknown access key, …)
    /// counts against its source address's bucket (`quotas`): over it, the call is
    /// `ThrottlingException`, and only the first of each throttled run is recorded; the rest
    /// are answered unrecorded (`Err`) and counted, so a flood of forged requests from one
    /// source cannot grow the ledger faster than about twice that bucket's rate.
    pub(crate) fn unauthenticated_gate<'c>(
        &self,
        ctx: &RequestContext,
        caller: Result<&'c Caller, ApiError>,
    ) -> Result<Result<&'c Caller, ApiError>, Handled> {
        if caller.is_ok() {
            return Ok(caller);
        }
        let throttled = || ApiError::Throttling(quotas::THROTTLED.into());
        match self
            .quotas
            .unauthenticated(&ctx.source_ip, std::time::Instant::now())
        {
            quotas::Unauthenticated::Allowed => Ok(caller),
            quotas::Unauthenticated::Throttled { record: true } => Ok(Err(throttled())),
            quotas::Unauthenticated::Throttled { record: false } => Err(Handled {
                result: Err(throttled()),
                receipt: None,
            }),
        }
    }

    /// The events that record a call: its lifecycle events, then its usage event.
    pub(crate) fn audit_batch(
        &self,
        ctx: &RequestContext,
        caller: Option<&Caller>,
        operation: &str,
        now: OffsetDateTime,
        mut record: CallRecord,
        result: &mut Result<Value, ApiError>,
    ) -> AppendBatch {
        let limit = match result {
            Ok(_) => limits::MAX_RECORDED_PARAMETERS,
            Err(_) => limits::MAX_RECORDED_FAILED_PARAMETERS,
        };
        limits::bound_parameters(&mut record.request_parameters, limit);
        let event_name = trail::event_name(operation);
        let actor = Actor {
            account_id: caller
                .map(|c| c.account.to_string())
                .or_else(|| record.service_account.as_ref().map(|a| a.to_string())),
            principal_arn: caller.map(|c| c.principal_arn.clone()).or_else(|| {
                record
                    .service_account
                    .as_ref()
                    .map(|_| scheduler::SERVICE_PRINCIPAL.to_owned())
            }),
            access_key_id: ctx.access_key_id.clone(),
            source_ip: Some(ctx.source_ip.clone()),
            user_agent: Some(ctx.user_agent.clone()),
        };
        let error = result.as_ref().err();
        let failed = error.is_some();
        let mut events = Vec::with_capacity(record.lifecycle.len() + 1);
        if error.is_none() {
            for (event, version) in &record.lifecycle {
                events.push(lifecycle_event(
                    &ctx.request_id,
                    event_name,
                    &actor,
                    now,
                    event,
                    *version,
                ));
            }
        }
        let event_id = Uuid::now_v7();
        let principal_id = caller.and_then(|c| self.projections.credentials.principal_id(c));
        let cloudtrail = trail::cloudtrail_record(
            ctx,
            caller,
            principal_id.as_deref(),
            event_id,
            now,
            event_name,
            &record,
            error,
        );
        let record_terms = cloudtrail.index_terms(record.read_only);
        let envelope = Envelope {
            event_id,
            event_version: EVENT_VERSION,
            time: now,
            stream: None,
            stream_version: None,
            request_id: ctx.request_id.clone(),
            event_name: event_name.to_owned(),
            read_only: record.read_only,
            actor: None,
            error_code: error.map(|e| e.code().to_owned()),
            error_message: error.map(|e| limits::error_message(e.to_string())),
            body: trail::UsageBody::ApiCallRecorded(cloudtrail),
        };
        let keys = replay::columns::usage_keys(record.resources.iter().map(String::as_str));
        // As its userIdentity says (`replay::columns`): the caller, or the service's account.
        let columns = Columns::new(event_id, now, keys, envelope.error_code.clone())
            .with_caller(
                caller
                    .map(|c| c.account.to_string())
                    .or_else(|| record.service_account.as_ref().map(|a| a.to_string())),
                caller.map(|c| c.principal_arn.clone()),
            )
            .with_record(record_terms);
        events.push(NewEvent {
            stream: None,
            event_name: event_name.to_owned(),
            data: to_json(&envelope),
            columns,
            lifecycle: None,
        });
        if failed {
            return AppendBatch {
                events,
                ..AppendBatch::default()
            };
        }
        if let Some(large) = events
            .iter()
            .find(|e| e.data.len() > crate::ledger::MAX_EVENT_BYTES)
        {
            // It could not be bundled in the trail's tiles (`ledger::MAX_EVENT_BYTES`): the
            // call is refused, and recorded as refused (its parameters cut shorter). IAM's and
            // STS's callers map it to their protocol's `ValidationError` when they answer; its
            // trail code is `ValidationException` either way.
            *result = Err(ApiError::Validation(format!(
                "The request would be recorded as a {} event of {} bytes; a trail entry is at \
                 most {} bytes. Send a smaller request.",
                large.event_name,
                large.data.len(),
                crate::ledger::MAX_EVENT_BYTES
            )));
            return self.audit_batch(ctx, caller, operation, now, record, result);
        }
        AppendBatch {
            events,
            shredding_keys: record.shredding_keys,
            shredded: record.shredded,
        }
    }
}

/// A lifecycle event ready to append: its envelope, stream and typed fact.
pub fn lifecycle_event(
    request_id: &str,
    event_name: &str,
    actor: &Actor,
    now: OffsetDateTime,
    event: &DomainEvent,
    stream_version: u64,
) -> NewEvent {
    let event_id = Uuid::now_v7();
    let stream = event.stream();
    let keys = replay::columns::lifecycle_keys(&stream);
    let envelope = Envelope {
        event_id,
        event_version: EVENT_VERSION,
        time: now,
        stream: Some(stream.clone()),
        stream_version: Some(stream_version),
        request_id: request_id.to_owned(),
        event_name: event_name.to_owned(),
        read_only: false,
        actor: Some(actor.clone()),
        error_code: None,
        error_message: None,
        body: EventBody::Lifecycle(event.clone()),
    };
    NewEvent {
        stream: Some((stream, stream_version)),
        event_name: event_name.to_owned(),
        data: to_json(&envelope),
        columns: Columns::new(event_id, now, keys, None)
            .with_caller(actor.account_id.clone(), actor.principal_arn.clone()),
        lifecycle: Some((event.clone(), now)),
    }
}

fn to_json<B: serde::Serialize>(envelope: &Envelope<B>) -> Vec<u8> {
    // Serializing plain data to a Vec cannot fail: no maps with non-string keys, no I/O.
    serde_json::to_vec(envelope).expect("an envelope always serializes")
}
