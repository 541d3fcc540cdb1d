//! IAM policy documents as KMS uses them: parsed once, when they are put, into
//! typed statements; evaluated on the request path without touching JSON.
//!
//! The grammar is IAM's (Version, Id, Statement; per statement Sid, Effect,
//! Principal/NotPrincipal, Action/NotAction, Resource/NotResource, Condition).
//! A statement's result is one of [`Effect`]; combining the documents of a
//! request (key policy, identity policies, grants) is [`super::authz`]'s.

use std::collections::HashMap;

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
/// key), values as the operator says. A key set with no values is "present, empty"; a key
/// never set is absent (`Null` and `…IfExists` tell the two apart).
#[derive(Clone, Debug, Default)]
pub struct Context {
    values: HashMap<String, Vec<String>>,
}

impl Context {
    pub fn new() -> Context {
        Context::default()
    }

    /// Set `key` to `values` (replacing what was there).
    pub fn set(&mut self, key: &str, values: Vec<String>) {
        self.values.insert(key.to_ascii_lowercase(), values);
    }

    /// Set a single-valued key.
    pub fn set_one(&mut self, key: &str, value: impl Into<String>) {
        self.set(key, vec![value.into()]);
    }

    /// The values of `key`, if it is present.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(Vec::as_slice)
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
    // Filled in by the implementation: typed statements, nothing left as JSON.
    _private: (),
}

impl Policy {
    /// Parse `document` against IAM's policy grammar for `kind`.
    pub fn parse(document: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let _ = (document, kind);
        Err(PolicyError("policy parsing is not implemented yet".into()))
    }

    /// What this document says of `request`: an explicit deny, an allow, or nothing
    /// (precedence Deny > Allow > AllowAccount > NotApplicable over all statements).
    pub fn evaluate(&self, request: &Request<'_>) -> Effect {
        let _ = request;
        Effect::NotApplicable
    }
}
