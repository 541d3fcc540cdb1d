//! Who may do what with a key: AWS KMS's evaluation of a request against the key
//! policy, the caller's identity policies and the key's grants, as the AWS KMS
//! Developer Guide documents it ("Determining access to an AWS KMS key", "Allowing users
//! in other accounts to use a KMS key", "Grants in AWS KMS"). Pure: the command handler
//! gathers the inputs (parsed policies, grants, condition keys) and records the verdict.
//!
//! In order:
//!
//! 1. An explicit `Deny` in any document wins. Identity policies are looked at first, so
//!    when both an identity policy and the key policy deny, the denial says "in an
//!    identity-based policy" (AWS documents no order between the two messages; both are
//!    denials either way).
//! 2. A grant allows a `kms:` action on a key (a resource policy is present) when its
//!    grantee is the caller, its operations include the action (without `kms:`, compared
//!    exactly) and the request's encryption context meets its constraints:
//!    `EncryptionContextEquals` — the request's context is exactly the constraint's;
//!    `EncryptionContextSubset` — every constraint pair is in the request's context
//!    (values case-sensitively). A grant with a constraint does not apply to a request
//!    without an encryption context (`encryption_context: None`); a `GrantConstraints`
//!    with neither field set constrains nothing. The first applying grant, in slice
//!    order, is the one reported. A grant is checked before the key policy's allow, so a
//!    request both allow is reported as allowed by the grant.
//!    The grantee is "the caller" when it equals the caller's ARN (a user's, a role's for
//!    all of its sessions, or the root's) or its session ARN. A grant to an account's root
//!    ARN therefore serves that account's root user only: AWS documents accounts as valid
//!    grantees but not that a grant to an account delegates to its IAM identities, so we
//!    take the narrower reading.
//! 3. Actions without a key policy (CreateKey, ListKeys, …): the identity policies alone
//!    (the root user needs none).
//! 4. Same account: the key policy allows the caller directly (`Effect::Allow`: its ARN or
//!    `*`), or allows the account (`Effect::AllowAccount`) and the caller's identity
//!    policies allow it too (the root user needs no identity policy). An identity policy
//!    alone is not enough: every KMS key needs its key policy to allow.
//! 5. Another account: the key policy allows the caller or its account, and the caller's
//!    identity policies allow it (unless it is that account's root user) — a `*` or direct
//!    allow in the key policy does not spare a foreign caller its identity policy.
//! 6. Otherwise: denied, with "no resource-based policy allows" when the key policy does
//!    not allow, and "no identity-based policy allows" when only the identity side is
//!    missing.
//!
//! How an allow is reported: `KeyPolicy` when the key policy alone sufficed (a direct
//! allow in the key's own account, or the key policy's allow of the account for its root
//! user, in either account), `IdentityPolicy` when an identity policy was needed and
//! allowed, `Grant(id)` for a grant.

use super::policy::{Context, Effect, Policy, Principal, Request};
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

/// For a decision no grant can take part in (actions without a key, the lockout check).
pub const NO_GRANTS: &[Arc<Grant>] = &[];

/// Everything one authorization decision needs. `G` is however the caller holds its grants
/// (the key state's own records, or `Arc<Grant>`s): they are read in place, never copied.
#[derive(Clone, Copy, Debug)]
pub struct Authorization<'a, G: AsRef<Grant> = Arc<Grant>> {
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
    pub grants: &'a [G],
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
pub fn authorize<G: AsRef<Grant>>(request: &Authorization<'_, G>) -> Result<Allowed, Denial> {
    let principal = request.principal;
    let policy_request = Request {
        principal,
        action: request.action,
        resource: request.resource,
        context: request.context,
    };

    let mut identity_allows = false;
    for policy in request.identity_policies {
        match policy.evaluate(&policy_request) {
            Effect::Deny => return Err(Denial::ExplicitDenyInIdentityPolicy),
            Effect::Allow => identity_allows = true,
            // An identity policy never names principals; should a resource-based document
            // be passed here by mistake, its account-level allow is not an identity allow.
            Effect::AllowAccount | Effect::NotApplicable => {}
        }
    }

    let Some((key_policy, key_account)) = request.resource_policy else {
        return if principal.root || identity_allows {
            Ok(Allowed::IdentityPolicy)
        } else {
            Err(Denial::NoIdentityPolicyAllows)
        };
    };
    let key_effect = key_policy.evaluate(&policy_request);
    if key_effect == Effect::Deny {
        return Err(Denial::ExplicitDenyInResourcePolicy);
    }

    if let Some(grant) = applying_grant(request) {
        return Ok(Allowed::Grant(grant.grant_id.clone()));
    }

    let same_account = key_account == principal.account;
    match key_effect {
        Effect::Allow if same_account => Ok(Allowed::KeyPolicy),
        Effect::Allow | Effect::AllowAccount => {
            if principal.root {
                Ok(Allowed::KeyPolicy)
            } else if identity_allows {
                Ok(Allowed::IdentityPolicy)
            } else {
                Err(Denial::NoIdentityPolicyAllows)
            }
        }
        Effect::NotApplicable | Effect::Deny => Err(Denial::NoResourcePolicyAllows),
    }
}

