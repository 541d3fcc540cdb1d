//! Who may do what with a key: AWS KMS's evaluation of a request against the key
//! policy, the caller's identity policies and the key's grants, as the AWS KMS
//! Developer Guide documents it. Pure: the command handler gathers the inputs
//! (parsed policies, grants, condition keys) and records the verdict.
//!
//! - An explicit `Deny` in any document wins.
//! - A grant whose grantee is the caller, whose operations include the action and whose
//!   constraints the request's encryption context meets allows it.
//! - Same account: the key policy allows the caller directly, or allows the account
//!   (`Effect::AllowAccount`) and the caller's identity policies allow it too (the root
//!   user needs no identity policy).
//! - Another account: the key policy allows the caller or its account, and the caller's
//!   identity policies allow it (unless it is that account's root user).
//! - Actions without a key (CreateKey, ListKeys, …): the identity policies alone.
//! - Otherwise: denied.

use super::policy::{Context, Policy, Principal};
use std::collections::BTreeMap;
use std::sync::Arc;

/// An encryption context, as grant constraints compare it.
pub type EncryptionContextMap = BTreeMap<String, String>;

/// A grant's constraints: at most one of the two is set (as CreateGrant allows).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GrantConstraints {
    /// The request's encryption context must equal this one exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_context_equals: Option<EncryptionContextMap>,
    /// The request's encryption context must include every pair of this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_context_subset: Option<EncryptionContextMap>,
}

/// A grant on a key, as the key's stream recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub grant_id: String,
    /// The ARN the grant names: a user, a role, an assumed-role session, or an account root.
    pub grantee_principal: String,
    /// KMS operation names (`Encrypt`, `ReEncryptFrom`, `CreateGrant`, …).
    pub operations: Vec<String>,
    pub constraints: Option<GrantConstraints>,
}

/// Everything one authorization decision needs.
#[derive(Clone, Copy, Debug)]
pub struct Authorization<'a> {
    pub principal: &'a Principal,
    /// `kms:Encrypt`, `kms:ReEncryptFrom`, …
    pub action: &'a str,
    /// The key's ARN, or `*` (or an alias ARN) for actions without a key policy.
    pub resource: &'a str,
    /// The key policy and the key's account; `None` for actions decided by identity policies
    /// alone.
    pub resource_policy: Option<(&'a Policy, &'a str)>,
    pub identity_policies: &'a [Arc<Policy>],
    /// The key's grants, and those named by the request's grant tokens.
    pub grants: &'a [Arc<Grant>],
    /// The request's encryption context, for grant constraints (`None`: the operation takes
    /// none; a grant with constraints then does not apply).
    pub encryption_context: Option<&'a EncryptionContextMap>,
    pub context: &'a Context,
}

/// How a request was allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Allowed {
    KeyPolicy,
    IdentityPolicy,
    /// By the grant with this id.
    Grant(String),
}

/// Why a request was denied: AWS words the four differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    ExplicitDenyInResourcePolicy,
    ExplicitDenyInIdentityPolicy,
    NoResourcePolicyAllows,
    NoIdentityPolicyAllows,
}

impl Denial {
    /// AWS's `AccessDeniedException` message. `caller_arn` is the ARN the caller is known by
    /// (a session's `arn:aws:sts::…:assumed-role/…` for a role session).
    pub fn message(self, caller_arn: &str, action: &str, resource: &str) -> String {
        let head = format!(
            "User: {caller_arn} is not authorized to perform: {action} on resource: {resource}"
        );
        match self {
            Denial::ExplicitDenyInResourcePolicy => {
                format!("{head} with an explicit deny in a resource-based policy")
            }
            Denial::ExplicitDenyInIdentityPolicy => {
                format!("{head} with an explicit deny in an identity-based policy")
            }
            Denial::NoResourcePolicyAllows => {
                format!("{head} because no resource-based policy allows the {action} action")
            }
            Denial::NoIdentityPolicyAllows => {
                format!("{head} because no identity-based policy allows the {action} action")
            }
        }
    }
}

/// The verdict on one request.
pub fn authorize(request: &Authorization<'_>) -> Result<Allowed, Denial> {
    let _ = request;
    Err(Denial::NoResourcePolicyAllows)
}
