//! IAM policy documents as KMS uses them: parsed once, when they are put, into
//! typed statements; evaluated on the request path without touching JSON.
//!
//! The grammar is IAM's (Version, Id, Statement; per statement Sid, Effect,
//! Principal/NotPrincipal, Action/NotAction, Resource/NotResource, Condition).
//! A statement's result is one of [`Effect`]; combining the documents of a
//! request (key policy, identity policies, grants) is [`super::authz`]'s.
//!
//! # Grammar, as [`Policy::parse`] enforces it
//!
//! - The document is at most 32,768 characters of JSON whose top level is an object with
//!   `Version` (`"2012-10-17"` or `"2008-10-17"`, optional), `Id` (optional string) and
//!   `Statement` (an object or a non-empty array of objects), nothing else. A member named
//!   twice anywhere is refused (serde_json would silently keep the last one, which could
//!   hide a `Deny`). Nesting deeper than serde_json's recursion limit (128) is refused.
//! - A statement has `Sid` (optional string), `Effect` (`"Allow"` or `"Deny"`), exactly one
//!   of `Action`/`NotAction`, `Resource`/`NotResource` (at most one; required in identity
//!   policies), `Condition` (optional) and, in key and trust policies, exactly one of
//!   `Principal`/`NotPrincipal` (identity policies must have neither).
//! - Actions are `*` or `service:name` (the service without wildcards, the name may use
//!   `*` and `?`), matched case-insensitively. A trust policy may only name `sts:` actions
//!   in `Action` (IAM: "AssumeRole policy may only specify STS AssumeRole actions").
//! - Resources are `*` or ARNs of six colon-separated parts; each part is matched on its
//!   own with `*`/`?` wildcards, case-sensitively (IAM's ARN matching). A key or trust
//!   policy statement without `Resource` applies to the resource it is attached to.
//! - Principals: `"*"`, or an object of `AWS` (`*`, a 12-digit account, the account's
//!   `arn:…:iam::<account>:root`, an IAM user or role ARN, or an STS
//!   `assumed-role/<role>/<session>` ARN; a string or an array) and `Service` (service
//!   names, kept but matching no caller: keyledger's callers are never AWS services).
//!   `Federated` and `CanonicalUser` principals are refused: keyledger has neither web
//!   identity federation nor S3 canonical users.
//! - `NotPrincipal` only with `"Effect": "Deny"` and only in key policies (the IAM User
//!   Guide: "Using it with Allow is not supported"; "you cannot use NotPrincipal … in an IAM
//!   role trust policy").
//! - Condition operators: the String, Numeric, Date, Bool, BinaryEquals, IpAddress and Arn
//!   families, each with `IfExists` and `ForAnyValue:`/`ForAllValues:`, and `Null` (with
//!   neither). An unknown operator, or a value that is not of the operator's type (a
//!   non-number for Numeric, a non-date for Date, a non-CIDR for IpAddress, non-base64 for
//!   BinaryEquals, a non-boolean for Bool and Null) is refused when the document is put.
//! - Policy variables (`${aws:username}`) are not supported: in a `2012-10-17` document, a
//!   resource or a String/Arn condition value containing `${` is refused (rather than
//!   silently never matching). Under `2008-10-17` (or no Version) IAM itself treats `${…}`
//!   literally, and so do we.
//! - Element names, operator names and `Effect` values are case-sensitive, as IAM writes
//!   them. Not checked: that `Sid`s are unique, that the principals named exist (there is
//!   no I/O here), which condition keys an action supports.
//!
//! # Evaluation, as [`Policy::evaluate`] does it
//!
//! A statement applies when its action, resource, principal and every condition match;
//! the document's result is the strongest applying statement: `Deny` > `Allow` >
//! `AllowAccount` > `NotApplicable`.
//!
//! - Principals (key and trust policies): `*` or a user, role or session ARN equal to the
//!   caller's gives `Allow`; the caller's account (`<account>` or its root ARN) gives
//!   `AllowAccount` — also for the root user itself, whom [`super::authz`] treats apart. In a
//!   `Deny` statement any match denies (an account denies every principal of the account).
//! - `NotPrincipal` (Deny only): AWS checks each identity in the caller's chain — the
//!   account, then the user or the role, then the role session — and the statement denies
//!   unless *every* one of them is listed. Excluding a user takes its ARN and its account's;
//!   excluding a role session takes the account, the role and the session ARN; listing only
//!   an account excludes only its root user. This is the strict reading of the User Guide
//!   ("you must also specify the account ARN of the not-denied principal … AWS verifies
//!   the account, the role, and then the assumed-role user"), chosen because it can only
//!   deny more.
//! - Conditions follow the IAM User Guide ("Condition operators", "Conditions with
//!   multiple context keys or values"): operators and keys are AND'ed; several values for
//!   one key are OR'ed, or NOR'ed for a negated operator. A key absent from the request
//!   makes a condition false, except for negated operators (true), `…IfExists` (true),
//!   `ForAllValues:` (true) and `ForAnyValue:` (false). Without a set operator a
//!   multivalued key matches when any of its values does (negated: when none does); with
//!   `ForAnyValue:` / `ForAllValues:` the operator (negation included) is applied to each
//!   request value and the results OR'ed / AND'ed. `Null: true` holds when the key is
//!   absent or has no values ("the key exists and its value is not null" is `false`).
//! - Condition key names compare case-insensitively (ASCII), as [`Context`] stores them:
//!   `kms:EncryptionContext:Dept` in a policy matches an encryption-context key `dept`,
//!   while the value is compared as the operator says (case-sensitively for
//!   `StringEquals`), as the KMS Developer Guide documents for
//!   `kms:EncryptionContext:context-key`.
//! - `ArnEquals` and `ArnLike` behave alike (the User Guide documents both as per-part
//!   wildcard matching), as do their negations. Dates are RFC 3339 / ISO 8601 (a date-time
//!   without an offset is UTC, a bare date is midnight UTC) or epoch seconds, compared as
//!   instants.
//! - Request values that do not parse as the operator's type (a non-number for a Numeric
//!   operator, …) match no policy value; a negated operator then holds.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;

/// The longest document accepted, in characters (KMS's key policy limit).
pub const MAX_POLICY_CHARS: usize = 32_768;

/// Where a document is attached: the grammar differs (a resource-based policy names its
/// principals, an identity policy must not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// A key policy (resource-based: `Principal`/`NotPrincipal` required).
    Key,
    /// A role's trust policy (resource-based, actions `sts:*`).
    Trust,
    /// A user's or role's inline policy (no `Principal`).
    Identity,
}

/// Why a document was refused: the message of `MalformedPolicyDocumentException`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

/// The result of one document (or statement) for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// A matching `Deny` statement: wins over every allow anywhere.
    Deny,
    /// A matching `Allow` statement that names the principal itself (its user, role or
    /// session ARN, or `*`), and no matching `Deny`.
    Allow,
    /// A matching `Allow` statement that names only the principal's account (`<account>` or
    /// `arn:aws:iam::<account>:root`), and no matching `Deny` or direct `Allow`: the key
    /// policy delegates to the account, whose identity policies must then allow it too.
    /// Identity policies never give this.
    AllowAccount,
    /// No statement matched.
    NotApplicable,
}

/// Who asks, as policies match principals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The caller's 12-digit account.
    pub account: String,
    /// The ARN policies name: `arn:aws:iam::<account>:root`, `…:user/<path><name>`, or for a
    /// role session the role's `arn:aws:iam::<account>:role/<path><name>`.
    pub arn: String,
    /// For a role session, `arn:aws:sts::<account>:assumed-role/<role>/<session>` (a
    /// `Principal` may name the session itself).
    pub session_arn: Option<String>,
    /// The account's root user: all identity permissions within its account.
    pub root: bool,
}

/// The condition keys of one request and their values. Key names compare
/// case-insensitively (`kms:EncryptionContext:Dept` and `KMS:encryptioncontext:dept` are one
/// key; ASCII case folding), values as the operator says. A key set with no values is
/// "present, empty"; a key never set is absent. `…IfExists` tells the two apart (an empty
/// key exists); `Null` does not (both are null, as IAM's `Null: false` means "exists and is
/// not empty"); `ForAllValues:` holds and `ForAnyValue:` fails on either.
///
/// A list, not a hash map: a request sets about twenty keys and a policy reads a few, so
/// hashing every key name on every request cost more than the scans it saves (callgrind).
#[derive(Clone, Debug, Default)]
pub struct Context {
    values: Vec<(String, Vec<String>)>,
}

impl Context {
    pub fn new() -> Context {
        Context::default()
    }

    /// Set `key` to `values` (replacing what was there).
    pub fn set(&mut self, key: &str, values: Vec<String>) {
        let key = key.to_ascii_lowercase();
        match self.values.iter_mut().find(|(k, _)| *k == key) {
            Some((_, old)) => *old = values,
            None => self.values.push((key, values)),
        }
    }

    /// Set a multivalued key the way AWS builds a request's context: with no values it is
    /// left out (absent, not present-and-empty), which `…IfExists` tells apart.
    pub fn set_values(&mut self, key: &str, values: Vec<String>) {
        if values.is_empty() {
            let key = key.to_ascii_lowercase();
            self.values.retain(|(k, _)| *k != key);
        } else {
            self.set(key, values);
        }
    }

    /// Set a single-valued key.
    pub fn set_one(&mut self, key: &str, value: impl Into<String>) {
        self.set(key, vec![value.into()]);
    }

    /// The values of `key`, if it is present.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.get_lowercase(&key.to_ascii_lowercase())
    }

    /// The values of a key already in lower case (no allocation on the request path).
    fn get_lowercase(&self, key: &str) -> Option<&[String]> {
        self.values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, values)| values.as_slice())
    }
}

/// One request as a policy sees it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    /// `kms:Encrypt`, `sts:AssumeRole`, `iam:CreateUser`, …
    pub action: &'a str,
    /// The resource ARN (the key's, the alias's, the role's), or `*` for actions without one.
    pub resource: &'a str,
    pub context: &'a Context,
}

/// A parsed policy document. Cheap to evaluate; keep it behind an `Arc` next to the
/// document it came from.
#[derive(Clone, Debug)]
pub struct Policy {
    kind: PolicyKind,
    version: Option<&'static str>,
    id: Option<String>,
    statements: Vec<Statement>,
}

