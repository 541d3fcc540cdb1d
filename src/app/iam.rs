//! IAM and STS, the subset KMS users need: users, roles, access keys, inline identity
//! policies, GetCallerIdentity and AssumeRole (query protocol, `docs/decisions/0013`).
//! Every call is recorded like a KMS call (eventSource `iam.amazonaws.com` /
//! `sts.amazonaws.com`); every change is a lifecycle event on the account's stream, decided
//! against the stream version it read (a conflict decides again).

use super::bootstrap::{random_iam_id, random_secret};
use super::trail::{event_time, IAM_EVENT_SOURCE, STS_EVENT_SOURCE};
use super::{ApiError, CallRecord, Caller, CallerKind, Handled, RequestContext, Service};
use crate::crypto::root_key::LABEL_ACCESS_KEY_SECRET;
use crate::crypto::session_token::{self, SessionClaims};
use crate::domain::authz::{authorize, Authorization};
use crate::domain::events::{
    AccessKeyActivated, AccessKeyCreated, AccessKeyDeactivated, AccessKeyDeleted, AccountCreated,
    Actor, DomainEvent, RoleCreated, RoleDeleted, RolePolicyDeleted, RolePolicyPut, Sealed,
    UserCreated, UserDeleted, UserPolicyDeleted, UserPolicyPut,
};
use crate::domain::ids::AccountId;
use crate::domain::policy::{Context, Policy, PolicyKind};
use crate::ledger::AppendBatch;
use crate::projections::credentials::{InlinePolicy, Role, User};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// The ARN of `account`'s root user.
pub fn root_arn(account: &AccountId) -> String {
    format!("arn:aws:iam::{account}:root")
}

/// Which query API a request is for (the SigV4 scope's service says).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryApi {
    Iam,
    Sts,
}

impl QueryApi {
    /// From the SigV4 scope's service name.
    pub fn from_service(service: &str) -> Option<QueryApi> {
        match service {
            "iam" => Some(QueryApi::Iam),
            "sts" => Some(QueryApi::Sts),
            _ => None,
        }
    }

    /// Which API names `action` (for a request whose scope could not be read).
    pub fn of_action(action: &str) -> QueryApi {
        if STS_ACTIONS.contains(&action) {
            QueryApi::Sts
        } else {
            QueryApi::Iam
        }
    }

    pub fn service(self) -> &'static str {
        match self {
            QueryApi::Iam => "iam",
            QueryApi::Sts => "sts",
        }
    }

    pub fn event_source(self) -> &'static str {
        match self {
            QueryApi::Iam => IAM_EVENT_SOURCE,
            QueryApi::Sts => STS_EVENT_SOURCE,
        }
    }

    /// The XML namespace of its responses.
    pub fn namespace(self) -> &'static str {
        match self {
            QueryApi::Iam => "https://iam.amazonaws.com/doc/2010-05-08/",
            QueryApi::Sts => "https://sts.amazonaws.com/doc/2011-06-15/",
        }
    }

    fn actions(self) -> &'static [&'static str] {
        match self {
            QueryApi::Iam => IAM_ACTIONS,
            QueryApi::Sts => STS_ACTIONS,
        }
    }
}

const IAM_ACTIONS: &[&str] = &[
    "CreateUser",
    "GetUser",
    "ListUsers",
    "DeleteUser",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "PutUserPolicy",
    "GetUserPolicy",
    "DeleteUserPolicy",
    "ListUserPolicies",
    "CreateRole",
    "GetRole",
    "DeleteRole",
    "PutRolePolicy",
    "GetRolePolicy",
    "DeleteRolePolicy",
    "ListRolePolicies",
];
const STS_ACTIONS: &[&str] = &["GetCallerIdentity", "AssumeRole"];