/// The first grant that allows this request, if any (see the module doc, step 2).
fn applying_grant<'g, G: AsRef<Grant>>(request: &Authorization<'g, G>) -> Option<&'g Grant> {
    let operation = request
        .action
        .get(..4)
        .filter(|prefix| prefix.eq_ignore_ascii_case("kms:"))
        .map(|_| &request.action[4..])?;
    let principal = request.principal;
    request.grants.iter().map(AsRef::as_ref).find(|grant| {
        let grantee = grant.grantee_principal == principal.arn
            || principal.session_arn.as_deref() == Some(grant.grantee_principal.as_str());
        grantee
            && grant.operations.iter().any(|o| o == operation)
            && constraints_hold(grant.constraints.as_ref(), request.encryption_context)
    })
}

/// Whether a request's encryption context meets a grant's constraints.
pub fn constraints_hold(
    constraints: Option<&GrantConstraints>,
    context: Option<&EncryptionContextMap>,
) -> bool {
    let Some(constraints) = constraints else {
        return true;
    };
    let GrantConstraints {
        encryption_context_equals: equals,
        encryption_context_subset: subset,
    } = constraints;
    if equals.is_none() && subset.is_none() {
        return true;
    }
    let Some(context) = context else {
        return false;
    };
    let equals_ok = equals.as_ref().is_none_or(|wanted| wanted == context);
    let subset_ok = subset.as_ref().is_none_or(|wanted| {
        wanted
            .iter()
            .all(|(k, v)| context.get(k).is_some_and(|have| have == v))
    });
    equals_ok && subset_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::PolicyKind;

    const A: &str = "111122223333";
    const B: &str = "444455556666";
    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd";

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

    fn parse(document: &str, kind: PolicyKind) -> Policy {
        Policy::parse(document, kind).unwrap_or_else(|e| panic!("{e}: {document}"))
    }

    fn default_key_policy() -> Policy {
        parse(
            &format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:root"}},"Action":"kms:*","Resource":"*"}}}}"#
            ),
            PolicyKind::Key,
        )
    }

    fn allow_identity(action: &str) -> Arc<Policy> {
        Arc::new(parse(
            &format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"{action}","Resource":"*"}}}}"#
            ),
            PolicyKind::Identity,
        ))
    }

    fn deny_identity(action: &str) -> Arc<Policy> {
        Arc::new(parse(
            &format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Deny","Action":"{action}","Resource":"*"}}}}"#
            ),
            PolicyKind::Identity,
        ))
    }

    struct Case<'a> {
        principal: Principal,
        action: &'a str,
        key_policy: Option<(&'a Policy, &'a str)>,
        identity: Vec<Arc<Policy>>,
        grants: Vec<Arc<Grant>>,
        encryption_context: Option<EncryptionContextMap>,
    }

    impl<'a> Case<'a> {
        fn new(principal: Principal, action: &'a str, key_policy: Option<&'a Policy>) -> Self {
            Case {
                principal,
                action,
                key_policy: key_policy.map(|p| (p, A)),
                identity: Vec::new(),
                grants: Vec::new(),
                encryption_context: None,
            }
        }

        fn run(&self) -> Result<Allowed, Denial> {
            let context = Context::new();
            authorize(&Authorization {
                principal: &self.principal,
                action: self.action,
                resource: if self.key_policy.is_some() { KEY } else { "*" },
                resource_policy: self.key_policy,
                identity_policies: &self.identity,
                grants: &self.grants,
                encryption_context: self.encryption_context.as_ref(),
                context: &context,
            })
        }
    }

    fn grant(
        id: &str,
        grantee: &str,
        ops: &[&str],
        constraints: Option<GrantConstraints>,
    ) -> Arc<Grant> {
        Arc::new(Grant {
            grant_id: id.into(),
            grantee_principal: grantee.into(),
            operations: ops.iter().map(|o| o.to_string()).collect(),
            constraints,
        })
    }

    fn ec(pairs: &[(&str, &str)]) -> EncryptionContextMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_four_denial_messages() {
        let arn = "arn:aws:sts::111122223333:assumed-role/ops/s1";
        assert_eq!(
            Denial::ExplicitDenyInResourcePolicy.message(arn, "kms:Decrypt", KEY),
            format!("User: {arn} is not authorized to perform: kms:Decrypt on resource: {KEY} with an explicit deny in a resource-based policy")
        );
        assert_eq!(
            Denial::ExplicitDenyInIdentityPolicy.message(arn, "kms:Decrypt", KEY),
            format!("User: {arn} is not authorized to perform: kms:Decrypt on resource: {KEY} with an explicit deny in an identity-based policy")
        );
        assert_eq!(
            Denial::NoResourcePolicyAllows.message(arn, "kms:Decrypt", KEY),
            format!("User: {arn} is not authorized to perform: kms:Decrypt on resource: {KEY} because no resource-based policy allows the kms:Decrypt action")
        );
        assert_eq!(
            Denial::NoIdentityPolicyAllows.message(arn, "kms:Decrypt", KEY),
            format!("User: {arn} is not authorized to perform: kms:Decrypt on resource: {KEY} because no identity-based policy allows the kms:Decrypt action")
        );
    }

    #[test]
    fn same_account_delegation_needs_an_identity_policy_except_for_root() {
        let kp = default_key_policy();
        assert_eq!(
            Case::new(root(A), "kms:Encrypt", Some(&kp)).run(),
            Ok(Allowed::KeyPolicy)
        );
        let mut c = Case::new(user(A, "alice"), "kms:Encrypt", Some(&kp));
        assert_eq!(c.run(), Err(Denial::NoIdentityPolicyAllows));
        c.identity = vec![allow_identity("kms:Encrypt")];
        assert_eq!(c.run(), Ok(Allowed::IdentityPolicy));
        c.action = "kms:Decrypt";
        assert_eq!(c.run(), Err(Denial::NoIdentityPolicyAllows));
    }

    #[test]
    fn a_direct_key_policy_allow_needs_no_identity_policy_in_the_same_account() {
        let kp = parse(
            &format!(
                r#"{{"Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:user/alice"}},"Action":"kms:Encrypt"}}}}"#
            ),
            PolicyKind::Key,
        );
        assert_eq!(
            Case::new(user(A, "alice"), "kms:Encrypt", Some(&kp)).run(),
            Ok(Allowed::KeyPolicy)
        );
        // Not even root gets past a key policy that does not name it.
        assert_eq!(
            Case::new(root(A), "kms:Encrypt", Some(&kp)).run(),
            Err(Denial::NoResourcePolicyAllows)
        );
        let mut other = Case::new(user(A, "bob"), "kms:Encrypt", Some(&kp));
        other.identity = vec![allow_identity("kms:*")];
        assert_eq!(other.run(), Err(Denial::NoResourcePolicyAllows));
    }

    #[test]
    fn another_account_needs_both_sides() {
        let kp = parse(
            &format!(
                r#"{{"Statement":[
                    {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:root"}},"Action":"kms:*"}},
                    {{"Effect":"Allow","Principal":{{"AWS":"{B}"}},"Action":["kms:Encrypt","kms:Decrypt"]}},
                    {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{B}:user/carol"}},"Action":"kms:DescribeKey"}}]}}"#
            ),
            PolicyKind::Key,
        );
        assert_eq!(
            Case::new(root(B), "kms:Encrypt", Some(&kp)).run(),
            Ok(Allowed::KeyPolicy)
        );
        assert_eq!(
            Case::new(root(B), "kms:Sign", Some(&kp)).run(),
            Err(Denial::NoResourcePolicyAllows)
        );
        let mut bob = Case::new(user(B, "bob"), "kms:Encrypt", Some(&kp));
        assert_eq!(bob.run(), Err(Denial::NoIdentityPolicyAllows));
        bob.identity = vec![allow_identity("kms:*")];
        assert_eq!(bob.run(), Ok(Allowed::IdentityPolicy));
        bob.action = "kms:Sign";
        assert_eq!(bob.run(), Err(Denial::NoResourcePolicyAllows));
        // A direct allow of a foreign user still needs its identity policy.
        let mut carol = Case::new(user(B, "carol"), "kms:DescribeKey", Some(&kp));
        assert_eq!(carol.run(), Err(Denial::NoIdentityPolicyAllows));
        carol.identity = vec![allow_identity("kms:DescribeKey")];
        assert_eq!(carol.run(), Ok(Allowed::IdentityPolicy));
    }

    #[test]
    fn explicit_denies_win_and_say_where() {
        let kp = parse(
            &format!(
                r#"{{"Statement":[
                    {{"Effect":"Allow","Principal":"*","Action":"kms:*"}},
                    {{"Effect":"Deny","Principal":{{"AWS":"{A}"}},"Action":"kms:ScheduleKeyDeletion"}}]}}"#
            ),
            PolicyKind::Key,
        );
        assert_eq!(
            Case::new(root(A), "kms:ScheduleKeyDeletion", Some(&kp)).run(),
            Err(Denial::ExplicitDenyInResourcePolicy)
        );
        let mut alice = Case::new(user(A, "alice"), "kms:Decrypt", Some(&kp));
        assert_eq!(alice.run(), Ok(Allowed::KeyPolicy));
        alice.identity = vec![allow_identity("kms:*"), deny_identity("kms:Decrypt")];
        assert_eq!(alice.run(), Err(Denial::ExplicitDenyInIdentityPolicy));
        // Both deny: the identity policy's deny is the one reported.
        alice.action = "kms:ScheduleKeyDeletion";
        alice.identity = vec![deny_identity("kms:ScheduleKeyDeletion")];
        assert_eq!(alice.run(), Err(Denial::ExplicitDenyInIdentityPolicy));
        // A grant does not override a deny.
        let mut granted = Case::new(user(A, "alice"), "kms:Decrypt", Some(&kp));
        granted.identity = vec![deny_identity("kms:Decrypt")];
        granted.grants = vec![grant(
            "g1",
            "arn:aws:iam::111122223333:user/alice",
            &["Decrypt"],
            None,
        )];
        assert_eq!(granted.run(), Err(Denial::ExplicitDenyInIdentityPolicy));
        let mut granted = Case::new(root(A), "kms:ScheduleKeyDeletion", Some(&kp));
        granted.grants = vec![grant(
            "g1",
            "arn:aws:iam::111122223333:root",
            &["ScheduleKeyDeletion"],
            None,
        )];
        assert_eq!(granted.run(), Err(Denial::ExplicitDenyInResourcePolicy));
    }

    #[test]
    fn actions_without_a_key_use_identity_policies_alone() {
        assert_eq!(
            Case::new(root(A), "kms:CreateKey", None).run(),
            Ok(Allowed::IdentityPolicy)
        );
        let mut alice = Case::new(user(A, "alice"), "kms:CreateKey", None);
        assert_eq!(alice.run(), Err(Denial::NoIdentityPolicyAllows));
        alice.identity = vec![allow_identity("kms:Create*")];
        assert_eq!(alice.run(), Ok(Allowed::IdentityPolicy));
        alice.identity.push(deny_identity("kms:CreateKey"));
        assert_eq!(alice.run(), Err(Denial::ExplicitDenyInIdentityPolicy));
        // Grants need a key.
        let mut granted = Case::new(user(A, "alice"), "kms:CreateKey", None);
        granted.grants = vec![grant(
            "g1",
            "arn:aws:iam::111122223333:user/alice",
            &["CreateKey"],
            None,
        )];
        assert_eq!(granted.run(), Err(Denial::NoIdentityPolicyAllows));
    }

    #[test]
    fn grants_match_grantee_operation_and_constraints() {
        let kp = default_key_policy();
        let ops = session(B, "app", "s1");
        let mut c = Case::new(ops.clone(), "kms:Decrypt", Some(&kp));
        c.key_policy = Some((&kp, A));
        assert_eq!(c.run(), Err(Denial::NoResourcePolicyAllows));
        // By role ARN (every session) and by session ARN.
        for grantee in [
            "arn:aws:iam::444455556666:role/app",
            "arn:aws:sts::444455556666:assumed-role/app/s1",
        ] {
            c.grants = vec![grant("g-role", grantee, &["Encrypt", "Decrypt"], None)];
            assert_eq!(c.run(), Ok(Allowed::Grant("g-role".into())), "{grantee}");
        }
        c.grants = vec![grant(
            "g",
            "arn:aws:sts::444455556666:assumed-role/app/s2",
            &["Decrypt"],
            None,
        )];
        assert_eq!(c.run(), Err(Denial::NoResourcePolicyAllows));
        c.grants = vec![grant(
            "g",
            "arn:aws:iam::444455556666:role/app",
            &["Encrypt"],
            None,
        )];
        assert_eq!(c.run(), Err(Denial::NoResourcePolicyAllows));
        // Operations are compared exactly.
        c.grants = vec![grant(
            "g",
            "arn:aws:iam::444455556666:role/app",
            &["decrypt"],
            None,
        )];
        assert_eq!(c.run(), Err(Denial::NoResourcePolicyAllows));
        // A grant to an account root serves its root user only.
        c.grants = vec![grant(
            "g",
            "arn:aws:iam::444455556666:root",
            &["Decrypt"],
            None,
        )];
        assert_eq!(c.run(), Err(Denial::NoResourcePolicyAllows));
        let mut r = Case::new(root(B), "kms:Decrypt", Some(&kp));
        r.grants = c.grants.clone();
        assert_eq!(r.run(), Ok(Allowed::Grant("g".into())));
        // The first applying grant is reported.
        c.grants = vec![
            grant(
                "g1",
                "arn:aws:iam::444455556666:role/app",
                &["Encrypt"],
                None,
            ),
            grant(
                "g2",
                "arn:aws:iam::444455556666:role/app",
                &["Decrypt"],
                None,
            ),
            grant(
                "g3",
                "arn:aws:iam::444455556666:role/app",
                &["Decrypt"],
                None,
            ),
        ];
        assert_eq!(c.run(), Ok(Allowed::Grant("g2".into())));
        // Grants apply to kms: actions only.
        let mut other = Case::new(ops, "iam:Decrypt", Some(&kp));
        other.grants = vec![grant(
            "g",
            "arn:aws:iam::444455556666:role/app",
            &["Decrypt"],
            None,
        )];
        assert_eq!(other.run(), Err(Denial::NoResourcePolicyAllows));
    }

    #[test]
    fn grant_constraints() {
        let kp = default_key_policy();
        let alice = "arn:aws:iam::444455556666:user/alice";
        let equals = GrantConstraints {
            encryption_context_equals: Some(ec(&[("Dept", "IT")])),
            encryption_context_subset: None,
        };
        let subset = GrantConstraints {
            encryption_context_equals: None,
            encryption_context_subset: Some(ec(&[("Dept", "IT")])),
        };
        let run = |constraints: &GrantConstraints, context: Option<EncryptionContextMap>| {
            let mut c = Case::new(user(B, "alice"), "kms:Decrypt", Some(&kp));
            c.grants = vec![grant("g", alice, &["Decrypt"], Some(constraints.clone()))];
            c.encryption_context = context;
            c.run().is_ok()
        };
        assert!(run(&equals, Some(ec(&[("Dept", "IT")]))));
        assert!(!run(&equals, Some(ec(&[("Dept", "IT"), ("Project", "x")]))));
        assert!(!run(&equals, Some(ec(&[("Dept", "it")]))));
        assert!(!run(&equals, Some(ec(&[("dept", "IT")]))));
        assert!(!run(&equals, Some(ec(&[]))));
        assert!(!run(&equals, None));
        assert!(run(&subset, Some(ec(&[("Dept", "IT")]))));
        assert!(run(&subset, Some(ec(&[("Dept", "IT"), ("Project", "x")]))));
        assert!(!run(&subset, Some(ec(&[("Dept", "HR"), ("Project", "x")]))));
        assert!(!run(&subset, Some(ec(&[("Project", "x")]))));
        assert!(!run(&subset, None));
        let empty_equals = GrantConstraints {
            encryption_context_equals: Some(ec(&[])),
            encryption_context_subset: None,
        };
        assert!(run(&empty_equals, Some(ec(&[]))));
        assert!(!run(&empty_equals, Some(ec(&[("Dept", "IT")]))));
        assert!(!run(&empty_equals, None));
        // Constraints with neither field constrain nothing.
        assert!(run(&GrantConstraints::default(), None));
        assert!(constraints_hold(None, None));
    }
}