impl Policy {
    /// Parse `document` against IAM's policy grammar for `kind`.
    pub fn parse(document: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        if document.len() > MAX_POLICY_CHARS && document.chars().count() > MAX_POLICY_CHARS {
            return Err(err(format!(
                "the policy document is longer than {MAX_POLICY_CHARS} characters"
            )));
        }
        let json: Json = serde_json::from_str(document)
            .map_err(|e| err(format!("the policy document is not valid JSON: {e}")))?;
        let Json::Object(members) = json else {
            return Err(err("the policy document must be a JSON object"));
        };
        let mut version = None;
        let mut id = None;
        let mut statement = None;
        for (name, value) in members {
            match name.as_str() {
                "Version" => {
                    version = Some(match value {
                        Json::String(v) if v == "2012-10-17" => "2012-10-17",
                        Json::String(v) if v == "2008-10-17" => "2008-10-17",
                        _ => return Err(err("Version must be \"2012-10-17\" or \"2008-10-17\"")),
                    })
                }
                "Id" => match value {
                    Json::String(v) => id = Some(v),
                    _ => return Err(err("Id must be a string")),
                },
                "Statement" => statement = Some(value),
                other => {
                    return Err(err(format!(
                        "the policy document has an unknown member {}",
                        short(other)
                    )))
                }
            }
        }
        let statements = match statement {
            None => return Err(err("the policy document has no Statement")),
            Some(Json::Object(members)) => vec![members],
            Some(Json::Array(items)) if items.is_empty() => {
                return Err(err("Statement must not be an empty array"))
            }
            Some(Json::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    Json::Object(members) => Ok(members),
                    _ => Err(err("each Statement must be a JSON object")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(err("Statement must be an object or an array of objects")),
        };
        let variables_refused = version == Some("2012-10-17");
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(index, members)| {
                Statement::parse(members, kind, variables_refused)
                    .map_err(|PolicyError(m)| err(format!("Statement {}: {m}", index + 1)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Policy {
            kind,
            version,
            id,
            statements,
        })
    }

    /// What this document says of `request`: an explicit deny, an allow, or nothing
    /// (precedence Deny > Allow > AllowAccount > NotApplicable over all statements).
    pub fn evaluate(&self, request: &Request<'_>) -> Effect {
        let mut best = Effect::NotApplicable;
        for statement in &self.statements {
            match statement.evaluate(request) {
                Effect::Deny => return Effect::Deny,
                Effect::Allow => best = Effect::Allow,
                Effect::AllowAccount if best == Effect::NotApplicable => {
                    best = Effect::AllowAccount
                }
                Effect::AllowAccount | Effect::NotApplicable => {}
            }
        }
        best
    }

    /// The kind the document was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The document's `Version`, if it named one.
    pub fn version(&self) -> Option<&str> {
        self.version
    }

    /// The document's `Id`, if it has one.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// How many statements the document has.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// The statements' `Sid`s, in order (`None` for a statement without one).
    pub fn statement_ids(&self) -> impl Iterator<Item = Option<&str>> + '_ {
        self.statements.iter().map(|s| s.sid.as_deref())
    }
}

fn err(message: impl Into<String>) -> PolicyError {
    PolicyError(message.into())
}

/// A caller's value, quoted and cut short for an error message.
fn short(value: &str) -> String {
    const MAX: usize = 40;
    match value.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}…", &value[..cut]),
        None => format!("{value:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// JSON with its members in order and duplicates visible.

/// A JSON value whose objects keep every member in order, so that a member named twice can
/// be refused instead of silently overriding the first.
#[derive(Debug)]
enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

impl<'de> serde::Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> serde::de::Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(v)
            .map(Json::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members: Vec<(String, Json)> = Vec::new();
        let mut seen = HashSet::new();
        while let Some((name, value)) = map.next_entry::<String, Json>()? {
            if !seen.insert(name.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "the member {} appears twice in one object",
                    short(&name)
                )));
            }
            members.push((name, value));
        }
        Ok(Json::Object(members))
    }
}

/// A string or an array of strings (Action, Resource, principal lists); never empty.
fn string_list(value: Json, element: &str) -> Result<Vec<String>, PolicyError> {
    match value {
        Json::String(s) => Ok(vec![s]),
        Json::Array(items) if items.is_empty() => {
            Err(err(format!("{element} must not be an empty array")))
        }
        Json::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Json::String(s) => Ok(s),
                other => Err(err(format!(
                    "{element} must hold strings, not {}",
                    other.type_name()
                ))),
            })
            .collect(),
        other => Err(err(format!(
            "{element} must be a string or an array of strings, not {}",
            other.type_name()
        ))),
    }
}

// ---------------------------------------------------------------------------------------
// Statements.

#[derive(Clone, Debug)]
struct Statement {
    sid: Option<String>,
    deny: bool,
    principal: PrincipalElement,
    action: Negatable<Glob>,
    /// `None`: no Resource element (key and trust policies), which matches every resource.
    resource: Option<Negatable<ArnPattern>>,
    conditions: Vec<Condition>,
}

/// A list from `X` (match when any item matches) or `NotX` (match when none does).
#[derive(Clone, Debug)]
struct Negatable<T> {
    negated: bool,
    items: Vec<T>,
}

#[derive(Clone, Debug)]
enum PrincipalElement {
    /// Identity policies: the principal is whoever the policy is attached to.
    Attached,
    Principal(PrincipalSet),
    NotPrincipal(PrincipalSet),
}

impl Statement {
    fn parse(
        members: Vec<(String, Json)>,
        kind: PolicyKind,
        variables_refused: bool,
    ) -> Result<Statement, PolicyError> {
        let mut sid = None;
        let mut effect = None;
        let mut principal = None;
        let mut not_principal = None;
        let mut action = None;
        let mut not_action = None;
        let mut resource = None;
        let mut not_resource = None;
        let mut condition = None;
        for (name, value) in members {
            match name.as_str() {
                "Sid" => match value {
                    Json::String(s) => sid = Some(s),
                    _ => return Err(err("Sid must be a string")),
                },
                "Effect" => effect = Some(value),
                "Principal" => principal = Some(value),
                "NotPrincipal" => not_principal = Some(value),
                "Action" => action = Some(value),
                "NotAction" => not_action = Some(value),
                "Resource" => resource = Some(value),
                "NotResource" => not_resource = Some(value),
                "Condition" => condition = Some(value),
                other => {
                    return Err(err(format!(
                        "a statement has an unknown element {}",
                        short(other)
                    )))
                }
            }
        }
        let deny = match effect {
            Some(Json::String(e)) if e == "Allow" => false,
            Some(Json::String(e)) if e == "Deny" => true,
            Some(_) => return Err(err("Effect must be \"Allow\" or \"Deny\"")),
            None => return Err(err("a statement needs an Effect")),
        };

        let principal = match (kind, principal, not_principal) {
            (PolicyKind::Identity, None, None) => PrincipalElement::Attached,
            (PolicyKind::Identity, _, _) => {
                return Err(err(
                    "an identity-based policy must not have a Principal or NotPrincipal",
                ))
            }
            (_, Some(_), Some(_)) => {
                return Err(err(
                    "a statement must not have both Principal and NotPrincipal",
                ))
            }
            (_, None, None) => {
                return Err(err(
                    "a statement of a resource-based policy needs a Principal",
                ))
            }
            (_, Some(p), None) => PrincipalElement::Principal(PrincipalSet::parse(p)?),
            (PolicyKind::Trust, None, Some(_)) => {
                return Err(err("a trust policy must not use NotPrincipal"))
            }
            (_, None, Some(p)) => {
                if !deny {
                    return Err(err(
                        "NotPrincipal can only be used with \"Effect\": \"Deny\"",
                    ));
                }
                PrincipalElement::NotPrincipal(PrincipalSet::parse(p)?)
            }
        };

        let action = match (action, not_action) {
            (Some(_), Some(_)) => {
                return Err(err("a statement must not have both Action and NotAction"))
            }
            (None, None) => return Err(err("a statement needs an Action or NotAction")),
            (Some(a), None) => Negatable {
                negated: false,
                items: parse_actions(a, "Action", kind)?,
            },
            (None, Some(_)) if kind == PolicyKind::Trust => {
                return Err(err(
                    "a trust policy must name its sts: actions in Action, not NotAction",
                ))
            }
            (None, Some(a)) => Negatable {
                negated: true,
                items: parse_actions(a, "NotAction", kind)?,
            },
        };

        let resource = match (resource, not_resource) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "a statement must not have both Resource and NotResource",
                ))
            }
            (None, None) if kind == PolicyKind::Identity => {
                return Err(err(
                    "a statement of an identity-based policy needs a Resource or NotResource",
                ))
            }
            (None, None) => None,
            (Some(r), None) => Some(Negatable {
                negated: false,
                items: parse_resources(r, "Resource", variables_refused)?,
            }),
            (None, Some(r)) => Some(Negatable {
                negated: true,
                items: parse_resources(r, "NotResource", variables_refused)?,
            }),
        };

        let conditions = match condition {
            None => Vec::new(),
            Some(c) => parse_conditions(c, variables_refused)?,
        };

        Ok(Statement {
            sid,
            deny,
            principal,
            action,
            resource,
            conditions,
        })
    }

    fn evaluate(&self, request: &Request<'_>) -> Effect {
        let action = self.action.items.iter().any(|g| g.matches(request.action));
        if action == self.action.negated {
            return Effect::NotApplicable;
        }
        if let Some(resource) = &self.resource {
            let matched = resource.items.iter().any(|p| p.matches(request.resource));
            if matched == resource.negated {
                return Effect::NotApplicable;
            }
        }
        let level = match &self.principal {
            PrincipalElement::Attached => Level::Direct,
            PrincipalElement::Principal(set) => set.level(request.principal),
            PrincipalElement::NotPrincipal(set) => {
                if set.excludes_whole_chain(request.principal) {
                    Level::None
                } else {
                    Level::Direct
                }
            }
        };
        if level == Level::None {
            return Effect::NotApplicable;
        }
        if !self.conditions.iter().all(|c| c.holds(request.context)) {
            return Effect::NotApplicable;
        }
        match (self.deny, level) {
            (true, _) => Effect::Deny,
            (false, Level::Direct) => Effect::Allow,
            (false, _) => Effect::AllowAccount,
        }
    }
}

fn parse_actions(value: Json, element: &str, kind: PolicyKind) -> Result<Vec<Glob>, PolicyError> {
    string_list(value, element)?
        .iter()
        .map(|action| {
            if action == "*" {
                if kind == PolicyKind::Trust {
                    return Err(err("a trust policy may only name sts: actions"));
                }
                return Ok(Glob::new("*", true));
            }
            let invalid = || {
                err(format!(
                    "{element} {} must be \"*\" or \"service:action\"",
                    short(action)
                ))
            };
            let (service, name) = action.split_once(':').ok_or_else(invalid)?;
            let service_ok = !service.is_empty()
                && service
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            let name_ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?');
            if !service_ok || !name_ok {
                return Err(invalid());
            }
            if kind == PolicyKind::Trust && !service.eq_ignore_ascii_case("sts") {
                return Err(err(format!(
                    "a trust policy may only name sts: actions, not {}",
                    short(action)
                )));
            }
            Ok(Glob::new(action, true))
        })
        .collect()
}

fn parse_resources(
    value: Json,
    element: &str,
    variables_refused: bool,
) -> Result<Vec<ArnPattern>, PolicyError> {
    string_list(value, element)?
        .iter()
        .map(|resource| {
            if variables_refused && resource.contains("${") {
                return Err(variables_error(element));
            }
            if resource == "*" {
                return Ok(ArnPattern::Any);
            }
            if !resource.starts_with("arn:") || resource.split(':').count() < 6 {
                return Err(err(format!(
                    "{element} {} must be \"*\" or an ARN (arn:partition:service:region:account:resource)",
                    short(resource)
                )));
            }
            Ok(ArnPattern::new(resource))
        })
        .collect()
}

fn variables_error(element: &str) -> PolicyError {
    err(format!(
        "{element}: policy variables (${{…}}) are not supported"
    ))
}

// ---------------------------------------------------------------------------------------
// Principals.

/// How a principal element names the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    None,
    /// The caller's account (or its root ARN).
    Account,
    /// `*`, or the caller's user, role or session ARN.
    Direct,
}

#[derive(Clone, Debug, Default)]
struct PrincipalSet {
    any: bool,
    /// 12-digit account ids (from `<account>` and `arn:…:iam::<account>:root`).
    accounts: Vec<String>,
    /// User, role and assumed-role session ARNs, compared exactly.
    arns: Vec<String>,
    /// Service principals: kept, matching no caller.
    services: Vec<String>,
}