/// The form parameters of a query-protocol request, in order.
#[derive(Clone, Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// `application/x-www-form-urlencoded` (a body, or a GET's query string).
    pub fn parse(form: &[u8]) -> Params {
        Params(
            form_urlencoded::parse(form)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn action(&self) -> &str {
        self.get("Action").unwrap_or_default()
    }

    /// What CloudTrail logs of the request: each top-level parameter, camelCased (`UserName`
    /// → `userName`), but never `Action`/`Version` and nothing nested (tags, lists).
    fn trail_parameters(&self) -> Value {
        let mut map = serde_json::Map::new();
        for (k, v) in &self.0 {
            if k == "Action" || k == "Version" || k.contains('.') || k.is_empty() {
                continue;
            }
            let mut chars = k.chars();
            let camel: String = chars
                .next()
                .map(|c| c.to_ascii_lowercase())
                .into_iter()
                .chain(chars)
                .collect();
            let value = match k.as_str() {
                "DurationSeconds" | "MaxSessionDuration" | "MaxItems" => v
                    .parse::<u64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| v.as_str().into()),
                _ => v.as_str().into(),
            };
            map.insert(camel, value);
        }
        if map.is_empty() {
            Value::Null
        } else {
            Value::Object(map)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors, as the IAM and STS API references name them
// ---------------------------------------------------------------------------------------------

fn query_error(
    code: &'static str,
    trail_code: &'static str,
    status: u16,
    message: impl Into<String>,
) -> ApiError {
    ApiError::Query {
        code,
        trail_code,
        status,
        message: message.into(),
    }
}

pub fn no_such_entity(message: impl Into<String>) -> ApiError {
    query_error("NoSuchEntity", "NoSuchEntityException", 404, message)
}

pub fn entity_already_exists(message: impl Into<String>) -> ApiError {
    query_error(
        "EntityAlreadyExists",
        "EntityAlreadyExistsException",
        409,
        message,
    )
}

pub fn validation_error(message: impl Into<String>) -> ApiError {
    query_error("ValidationError", "ValidationException", 400, message)
}

pub fn malformed_policy_document(message: impl Into<String>) -> ApiError {
    query_error(
        "MalformedPolicyDocument",
        "MalformedPolicyDocumentException",
        400,
        message,
    )
}

pub fn limit_exceeded(message: impl Into<String>) -> ApiError {
    query_error("LimitExceeded", "LimitExceededException", 409, message)
}

pub fn delete_conflict(message: impl Into<String>) -> ApiError {
    query_error("DeleteConflict", "DeleteConflictException", 409, message)
}

pub fn access_denied(message: impl Into<String>) -> ApiError {
    query_error("AccessDenied", "AccessDenied", 403, message)
}

/// Any error of a query call in IAM's or STS's words (authentication's and the service's
/// own errors come named as KMS names them).
pub fn to_query_error(api: QueryApi, error: ApiError) -> ApiError {
    match error {
        e @ ApiError::Query { .. } => e,
        ApiError::UnrecognizedClient(m) => query_error(
            "InvalidClientTokenId",
            "InvalidClientTokenIdException",
            403,
            m,
        ),
        ApiError::InvalidSignature(m) => query_error(
            "SignatureDoesNotMatch",
            "SignatureDoesNotMatchException",
            403,
            m,
        ),
        ApiError::IncompleteSignature(m) => query_error(
            "IncompleteSignature",
            "IncompleteSignatureException",
            400,
            m,
        ),
        ApiError::MissingAuthenticationToken(m) => query_error(
            "MissingAuthenticationToken",
            "MissingAuthenticationTokenException",
            403,
            m,
        ),
        ApiError::ExpiredToken(m) => query_error(
            "ExpiredToken",
            "ExpiredTokenException",
            if api == QueryApi::Sts { 400 } else { 403 },
            m,
        ),
        ApiError::AccessDenied(m) => access_denied(m),
        ApiError::Validation(m) | ApiError::Serialization(m) => validation_error(m),
        ApiError::UnknownOperation(m) => {
            query_error("InvalidAction", "InvalidActionException", 400, m)
        }
        ApiError::MalformedPolicyDocument(m) => malformed_policy_document(m),
        ApiError::LimitExceeded(m) => limit_exceeded(m),
        // IAM's and STS's throttling error (the query protocol's `Throttling`, HTTP 400).
        ApiError::Throttling(_) => {
            query_error("Throttling", "ThrottlingException", 400, "Rate exceeded")
        }
        ApiError::NotFound(m) => no_such_entity(m),
        ApiError::AlreadyExists(m) => entity_already_exists(m),
        other => query_error(
            "ServiceFailure",
            "ServiceFailureException",
            500,
            other.to_string(),
        ),
    }
}

fn missing(member: &str) -> ApiError {
    validation_error(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}

fn constraint(member: &str, value: &str, constraint: &str) -> ApiError {
    validation_error(format!(
        "1 validation error detected: Value '{}' at '{member}' failed to satisfy constraint: {constraint}",
        super::limits::echo(value)
    ))
}

/// `[\w+=,.@-]`: the characters of IAM user, role and policy names and session names.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// A user or role name (1–64), a policy name (1–128), a session name (2–64).
fn name<'a>(
    params: &'a Params,
    param: &str,
    member: &str,
    min: usize,
    max: usize,
) -> Result<&'a str, ApiError> {
    let value = params.get(param).ok_or_else(|| missing(member))?;
    constrained(value, member, (min, max), is_name_char, "[\\w+=,.@-]+")
}

/// `value` if it has `min..=max` characters, each `allowed` (IAM's and STS's constraint
/// messages, naming `pattern`).
fn constrained<'a>(
    value: &'a str,
    member: &str,
    (min, max): (usize, usize),
    allowed: fn(char) -> bool,
    pattern: &str,
) -> Result<&'a str, ApiError> {
    let len = value.chars().count();
    if len < min {
        return Err(constraint(
            member,
            value,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if len > max {
        return Err(constraint(
            member,
            value,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    if !value.chars().all(allowed) {
        return Err(constraint(
            member,
            value,
            &format!("Member must satisfy regular expression pattern: {pattern}"),
        ));
    }
    Ok(value)
}

fn user_name(params: &Params) -> Result<&str, ApiError> {
    name(params, "UserName", "userName", 1, 64)
}

fn role_name(params: &Params) -> Result<&str, ApiError> {
    name(params, "RoleName", "roleName", 1, 64)
}

fn policy_name(params: &Params) -> Result<&str, ApiError> {
    name(params, "PolicyName", "policyName", 1, 128)
}

/// `/` or `/…/` of printable ASCII, at most 512 characters.
fn path(params: &Params) -> Result<String, ApiError> {
    let Some(path) = params.get("Path") else {
        return Ok("/".into());
    };
    let printable = path.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c));
    if path.len() > 512 || !printable || !path.starts_with('/') || !path.ends_with('/') {
        return Err(constraint(
            "path",
            path,
            "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
        ));
    }
    Ok(path.into())
}

/// A policy document, parsed against the grammar of `kind`.
fn policy_document<'a>(
    params: &'a Params,
    param: &str,
    member: &str,
    kind: PolicyKind,
) -> Result<&'a str, ApiError> {
    let document = params.get(param).ok_or_else(|| missing(member))?;
    if document.is_empty() || document.len() > 131_072 {
        return Err(constraint(
            member,
            "",
            "Member must have length between 1 and 131072",
        ));
    }
    Policy::parse(document, kind).map_err(|e| malformed_policy_document(e.0))?;
    Ok(document)
}

/// IAM counts a principal's inline policy size without whitespace.
fn policy_size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

const MAX_USER_INLINE_POLICY_SIZE: usize = 2048;
const MAX_ROLE_INLINE_POLICY_SIZE: usize = 10_240;
const MAX_ACCESS_KEYS_PER_USER: usize = 2;
const DEFAULT_MAX_SESSION_DURATION: u32 = 3600;
const MIN_SESSION_DURATION: u32 = 900;
const MAX_ROLE_SESSION_DURATION: u32 = 43_200;
/// A session assuming another role (role chaining) gets at most an hour.
const MAX_CHAINED_SESSION_DURATION: u32 = 3600;

// ---------------------------------------------------------------------------------------------
// XML
// ---------------------------------------------------------------------------------------------

/// Text and attribute content, escaped.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `<name>escaped text</name>`.
fn element(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "<{name}>{}</{name}>", xml_escape(text));
}

/// Policy documents in IAM's responses are URL-encoded (RFC 3986).
fn url_encoded(document: &str) -> String {
    percent_encoding::utf8_percent_encode(document, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2D", "-")
        .replace("%2E", ".")
        .replace("%5F", "_")
        .replace("%7E", "~")
}

fn user_xml(out: &mut String, tag: &str, user: &User) {
    let _ = write!(out, "<{tag}>");
    element(out, "Path", &user.path);
    element(out, "UserName", &user.user_name);
    element(out, "UserId", &user.user_id);
    element(out, "Arn", &user.arn);
    element(out, "CreateDate", &event_time(user.create_date));
    let _ = write!(out, "</{tag}>");
}

fn user_json(user: &User) -> Value {
    json!({
        "path": user.path, "userName": user.user_name, "userId": user.user_id,
        "arn": user.arn, "createDate": event_time(user.create_date),
    })
}

fn role_xml(out: &mut String, role: &RoleCreated) {
    out.push_str("<Role>");
    element(out, "Path", &role.path);
    element(out, "RoleName", &role.role_name);
    element(out, "RoleId", &role.role_id);
    element(out, "Arn", &role.arn);
    element(out, "CreateDate", &event_time(role.create_date));
    element(
        out,
        "AssumeRolePolicyDocument",
        &url_encoded(&role.assume_role_policy_document),
    );
    if !role.description.is_empty() {
        element(out, "Description", &role.description);
    }
    element(
        out,
        "MaxSessionDuration",
        &role.max_session_duration.to_string(),
    );
    out.push_str("</Role>");
}

fn role_json(role: &RoleCreated) -> Value {
    json!({
        "path": role.path, "roleName": role.role_name, "roleId": role.role_id, "arn": role.arn,
        "createDate": event_time(role.create_date),
        "assumeRolePolicyDocument": url_encoded(&role.assume_role_policy_document),
        "maxSessionDuration": role.max_session_duration,
    })
}

/// `AssumeRole`'s `ExternalId`, if given: 2 to 1,224 of `[\w+=,.@:/-]` (STS's constraint), the
/// trust policy's `sts:ExternalId`.
fn external_id(params: &Params) -> Result<Option<&str>, ApiError> {
    params
        .get("ExternalId")
        .map(|value| {
            constrained(
                value,
                "externalId",
                (2, 1224),
                |c| is_name_char(c) || c == ':' || c == '/',
                "[\\w+=,.@:\\/-]*",
            )
        })
        .transpose()
}

fn names_xml(out: &mut String, names: impl Iterator<Item = String>) {
    out.push_str("<PolicyNames>");
    for name in names {
        element(out, "member", &name);
    }
    out.push_str("</PolicyNames><IsTruncated>false</IsTruncated>");
}

/// A success with a `<…Result>` element holding `inner`.
fn result(inner: String) -> Result<Value, ApiError> {
    Ok(Value::String(inner))
}

/// A success without a `<…Result>` element.
fn no_result() -> Result<Value, ApiError> {
    Ok(Value::Null)
}

// ---------------------------------------------------------------------------------------------
// Handling
// ---------------------------------------------------------------------------------------------

/// What an access key request is about: a user, or the account's root user.
enum KeyOwner {
    Root,
    User(User),
}

impl KeyOwner {
    /// The name access key events record (empty: the root user).
    fn name(&self) -> &str {
        match self {
            KeyOwner::Root => "",
            KeyOwner::User(u) => &u.user_name,
        }
    }
}

impl Service {
    /// Handle one IAM or STS call and record it, as [`Service::handle_with_receipt`] does a
    /// KMS call: the answer leaves only once its events are durable; an optimistic
    /// concurrency conflict decides again. A successful answer is the inner XML of the
    /// action's `<…Result>` element (a string), or null when the action has none.
    pub async fn handle_query(
        &self,
        ctx: &RequestContext,
        caller: Result<&Caller, ApiError>,
        api: QueryApi,
        params: &Params,
    ) -> Handled {
        let action = params.action();
        // Failed authentication is bounded per source here too (`quotas`).
        let caller = match self.unauthenticated_gate(ctx, caller) {
            Ok(caller) => caller,
            Err(unrecorded) => {
                return Handled {
                    result: unrecorded.result.map_err(|e| to_query_error(api, e)),
                    receipt: None,
                }
            }
        };
        for _ in 0..=super::MAX_CONFLICT_RETRIES {
            let now = self.clock.now();
            let mut record = CallRecord {
                event_source: Some(api.event_source()),
                read_only: action.starts_with("Get") || action.starts_with("List"),
                request_parameters: params.trail_parameters(),
                response_elements: Value::Null,
                ..CallRecord::default()
            };
            let result = match &caller {
                Ok(caller) => self.execute_query(caller, ctx, api, params, now, &mut record),
                Err(e) => Err(e.clone()),
            };
            if matches!(result, Err(ApiError::Conflict(_))) {
                continue;
            }
            let mut result = result.map_err(|e| to_query_error(api, e));
            let batch = self.audit_batch(
                ctx,
                caller.as_ref().ok().copied(),
                action,
                now,
                record,
                &mut result,
            );
            if let Some(handled) = self.append_call(ctx, batch, result).await {
                return Handled {
                    result: handled.result.map_err(|e| to_query_error(api, e)),
                    receipt: handled.receipt,
                };
            }
        }
        let error = query_error(
            "ServiceFailure",
            "ServiceFailureException",
            500,
            "The request conflicted with concurrent changes too often; retry it.",
        );
        let mut failed = Err(error.clone());
        let batch = self.audit_batch(
            ctx,
            caller.as_ref().ok().copied(),
            action,
            self.clock.now(),
            CallRecord {
                event_source: Some(api.event_source()),
                ..CallRecord::default()
            },
            &mut failed,
        );
        let handled = self
            .append_call(ctx, batch, failed)
            .await
            .unwrap_or_else(|| self.unavailable_handled());
        Handled {
            result: handled.result.map_err(|e| to_query_error(api, e)),
            receipt: handled.receipt,
        }
    }

    fn execute_query(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        api: QueryApi,
        params: &Params,
        now: OffsetDateTime,
        record: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let action = params.action();
        if action.is_empty() {
            return Err(query_error(
                "MissingAction",
                "MissingActionException",
                400,
                "Missing Action",
            ));
        }
        if !api.actions().contains(&action) {
            return Err(query_error(
                "InvalidAction",
                "InvalidActionException",
                400,
                format!(
                    "Could not find operation {} for version {}",
                    super::trail::event_name(action),
                    params.get("Version").unwrap_or_default()
                ),
            ));
        }
        let account = &caller.account;
        match action {
            "GetCallerIdentity" => self.get_caller_identity(caller),
            "AssumeRole" => self.assume_role(caller, ctx, params, now, record),
            "CreateUser" => {
                let name = user_name(params)?;
                let path = path(params)?;
                let arn = format!("arn:aws:iam::{account}:user{path}{name}");
                self.authorize_iam(caller, ctx, action, &arn)?;
                let version = self.projections.credentials.account_version(account);
                if self.projections.credentials.user(account, name).is_some() {
                    return Err(entity_already_exists(format!(
                        "User with name {name} already exists."
                    )));
                }
                let user = UserCreated {
                    account_id: account.clone(),
                    user_name: name.into(),
                    user_id: random_iam_id("AIDA", 17),
                    arn,
                    path,
                    create_date: now,
                };
                let shown = User {
                    account_id: account.clone(),
                    user_name: user.user_name.clone(),
                    user_id: user.user_id.clone(),
                    arn: user.arn.clone(),
                    path: user.path.clone(),
                    create_date: now,
                    policies: BTreeMap::new(),
                };
                record
                    .lifecycle
                    .push((DomainEvent::UserCreated(user), version + 1));
                record.response_elements = json!({ "user": user_json(&shown) });
                let mut out = String::new();
                user_xml(&mut out, "User", &shown);
                result(out)
            }
            "GetUser" => {
                let owner = self.key_owner(caller, ctx, params, action)?;
                let mut out = String::new();
                match owner {
                    KeyOwner::User(user) => user_xml(&mut out, "User", &user),
                    KeyOwner::Root => {
                        out.push_str("<User>");
                        element(&mut out, "UserId", account.as_str());
                        element(&mut out, "Arn", &root_arn(account));
                        out.push_str("</User>");
                    }
                }
                result(out)
            }
            "ListUsers" => self.list_users(caller, ctx, params),
            "DeleteUser" => {
                let user = self.existing_user(caller, ctx, params, action)?;
                let version = self.projections.credentials.account_version(account);
                if !self
                    .projections
                    .credentials
                    .access_keys_of(account, &user.user_name)
                    .is_empty()
                {
                    return Err(delete_conflict(
                        "Cannot delete entity, must delete access keys first.",
                    ));
                }
                if !user.policies.is_empty() {
                    return Err(delete_conflict(
                        "Cannot delete entity, must delete policies first.",
                    ));
                }
                record.lifecycle.push((
                    DomainEvent::UserDeleted(UserDeleted {
                        account_id: account.clone(),
                        user_name: user.user_name,
                    }),
                    version + 1,
                ));
                no_result()
            }
            "CreateAccessKey" => {
                let owner = self.key_owner(caller, ctx, params, action)?;
                let version = self.projections.credentials.account_version(account);
                let keys = self
                    .projections
                    .credentials
                    .access_keys_of(account, owner.name());
                if keys.len() >= MAX_ACCESS_KEYS_PER_USER {
                    return Err(limit_exceeded(format!(
                        "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS_PER_USER}"
                    )));
                }
                let (event, secret) = self.new_access_key(account, &owner);
                let DomainEvent::AccessKeyCreated(created) = &event else {
                    unreachable!("new_access_key makes an AccessKeyCreated")
                };
                let mut out = String::from("<AccessKey>");
                if let KeyOwner::User(u) = &owner {
                    element(&mut out, "UserName", &u.user_name);
                }
                element(&mut out, "AccessKeyId", &created.access_key_id);
                element(&mut out, "Status", "Active");
                // The secret is shown here, once; the ledger holds it sealed only.
                element(&mut out, "SecretAccessKey", &secret);
                element(&mut out, "CreateDate", &event_time(now));
                out.push_str("</AccessKey>");
                record.response_elements = json!({ "accessKey": {
                    "userName": owner.name(), "accessKeyId": created.access_key_id,
                    "status": "Active", "createDate": event_time(now),
                }});
                record.lifecycle.push((event, version + 1));
                result(out)
            }
            "ListAccessKeys" => {
                let owner = self.key_owner(caller, ctx, params, action)?;
                let mut out = String::from("<AccessKeyMetadata>");
                for key in self
                    .projections
                    .credentials
                    .access_keys_of(account, owner.name())
                {
                    out.push_str("<member>");
                    if let KeyOwner::User(u) = &owner {
                        element(&mut out, "UserName", &u.user_name);
                    }
                    element(&mut out, "AccessKeyId", &key.created.access_key_id);
                    element(
                        &mut out,
                        "Status",
                        if key.active { "Active" } else { "Inactive" },
                    );
                    element(&mut out, "CreateDate", &event_time(key.create_date));
                    out.push_str("</member>");
                }
                out.push_str("</AccessKeyMetadata><IsTruncated>false</IsTruncated>");
                result(out)
            }
            "UpdateAccessKey" | "DeleteAccessKey" => {
                let owner = self.key_owner(caller, ctx, params, action)?;
                let version = self.projections.credentials.account_version(account);
                let id = params
                    .get("AccessKeyId")
                    .ok_or_else(|| missing("accessKeyId"))?;
                let key = self
                    .projections
                    .credentials
                    .access_key_state(id)
                    .filter(|k| {
                        &k.created.account_id == account
                            && k.created.user_name.eq_ignore_ascii_case(owner.name())
                    })
                    .ok_or_else(|| {
                        no_such_entity(format!("The Access Key with id {id} cannot be found"))
                    })?;
                let access_key_id = key.created.access_key_id.clone();
                let event = if action == "DeleteAccessKey" {
                    DomainEvent::AccessKeyDeleted(AccessKeyDeleted {
                        account_id: account.clone(),
                        access_key_id,
                    })
                } else {
                    match params.get("Status") {
                        Some("Active") if key.active => return no_result(),
                        Some("Inactive") if !key.active => return no_result(),
                        Some("Active") => DomainEvent::AccessKeyActivated(AccessKeyActivated {
                            account_id: account.clone(),
                            access_key_id,
                        }),
                        Some("Inactive") => {
                            DomainEvent::AccessKeyDeactivated(AccessKeyDeactivated {
                                account_id: account.clone(),
                                access_key_id,
                            })
                        }
                        Some(other) => {
                            return Err(constraint(
                                "status",
                                other,
                                "Member must satisfy enum value set: [Active, Inactive]",
                            ))
                        }
                        None => return Err(missing("status")),
                    }
                };
                record.lifecycle.push((event, version + 1));
                no_result()
            }
            "PutUserPolicy" => {
                let user = self.existing_user(caller, ctx, params, action)?;
                let version = self.projections.credentials.account_version(account);
                let policy = policy_name(params)?;
                let document = policy_document(
                    params,
                    "PolicyDocument",
                    "policyDocument",
                    PolicyKind::Identity,
                )?;
                check_inline_size(&user.policies, policy, document, MAX_USER_INLINE_POLICY_SIZE)
                    .map_err(|()| {
                        limit_exceeded(format!(
                            "Maximum policy size of {MAX_USER_INLINE_POLICY_SIZE} bytes exceeded for user {}",
                            user.user_name
                        ))
                    })?;
                record.lifecycle.push((
                    DomainEvent::UserPolicyPut(UserPolicyPut {
                        account_id: account.clone(),
                        user_name: user.user_name,
                        policy_name: policy.into(),
                        policy_document: document.into(),
                    }),
                    version + 1,
                ));
                no_result()
            }
            "GetUserPolicy" => {
                let user = self.existing_user(caller, ctx, params, action)?;
                let policy = policy_name(params)?;
                let inline = user.policies.get(policy).ok_or_else(|| {
                    no_such_entity(format!(
                        "The user policy with name {policy} cannot be found."
                    ))
                })?;
                let mut out = String::new();
                element(&mut out, "UserName", &user.user_name);
                element(&mut out, "PolicyName", policy);
                element(&mut out, "PolicyDocument", &url_encoded(&inline.document));
                result(out)
            }
            "DeleteUserPolicy" => {
                let user = self.existing_user(caller, ctx, params, action)?;
                let version = self.projections.credentials.account_version(account);
                let policy = policy_name(params)?;
                if !user.policies.contains_key(policy) {
                    return Err(no_such_entity(format!(
                        "The user policy with name {policy} cannot be found."
                    )));
                }
                record.lifecycle.push((
                    DomainEvent::UserPolicyDeleted(UserPolicyDeleted {
                        account_id: account.clone(),
                        user_name: user.user_name,
                        policy_name: policy.into(),
                    }),
                    version + 1,
                ));
                no_result()
            }
            "ListUserPolicies" => {
                let user = self.existing_user(caller, ctx, params, action)?;
                let mut out = String::new();
                names_xml(&mut out, user.policies.into_keys());
                result(out)
            }
            "CreateRole" => {
                let name = role_name(params)?;
                let path = path(params)?;
                let arn = format!("arn:aws:iam::{account}:role{path}{name}");
                self.authorize_iam(caller, ctx, action, &arn)?;
                let version = self.projections.credentials.account_version(account);
                let trust = policy_document(
                    params,
                    "AssumeRolePolicyDocument",
                    "assumeRolePolicyDocument",
                    PolicyKind::Trust,
                )?;
                let max_session_duration = match params.get("MaxSessionDuration") {
                    None => DEFAULT_MAX_SESSION_DURATION,
                    Some(text) => text
                        .parse::<u32>()
                        .ok()
                        .filter(|d| {
                            (DEFAULT_MAX_SESSION_DURATION..=MAX_ROLE_SESSION_DURATION).contains(d)
                        })
                        .ok_or_else(|| {
                            constraint(
                                "maxSessionDuration",
                                text,
                                "Member must have value between 3600 and 43200",
                            )
                        })?,
                };
                let description = params.get("Description").unwrap_or_default();
                if description.chars().count() > 1000 {
                    return Err(constraint(
                        "description",
                        description,
                        "Member must have length less than or equal to 1000",
                    ));
                }
                if self.projections.credentials.role(account, name).is_some() {
                    return Err(entity_already_exists(format!(
                        "Role with name {name} already exists."
                    )));
                }
                let role = RoleCreated {
                    account_id: account.clone(),
                    role_name: name.into(),
                    role_id: random_iam_id("AROA", 17),
                    arn,
                    path,
                    create_date: now,
                    assume_role_policy_document: trust.into(),
                    description: description.into(),
                    max_session_duration,
                };
                let mut out = String::new();
                role_xml(&mut out, &role);
                record.response_elements = json!({ "role": role_json(&role) });
                record
                    .lifecycle
                    .push((DomainEvent::RoleCreated(role), version + 1));
                result(out)
            }
            "GetRole" => {
                let role = self.existing_role(caller, ctx, params, action)?;
                let mut out = String::new();
                role_xml(&mut out, &role.created);
                result(out)
            }
            "DeleteRole" => {
                let role = self.existing_role(caller, ctx, params, action)?;
                let version = self.projections.credentials.account_version(account);
                if !role.policies.is_empty() {
                    return Err(delete_conflict(
                        "Cannot delete entity, must delete policies first.",
                    ));
                }
                record.lifecycle.push((
                    DomainEvent::RoleDeleted(RoleDeleted {
                        account_id: account.clone(),
                        role_name: role.created.role_name,
                    }),
                    version + 1,
                ));
                no_result()
            }
            "PutRolePolicy" => {
                let role = self.existing_role(caller, ctx, params, action)?;
                let version = self.projections.credentials.account_version(account);
                let policy = policy_name(params)?;
                let document = policy_document(
                    params,
                    "PolicyDocument",
                    "policyDocument",
                    PolicyKind::Identity,
                )?;
                check_inline_size(&role.policies, policy, document, MAX_ROLE_INLINE_POLICY_SIZE)
                    .map_err(|()| {
                        limit_exceeded(format!(
                            "Maximum policy size of {MAX_ROLE_INLINE_POLICY_SIZE} bytes exceeded for role {}",
                            role.created.role_name
                        ))
                    })?;
                record.lifecycle.push((
                    DomainEvent::RolePolicyPut(RolePolicyPut {
                        account_id: account.clone(),
                        role_name: role.created.role_name,
                        policy_name: policy.into(),
                        policy_document: document.into(),
                    }),
                    version + 1,
                ));
                no_result()
            }
            "GetRolePolicy" => {
                let role = self.existing_role(caller, ctx, params, action)?;
                let policy = policy_name(params)?;
                let inline = role.policies.get(policy).ok_or_else(|| {
                    no_such_entity(format!(
                        "The role policy with name {policy} cannot be found."
                    ))
                })?;
                let mut out = String::new();
                element(&mut out, "RoleName", &role.created.role_name);
                element(&mut out, "PolicyName", policy);
                element(&mut out, "PolicyDocument", &url_encoded(&inline.document));
                result(out)
            }
            "DeleteRolePolicy" => {
                let role = self.existing_role(caller, ctx, params, action)?;
                let version = self.projections.credentials.account_version(account);
                let policy = policy_name(params)?;
                if !role.policies.contains_key(policy) {
                    return Err(no_such_entity(format!(
                        "The role policy with name {policy} cannot be found."
                    )));
                }
                record.lifecycle.push((
                    DomainEvent::RolePolicyDeleted(RolePolicyDeleted {
                        account_id: account.clone(),
                        role_name: role.created.role_name,
                        policy_name: policy.into(),
                    }),
                    version + 1,
                ));
                no_result()
            }
            "ListRolePolicies" => {
                let role = self.existing_role(caller, ctx, params, action)?;
                let mut out = String::new();
                names_xml(&mut out, role.policies.into_keys());
                result(out)
            }
            _ => unreachable!("every listed action is handled above"),
        }
    }

    /// IAM calls: the account's root user may do anything in its account; users and role
    /// sessions need an identity policy allowing `iam:<Action>` on the resource.
    fn authorize_iam(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        action: &str,
        resource: &str,
    ) -> Result<(), ApiError> {
        if caller.kind == CallerKind::Root {
            return Ok(());
        }
        let action = format!("iam:{action}");
        let policies = self.projections.credentials.identity_policies(caller);
        let principal = caller.principal();
        let mut context = Context::new();
        self.global_conditions(caller, ctx, &mut context);
        authorize(&Authorization {
            principal: &principal,
            action: &action,
            resource,
            resource_policy: None,
            identity_policies: &policies,
            grants: crate::domain::authz::NO_GRANTS,
            encryption_context: None,
            context: &context,
        })
        .map(drop)
        .map_err(|denial| access_denied(denial.message(&caller.principal_arn, &action, resource)))
    }

    /// The user a request names (`UserName`), authorized; it must exist.
    fn existing_user(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        params: &Params,
        action: &str,
    ) -> Result<User, ApiError> {
        let name = user_name(params)?;
        let user = self.projections.credentials.user(&caller.account, name);
        let arn = user.as_ref().map_or_else(
            || format!("arn:aws:iam::{}:user/{name}", caller.account),
            |u| u.arn.clone(),
        );
        self.authorize_iam(caller, ctx, action, &arn)?;
        user.ok_or_else(|| no_such_entity(format!("The user with name {name} cannot be found.")))
    }

    /// The role a request names (`RoleName`), authorized; it must exist.
    fn existing_role(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        params: &Params,
        action: &str,
    ) -> Result<Role, ApiError> {
        let name = role_name(params)?;
        let role = self.projections.credentials.role(&caller.account, name);
        let arn = role.as_ref().map_or_else(
            || format!("arn:aws:iam::{}:role/{name}", caller.account),
            |r| r.created.arn.clone(),
        );
        self.authorize_iam(caller, ctx, action, &arn)?;
        role.ok_or_else(|| no_such_entity(format!("The role with name {name} cannot be found.")))
    }

    /// Whose access keys (or user record) a request is about: `UserName`, or the caller
    /// itself when it names none (a user; the root user; not a role session).
    fn key_owner(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        params: &Params,
        action: &str,
    ) -> Result<KeyOwner, ApiError> {
        if params.get("UserName").is_some() {
            return self
                .existing_user(caller, ctx, params, action)
                .map(KeyOwner::User);
        }
        match &caller.kind {
            CallerKind::Root => Ok(KeyOwner::Root),
            CallerKind::User => {
                let user = self
                    .projections
                    .credentials
                    .user(&caller.account, &caller.user_name);
                self.authorize_iam(caller, ctx, action, &caller.principal_arn)?;
                user.map(KeyOwner::User).ok_or_else(|| {
                    no_such_entity(format!(
                        "The user with name {} cannot be found.",
                        caller.user_name
                    ))
                })
            }
            CallerKind::AssumedRole { .. } => Err(validation_error(
                "Must specify userName when calling with non-User credentials",
            )),
        }
    }

    fn list_users(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        params: &Params,
    ) -> Result<Value, ApiError> {
        self.authorize_iam(caller, ctx, "ListUsers", "*")?;
        let prefix = params.get("PathPrefix").unwrap_or("/");
        let max_items = match params.get("MaxItems") {
            None => 100,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    constraint(
                        "maxItems",
                        text,
                        "Member must have value between 1 and 1000",
                    )
                })?,
        };
        let marker = params.get("Marker");
        let users: Vec<User> = self
            .projections
            .credentials
            .users(&caller.account)
            .into_iter()
            .filter(|u| u.path.starts_with(prefix))
            .filter(|u| marker.is_none_or(|m| u.user_name.to_lowercase().as_str() > m))
            .collect();
        let truncated = users.len() > max_items;
        let mut out = String::from("<Users>");
        for user in users.iter().take(max_items) {
            user_xml(&mut out, "member", user);
        }
        out.push_str("</Users>");
        element(
            &mut out,
            "IsTruncated",
            if truncated { "true" } else { "false" },
        );
        if truncated {
            if let Some(last) = users.get(max_items - 1) {
                element(&mut out, "Marker", &last.user_name.to_lowercase());
            }
        }
        result(out)
    }

    /// A new long-term access key for `owner`, its secret sealed under the root key.
    fn new_access_key(
        &self,
        account: &AccountId,
        owner: &KeyOwner,
    ) -> (DomainEvent, Zeroizing<String>) {
        let access_key_id = random_iam_id("AKIA", 16);
        let secret = random_secret();
        let sealed = self.keyring.root().wrap(
            LABEL_ACCESS_KEY_SECRET,
            access_key_id.as_bytes(),
            secret.as_bytes(),
        );
        let principal_arn = match owner {
            KeyOwner::Root => root_arn(account),
            KeyOwner::User(u) => u.arn.clone(),
        };
        let event = DomainEvent::AccessKeyCreated(AccessKeyCreated {
            access_key_id,
            account_id: account.clone(),
            principal_arn,
            user_name: owner.name().into(),
            sealed_secret: Sealed(sealed),
        });
        (event, secret)
    }

    /// The caller's unique id, as `GetCallerIdentity` and `aws:userid` give it: the account
    /// id for the root user, `AIDA…` for a user, `AROA…:<session>` for a role session.
    pub(crate) fn user_id(&self, caller: &Caller) -> String {
        match &caller.kind {
            CallerKind::Root => caller.account.to_string(),
            CallerKind::AssumedRole {
                role_name,
                session_name,
                ..
            } => self
                .projections
                .credentials
                .principal_id(caller)
                .unwrap_or_else(|| format!("{role_name}:{session_name}")),
            CallerKind::User => self
                .projections
                .credentials
                .principal_id(caller)
                .unwrap_or_else(|| caller.access_key_id.clone()),
        }
    }

    fn get_caller_identity(&self, caller: &Caller) -> Result<Value, ApiError> {
        let user_id = self.user_id(caller);
        let mut out = String::new();
        element(&mut out, "Arn", &caller.principal_arn);
        element(&mut out, "UserId", &user_id);
        element(&mut out, "Account", caller.account.as_str());
        result(out)
    }

    /// STS AssumeRole: the role's trust policy is the resource policy of `sts:AssumeRole`;
    /// the session's credentials live in its (sealed) token, nothing is stored.
    fn assume_role(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        params: &Params,
        now: OffsetDateTime,
        record: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let role_arn = params.get("RoleArn").ok_or_else(|| missing("roleArn"))?;
        if role_arn.len() < 20 || role_arn.len() > 2048 {
            return Err(constraint(
                "roleArn",
                role_arn,
                "Member must have length between 20 and 2048",
            ));
        }
        let session_name = name(params, "RoleSessionName", "roleSessionName", 2, 64)?;
        let external_id = external_id(params)?;
        let action = "sts:AssumeRole";
        let denied = || {
            access_denied(format!(
                "User: {} is not authorized to perform: {action} on resource: {role_arn}",
                caller.principal_arn
            ))
        };
        if caller.kind == CallerKind::Root {
            return Err(access_denied("Roles may not be assumed by root accounts."));
        }
        // arn:aws:iam::<account>:role/<path><name>
        let role = parse_role_arn(role_arn)
            .and_then(|(account, name)| self.projections.credentials.role(&account, name))
            .filter(|r| r.created.arn == role_arn)
            .ok_or_else(denied)?;
        let trust = role.trust.clone().ok_or_else(denied)?;
        let policies = self.projections.credentials.identity_policies(caller);
        let principal = caller.principal();
        let mut context = Context::new();
        self.global_conditions(caller, ctx, &mut context);
        context.set_one("sts:RoleSessionName", session_name);
        if let Some(id) = external_id {
            context.set_one("sts:ExternalId", id);
        }
        authorize(&Authorization {
            principal: &principal,
            action,
            resource: role_arn,
            resource_policy: Some((&trust, role.created.account_id.as_str())),
            identity_policies: &policies,
            grants: crate::domain::authz::NO_GRANTS,
            encryption_context: None,
            context: &context,
        })
        .map_err(|denial| access_denied(denial.message(&caller.principal_arn, action, role_arn)))?;

        let chained = matches!(caller.kind, CallerKind::AssumedRole { .. });
        let duration = match params.get("DurationSeconds") {
            None => DEFAULT_MAX_SESSION_DURATION,
            Some(text) => {
                let d = text
                    .parse::<u32>()
                    .map_err(|_| constraint("durationSeconds", text, "Member must be a number"))?;
                if d < MIN_SESSION_DURATION {
                    return Err(constraint(
                        "durationSeconds",
                        text,
                        "Member must have value greater than or equal to 900",
                    ));
                }
                if d > MAX_ROLE_SESSION_DURATION {
                    return Err(constraint(
                        "durationSeconds",
                        text,
                        "Member must have value less than or equal to 43200",
                    ));
                }
                d
            }
        };
        if chained && duration > MAX_CHAINED_SESSION_DURATION {
            return Err(validation_error(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
            ));
        }
        if duration > role.created.max_session_duration {
            return Err(validation_error(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        let expires = now + time::Duration::seconds(i64::from(duration));
        let claims = SessionClaims {
            access_key_id: random_iam_id(crate::http::auth::SESSION_KEY_PREFIX, 16),
            secret_access_key: random_secret().to_string(),
            account_id: role.created.account_id.to_string(),
            role_arn: role.created.arn.clone(),
            role_name: role.created.role_name.clone(),
            role_id: role.created.role_id.clone(),
            session_name: session_name.into(),
            issued_at: now.unix_timestamp(),
            expires_at: expires.unix_timestamp(),
        };
        let token = session_token::seal(self.keyring.root(), &claims);
        let assumed_role_id = format!("{}:{session_name}", role.created.role_id);
        let session_arn = format!(
            "arn:aws:sts::{}:assumed-role/{}/{session_name}",
            role.created.account_id, role.created.role_name
        );
        let expiration = event_time(expires);
        // The trail says which session was issued, never its secret or token.
        record.response_elements = json!({
            "credentials": { "accessKeyId": claims.access_key_id, "expiration": expiration },
            "assumedRoleUser": { "assumedRoleId": assumed_role_id, "arn": session_arn },
        });
        let mut out = String::from("<Credentials>");
        element(&mut out, "AccessKeyId", &claims.access_key_id);
        element(&mut out, "SecretAccessKey", &claims.secret_access_key);
        element(&mut out, "SessionToken", &token);
        element(&mut out, "Expiration", &expiration);
        out.push_str("</Credentials><AssumedRoleUser>");
        element(&mut out, "AssumedRoleId", &assumed_role_id);
        element(&mut out, "Arn", &session_arn);
        out.push_str("</AssumedRoleUser>");
        result(out)
    }

    /// `keyledger admin create-account` against a running server (`POST /v1/accounts`): only
    /// the bootstrap account's root user or its `admin` may create accounts. Recorded as
    /// `CreateAccount`; the answer holds the new root user's credentials.
    pub async fn create_account(
        &self,
        ctx: &RequestContext,
        caller: Result<&Caller, ApiError>,
        requested: Option<&str>,
    ) -> Handled {
        for _ in 0..=super::MAX_CONFLICT_RETRIES {
            let now = self.clock.now();
            let mut record = CallRecord {
                event_source: Some(ORGANIZATIONS_EVENT_SOURCE),
                request_parameters: requested.map_or(Value::Null, |a| json!({ "accountId": a })),
                ..CallRecord::default()
            };
            let mut result = match &caller {
                Ok(caller) => self.decide_create_account(caller, requested, &mut record),
                Err(e) => Err(e.clone()),
            };
            let batch = self.audit_batch(
                ctx,
                caller.as_ref().ok().copied(),
                "CreateAccount",
                now,
                record,
                &mut result,
            );
            if let Some(handled) = self.append_call(ctx, batch, result).await {
                return handled;
            }
        }
        self.unavailable_handled()
    }

    fn decide_create_account(
        &self,
        caller: &Caller,
        requested: Option<&str>,
        record: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let bootstrap = self.projections.credentials.first_account();
        let allowed = bootstrap.as_ref() == Some(&caller.account)
            && (caller.kind == CallerKind::Root
                || (caller.kind == CallerKind::User
                    && caller.user_name == super::bootstrap::ADMIN_USER));
        if !allowed {
            return Err(ApiError::AccessDenied(format!(
                "User: {} is not authorized to perform: keyledger:CreateAccount",
                caller.principal_arn
            )));
        }
        let (events, access_key_id, secret, account) = self.new_account_events(requested)?;
        record.response_elements =
            json!({ "accountId": account.as_str(), "accessKeyId": access_key_id });
        record.lifecycle = events;
        Ok(json!({
            "access_key_id": access_key_id,
            "secret_access_key": secret.as_str(),
            "account_id": account.as_str(),
        }))
    }

    /// The events of a new account and its root user's access key (versions 1 and 2 of its
    /// stream), with that key's id and secret.
    #[allow(clippy::type_complexity)]
    fn new_account_events(
        &self,
        requested: Option<&str>,
    ) -> Result<
        (
            Vec<(DomainEvent, u64)>,
            String,
            Zeroizing<String>,
            AccountId,
        ),
        ApiError,
    > {
        let account = match requested {
            Some(text) => AccountId::parse(text).ok_or_else(|| {
                ApiError::Validation(format!(
                    "The account id {text:?} is not valid: it must be 12 digits."
                ))
            })?,
            None => super::bootstrap::random_account_id(),
        };
        if self.projections.credentials.account_version(&account) > 0 {
            return Err(ApiError::AlreadyExists(format!(
                "The account {account} already exists."
            )));
        }
        let (key, secret) = self.new_access_key(&account, &KeyOwner::Root);
        let DomainEvent::AccessKeyCreated(created) = &key else {
            unreachable!("new_access_key makes an AccessKeyCreated")
        };
        let access_key_id = created.access_key_id.clone();
        let events = vec![
            (
                DomainEvent::AccountCreated(AccountCreated {
                    account_id: account.clone(),
                    fips_mode: crate::crypto::mode::fips(),
                }),
                1,
            ),
            (key, 2),
        ];
        Ok((events, access_key_id, secret, account))
    }

    /// `keyledger admin create-account` on a data dir (the server stopped): the account and
    /// its root user's key, recorded with the service itself as the actor, like bootstrap.
    pub async fn create_account_offline(
        &self,
        requested: Option<&str>,
    ) -> Result<(AccountId, String, Zeroizing<String>), ApiError> {
        let (events, access_key_id, secret, account) = self.new_account_events(requested)?;
        let actor = Actor {
            principal_arn: Some("keyledger".into()),
            ..Actor::default()
        };
        let now = self.clock.now();
        let request_id = uuid::Uuid::new_v4().to_string();
        let batch = AppendBatch {
            events: events
                .iter()
                .map(|(event, version)| {
                    super::lifecycle_event(
                        &request_id,
                        "CreateAccount",
                        &actor,
                        now,
                        event,
                        *version,
                    )
                })
                .collect(),
            ..AppendBatch::default()
        };
        self.ledger
            .append(batch)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok((account, access_key_id, secret))
    }
}

/// CloudTrail's eventSource of `CreateAccount` (AWS Organizations names the operation so).
pub const ORGANIZATIONS_EVENT_SOURCE: &str = "organizations.amazonaws.com";

/// `(account, name)` of `arn:aws:iam::<account>:role/<path><name>`.
fn parse_role_arn(arn: &str) -> Option<(AccountId, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let path_and_name = resource.strip_prefix("role/")?;
    let name = path_and_name.rsplit('/').next()?;
    Some((AccountId::parse(account)?, name))
}

/// Whether putting `document` as `name` keeps the principal's inline policies within `max`.
fn check_inline_size(
    policies: &BTreeMap<String, InlinePolicy>,
    name: &str,
    document: &str,
    max: usize,
) -> Result<(), ()> {
    let others: usize = policies
        .iter()
        .filter(|(n, _)| n.as_str() != name)
        .map(|(_, p)| policy_size(&p.document))
        .sum();
    if others + policy_size(document) > max {
        Err(())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(
            xml_escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;"
        );
    }

    #[test]
    fn policy_documents_are_url_encoded_as_iam_does() {
        assert_eq!(
            url_encoded(r#"{"Version":"2012-10-17"}"#),
            "%7B%22Version%22%3A%222012-10-17%22%7D"
        );
    }

    #[test]
    fn trail_parameters_are_camel_cased_without_action_or_lists() {
        let p = Params::parse(
            b"Action=CreateUser&Version=2010-05-08&UserName=bob&Path=%2Fx%2F&Tags.member.1.Key=k",
        );
        assert_eq!(p.action(), "CreateUser");
        assert_eq!(
            p.trail_parameters(),
            json!({ "userName": "bob", "path": "/x/" })
        );
        let p = Params::parse(b"Action=AssumeRole&DurationSeconds=900");
        assert_eq!(p.trail_parameters(), json!({ "durationSeconds": 900 }));
    }

    #[test]
    fn names_follow_iams_pattern_and_lengths() {
        let p = Params::parse(b"UserName=bob%40x.com&RoleName=bad%2Fname&PolicyName=");
        assert_eq!(user_name(&p).unwrap(), "bob@x.com");
        assert!(matches!(
            role_name(&p),
            Err(ApiError::Query {
                code: "ValidationError",
                ..
            })
        ));
        assert!(matches!(
            policy_name(&p),
            Err(ApiError::Query {
                code: "ValidationError",
                ..
            })
        ));
        let missing = Params::parse(b"");
        let Err(ApiError::Query { message, .. }) = user_name(&missing) else {
            panic!("a missing name is refused")
        };
        assert!(message.contains("Value null at 'userName'"), "{message}");
    }

    #[test]
    fn role_arns_name_their_account_and_role() {
        let (account, name) = parse_role_arn("arn:aws:iam::111122223333:role/a/b/Admin").unwrap();
        assert_eq!(account.as_str(), "111122223333");
        assert_eq!(name, "Admin");
        assert!(parse_role_arn("arn:aws:iam::111122223333:user/Admin").is_none());
        assert!(parse_role_arn("arn:aws:iam::1:role/Admin").is_none());
    }

    #[test]
    fn errors_carry_iams_codes_and_statuses() {
        let e = to_query_error(QueryApi::Iam, ApiError::UnrecognizedClient("x".into()));
        assert!(matches!(
            e,
            ApiError::Query {
                code: "InvalidClientTokenId",
                status: 403,
                ..
            }
        ));
        let e = to_query_error(QueryApi::Sts, ApiError::ExpiredToken("x".into()));
        assert!(matches!(
            e,
            ApiError::Query {
                code: "ExpiredToken",
                status: 400,
                ..
            }
        ));
        assert_eq!(no_such_entity("x").code(), "NoSuchEntityException");
        assert_eq!(access_denied("x").code(), "AccessDenied");
    }

    #[test]
    fn inline_policy_size_ignores_whitespace_and_the_replaced_policy() {
        let mut policies = BTreeMap::new();
        policies.insert(
            "a".to_owned(),
            InlinePolicy {
                document: "x".repeat(2000),
                parsed: None,
            },
        );
        assert!(check_inline_size(&policies, "b", &"y".repeat(48), 2048).is_ok());
        assert!(check_inline_size(&policies, "b", &"y".repeat(49), 2048).is_err());
        assert!(check_inline_size(&policies, "a", &"y ".repeat(2048), 2048).is_ok());
    }
}