impl PrincipalSet {
    fn parse(value: Json) -> Result<PrincipalSet, PolicyError> {
        let mut set = PrincipalSet::default();
        match value {
            Json::String(s) if s == "*" => set.any = true,
            Json::Object(members) if members.is_empty() => {
                return Err(err("Principal must not be an empty object"))
            }
            Json::Object(members) => {
                for (kind, value) in members {
                    match kind.as_str() {
                        "AWS" => {
                            for entry in string_list(value, "Principal AWS")? {
                                set.add_aws(&entry)?;
                            }
                        }
                        "Service" => {
                            for entry in string_list(value, "Principal Service")? {
                                let ok = !entry.is_empty()
                                    && entry.bytes().all(|b| {
                                        b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
                                    });
                                if !ok {
                                    return Err(err(format!(
                                        "Principal Service {} is not a service name",
                                        short(&entry)
                                    )));
                                }
                                set.services.push(entry);
                            }
                        }
                        "Federated" | "CanonicalUser" => {
                            return Err(err(format!("{kind} principals are not supported")))
                        }
                        other => {
                            return Err(err(format!(
                                "Principal has an unknown principal type {}",
                                short(other)
                            )))
                        }
                    }
                }
            }
            _ => {
                return Err(err(
                    "Principal must be \"*\" or an object such as {\"AWS\": …}",
                ))
            }
        }
        Ok(set)
    }

    fn add_aws(&mut self, entry: &str) -> Result<(), PolicyError> {
        let invalid = || {
            err(format!(
                "Principal AWS {} must be \"*\", an account id, or an account root, user, role or assumed-role ARN",
                short(entry)
            ))
        };
        if entry == "*" {
            self.any = true;
            return Ok(());
        }
        if is_account_id(entry) {
            self.accounts.push(entry.to_owned());
            return Ok(());
        }
        let parts: Vec<&str> = entry.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts[..] else {
            return Err(invalid());
        };
        let partition_ok = !partition.is_empty()
            && partition
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-');
        if arn != "arn" || !partition_ok || !region.is_empty() || !is_account_id(account) {
            return Err(invalid());
        }
        let name_ok = |name: &str| {
            !name.is_empty()
                && !name.ends_with('/')
                && !name.starts_with('/')
                && !name.contains("//")
                && name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'*' && b != b'?')
        };
        match service {
            "iam" if resource == "root" => self.accounts.push(account.to_owned()),
            "iam" => match resource.split_once('/') {
                Some(("user" | "role", name)) if name_ok(name) => self.arns.push(entry.to_owned()),
                _ => return Err(invalid()),
            },
            "sts" => match resource.strip_prefix("assumed-role/") {
                Some(rest) => match rest.split_once('/') {
                    Some((role, session))
                        if name_ok(role) && name_ok(session) && !session.contains('/') =>
                    {
                        self.arns.push(entry.to_owned())
                    }
                    _ => return Err(invalid()),
                },
                None => return Err(invalid()),
            },
            _ => return Err(invalid()),
        }
        Ok(())
    }

    fn level(&self, principal: &Principal) -> Level {
        let named = |arn: &str| self.arns.iter().any(|a| a == arn);
        if self.any || named(&principal.arn) || principal.session_arn.as_deref().is_some_and(named)
        {
            Level::Direct
        } else if self.accounts.contains(&principal.account) {
            Level::Account
        } else {
            Level::None
        }
    }

    /// NotPrincipal: whether every identity in the caller's chain (account, then user or
    /// role, then role session) is listed.
    fn excludes_whole_chain(&self, principal: &Principal) -> bool {
        if self.any {
            return true;
        }
        let named = |arn: &str| self.arns.iter().any(|a| a == arn);
        let account = self.accounts.contains(&principal.account);
        let identity = principal.root || named(&principal.arn);
        let session = principal.session_arn.as_deref().is_none_or(named);
        account && identity && session
    }
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

// ---------------------------------------------------------------------------------------
// Wildcards.

/// A `*`/`?` pattern, precompiled: its text (lower-cased when `fold`) and whether it has
/// wildcards at all.
#[derive(Clone, Debug)]
struct Glob {
    pattern: Box<str>,
    wild: bool,
    /// Compare ASCII case-insensitively (actions).
    fold: bool,
}

impl Glob {
    fn new(pattern: &str, fold: bool) -> Glob {
        let pattern: Box<str> = if fold {
            pattern.to_ascii_lowercase().into()
        } else {
            pattern.into()
        };
        let wild = pattern.contains(['*', '?']);
        Glob {
            pattern,
            wild,
            fold,
        }
    }

    fn matches(&self, text: &str) -> bool {
        if !self.wild {
            return if self.fold {
                self.pattern.eq_ignore_ascii_case(text)
            } else {
                *self.pattern == *text
            };
        }
        if &*self.pattern == "*" {
            return true;
        }
        wildcard_match(&self.pattern, text, self.fold)
    }
}

/// `*` matches any run of characters (none included), `?` exactly one character. Linear
/// backtracking on the last `*` (no recursion, no allocation).
fn wildcard_match(pattern: &str, text: &str, fold: bool) -> bool {
    let same = |p: char, t: char| {
        if fold {
            p == t.to_ascii_lowercase()
        } else {
            p == t
        }
    };
    let (mut p, mut t) = (0usize, 0usize);
    // After the last `*` seen: where the pattern resumes, and where in the text it was tried.
    let mut star: Option<(usize, usize)> = None;
    loop {
        let tc = text[t..].chars().next();
        let Some(tc) = tc else { break };
        let pc = pattern[p..].chars().next();
        match pc {
            Some('*') => {
                p += 1;
                star = Some((p, t));
                continue;
            }
            Some('?') => {
                p += 1;
                t += tc.len_utf8();
                continue;
            }
            Some(pc) if same(pc, tc) => {
                p += pc.len_utf8();
                t += tc.len_utf8();
                continue;
            }
            _ => {}
        }
        match star {
            Some((resume, tried)) => {
                let Some(skipped) = text[tried..].chars().next() else {
                    return false;
                };
                let next = tried + skipped.len_utf8();
                star = Some((resume, next));
                p = resume;
                t = next;
            }
            None => return false,
        }
    }
    pattern[p..].bytes().all(|b| b == b'*')
}

/// An ARN pattern: `*`, or six colon-separated parts each matched on its own (a wildcard
/// never spans a colon, except in the last part, which runs to the end), or — for
/// patterns of fewer parts (condition values) — the whole text.
#[derive(Clone, Debug)]
enum ArnPattern {
    Any,
    Parts(Box<[Glob]>),
    Whole(Glob),
}

impl ArnPattern {
    fn new(pattern: &str) -> ArnPattern {
        if pattern == "*" {
            return ArnPattern::Any;
        }
        let parts: Vec<Glob> = pattern
            .splitn(6, ':')
            .map(|p| Glob::new(p, false))
            .collect();
        if parts.len() == 6 {
            ArnPattern::Parts(parts.into_boxed_slice())
        } else {
            ArnPattern::Whole(Glob::new(pattern, false))
        }
    }

    fn matches(&self, text: &str) -> bool {
        match self {
            ArnPattern::Any => true,
            ArnPattern::Whole(glob) => glob.matches(text),
            ArnPattern::Parts(parts) => {
                let mut texts = text.splitn(6, ':');
                parts
                    .iter()
                    .all(|glob| texts.next().is_some_and(|t| glob.matches(t)))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Conditions.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetOperator {
    /// No `ForAnyValue:`/`ForAllValues:`.
    None,
    ForAnyValue,
    ForAllValues,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compare {
    Equals,
    LessThan,
    LessThanEquals,
    GreaterThan,
    GreaterThanEquals,
}

impl Compare {
    /// `request <op> policy`.
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Compare::Equals => request == policy,
            Compare::LessThan => request < policy,
            Compare::LessThanEquals => request <= policy,
            Compare::GreaterThan => request > policy,
            Compare::GreaterThanEquals => request >= policy,
        }
    }
}

/// One operator's test, with its policy values already converted to the operator's type.
#[derive(Clone, Debug)]
enum Test {
    StringEquals(Vec<String>),
    /// Values lower-cased (Unicode) at parse time.
    StringEqualsIgnoreCase(Vec<String>),
    StringLike(Vec<Glob>),
    Numeric(Compare, Vec<f64>),
    /// Nanoseconds since the Unix epoch.
    Date(Compare, Vec<i128>),
    Bool(Vec<bool>),
    Binary(Vec<Vec<u8>>),
    Ip(Vec<Cidr>),
    Arn(Vec<ArnPattern>),
    /// `true`: the key must be absent (or empty); `false`: present with a value.
    Null(Vec<bool>),
}

#[derive(Clone, Debug)]
struct Condition {
    /// Lower-cased, as [`Context`] stores keys.
    key: Box<str>,
    set: SetOperator,
    if_exists: bool,
    negated: bool,
    test: Test,
}

/// The operator families, before their values are read.
#[derive(Clone, Copy, Debug)]
enum Family {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Compare),
    Date(Compare),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

/// `(family, negated)` of an operator name without its set operator and `IfExists`.
fn operator(base: &str) -> Option<(Family, bool)> {
    use Compare::*;
    use Family::*;
    Some(match base {
        "StringEquals" => (StringEquals, false),
        "StringNotEquals" => (StringEquals, true),
        "StringEqualsIgnoreCase" => (StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (StringEqualsIgnoreCase, true),
        "StringLike" => (StringLike, false),
        "StringNotLike" => (StringLike, true),
        "NumericEquals" => (Numeric(Equals), false),
        "NumericNotEquals" => (Numeric(Equals), true),
        "NumericLessThan" => (Numeric(LessThan), false),
        "NumericLessThanEquals" => (Numeric(LessThanEquals), false),
        "NumericGreaterThan" => (Numeric(GreaterThan), false),
        "NumericGreaterThanEquals" => (Numeric(GreaterThanEquals), false),
        "DateEquals" => (Date(Equals), false),
        "DateNotEquals" => (Date(Equals), true),
        "DateLessThan" => (Date(LessThan), false),
        "DateLessThanEquals" => (Date(LessThanEquals), false),
        "DateGreaterThan" => (Date(GreaterThan), false),
        "DateGreaterThanEquals" => (Date(GreaterThanEquals), false),
        "Bool" => (Bool, false),
        "BinaryEquals" => (Binary, false),
        "IpAddress" => (Ip, false),
        "NotIpAddress" => (Ip, true),
        "ArnEquals" | "ArnLike" => (Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Arn, true),
        "Null" => (Null, false),
        _ => return None,
    })
}

fn parse_conditions(value: Json, variables_refused: bool) -> Result<Vec<Condition>, PolicyError> {
    let Json::Object(operators) = value else {
        return Err(err("Condition must be an object of condition operators"));
    };
    let mut conditions = Vec::new();
    for (name, block) in operators {
        let (set, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (SetOperator::ForAnyValue, rest)
        } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (SetOperator::ForAllValues, rest)
        } else {
            (SetOperator::None, name.as_str())
        };
        let (if_exists, base) = match rest.strip_suffix("IfExists") {
            Some(base) => (true, base),
            None => (false, rest),
        };
        let unknown = || err(format!("unknown condition operator {}", short(&name)));
        let (family, negated) = operator(base).ok_or_else(unknown)?;
        if matches!(family, Family::Null) && (if_exists || set != SetOperator::None) {
            return Err(unknown());
        }
        let Json::Object(keys) = block else {
            return Err(err(format!(
                "condition operator {} must map condition keys to values",
                short(&name)
            )));
        };
        if keys.is_empty() {
            return Err(err(format!(
                "condition operator {} names no condition keys",
                short(&name)
            )));
        }
        for (key, values) in keys {
            let key_ok = key.split_once(':').is_some_and(|(prefix, rest)| {
                !prefix.is_empty()
                    && !rest.is_empty()
                    && prefix
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
            if !key_ok {
                return Err(err(format!(
                    "condition key {} must be of the form prefix:name",
                    short(&key)
                )));
            }
            let values = condition_values(values, &name, &key)?;
            let test = parse_test(family, &values, &name, variables_refused)?;
            conditions.push(Condition {
                key: key.to_ascii_lowercase().into(),
                set,
                if_exists,
                negated,
                test,
            });
        }
    }
    Ok(conditions)
}

/// A condition value as written: its text and whether it was a JSON string.
enum Scalar {
    Text(String),
    Bool(bool),
    Number(serde_json::Number),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Text(s) => s.clone(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Number(n) => n.to_string(),
        }
    }
}

fn condition_values(value: Json, operator: &str, key: &str) -> Result<Vec<Scalar>, PolicyError> {
    let scalar = |v: Json| match v {
        Json::String(s) => Ok(Scalar::Text(s)),
        Json::Bool(b) => Ok(Scalar::Bool(b)),
        Json::Number(n) => Ok(Scalar::Number(n)),
        other => Err(err(format!(
            "{} {}: a condition value must be a string, a boolean or a number, not {}",
            short(operator),
            short(key),
            other.type_name()
        ))),
    };
    match value {
        Json::Array(items) if items.is_empty() => Err(err(format!(
            "{} {}: no condition values",
            short(operator),
            short(key)
        ))),
        Json::Array(items) => items.into_iter().map(scalar).collect(),
        other => Ok(vec![scalar(other)?]),
    }
}

fn parse_test(
    family: Family,
    values: &[Scalar],
    operator: &str,
    variables_refused: bool,
) -> Result<Test, PolicyError> {
    let wrong = |value: &Scalar, what: &str| {
        err(format!(
            "{}: {} is not {what}",
            short(operator),
            short(&value.text())
        ))
    };
    let texts = || -> Result<Vec<String>, PolicyError> {
        values
            .iter()
            .map(|v| {
                let text = v.text();
                if variables_refused && text.contains("${") {
                    return Err(variables_error(operator));
                }
                Ok(text)
            })
            .collect()
    };
    Ok(match family {
        Family::StringEquals => Test::StringEquals(texts()?),
        Family::StringEqualsIgnoreCase => {
            Test::StringEqualsIgnoreCase(texts()?.iter().map(|t| t.to_lowercase()).collect())
        }
        Family::StringLike => {
            Test::StringLike(texts()?.iter().map(|t| Glob::new(t, false)).collect())
        }
        Family::Arn => Test::Arn(texts()?.iter().map(|t| ArnPattern::new(t)).collect()),
        Family::Numeric(compare) => Test::Numeric(
            compare,
            values
                .iter()
                .map(|v| {
                    let n = match v {
                        Scalar::Number(n) => n.as_f64(),
                        Scalar::Text(t) => parse_number(t),
                        Scalar::Bool(_) => None,
                    };
                    n.ok_or_else(|| wrong(v, "a number"))
                })
                .collect::<Result<_, _>>()?,
        ),
        Family::Date(compare) => Test::Date(
            compare,
            values
                .iter()
                .map(|v| {
                    let d = match v {
                        Scalar::Number(n) => n.as_f64().and_then(epoch_nanos),
                        Scalar::Text(t) => parse_date(t),
                        Scalar::Bool(_) => None,
                    };
                    d.ok_or_else(|| wrong(v, "a date (ISO 8601 or epoch seconds)"))
                })
                .collect::<Result<_, _>>()?,
        ),
        Family::Bool | Family::Null => {
            let flags = values
                .iter()
                .map(|v| {
                    let b = match v {
                        Scalar::Bool(b) => Some(*b),
                        Scalar::Text(t) => parse_bool(t),
                        Scalar::Number(_) => None,
                    };
                    b.ok_or_else(|| wrong(v, "true or false"))
                })
                .collect::<Result<_, _>>()?;
            if matches!(family, Family::Null) {
                Test::Null(flags)
            } else {
                Test::Bool(flags)
            }
        }
        Family::Binary => Test::Binary(
            values
                .iter()
                .map(|v| match v {
                    Scalar::Text(t) => decode_base64(t).ok_or_else(|| wrong(v, "base64")),
                    _ => Err(wrong(v, "base64")),
                })
                .collect::<Result<_, _>>()?,
        ),
        Family::Ip => Test::Ip(
            values
                .iter()
                .map(|v| match v {
                    Scalar::Text(t) => {
                        Cidr::parse(t).ok_or_else(|| wrong(v, "an IPv4 or IPv6 CIDR block"))
                    }
                    _ => Err(wrong(v, "an IPv4 or IPv6 CIDR block")),
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

impl Condition {
    fn holds(&self, context: &Context) -> bool {
        let values = context.get_lowercase(&self.key);
        if let Test::Null(wanted) = &self.test {
            let null = values.is_none_or(<[String]>::is_empty);
            return wanted.contains(&null);
        }
        let Some(values) = values else {
            if self.if_exists {
                return true;
            }
            return match self.set {
                SetOperator::ForAllValues => true,
                SetOperator::ForAnyValue => false,
                SetOperator::None => self.negated,
            };
        };
        match self.set {
            SetOperator::None => values.iter().any(|v| self.matches(v)) != self.negated,
            SetOperator::ForAnyValue => values.iter().any(|v| self.matches(v) != self.negated),
            SetOperator::ForAllValues => values.iter().all(|v| self.matches(v) != self.negated),
        }
    }

    /// Whether one request value matches any of the policy values (before negation).
    fn matches(&self, value: &str) -> bool {
        match &self.test {
            Test::StringEquals(policy) => policy.iter().any(|p| p == value),
            Test::StringEqualsIgnoreCase(policy) => policy
                .iter()
                .any(|p| p.chars().eq(value.chars().flat_map(char::to_lowercase))),
            Test::StringLike(policy) => policy.iter().any(|g| g.matches(value)),
            Test::Arn(policy) => policy.iter().any(|p| p.matches(value)),
            Test::Numeric(compare, policy) => {
                parse_number(value).is_some_and(|v| policy.iter().any(|p| compare.holds(v, *p)))
            }
            Test::Date(compare, policy) => {
                parse_date(value).is_some_and(|v| policy.iter().any(|p| compare.holds(v, *p)))
            }
            Test::Bool(policy) => parse_bool(value).is_some_and(|v| policy.contains(&v)),
            Test::Binary(policy) => decode_base64(value).is_some_and(|v| policy.contains(&v)),
            Test::Ip(policy) => value
                .parse::<IpAddr>()
                .is_ok_and(|ip| policy.iter().any(|c| c.contains(ip))),
            Test::Null(_) => false,
        }
    }
}

fn parse_number(text: &str) -> Option<f64> {
    // Rust also reads "inf" and "NaN"; IAM numbers are decimal.
    let plausible = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    if !plausible {
        return None;
    }
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn epoch_nanos(seconds: f64) -> Option<i128> {
    // ±10^11 s is ±3000 years around 1970: plenty, and far from overflow.
    if !seconds.is_finite() || seconds.abs() > 1e11 {
        return None;
    }
    Some((seconds * 1e9) as i128)
}

/// ISO 8601 (date-time with an offset or `Z`, date-time taken as UTC, or a date taken as
/// midnight UTC) or epoch seconds; as nanoseconds since the epoch.
fn parse_date(text: &str) -> Option<i128> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    if text.is_empty() {
        return None;
    }
    if let Some(n) = parse_number(text) {
        return epoch_nanos(n);
    }
    if let Ok(t) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(t) = time::OffsetDateTime::parse(text, &Iso8601::DEFAULT) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(t) = time::PrimitiveDateTime::parse(text, &Iso8601::DEFAULT) {
        return Some(t.assume_utc().unix_timestamp_nanos());
    }
    if let Ok(d) = time::Date::parse(text, &Iso8601::DEFAULT) {
        return Some(d.midnight().assume_utc().unix_timestamp_nanos());
    }
    None
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// An IPv4 or IPv6 block; a bare address is a /32 or /128.
#[derive(Clone, Copy, Debug)]
struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(text: &str) -> Option<Cidr> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= max)?
            }
            Some(_) => return None,
        };
        Some(Cidr { network, prefix })
    }

    fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(addr)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(addr) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(addr)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(addr) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "111122223333";
    const B: &str = "444455556666";
    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn root(account: &str) -> Principal {
        Principal {
            account: account.into(),
            arn: format!("arn:aws:iam::{account}:root"),
            session_arn: None,
            root: true,
        }
    }

    fn user(account: &str, name: &str) -> Principal {
        Principal {
            account: account.into(),
            arn: format!("arn:aws:iam::{account}:user/{name}"),
            session_arn: None,
            root: false,
        }
    }

    fn session(account: &str, role: &str, name: &str) -> Principal {
        Principal {
            account: account.into(),
            arn: format!("arn:aws:iam::{account}:role/{role}"),
            session_arn: Some(format!("arn:aws:sts::{account}:assumed-role/{role}/{name}")),
            root: false,
        }
    }

    fn key(document: &str) -> Policy {
        match Policy::parse(document, PolicyKind::Key) {
            Ok(p) => p,
            Err(e) => panic!("key policy refused: {e}\n{document}"),
        }
    }

    fn identity(document: &str) -> Policy {
        match Policy::parse(document, PolicyKind::Identity) {
            Ok(p) => p,
            Err(e) => panic!("identity policy refused: {e}\n{document}"),
        }
    }

    fn refused(document: &str, kind: PolicyKind) -> String {
        match Policy::parse(document, kind) {
            Ok(_) => panic!("accepted: {document}"),
            Err(PolicyError(m)) => m,
        }
    }

    fn eval(policy: &Policy, principal: &Principal, action: &str, context: &Context) -> Effect {
        policy.evaluate(&Request {
            principal,
            action,
            resource: KEY,
            context,
        })
    }

    /// One identity statement allowing kms:Encrypt under `condition`.
    fn with_condition(condition: &str) -> Policy {
        identity(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{condition}}}}}"#
        ))
    }

    fn holds(condition: &str, context: &Context) -> bool {
        let policy = with_condition(condition);
        eval(&policy, &user(A, "alice"), "kms:Encrypt", context) == Effect::Allow
    }

    fn ctx(pairs: &[(&str, &[&str])]) -> Context {
        let mut c = Context::new();
        for (k, vs) in pairs {
            c.set(k, vs.iter().map(|v| v.to_string()).collect());
        }
        c
    }

    // --- grammar ------------------------------------------------------------------------

    #[test]
    fn accepts_the_default_key_policy() {
        let p = key(&format!(
            r#"{{"Version":"2012-10-17","Id":"key-default-1","Statement":[{{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
        ));
        assert_eq!(p.statement_count(), 1);
        assert_eq!(p.id(), Some("key-default-1"));
        assert_eq!(p.version(), Some("2012-10-17"));
        assert_eq!(
            p.statement_ids().collect::<Vec<_>>(),
            vec![Some("Enable IAM User Permissions")]
        );
        assert_eq!(p.kind(), PolicyKind::Key);
    }

    #[test]
    fn top_level_refusals() {
        let k = PolicyKind::Key;
        assert!(refused("", k).contains("not valid JSON"));
        assert!(refused("{", k).contains("not valid JSON"));
        assert!(refused("[]", k).contains("must be a JSON object"));
        assert!(refused("\"x\"", k).contains("must be a JSON object"));
        assert!(refused(r#"{"Version":"2012-10-17"}"#, k).contains("no Statement"));
        assert!(refused(r#"{"Statement":[]}"#, k).contains("empty array"));
        assert!(refused(r#"{"Statement":"x"}"#, k).contains("object or an array"));
        assert!(refused(r#"{"Statement":["x"]}"#, k).contains("JSON object"));
        assert!(refused(r#"{"Version":"2020-01-01","Statement":[]}"#, k).contains("Version"));
        assert!(refused(r#"{"Version":1,"Statement":[]}"#, k).contains("Version"));
        assert!(refused(r#"{"Id":5,"Statement":[]}"#, k).contains("Id must be a string"));
        let unknown = refused(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*"},"Extra":1}"#,
            k,
        );
        assert!(unknown.contains("unknown member \"Extra\""), "{unknown}");
        // A member named twice could hide a Deny: refused, at any depth.
        let twice = refused(
            r#"{"Statement":{"Effect":"Deny","Effect":"Allow","Principal":"*","Action":"kms:*"}}"#,
            k,
        );
        assert!(twice.contains("appears twice"), "{twice}");
    }

    #[test]
    fn version_2008_and_no_version_are_accepted() {
        for version in [r#""Version":"2008-10-17","#, ""] {
            let p = key(&format!(
                r#"{{{version}"Statement":{{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt"}}}}"#
            ));
            assert_eq!(p.statement_count(), 1);
        }
    }

    #[test]
    fn statement_element_refusals() {
        let k = PolicyKind::Key;
        let st = |body: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{body}]}}"#);
        let cases: &[(&str, &str)] = &[
            (r#"{"Principal":"*","Action":"kms:*"}"#, "needs an Effect"),
            (
                r#"{"Effect":"allow","Principal":"*","Action":"kms:*"}"#,
                "Effect must be",
            ),
            (
                r#"{"Effect":true,"Principal":"*","Action":"kms:*"}"#,
                "Effect must be",
            ),
            (
                r#"{"Sid":1,"Effect":"Allow","Principal":"*","Action":"kms:*"}"#,
                "Sid must be",
            ),
            (r#"{"Effect":"Allow","Principal":"*"}"#, "needs an Action"),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","NotAction":"kms:Encrypt"}"#,
                "both Action and NotAction",
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":[]}"#,
                "empty array",
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":[1]}"#,
                "must hold strings",
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":{}}"#,
                "string or an array",
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"Encrypt"}"#,
                "service:action",
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"*:Encrypt"}"#,
                "service:action",
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"kms:"}"#,
                "service:action",
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"kms:En crypt"}"#,
                "service:action",
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","NotResource":"*"}"#,
                "both Resource and NotResource",
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"key/1"}"#,
                "must be \"*\" or an ARN",
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:*"}"#,
                "must be \"*\" or an ARN",
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:*:*:key/${aws:username}"}"#,
                "policy variables",
            ),
            (
                r#"{"Effect":"Allow","Action":"kms:*"}"#,
                "needs a Principal",
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"kms:*"}"#,
                "both Principal and NotPrincipal",
            ),
            (
                r#"{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*"}"#,
                "Deny",
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":[]}"#,
                "Condition must be an object",
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Other":1}"#,
                "unknown element",
            ),
        ];
        for (body, expected) in cases {
            let m = refused(&st(body), k);
            assert!(m.contains(expected), "{body}: {m}");
            assert!(m.starts_with("Statement 1: "), "{body}: {m}");
        }
    }

    #[test]
    fn identity_policies_have_no_principal_and_need_a_resource() {
        let i = PolicyKind::Identity;
        let m = refused(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
            i,
        );
        assert!(m.contains("must not have a Principal"), "{m}");
        let m = refused(
            r#"{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}}"#,
            i,
        );
        assert!(m.contains("must not have a Principal"), "{m}");
        let m = refused(r#"{"Statement":{"Effect":"Allow","Action":"kms:*"}}"#, i);
        assert!(m.contains("needs a Resource"), "{m}");
        identity(
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","NotResource":"arn:aws:kms:*:*:key/x"}}"#,
        );
    }

    #[test]
    fn trust_policies_name_sts_actions_and_no_not_principal() {
        let t = PolicyKind::Trust;
        let ok = Policy::parse(
            &format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:root"}},"Action":["sts:AssumeRole","sts:TagSession"]}}}}"#
            ),
            t,
        );
        assert!(ok.is_ok(), "{ok:?}");
        let m = refused(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt"}}"#,
            t,
        );
        assert!(m.contains("sts:"), "{m}");
        assert!(refused(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}"#,
            t
        )
        .contains("sts:"));
        assert!(refused(
            r#"{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#,
            t
        )
        .contains("NotPrincipal"));
        assert!(refused(
            r#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#,
            t
        )
        .contains("needs a Principal"));
    }

    #[test]
    fn principal_forms() {
        let st = |principal: &str| {
            format!(
                r#"{{"Statement":{{"Effect":"Allow","Principal":{principal},"Action":"kms:*"}}}}"#
            )
        };
        for ok in [
            r#""*""#.to_string(),
            r#"{"AWS":"*"}"#.to_string(),
            format!(r#"{{"AWS":"{A}"}}"#),
            format!(r#"{{"AWS":"arn:aws:iam::{A}:root"}}"#),
            format!(r#"{{"AWS":"arn:aws:iam::{A}:user/alice"}}"#),
            format!(r#"{{"AWS":"arn:aws:iam::{A}:user/division/team/alice"}}"#),
            format!(r#"{{"AWS":"arn:aws:iam::{A}:role/ops"}}"#),
            format!(r#"{{"AWS":"arn:aws:sts::{A}:assumed-role/ops/session-1"}}"#),
            format!(r#"{{"AWS":["{A}","arn:aws:iam::{B}:root"]}}"#),
            r#"{"Service":"logs.amazonaws.com"}"#.to_string(),
            format!(r#"{{"Service":["a.amazonaws.com"],"AWS":"{A}"}}"#),
        ] {
            key(&st(&ok));
        }
        for (bad, expected) in [
            (r#""someone""#.to_string(), "must be \"*\" or an object"),
            (r#"{}"#.to_string(), "empty object"),
            (r#"["*"]"#.to_string(), "must be \"*\" or an object"),
            (r#"{"AWS":"12345"}"#.to_string(), "account id"),
            (r#"{"AWS":"arn:aws:iam::*:root"}"#.to_string(), "account id"),
            (
                format!(r#"{{"AWS":"arn:aws:iam::{A}:group/admins"}}"#),
                "account id",
            ),
            (
                format!(r#"{{"AWS":"arn:aws:iam::{A}:user/*"}}"#),
                "account id",
            ),
            (
                format!(r#"{{"AWS":"arn:aws:iam::{A}:user/"}}"#),
                "account id",
            ),
            (
                format!(r#"{{"AWS":"arn:aws:iam:us-east-1:{A}:root"}}"#),
                "account id",
            ),
            (
                format!(r#"{{"AWS":"arn:aws:sts::{A}:assumed-role/ops"}}"#),
                "account id",
            ),
            (format!(r#"{{"AWS":"arn:aws:s3::{A}:root"}}"#), "account id"),
            (r#"{"AWS":[]}"#.to_string(), "empty array"),
            (r#"{"AWS":5}"#.to_string(), "string or an array"),
            (r#"{"Service":"not a service"}"#.to_string(), "service name"),
            (
                r#"{"Federated":"cognito-identity.amazonaws.com"}"#.to_string(),
                "not supported",
            ),
            (r#"{"CanonicalUser":"abc"}"#.to_string(), "not supported"),
            (r#"{"Robot":"x"}"#.to_string(), "unknown principal type"),
        ] {
            let m = refused(&st(&bad), PolicyKind::Key);
            assert!(m.contains(expected), "{bad}: {m}");
        }
    }

    #[test]
    fn long_values_are_not_echoed_whole() {
        let long = "x".repeat(5000);
        let m = refused(
            &format!(r#"{{"Statement":{{"Effect":"Allow","Principal":"*","Action":"{long}"}}}}"#),
            PolicyKind::Key,
        );
        assert!(m.len() < 200, "{m}");
    }

    #[test]
    fn size_limit_counts_characters() {
        let statement = r#"{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt"}"#;
        let pad = |n: usize, ch: &str| {
            let head = r#"{"Id":""#.to_string();
            let tail = format!(r#"","Statement":{statement}}}"#);
            let fill = n - head.chars().count() - tail.chars().count();
            format!("{head}{}{tail}", ch.repeat(fill))
        };
        let at_limit = pad(MAX_POLICY_CHARS, "é"); // over 32768 bytes, 32768 characters
        assert!(at_limit.len() > MAX_POLICY_CHARS);
        key(&at_limit);
        let over = pad(MAX_POLICY_CHARS + 1, "a");
        assert!(refused(&over, PolicyKind::Key).contains("longer than 32768"));
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{}1{}}}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(refused(&deep, PolicyKind::Key).contains("not valid JSON"));
    }

    #[test]
    fn condition_grammar() {
        let ok = [
            r#"{"StringEquals":{"kms:EncryptionContext:Dept":"IT"}}"#,
            r#"{"StringNotEqualsIgnoreCase":{"aws:username":["a","b"]}}"#,
            r#"{"StringLikeIfExists":{"kms:ViaService":"*.amazonaws.com"}}"#,
            r#"{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"Dept"}}"#,
            r#"{"ForAllValues:StringNotLikeIfExists":{"aws:TagKeys":"x*"}}"#,
            r#"{"NumericLessThan":{"aws:MultiFactorAuthAge":3600}}"#,
            r#"{"NumericGreaterThanEquals":{"aws:MultiFactorAuthAge":"1.5"}}"#,
            r#"{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#,
            r#"{"DateLessThan":{"aws:CurrentTime":"2020-01-01"}}"#,
            r#"{"DateEquals":{"aws:EpochTime":1577836800}}"#,
            r#"{"DateNotEqualsIfExists":{"aws:EpochTime":"1577836800"}}"#,
            r#"{"Bool":{"aws:SecureTransport":true}}"#,
            r#"{"Bool":{"aws:SecureTransport":"False"}}"#,
            r#"{"BinaryEquals":{"aws:Blob":"QmluYXJ5VmFsdWU="}}"#,
            r#"{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32","198.51.100.7"]}}"#,
            r#"{"NotIpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/ops-*"}}"#,
            r#"{"ArnNotEquals":{"aws:SourceArn":"arn:aws:s3:::bucket"}}"#,
            r#"{"Null":{"kms:EncryptionContextKeys":"true"}}"#,
            r#"{"Null":{"aws:TokenIssueTime":false}}"#,
            r#"{}"#,
        ];
        for c in ok {
            with_condition(c);
        }
        let bad: &[(&str, &str)] = &[
            (
                r#"{"StringEqualz":{"a:b":"x"}}"#,
                "unknown condition operator",
            ),
            (
                r#"{"ForSomeValues:StringEquals":{"a:b":"x"}}"#,
                "unknown condition operator",
            ),
            (
                r#"{"NullIfExists":{"a:b":"true"}}"#,
                "unknown condition operator",
            ),
            (
                r#"{"ForAnyValue:Null":{"a:b":"true"}}"#,
                "unknown condition operator",
            ),
            (r#"{"StringEquals":"x"}"#, "must map condition keys"),
            (r#"{"StringEquals":{}}"#, "names no condition keys"),
            (r#"{"StringEquals":{"nokey":"x"}}"#, "prefix:name"),
            (r#"{"StringEquals":{":x":"x"}}"#, "prefix:name"),
            (r#"{"StringEquals":{"a:b":[]}}"#, "no condition values"),
            (r#"{"StringEquals":{"a:b":null}}"#, "must be a string"),
            (r#"{"StringEquals":{"a:b":{"c":"d"}}}"#, "must be a string"),
            (r#"{"StringEquals":{"a:b":[["x"]]}}"#, "must be a string"),
            (r#"{"NumericEquals":{"a:b":"ten"}}"#, "is not a number"),
            (r#"{"NumericEquals":{"a:b":"inf"}}"#, "is not a number"),
            (r#"{"NumericEquals":{"a:b":true}}"#, "is not a number"),
            (r#"{"DateLessThan":{"a:b":"yesterday"}}"#, "is not a date"),
            (r#"{"DateLessThan":{"a:b":"2020-13-01"}}"#, "is not a date"),
            (r#"{"Bool":{"a:b":"yes"}}"#, "true or false"),
            (r#"{"Bool":{"a:b":1}}"#, "true or false"),
            (r#"{"Null":{"a:b":"maybe"}}"#, "true or false"),
            (r#"{"BinaryEquals":{"a:b":"not base64!"}}"#, "base64"),
            (r#"{"IpAddress":{"a:b":"10.0.0.0/33"}}"#, "CIDR"),
            (r#"{"IpAddress":{"a:b":"10.0.0/8"}}"#, "CIDR"),
            (r#"{"IpAddress":{"a:b":"2001:db8::/129"}}"#, "CIDR"),
            (r#"{"IpAddress":{"a:b":"10.0.0.0/"}}"#, "CIDR"),
            (
                r#"{"StringEquals":{"aws:username":"${aws:username}"}}"#,
                "policy variables",
            ),
            (
                r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::${aws:PrincipalAccount}:root"}}"#,
                "policy variables",
            ),
        ];
        for (c, expected) in bad {
            let doc = format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{c}}}}}"#
            );
            let m = refused(&doc, PolicyKind::Identity);
            assert!(m.contains(expected), "{c}: {m}");
        }
    }

    #[test]
    fn policy_variables_are_literal_without_version_2012() {
        let p = identity(
            r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"aws:username":"${aws:username}"}}}}"#,
        );
        let alice = user(A, "alice");
        assert_eq!(
            eval(
                &p,
                &alice,
                "kms:Encrypt",
                &ctx(&[("aws:username", &["alice"])])
            ),
            Effect::NotApplicable
        );
        assert_eq!(
            eval(
                &p,
                &alice,
                "kms:Encrypt",
                &ctx(&[("aws:username", &["${aws:username}"])])
            ),
            Effect::Allow
        );
    }

    // --- actions, resources, principals -------------------------------------------------

    #[test]
    fn actions_match_case_insensitively_with_wildcards() {
        let p = identity(
            r#"{"Statement":{"Effect":"Allow","Action":["KMS:encrypt","kms:Generate*","kms:Re?ncrypt*"],"Resource":"*"}}"#,
        );
        let u = user(A, "alice");
        let c = Context::new();
        for (action, expected) in [
            ("kms:Encrypt", Effect::Allow),
            ("kms:ENCRYPT", Effect::Allow),
            ("kms:GenerateDataKey", Effect::Allow),
            ("kms:GenerateDataKeyWithoutPlaintext", Effect::Allow),
            ("kms:ReEncryptFrom", Effect::Allow),
            ("kms:Generate", Effect::Allow),
            ("kms:Decrypt", Effect::NotApplicable),
            ("kms:EncryptX", Effect::NotApplicable),
            ("iam:Encrypt", Effect::NotApplicable),
            ("kms:ReEncryp", Effect::NotApplicable),
        ] {
            assert_eq!(eval(&p, &u, action, &c), expected, "{action}");
        }
        let star = identity(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#);
        assert_eq!(eval(&star, &u, "iam:CreateUser", &c), Effect::Allow);
        let kms = identity(r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#);
        assert_eq!(eval(&kms, &u, "kms:ScheduleKeyDeletion", &c), Effect::Allow);
        assert_eq!(eval(&kms, &u, "sts:AssumeRole", &c), Effect::NotApplicable);
    }

    #[test]
    fn not_action_matches_every_other_action() {
        let p = identity(
            r#"{"Statement":{"Effect":"Deny","NotAction":["kms:Encrypt","kms:Describe*"],"Resource":"*"}}"#,
        );
        let u = user(A, "alice");
        let c = Context::new();
        assert_eq!(eval(&p, &u, "kms:Encrypt", &c), Effect::NotApplicable);
        assert_eq!(eval(&p, &u, "kms:DescribeKey", &c), Effect::NotApplicable);
        assert_eq!(eval(&p, &u, "kms:Decrypt", &c), Effect::Deny);
        assert_eq!(eval(&p, &u, "iam:CreateUser", &c), Effect::Deny);
    }

    #[test]
    fn resources_match_arn_parts_case_sensitively() {
        let p = identity(&format!(
            r#"{{"Statement":{{"Effect":"Allow","Action":"kms:*","Resource":["arn:aws:kms:*:{A}:key/*","arn:aws:kms:us-east-?:{B}:alias/app-*"]}}}}"#
        ));
        let u = user(A, "alice");
        let c = Context::new();
        let on = |resource: &str| {
            p.evaluate(&Request {
                principal: &u,
                action: "kms:Encrypt",
                resource,
                context: &c,
            })
        };
        assert_eq!(on(KEY), Effect::Allow);
        assert_eq!(
            on(&format!("arn:aws:kms:eu-west-1:{A}:key/x")),
            Effect::Allow
        );
        assert_eq!(
            on(&format!("arn:aws:kms:eu-west-1:{B}:key/x")),
            Effect::NotApplicable
        );
        assert_eq!(
            on(&format!("arn:aws:kms:us-east-2:{B}:alias/app-1")),
            Effect::Allow
        );
        assert_eq!(
            on(&format!("arn:aws:kms:us-east-2:{B}:alias/App-1")),
            Effect::NotApplicable
        );
        assert_eq!(
            on(&format!("arn:aws:kms:us-east-12:{B}:alias/app-1")),
            Effect::NotApplicable
        );
        // A wildcard in the region does not run into the account.
        assert_eq!(
            on(&format!("arn:aws:kms:us-east-1:{B}:key/x")),
            Effect::NotApplicable
        );
        assert_eq!(on("*"), Effect::NotApplicable);
        assert_eq!(
            on(&format!("arn:aws:KMS:us-east-1:{A}:key/x")),
            Effect::NotApplicable
        );

        let not = identity(&format!(
            r#"{{"Statement":{{"Effect":"Allow","Action":"kms:*","NotResource":"arn:aws:kms:*:{B}:*"}}}}"#
        ));
        let on_not = |resource: &str| {
            not.evaluate(&Request {
                principal: &u,
                action: "kms:Encrypt",
                resource,
                context: &c,
            })
        };
        assert_eq!(on_not(KEY), Effect::Allow);
        assert_eq!(on_not("*"), Effect::Allow);
        assert_eq!(
            on_not(&format!("arn:aws:kms:us-east-1:{B}:key/x")),
            Effect::NotApplicable
        );
    }

    #[test]
    fn key_policy_without_resource_matches_any_resource() {
        let p = key(r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt"}}"#);
        assert_eq!(
            eval(&p, &user(B, "bob"), "kms:Encrypt", &Context::new()),
            Effect::Allow
        );
    }

    #[test]
    fn principals_direct_account_and_root() {
        let c = Context::new();
        let alice = user(A, "alice");
        let ops = session(A, "ops", "s1");
        let bob = user(B, "bob");
        let by_root_arn = key(&format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:root"}},"Action":"kms:*"}}}}"#
        ));
        let by_account = key(&format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":{{"AWS":"{A}"}},"Action":"kms:*"}}}}"#
        ));
        for p in [&by_root_arn, &by_account] {
            assert_eq!(eval(p, &alice, "kms:Encrypt", &c), Effect::AllowAccount);
            assert_eq!(eval(p, &ops, "kms:Encrypt", &c), Effect::AllowAccount);
            assert_eq!(eval(p, &root(A), "kms:Encrypt", &c), Effect::AllowAccount);
            assert_eq!(eval(p, &bob, "kms:Encrypt", &c), Effect::NotApplicable);
            assert_eq!(eval(p, &root(B), "kms:Encrypt", &c), Effect::NotApplicable);
        }
        let direct = key(&format!(
            r#"{{"Statement":[
                {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:root"}},"Action":"kms:*"}},
                {{"Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::{A}:user/alice","arn:aws:iam::{A}:role/ops"]}},"Action":"kms:Encrypt"}}]}}"#
        ));
        assert_eq!(eval(&direct, &alice, "kms:Encrypt", &c), Effect::Allow);
        assert_eq!(
            eval(&direct, &alice, "kms:Decrypt", &c),
            Effect::AllowAccount
        );
        // A role ARN names all of the role's sessions.
        assert_eq!(eval(&direct, &ops, "kms:Encrypt", &c), Effect::Allow);
        assert_eq!(
            eval(&direct, &user(A, "alice2"), "kms:Encrypt", &c),
            Effect::AllowAccount
        );
        // A session ARN names that session only.
        let one_session = key(&format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:sts::{A}:assumed-role/ops/s1"}},"Action":"kms:*"}}}}"#
        ));
        assert_eq!(eval(&one_session, &ops, "kms:Encrypt", &c), Effect::Allow);
        assert_eq!(
            eval(&one_session, &session(A, "ops", "s2"), "kms:Encrypt", &c),
            Effect::NotApplicable
        );
        // A user ARN is compared exactly.
        let exact = key(&format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:user/Alice"}},"Action":"kms:*"}}}}"#
        ));
        assert_eq!(
            eval(&exact, &alice, "kms:Encrypt", &c),
            Effect::NotApplicable
        );
        // `*` in either form names everyone.
        for any in [r#""*""#, r#"{"AWS":"*"}"#] {
            let p = key(&format!(
                r#"{{"Statement":{{"Effect":"Allow","Principal":{any},"Action":"kms:*"}}}}"#
            ));
            for who in [&alice, &ops, &bob, &root(A), &root(B)] {
                assert_eq!(eval(&p, who, "kms:Encrypt", &c), Effect::Allow);
            }
        }
        // Service principals match no caller.
        let service = key(
            r#"{"Statement":{"Effect":"Allow","Principal":{"Service":"logs.amazonaws.com"},"Action":"kms:*"}}"#,
        );
        assert_eq!(
            eval(&service, &alice, "kms:Encrypt", &c),
            Effect::NotApplicable
        );
        assert_eq!(
            eval(&service, &root(A), "kms:Encrypt", &c),
            Effect::NotApplicable
        );
    }

    #[test]
    fn deny_by_account_denies_every_principal_of_the_account() {
        let p = key(&format!(
            r#"{{"Statement":[
                {{"Effect":"Allow","Principal":"*","Action":"kms:*"}},
                {{"Effect":"Deny","Principal":{{"AWS":"{B}"}},"Action":"kms:Decrypt"}}]}}"#
        ));
        let c = Context::new();
        assert_eq!(eval(&p, &user(B, "bob"), "kms:Decrypt", &c), Effect::Deny);
        assert_eq!(eval(&p, &root(B), "kms:Decrypt", &c), Effect::Deny);
        assert_eq!(
            eval(&p, &session(B, "r", "s"), "kms:Decrypt", &c),
            Effect::Deny
        );
        assert_eq!(
            eval(&p, &user(A, "alice"), "kms:Decrypt", &c),
            Effect::Allow
        );
        assert_eq!(eval(&p, &user(B, "bob"), "kms:Encrypt", &c), Effect::Allow);
    }

    #[test]
    fn not_principal_denies_unless_the_whole_chain_is_listed() {
        let p = key(&format!(
            r#"{{"Statement":[
                {{"Effect":"Allow","Principal":"*","Action":"kms:*"}},
                {{"Effect":"Deny","NotPrincipal":{{"AWS":[
                    "arn:aws:iam::{A}:root",
                    "arn:aws:iam::{A}:user/alice",
                    "arn:aws:iam::{A}:role/ops",
                    "arn:aws:sts::{A}:assumed-role/ops/s1",
                    "arn:aws:iam::{B}:user/bob"]}},"Action":"kms:*"}}]}}"#
        ));
        let c = Context::new();
        let e = |who: &Principal| eval(&p, who, "kms:Encrypt", &c);
        assert_eq!(e(&root(A)), Effect::Allow);
        assert_eq!(e(&user(A, "alice")), Effect::Allow);
        assert_eq!(e(&session(A, "ops", "s1")), Effect::Allow);
        // The role is listed but not this session.
        assert_eq!(e(&session(A, "ops", "s2")), Effect::Deny);
        assert_eq!(e(&user(A, "carol")), Effect::Deny);
        // Bob is listed but not his account.
        assert_eq!(e(&user(B, "bob")), Effect::Deny);
        assert_eq!(e(&root(B)), Effect::Deny);
        let account_only = key(&format!(
            r#"{{"Statement":{{"Effect":"Deny","NotPrincipal":{{"AWS":"{A}"}},"Action":"kms:*"}}}}"#
        ));
        assert_eq!(
            eval(&account_only, &root(A), "kms:Encrypt", &c),
            Effect::NotApplicable
        );
        assert_eq!(
            eval(&account_only, &user(A, "alice"), "kms:Encrypt", &c),
            Effect::Deny
        );
    }

    #[test]
    fn statement_precedence() {
        let c = Context::new();
        let alice = user(A, "alice");
        let both = key(&format!(
            r#"{{"Statement":[
                {{"Effect":"Allow","Principal":{{"AWS":"{A}"}},"Action":"kms:*"}},
                {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:user/alice"}},"Action":"kms:*"}}]}}"#
        ));
        assert_eq!(eval(&both, &alice, "kms:Encrypt", &c), Effect::Allow);
        let reversed = key(&format!(
            r#"{{"Statement":[
                {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:user/alice"}},"Action":"kms:*"}},
                {{"Effect":"Allow","Principal":{{"AWS":"{A}"}},"Action":"kms:*"}}]}}"#
        ));
        assert_eq!(eval(&reversed, &alice, "kms:Encrypt", &c), Effect::Allow);
        let deny_last = key(&format!(
            r#"{{"Statement":[
                {{"Effect":"Allow","Principal":"*","Action":"kms:*"}},
                {{"Effect":"Deny","Principal":{{"AWS":"arn:aws:iam::{A}:user/alice"}},"Action":"kms:Encrypt"}}]}}"#
        ));
        assert_eq!(eval(&deny_last, &alice, "kms:Encrypt", &c), Effect::Deny);
        assert_eq!(eval(&deny_last, &alice, "kms:Decrypt", &c), Effect::Allow);
        assert_eq!(
            eval(&deny_last, &user(A, "bob"), "kms:Encrypt", &c),
            Effect::Allow
        );
    }

    // --- conditions -----------------------------------------------------------------------

    #[test]
    fn string_operators() {
        let dept = |v: &[&str]| ctx(&[("kms:EncryptionContext:Dept", v)]);
        let eq = r#"{"StringEquals":{"kms:EncryptionContext:Dept":["IT","HR"]}}"#;
        assert!(holds(eq, &dept(&["IT"])));
        assert!(holds(eq, &dept(&["HR"])));
        assert!(!holds(eq, &dept(&["it"])));
        assert!(!holds(eq, &dept(&["Sales"])));
        assert!(!holds(eq, &Context::new()));
        let ne = r#"{"StringNotEquals":{"kms:EncryptionContext:Dept":["IT","HR"]}}"#;
        assert!(!holds(ne, &dept(&["IT"])));
        assert!(!holds(ne, &dept(&["HR"]))); // NOR over the values
        assert!(holds(ne, &dept(&["Sales"])));
        assert!(holds(ne, &Context::new())); // negated operator, key absent: true
        let ic = r#"{"StringEqualsIgnoreCase":{"kms:EncryptionContext:Dept":"Ärzte"}}"#;
        assert!(holds(ic, &dept(&["äRZTE"])));
        assert!(!holds(ic, &dept(&["Arzte"])));
        let nic = r#"{"StringNotEqualsIgnoreCase":{"kms:EncryptionContext:Dept":"it"}}"#;
        assert!(!holds(nic, &dept(&["IT"])));
        assert!(holds(nic, &dept(&["HR"])));
        assert!(holds(nic, &Context::new()));
        let like = r#"{"StringLike":{"kms:EncryptionContext:Dept":["fin-*","h?"]}}"#;
        assert!(holds(like, &dept(&["fin-ops"])));
        assert!(holds(like, &dept(&["fin-"])));
        assert!(holds(like, &dept(&["hr"])));
        assert!(!holds(like, &dept(&["Fin-ops"])));
        assert!(!holds(like, &dept(&["hrx"])));
        assert!(!holds(like, &Context::new()));
        let not_like = r#"{"StringNotLike":{"kms:EncryptionContext:Dept":["fin-*","h?"]}}"#;
        assert!(!holds(not_like, &dept(&["fin-ops"])));
        assert!(holds(not_like, &dept(&["sales"])));
        assert!(holds(not_like, &Context::new()));
        // Numbers and booleans in String operators are their JSON text.
        assert!(holds(
            r#"{"StringEquals":{"a:n":42}}"#,
            &ctx(&[("a:n", &["42"])])
        ));
        assert!(holds(
            r#"{"StringEquals":{"a:n":true}}"#,
            &ctx(&[("a:n", &["true"])])
        ));
    }

    #[test]
    fn condition_key_names_are_case_insensitive_values_are_not() {
        let c = ctx(&[("kms:EncryptionContext:Department", &["Finance"])]);
        assert!(holds(
            r#"{"StringEquals":{"KMS:ENCRYPTIONCONTEXT:department":"Finance"}}"#,
            &c
        ));
        assert!(!holds(
            r#"{"StringEquals":{"kms:EncryptionContext:Department":"finance"}}"#,
            &c
        ));
    }

    #[test]
    fn if_exists() {
        let c = r#"{"StringEqualsIfExists":{"kms:EncryptionContext:Dept":"IT"}}"#;
        assert!(holds(c, &Context::new()));
        assert!(holds(c, &ctx(&[("kms:EncryptionContext:Dept", &["IT"])])));
        assert!(!holds(c, &ctx(&[("kms:EncryptionContext:Dept", &["HR"])])));
        // An empty key exists.
        assert!(!holds(c, &ctx(&[("kms:EncryptionContext:Dept", &[])])));
        let n = r#"{"StringNotEqualsIfExists":{"kms:EncryptionContext:Dept":"IT"}}"#;
        assert!(holds(n, &Context::new()));
        assert!(!holds(n, &ctx(&[("kms:EncryptionContext:Dept", &["IT"])])));
        let num = r#"{"NumericLessThanIfExists":{"aws:MultiFactorAuthAge":"3600"}}"#;
        assert!(holds(num, &Context::new()));
        assert!(!holds(num, &ctx(&[("aws:MultiFactorAuthAge", &["7200"])])));
        let any = r#"{"ForAnyValue:StringEqualsIfExists":{"kms:EncryptionContextKeys":"Dept"}}"#;
        assert!(holds(any, &Context::new()));
        // A request's multivalued key with no values is left out, as AWS does.
        let keys = r#"{"StringEqualsIfExists":{"kms:EncryptionContextKeys":"Dept"}}"#;
        let mut request = ctx(&[("kms:EncryptionContextKeys", &["Dept"])]);
        request.set_values("kms:encryptioncontextkeys", Vec::new());
        assert_eq!(request.get("kms:EncryptionContextKeys"), None);
        assert!(holds(keys, &request));
    }

    #[test]
    fn set_operators() {
        let keys = |v: &[&str]| ctx(&[("kms:EncryptionContextKeys", v)]);
        let any =
            r#"{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["Dept","Project"]}}"#;
        assert!(holds(any, &keys(&["Dept"])));
        assert!(holds(any, &keys(&["Other", "Project"])));
        assert!(!holds(any, &keys(&["Other"])));
        assert!(!holds(any, &keys(&[])));
        assert!(!holds(any, &Context::new())); // ForAnyValue, absent: false
        let all =
            r#"{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Dept","Project"]}}"#;
        assert!(holds(all, &keys(&["Dept"])));
        assert!(holds(all, &keys(&["Project", "Dept"])));
        assert!(!holds(all, &keys(&["Dept", "Other"])));
        assert!(holds(all, &keys(&[]))); // vacuous
        assert!(holds(all, &Context::new())); // ForAllValues, absent: true
                                              // The IAM User Guide's table for ForAllValues:StringNotLike.
        let not_like = r#"{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}"#;
        let tags = |v: &[&str]| ctx(&[("aws:TagKeys", v)]);
        assert!(!holds(not_like, &tags(&["key1:legal"])));
        assert!(!holds(not_like, &tags(&["key1:hr", "key1:personnel"])));
        assert!(holds(not_like, &tags(&["key2:audit"])));
        assert!(!holds(not_like, &tags(&["key2:audit", "key1:hr"])));
        assert!(holds(not_like, &Context::new()));
        let any_not = r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":"a"}}"#;
        assert!(holds(any_not, &tags(&["a", "b"])));
        assert!(!holds(any_not, &tags(&["a"])));
        assert!(!holds(any_not, &Context::new()));
        // Without a set operator a multivalued key matches when any value does.
        let plain = r#"{"StringEquals":{"aws:TagKeys":"a"}}"#;
        assert!(holds(plain, &tags(&["b", "a"])));
        assert!(!holds(plain, &tags(&["b"])));
        let plain_not = r#"{"StringNotEquals":{"aws:TagKeys":"a"}}"#;
        assert!(!holds(plain_not, &tags(&["b", "a"])));
        assert!(holds(plain_not, &tags(&["b"])));
        assert!(holds(plain_not, &tags(&[])));
    }

    #[test]
    fn null_operator() {
        let absent = r#"{"Null":{"kms:EncryptionContextKeys":"true"}}"#;
        let present = r#"{"Null":{"kms:EncryptionContextKeys":false}}"#;
        let some = ctx(&[("kms:EncryptionContextKeys", &["Dept"])]);
        let empty = ctx(&[("kms:EncryptionContextKeys", &[])]);
        assert!(holds(absent, &Context::new()));
        assert!(!holds(absent, &some));
        assert!(holds(absent, &empty));
        assert!(!holds(present, &Context::new()));
        assert!(holds(present, &some));
        assert!(!holds(present, &empty));
        assert!(holds(
            r#"{"Null":{"kms:EncryptionContextKeys":["true","false"]}}"#,
            &some
        ));
    }

    #[test]
    fn numeric_operators() {
        let age = |v: &str| ctx(&[("aws:MultiFactorAuthAge", &[v])]);
        let cases: &[(&str, &str, bool)] = &[
            ("NumericEquals", "10", true),
            ("NumericEquals", "10.0", true),
            ("NumericEquals", "11", false),
            ("NumericNotEquals", "11", true),
            ("NumericNotEquals", "10", false),
            ("NumericLessThan", "9.5", true),
            ("NumericLessThan", "10", false),
            ("NumericLessThanEquals", "10", true),
            ("NumericLessThanEquals", "10.01", false),
            ("NumericGreaterThan", "11", true),
            ("NumericGreaterThan", "10", false),
            ("NumericGreaterThanEquals", "10", true),
            ("NumericGreaterThanEquals", "-3", false),
            ("NumericEquals", "ten", false),
            ("NumericNotEquals", "ten", true),
        ];
        for (op, value, expected) in cases {
            let c = format!(r#"{{"{op}":{{"aws:MultiFactorAuthAge":10}}}}"#);
            assert_eq!(holds(&c, &age(value)), *expected, "{op} {value}");
        }
        assert!(!holds(
            r#"{"NumericLessThan":{"aws:MultiFactorAuthAge":10}}"#,
            &Context::new()
        ));
        assert!(holds(
            r#"{"NumericNotEquals":{"aws:MultiFactorAuthAge":10}}"#,
            &Context::new()
        ));
        // Several values: OR; negated: NOR.
        assert!(holds(
            r#"{"NumericEquals":{"a:n":[1,2]}}"#,
            &ctx(&[("a:n", &["2"])])
        ));
        assert!(!holds(
            r#"{"NumericNotEquals":{"a:n":[1,2]}}"#,
            &ctx(&[("a:n", &["2"])])
        ));
    }

    #[test]
    fn date_operators() {
        let now = |v: &str| ctx(&[("aws:CurrentTime", &[v])]);
        let op =
            |name: &str, value: &str| format!(r#"{{"{name}":{{"aws:CurrentTime":"{value}"}}}}"#);
        let t = "2026-12-02T18:00:00Z";
        assert!(holds(&op("DateEquals", t), &now("2026-12-02T18:00:00Z")));
        assert!(holds(
            &op("DateEquals", t),
            &now("2026-12-02T19:00:00+01:00")
        ));
        assert!(holds(&op("DateEquals", t), &now("1796234400")));
        assert!(!holds(&op("DateEquals", t), &now("2026-12-02T18:00:01Z")));
        assert!(holds(&op("DateNotEquals", t), &now("2026-12-02T18:00:01Z")));
        assert!(holds(&op("DateLessThan", t), &now("2026-12-02T17:59:59Z")));
        assert!(!holds(&op("DateLessThan", t), &now(t)));
        assert!(holds(&op("DateLessThanEquals", t), &now(t)));
        assert!(holds(
            &op("DateGreaterThan", t),
            &now("2027-01-01T00:00:00Z")
        ));
        assert!(!holds(&op("DateGreaterThan", t), &now(t)));
        assert!(holds(&op("DateGreaterThanEquals", t), &now(t)));
        assert!(!holds(&op("DateGreaterThanEquals", t), &now("not a date")));
        assert!(holds(&op("DateNotEquals", t), &now("not a date")));
        // A date alone is midnight UTC; epoch seconds as a JSON number.
        assert!(holds(
            &op("DateEquals", "2026-12-02"),
            &now("2026-12-02T00:00:00Z")
        ));
        assert!(holds(
            r#"{"DateLessThan":{"aws:EpochTime":1796234400}}"#,
            &ctx(&[("aws:EpochTime", &["1796234399"])])
        ));
        assert!(!holds(&op("DateLessThan", t), &Context::new()));
        assert!(holds(&op("DateNotEquals", t), &Context::new()));
        assert!(holds(&op("DateLessThanIfExists", t), &Context::new()));
    }

    #[test]
    fn bool_binary_ip_arn_operators() {
        let tls = |v: &str| ctx(&[("aws:SecureTransport", &[v])]);
        assert!(holds(
            r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
            &tls("true")
        ));
        assert!(holds(
            r#"{"Bool":{"aws:SecureTransport":true}}"#,
            &tls("TRUE")
        ));
        assert!(!holds(
            r#"{"Bool":{"aws:SecureTransport":true}}"#,
            &tls("false")
        ));
        assert!(!holds(
            r#"{"Bool":{"aws:SecureTransport":true}}"#,
            &tls("yes")
        ));
        assert!(!holds(
            r#"{"Bool":{"aws:SecureTransport":false}}"#,
            &Context::new()
        ));
        assert!(holds(
            r#"{"BoolIfExists":{"aws:SecureTransport":false}}"#,
            &Context::new()
        ));

        let blob = |v: &str| ctx(&[("a:blob", &[v])]);
        assert!(holds(
            r#"{"BinaryEquals":{"a:blob":"AAEC"}}"#,
            &blob("AAEC")
        ));
        assert!(!holds(
            r#"{"BinaryEquals":{"a:blob":"AAEC"}}"#,
            &blob("AAED")
        ));
        assert!(!holds(
            r#"{"BinaryEquals":{"a:blob":"AAEC"}}"#,
            &blob("%%%")
        ));

        let ip = |v: &str| ctx(&[("aws:SourceIp", &[v])]);
        let allow = r#"{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32","198.51.100.7","0.0.0.0/0"]}}"#;
        let nets =
            r#"{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32","198.51.100.7"]}}"#;
        assert!(holds(allow, &ip("8.8.8.8")));
        assert!(holds(nets, &ip("203.0.113.200")));
        assert!(!holds(nets, &ip("203.0.114.1")));
        assert!(holds(nets, &ip("198.51.100.7")));
        assert!(!holds(nets, &ip("198.51.100.8")));
        assert!(holds(nets, &ip("2001:db8:1::5")));
        assert!(!holds(nets, &ip("2001:db9::5")));
        assert!(holds(nets, &ip("::ffff:203.0.113.9"))); // IPv4-mapped
        assert!(!holds(nets, &ip("not an address")));
        assert!(!holds(nets, &Context::new()));
        let deny_nets = r#"{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}"#;
        assert!(holds(deny_nets, &ip("8.8.8.8")));
        assert!(!holds(deny_nets, &ip("10.1.2.3")));
        assert!(!holds(deny_nets, &ip("192.168.1.1")));
        assert!(holds(deny_nets, &Context::new()));

        let arn = |v: &str| ctx(&[("aws:PrincipalArn", &[v])]);
        let like = r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/ops-*"}}"#;
        assert!(holds(like, &arn("arn:aws:iam::111122223333:role/ops-blue")));
        assert!(!holds(
            like,
            &arn("arn:aws:iam::111122223333:role/dev-blue")
        ));
        assert!(!holds(
            like,
            &arn("arn:aws:iam::111122223333:user/ops-blue")
        ));
        // `*` in the account part does not span colons.
        assert!(!holds(
            r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::*:root"}}"#,
            &arn("arn:aws:iam::1:2:root")
        ));
        let eq = r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:root"}}"#;
        assert!(holds(eq, &arn("arn:aws:iam::111122223333:root")));
        assert!(!holds(eq, &arn("arn:aws:iam::111122223334:root")));
        let not_like = r#"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/ops-*"}}"#;
        assert!(holds(not_like, &arn("arn:aws:iam::111122223333:user/x")));
        assert!(!holds(
            not_like,
            &arn("arn:aws:iam::111122223333:role/ops-1")
        ));
        assert!(holds(not_like, &Context::new()));
        assert!(holds(
            r#"{"ArnLike":{"aws:SourceArn":"*"}}"#,
            &ctx(&[("aws:SourceArn", &["anything"])])
        ));
    }

    #[test]
    fn keys_and_operators_are_anded() {
        let c = r#"{"StringEquals":{"kms:EncryptionContext:Dept":"IT","kms:EncryptionContext:Project":"x"},"Bool":{"aws:SecureTransport":"true"}}"#;
        let full = ctx(&[
            ("kms:EncryptionContext:Dept", &["IT"]),
            ("kms:EncryptionContext:Project", &["x"]),
            ("aws:SecureTransport", &["true"]),
        ]);
        assert!(holds(c, &full));
        let no_tls = ctx(&[
            ("kms:EncryptionContext:Dept", &["IT"]),
            ("kms:EncryptionContext:Project", &["x"]),
        ]);
        assert!(!holds(c, &no_tls));
        let wrong_project = ctx(&[
            ("kms:EncryptionContext:Dept", &["IT"]),
            ("kms:EncryptionContext:Project", &["y"]),
            ("aws:SecureTransport", &["true"]),
        ]);
        assert!(!holds(c, &wrong_project));
    }

    #[test]
    fn conditions_gate_denies_too() {
        let p = key(&format!(
            r#"{{"Statement":[
                {{"Effect":"Allow","Principal":{{"AWS":"{A}"}},"Action":"kms:*"}},
                {{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Condition":{{"StringNotEquals":{{"kms:EncryptionContext:Dept":"IT"}}}}}}]}}"#
        ));
        let alice = user(A, "alice");
        let it = ctx(&[("kms:EncryptionContext:Dept", &["IT"])]);
        assert_eq!(eval(&p, &alice, "kms:Decrypt", &it), Effect::AllowAccount);
        assert_eq!(
            eval(&p, &alice, "kms:Decrypt", &Context::new()),
            Effect::Deny
        );
        assert_eq!(
            eval(
                &p,
                &alice,
                "kms:Decrypt",
                &ctx(&[("kms:EncryptionContext:Dept", &["HR"])])
            ),
            Effect::Deny
        );
    }

    #[test]
    fn damaged_documents_never_panic() {
        let document = format!(
            r#"{{"Version":"2012-10-17","Id":"x","Statement":[
                {{"Sid":"a","Effect":"Allow","Principal":{{"AWS":["{A}","arn:aws:iam::{B}:user/b"]}},"Action":["kms:*"],"Resource":"*",
                  "Condition":{{"ForAnyValue:StringLike":{{"kms:EncryptionContextKeys":["D*"]}},"IpAddress":{{"aws:SourceIp":"10.0.0.0/8"}},"DateLessThan":{{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}}}},
                {{"Effect":"Deny","NotPrincipal":{{"AWS":"arn:aws:sts::{A}:assumed-role/r/s"}},"NotAction":"kms:Describe*","NotResource":"arn:aws:kms:*:{A}:key/*"}}]}}"#
        );
        let c = ctx(&[
            ("kms:EncryptionContextKeys", &["Dept"]),
            ("aws:SourceIp", &["10.1.1.1"]),
            ("aws:CurrentTime", &["2026-12-02T00:00:00Z"]),
        ]);
        let who = user(B, "b");
        let mut accepted = 0;
        let chars: Vec<char> = document.chars().collect();
        for cut in 0..chars.len() {
            let truncated: String = chars[..cut].iter().collect();
            let replaced: String = chars
                .iter()
                .enumerate()
                .map(|(i, ch)| if i == cut { '"' } else { *ch })
                .collect();
            let dropped: String = chars
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != cut)
                .map(|(_, ch)| *ch)
                .collect();
            for damaged in [truncated, replaced, dropped] {
                if let Ok(p) = Policy::parse(&damaged, PolicyKind::Key) {
                    accepted += 1;
                    let _ = eval(&p, &who, "kms:Encrypt", &c);
                }
            }
        }
        let whole = key(&document);
        // Bob is named; the Deny's NotResource spares keys of account A, such as KEY.
        assert_eq!(eval(&whole, &who, "kms:Encrypt", &c), Effect::Allow);
        let elsewhere = Request {
            principal: &who,
            action: "kms:Encrypt",
            resource: "arn:aws:kms:us-east-1:444455556666:key/k",
            context: &c,
        };
        assert_eq!(whole.evaluate(&elsewhere), Effect::Deny);
        assert!(accepted > 0);
    }

    #[test]
    fn wildcard_matcher() {
        let m = |p: &str, t: &str| wildcard_match(p, t, false);
        assert!(m("*", ""));
        assert!(m("a*", "a"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(m("a*b*c", "abcbc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("*a", "aaa"));
        assert!(!m("?", ""));
        assert!(m("?", "é"));
        assert!(m("??", "éa"));
        assert!(!m("??", "é"));
        assert!(m("**", "x"));
        assert!(!m("a", "ab"));
        assert!(!m("ab", "a"));
        assert!(m("*x*", "abcxdef"));
        assert!(wildcard_match("kms:enc*", "KMS:Encrypt", true));
        assert!(!wildcard_match("kms:enc*", "KMS:Encrypt", false));
        // Many stars on a long text stay fast (no exponential backtracking).
        let text = "a".repeat(10_000);
        assert!(!m("*a*a*a*a*a*a*a*a*b", &text));
    }
}
