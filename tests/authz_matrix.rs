//! A generated matrix of KMS authorization cases — principals × actions × key policies ×
//! identity policies × grants × encryption contexts — each decided by
//! `keyledger::domain::authz::authorize` over documents parsed by `Policy::parse`, and
//! checked against a small reference evaluator written here from AWS's documented rules
//! (IAM User Guide, "Policy evaluation logic"; KMS Developer Guide, "Determining access to
//! an AWS KMS key", "Allowing users in other accounts to use a KMS key", "Grants in AWS
//! KMS"). The reference reads the generator's descriptions of the statements directly; it
//! never goes through `Policy`.

use keyledger::domain::authz::{
    authorize, Allowed, Authorization, Denial, EncryptionContextMap, Grant, GrantConstraints,
};
use keyledger::domain::policy::{Context, Effect, Policy, PolicyKind, Principal};
use std::collections::BTreeMap;
use std::sync::Arc;

const A: &str = "111111111111";
const B: &str = "222222222222";
const KEY_ARN: &str = "arn:aws:kms:us-east-1:111111111111:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

// ---------------------------------------------------------------------------------------
// Principals.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    RootA,
    UserA,
    SessionA,
    UserB,
    RootB,
}

const WHO: [Who; 5] = [
    Who::RootA,
    Who::UserA,
    Who::SessionA,
    Who::UserB,
    Who::RootB,
];

fn root_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

const USER_A: &str = "arn:aws:iam::111111111111:user/alice";
const ROLE_A: &str = "arn:aws:iam::111111111111:role/ops";
const SESSION_A: &str = "arn:aws:sts::111111111111:assumed-role/ops/nightly";
const USER_B: &str = "arn:aws:iam::222222222222:user/bob";
const MALLORY_A: &str = "arn:aws:iam::111111111111:user/mallory";

impl Who {
    fn account(self) -> &'static str {
        match self {
            Who::RootA | Who::UserA | Who::SessionA => A,
            Who::UserB | Who::RootB => B,
        }
    }

    fn is_root(self) -> bool {
        matches!(self, Who::RootA | Who::RootB)
    }

    /// The ARN policies name (a role session: its role).
    fn arn(self) -> String {
        match self {
            Who::RootA => root_arn(A),
            Who::RootB => root_arn(B),
            Who::UserA => USER_A.into(),
            Who::SessionA => ROLE_A.into(),
            Who::UserB => USER_B.into(),
        }
    }

    fn session_arn(self) -> Option<String> {
        (self == Who::SessionA).then(|| SESSION_A.to_string())
    }

    fn principal(self) -> Principal {
        Principal {
            account: self.account().into(),
            arn: self.arn(),
            session_arn: self.session_arn(),
            root: self.is_root(),
        }
    }

    /// The identities AWS checks for this caller, account first (NotPrincipal).
    fn chain(self) -> Vec<String> {
        let mut chain = vec![root_arn(self.account())];
        if !self.is_root() {
            chain.push(self.arn());
        }
        chain.extend(self.session_arn());
        chain
    }
}

const ACTIONS: [&str; 5] = [
    "Encrypt",
    "Decrypt",
    "DescribeKey",
    "GenerateDataKey",
    "ScheduleKeyDeletion",
];

// ---------------------------------------------------------------------------------------
// Statements as the generator describes them.

#[derive(Clone, Debug)]
enum Pr {
    /// Identity policies: no Principal element.
    Attached,
    /// `"Principal": "*"` (`star_string`) or `{"AWS": "*"}`.
    Any { star_string: bool },
    /// `{"AWS": [...]}`: accounts (rendered as the bare id or the root ARN) and ARNs.
    Aws {
        accounts: Vec<(&'static str, bool)>,
        arns: Vec<&'static str>,
    },
    /// `"NotPrincipal": {"AWS": [...]}` of full ARNs (an account as its root ARN).
    Not(Vec<String>),
}

#[derive(Clone, Debug)]
enum Acts {
    Only(Vec<&'static str>),
    AllKms,
    Not(Vec<&'static str>),
}

#[derive(Clone, Debug)]
enum Res {
    /// No Resource element (key policies only).
    Absent,
    Star,
    ThisKey,
    /// `arn:aws:kms:*:<account>:key/*`
    KeysOf(&'static str),
}

#[derive(Clone, Debug)]
enum Cond {
    /// `StringEquals` on `kms:EncryptionContext:<key>` (the key written in another case
    /// than the request's: key names are case-insensitive).
    ContextEquals(&'static str, &'static str),
    /// `StringNotEquals` on `kms:EncryptionContext:<key>`: true when the key is absent.
    ContextNotEquals(&'static str, &'static str),
    /// `ForAnyValue:StringEquals` on `kms:EncryptionContextKeys`.
    HasContextKey(&'static str),
    /// `ForAllValues:StringEquals` on `kms:EncryptionContextKeys`: true without a context.
    KeysWithin(&'static [&'static str]),
}

#[derive(Clone, Debug)]
struct St {
    deny: bool,
    principal: Pr,
    actions: Acts,
    resource: Res,
    condition: Option<Cond>,
}

fn json_list(items: &[String]) -> String {
    if items.len() == 1 {
        format!("\"{}\"", items[0])
    } else {
        let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
        format!("[{}]", quoted.join(","))
    }
}

impl St {
    fn json(&self) -> String {
        let mut members = vec![format!(
            "\"Effect\":\"{}\"",
            if self.deny { "Deny" } else { "Allow" }
        )];
        match &self.principal {
            Pr::Attached => {}
            Pr::Any { star_string: true } => members.push("\"Principal\":\"*\"".into()),
            Pr::Any { star_string: false } => members.push("\"Principal\":{\"AWS\":\"*\"}".into()),
            Pr::Aws { accounts, arns } => {
                let mut all: Vec<String> = accounts
                    .iter()
                    .map(|(account, as_root_arn)| {
                        if *as_root_arn {
                            root_arn(account)
                        } else {
                            account.to_string()
                        }
                    })
                    .collect();
                all.extend(arns.iter().map(|a| a.to_string()));
                members.push(format!("\"Principal\":{{\"AWS\":{}}}", json_list(&all)));
            }
            Pr::Not(arns) => {
                members.push(format!("\"NotPrincipal\":{{\"AWS\":{}}}", json_list(arns)))
            }
        }
        match &self.actions {
            Acts::AllKms => members.push("\"Action\":\"kms:*\"".into()),
            Acts::Only(names) => {
                let names: Vec<String> = names.iter().map(|n| format!("kms:{n}")).collect();
                members.push(format!("\"Action\":{}", json_list(&names)));
            }
            Acts::Not(names) => {
                let names: Vec<String> = names.iter().map(|n| format!("kms:{n}")).collect();
                members.push(format!("\"NotAction\":{}", json_list(&names)));
            }
        }
        match &self.resource {
            Res::Absent => {}
            Res::Star => members.push("\"Resource\":\"*\"".into()),
            Res::ThisKey => members.push(format!("\"Resource\":\"{KEY_ARN}\"")),
            Res::KeysOf(account) => {
                members.push(format!("\"Resource\":\"arn:aws:kms:*:{account}:key/*\""))
            }
        }
        match &self.condition {
            None => {}
            Some(Cond::ContextEquals(key, value)) => members.push(format!(
                "\"Condition\":{{\"StringEquals\":{{\"kms:EncryptionContext:{}\":\"{value}\"}}}}",
                key.to_ascii_lowercase()
            )),
            Some(Cond::ContextNotEquals(key, value)) => members.push(format!(
                "\"Condition\":{{\"StringNotEquals\":{{\"kms:EncryptionContext:{}\":\"{value}\"}}}}",
                key.to_ascii_uppercase()
            )),
            Some(Cond::HasContextKey(key)) => members.push(format!(
                "\"Condition\":{{\"ForAnyValue:StringEquals\":{{\"kms:EncryptionContextKeys\":[\"{key}\"]}}}}"
            )),
            Some(Cond::KeysWithin(keys)) => {
                let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                members.push(format!(
                    "\"Condition\":{{\"ForAllValues:StringEquals\":{{\"kms:EncryptionContextKeys\":{}}}}}",
                    json_list(&keys)
                ))
            }
        }
        format!("{{{}}}", members.join(","))
    }
}

fn document(statements: &[St]) -> String {
    let rendered: Vec<String> = statements.iter().map(St::json).collect();
    format!(
        "{{\"Version\":\"2012-10-17\",\"Statement\":[{}]}}",
        rendered.join(",")
    )
}

// ---------------------------------------------------------------------------------------
// The reference evaluator: AWS's rules, over the descriptions.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RefEffect {
    Deny,
    Allow,
    AllowAccount,
    NotApplicable,
}

/// `on_key`: the request is on the key `KEY_ARN` (else on `*`, an action without a key).
fn ref_statement(
    st: &St,
    who: Who,
    action: &str,
    on_key: bool,
    ec: Option<&EncryptionContextMap>,
) -> RefEffect {
    let action_matches = match &st.actions {
        Acts::AllKms => true,
        Acts::Only(names) => names.contains(&action),
        Acts::Not(names) => !names.contains(&action),
    };
    let resource_matches = match &st.resource {
        Res::Absent | Res::Star => true,
        Res::ThisKey => on_key,
        Res::KeysOf(account) => on_key && *account == A,
    };
    // Direct: the caller itself (or anyone); Account: the caller's account.
    let (direct, account_level) = match &st.principal {
        Pr::Attached | Pr::Any { .. } => (true, false),
        Pr::Aws { accounts, arns } => (
            arns.iter()
                .any(|a| *a == who.arn() || Some(a.to_string()) == who.session_arn()),
            accounts
                .iter()
                .any(|(account, _)| *account == who.account()),
        ),
        // NotPrincipal denies unless every identity of the caller's chain is listed.
        Pr::Not(listed) => (!who.chain().iter().all(|id| listed.contains(id)), false),
    };
    let condition_holds = match &st.condition {
        None => true,
        Some(Cond::ContextEquals(key, value)) => ec.is_some_and(|ec| {
            ec.iter()
                .any(|(k, v)| k.eq_ignore_ascii_case(key) && v == value)
        }),
        // A negated operator holds when the key is absent, and otherwise when the value
        // differs.
        Some(Cond::ContextNotEquals(key, value)) => !ec.is_some_and(|ec| {
            ec.iter()
                .any(|(k, v)| k.eq_ignore_ascii_case(key) && v == value)
        }),
        Some(Cond::HasContextKey(key)) => ec.is_some_and(|ec| ec.contains_key(*key)),
        // ForAllValues holds when the key is absent (no context).
        Some(Cond::KeysWithin(keys)) => {
            ec.is_none_or(|ec| ec.keys().all(|k| keys.contains(&k.as_str())))
        }
    };
    if !(action_matches && resource_matches && (direct || account_level) && condition_holds) {
        return RefEffect::NotApplicable;
    }
    match (st.deny, direct) {
        (true, _) => RefEffect::Deny,
        (false, true) => RefEffect::Allow,
        (false, false) => RefEffect::AllowAccount,
    }
}

fn ref_document(
    sts: &[St],
    who: Who,
    action: &str,
    on_key: bool,
    ec: Option<&EncryptionContextMap>,
) -> RefEffect {
    let effects: Vec<RefEffect> = sts
        .iter()
        .map(|st| ref_statement(st, who, action, on_key, ec))
        .collect();
    [RefEffect::Deny, RefEffect::Allow, RefEffect::AllowAccount]
        .into_iter()
        .find(|e| effects.contains(e))
        .unwrap_or(RefEffect::NotApplicable)
}

#[derive(Clone, Debug)]
enum RefConstraint {
    None,
    Equals(EncryptionContextMap),
    Subset(EncryptionContextMap),
}

#[derive(Clone, Debug)]
struct RefGrant {
    id: &'static str,
    grantee: String,
    operations: Vec<&'static str>,
    constraint: RefConstraint,
}

fn ref_grant_applies(
    g: &RefGrant,
    who: Who,
    action: &str,
    ec: Option<&EncryptionContextMap>,
) -> bool {
    let grantee = g.grantee == who.arn() || Some(g.grantee.clone()) == who.session_arn();
    let operation = g.operations.contains(&action);
    let constraint = match (&g.constraint, ec) {
        (RefConstraint::None, _) => true,
        (_, None) => false,
        (RefConstraint::Equals(want), Some(have)) => want == have,
        (RefConstraint::Subset(want), Some(have)) => {
            want.iter().all(|(k, v)| have.get(k) == Some(v))
        }
    };
    grantee && operation && constraint
}

/// The KMS Developer Guide's decision, as a table over what the documents say.
fn reference(
    who: Who,
    action: &str,
    key_policy: Option<&[St]>,
    identity: &[Vec<St>],
    grants: &[RefGrant],
    ec: Option<&EncryptionContextMap>,
) -> Result<Allowed, Denial> {
    let on_key = key_policy.is_some();
    let identity_effects: Vec<RefEffect> = identity
        .iter()
        .map(|doc| ref_document(doc, who, action, on_key, ec))
        .collect();
    // An explicit deny anywhere; the identity side is named first.
    if identity_effects.contains(&RefEffect::Deny) {
        return Err(Denial::ExplicitDenyInIdentityPolicy);
    }
    let identity_allows = identity_effects.contains(&RefEffect::Allow);
    let Some(key_policy) = key_policy else {
        // No key: IAM alone; the root user has every identity permission of its account.
        return if who.is_root() || identity_allows {
            Ok(Allowed::IdentityPolicy)
        } else {
            Err(Denial::NoIdentityPolicyAllows)
        };
    };
    let key_effect = ref_document(key_policy, who, action, true, ec);
    if key_effect == RefEffect::Deny {
        return Err(Denial::ExplicitDenyInResourcePolicy);
    }
    if let Some(g) = grants
        .iter()
        .find(|g| ref_grant_applies(g, who, action, ec))
    {
        return Ok(Allowed::Grant(g.id.to_string()));
    }
    let same_account = who.account() == A;
    match (key_effect, same_account, who.is_root(), identity_allows) {
        (RefEffect::NotApplicable, ..) => Err(Denial::NoResourcePolicyAllows),
        // Same account, named directly by the key policy: the key policy alone suffices.
        (RefEffect::Allow, true, _, _) => Ok(Allowed::KeyPolicy),
        // Delegated to the account (or another account named at all): the root user...
        (_, _, true, _) => Ok(Allowed::KeyPolicy),
        // ...or an IAM identity whose own policies allow it.
        (_, _, false, true) => Ok(Allowed::IdentityPolicy),
        (_, _, false, false) => Err(Denial::NoIdentityPolicyAllows),
    }
}

// ---------------------------------------------------------------------------------------
// The generator's choices.

fn default_root() -> St {
    St {
        deny: false,
        principal: Pr::Aws {
            accounts: vec![(A, true)],
            arns: vec![],
        },
        actions: Acts::AllKms,
        resource: Res::Star,
        condition: None,
    }
}

fn allow_any(star_string: bool) -> St {
    St {
        deny: false,
        principal: Pr::Any { star_string },
        actions: Acts::AllKms,
        resource: Res::Absent,
        condition: None,
    }
}

/// (name, statements; `None`: no key policy — an action decided by IAM alone).
fn key_policies() -> Vec<(&'static str, Option<Vec<St>>)> {
    vec![
        ("none", None),
        ("default root delegation", Some(vec![default_root()])),
        (
            "direct user allow",
            Some(vec![St {
                deny: false,
                principal: Pr::Aws {
                    accounts: vec![],
                    arns: vec![USER_A],
                },
                actions: Acts::Only(vec!["Encrypt", "Decrypt", "DescribeKey"]),
                resource: Res::Absent,
                condition: None,
            }]),
        ),
        ("* allow", Some(vec![allow_any(true)])),
        (
            "explicit deny of an action",
            Some(vec![
                default_root(),
                St {
                    deny: true,
                    principal: Pr::Any { star_string: false },
                    actions: Acts::Only(vec!["ScheduleKeyDeletion"]),
                    resource: Res::Star,
                    condition: None,
                },
            ]),
        ),
        (
            "NotAction deny",
            Some(vec![
                default_root(),
                St {
                    deny: false,
                    principal: Pr::Aws {
                        accounts: vec![],
                        arns: vec![USER_A, ROLE_A],
                    },
                    actions: Acts::AllKms,
                    resource: Res::Absent,
                    condition: None,
                },
                St {
                    deny: true,
                    principal: Pr::Aws {
                        accounts: vec![],
                        arns: vec![USER_A],
                    },
                    actions: Acts::Not(vec!["Encrypt", "Decrypt"]),
                    resource: Res::Absent,
                    condition: None,
                },
            ]),
        ),
        (
            "condition on kms:EncryptionContext",
            Some(vec![
                default_root(),
                St {
                    deny: false,
                    principal: Pr::Aws {
                        accounts: vec![],
                        arns: vec![USER_A, ROLE_A],
                    },
                    actions: Acts::Only(vec!["Encrypt", "Decrypt", "GenerateDataKey"]),
                    resource: Res::Star,
                    condition: Some(Cond::ContextEquals("Dept", "finance")),
                },
            ]),
        ),
        (
            "cross-account allow of B",
            Some(vec![
                default_root(),
                St {
                    deny: false,
                    principal: Pr::Aws {
                        accounts: vec![(B, false)],
                        arns: vec![],
                    },
                    actions: Acts::Only(vec!["Encrypt", "Decrypt", "DescribeKey"]),
                    resource: Res::Star,
                    condition: None,
                },
            ]),
        ),
        (
            "NotPrincipal deny",
            Some(vec![
                allow_any(false),
                St {
                    deny: true,
                    // The role is listed, its session is not; Bob is, his account is not.
                    principal: Pr::Not(vec![
                        root_arn(A),
                        USER_A.into(),
                        ROLE_A.into(),
                        USER_B.into(),
                    ]),
                    actions: Acts::AllKms,
                    resource: Res::Absent,
                    condition: None,
                },
            ]),
        ),
        (
            "deny decrypt outside a context",
            Some(vec![
                default_root(),
                St {
                    deny: false,
                    principal: Pr::Aws {
                        accounts: vec![(B, true)],
                        arns: vec![USER_A, ROLE_A],
                    },
                    actions: Acts::AllKms,
                    resource: Res::Absent,
                    condition: None,
                },
                St {
                    deny: true,
                    principal: Pr::Any { star_string: true },
                    actions: Acts::Only(vec!["Decrypt"]),
                    resource: Res::Star,
                    condition: Some(Cond::ContextNotEquals("Dept", "finance")),
                },
            ]),
        ),
        (
            "deny account B one action",
            Some(vec![
                allow_any(true),
                St {
                    deny: true,
                    principal: Pr::Aws {
                        accounts: vec![(B, true)],
                        arns: vec![],
                    },
                    actions: Acts::Only(vec!["Decrypt"]),
                    resource: Res::Absent,
                    condition: None,
                },
            ]),
        ),
    ]
}

fn identity_statement(deny: bool, actions: Acts, resource: Res, condition: Option<Cond>) -> St {
    St {
        deny,
        principal: Pr::Attached,
        actions,
        resource,
        condition,
    }
}

/// (name, documents attached to the caller).
fn identity_sets() -> Vec<(&'static str, Vec<Vec<St>>)> {
    let allow_all = || identity_statement(false, Acts::AllKms, Res::Star, None);
    vec![
        ("none", vec![]),
        ("allow kms:*", vec![vec![allow_all()]]),
        (
            "allow one action",
            vec![vec![identity_statement(
                false,
                Acts::Only(vec!["Encrypt"]),
                Res::ThisKey,
                None,
            )]],
        ),
        (
            "deny one action",
            vec![
                vec![allow_all()],
                vec![identity_statement(
                    true,
                    Acts::Only(vec!["Decrypt"]),
                    Res::Star,
                    None,
                )],
            ],
        ),
        (
            "allow with condition",
            vec![vec![identity_statement(
                false,
                Acts::AllKms,
                Res::KeysOf(A),
                Some(Cond::HasContextKey("Dept")),
            )]],
        ),
        (
            "allow when the context keys are within a set",
            vec![vec![identity_statement(
                false,
                Acts::Only(vec!["Encrypt", "Decrypt", "DescribeKey"]),
                Res::Star,
                Some(Cond::KeysWithin(&["Dept"])),
            )]],
        ),
        (
            "allow on another account's keys",
            vec![vec![identity_statement(
                false,
                Acts::AllKms,
                Res::KeysOf(B),
                None,
            )]],
        ),
    ]
}

fn ec(pairs: &[(&str, &str)]) -> EncryptionContextMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn grant_sets(who: Who) -> Vec<(&'static str, Vec<RefGrant>)> {
    let grant = |id, grantee: String, operations: &[&'static str], constraint| RefGrant {
        id,
        grantee,
        operations: operations.to_vec(),
        constraint,
    };
    let dept = ec(&[("Dept", "finance")]);
    vec![
        ("none", vec![]),
        (
            "matching",
            vec![grant(
                "g-match",
                who.arn(),
                &["Encrypt", "Decrypt", "GenerateDataKey"],
                RefConstraint::None,
            )],
        ),
        (
            "matching session",
            vec![grant(
                "g-session",
                who.session_arn().unwrap_or_else(|| who.arn()),
                &["DescribeKey", "Decrypt"],
                RefConstraint::None,
            )],
        ),
        (
            "wrong grantee",
            vec![grant(
                "g-other",
                MALLORY_A.into(),
                &["Encrypt", "Decrypt", "DescribeKey", "GenerateDataKey"],
                RefConstraint::None,
            )],
        ),
        (
            "wrong operation",
            vec![grant(
                "g-sign",
                who.arn(),
                &["Sign", "Verify"],
                RefConstraint::None,
            )],
        ),
        (
            "subset constraint",
            vec![grant(
                "g-subset",
                who.arn(),
                &["Encrypt", "Decrypt"],
                RefConstraint::Subset(dept.clone()),
            )],
        ),
        (
            "equals constraint",
            vec![
                grant("g-wrong", who.arn(), &["Sign"], RefConstraint::None),
                grant(
                    "g-equals",
                    who.arn(),
                    &["Decrypt", "GenerateDataKey"],
                    RefConstraint::Equals(dept),
                ),
            ],
        ),
        (
            "to the account root",
            vec![grant(
                "g-account",
                root_arn(who.account()),
                &["Encrypt", "Decrypt", "DescribeKey"],
                RefConstraint::None,
            )],
        ),
    ]
}

fn contexts() -> Vec<Option<EncryptionContextMap>> {
    vec![
        None,
        Some(ec(&[("Dept", "finance")])),
        Some(ec(&[("Dept", "finance"), ("Project", "x")])),
        Some(ec(&[("Dept", "hr")])),
    ]
}

fn to_grant(g: &RefGrant) -> Arc<Grant> {
    let constraints = match &g.constraint {
        RefConstraint::None => None,
        RefConstraint::Equals(m) => Some(GrantConstraints {
            encryption_context_equals: Some(m.clone()),
            encryption_context_subset: None,
        }),
        RefConstraint::Subset(m) => Some(GrantConstraints {
            encryption_context_equals: None,
            encryption_context_subset: Some(m.clone()),
        }),
    };
    Arc::new(Grant {
        grant_id: g.id.to_string(),
        grantee_principal: g.grantee.clone(),
        operations: g.operations.iter().map(|o| o.to_string()).collect(),
        constraints,
    })
}

/// The condition keys the command handler sets for an encryption context.
fn condition_keys(ec: Option<&EncryptionContextMap>) -> Context {
    let mut context = Context::new();
    if let Some(ec) = ec {
        for (k, v) in ec {
            context.set_one(&format!("kms:EncryptionContext:{k}"), v.clone());
        }
        context.set("kms:EncryptionContextKeys", ec.keys().cloned().collect());
    }
    context
}

/// Whether a description names the caller at all (by `*`, account, ARN or session).
fn mentions(st: &St, who: Who) -> bool {
    match &st.principal {
        Pr::Attached | Pr::Any { .. } => true,
        Pr::Aws { accounts, arns } => {
            accounts.iter().any(|(a, _)| *a == who.account())
                || arns
                    .iter()
                    .any(|a| *a == who.arn() || Some(a.to_string()) == who.session_arn())
        }
        Pr::Not(_) => false,
    }
}

fn effect_of(e: RefEffect) -> Effect {
    match e {
        RefEffect::Deny => Effect::Deny,
        RefEffect::Allow => Effect::Allow,
        RefEffect::AllowAccount => Effect::AllowAccount,
        RefEffect::NotApplicable => Effect::NotApplicable,
    }
}

#[test]
fn generated_matrix_agrees_with_the_reference() {
    // (name, description, parsed)
    type KeyPolicies = Vec<(&'static str, Option<Vec<St>>, Option<Policy>)>;
    type IdentitySets = Vec<(&'static str, Vec<Vec<St>>, Vec<Arc<Policy>>)>;
    type GrantSets = Vec<(&'static str, Vec<RefGrant>, Vec<Arc<Grant>>)>;
    let key_policies: KeyPolicies = key_policies()
        .into_iter()
        .map(|(name, sts)| {
            let parsed = sts.as_ref().map(|sts| {
                let doc = document(sts);
                Policy::parse(&doc, PolicyKind::Key)
                    .unwrap_or_else(|e| panic!("key policy {name} refused: {e}\n{doc}"))
            });
            (name, sts, parsed)
        })
        .collect();
    let identity_sets: IdentitySets = identity_sets()
        .into_iter()
        .map(|(name, docs)| {
            let parsed = docs
                .iter()
                .map(|sts| {
                    let doc = document(sts);
                    Arc::new(
                        Policy::parse(&doc, PolicyKind::Identity)
                            .unwrap_or_else(|e| panic!("identity {name} refused: {e}\n{doc}")),
                    )
                })
                .collect();
            (name, docs, parsed)
        })
        .collect();
    let contexts = contexts();

    let mut checked = 0usize;
    let mut disagreements = Vec::new();
    let mut verdicts: BTreeMap<String, usize> = BTreeMap::new();
    let mut explicit_denies = 0usize;
    let mut unmentioned = 0usize;

    for who in WHO {
        let principal = who.principal();
        let grant_sets: GrantSets = grant_sets(who)
            .into_iter()
            .map(|(name, refs)| {
                let grants = refs.iter().map(to_grant).collect();
                (name, refs, grants)
            })
            .collect();
        for action_name in ACTIONS {
            let action = format!("kms:{action_name}");
            for (kp_name, kp_sts, kp) in &key_policies {
                for (id_name, id_sts, id_policies) in &identity_sets {
                    // The root user has no identity policies.
                    if who.is_root() && !id_sts.is_empty() {
                        continue;
                    }
                    for (grants_name, ref_grants, grants) in &grant_sets {
                        for ec in &contexts {
                            let ec = ec.as_ref();
                            let context = condition_keys(ec);
                            let resource = if kp.is_some() { KEY_ARN } else { "*" };
                            let verdict = authorize(&Authorization {
                                principal: &principal,
                                action: &action,
                                resource,
                                resource_policy: kp.as_ref().map(|p| (p, A)),
                                identity_policies: id_policies,
                                grants,
                                encryption_context: ec,
                                context: &context,
                            });
                            let expected = reference(
                                who,
                                action_name,
                                kp_sts.as_deref(),
                                id_sts,
                                ref_grants,
                                ec,
                            );
                            checked += 1;
                            let case = format!(
                                "{who:?} {action} | key policy: {kp_name} | identity: {id_name} | grants: {grants_name} | context: {ec:?}"
                            );
                            if verdict != expected {
                                disagreements.push(format!(
                                    "{case}: got {verdict:?}, reference says {expected:?}"
                                ));
                            }
                            *verdicts.entry(format!("{verdict:?}")).or_default() += 1;

                            // Each document on its own agrees with the reference too.
                            let request = keyledger::domain::policy::Request {
                                principal: &principal,
                                action: &action,
                                resource,
                                context: &context,
                            };
                            if let (Some(sts), Some(p)) = (kp_sts, kp) {
                                let want = effect_of(ref_document(sts, who, action_name, true, ec));
                                let got = p.evaluate(&request);
                                if got != want {
                                    disagreements.push(format!(
                                        "{case}: key policy evaluates to {got:?}, reference {want:?}"
                                    ));
                                }
                            }
                            for (sts, p) in id_sts.iter().zip(id_policies) {
                                let want = effect_of(ref_document(
                                    sts,
                                    who,
                                    action_name,
                                    kp.is_some(),
                                    ec,
                                ));
                                let got = p.evaluate(&request);
                                if got != want {
                                    disagreements.push(format!(
                                        "{case}: identity policy evaluates to {got:?}, reference {want:?}"
                                    ));
                                }
                            }

                            // Property: a matching explicit deny in any document denies.
                            let any_deny = kp
                                .as_ref()
                                .is_some_and(|p| p.evaluate(&request) == Effect::Deny)
                                || id_policies
                                    .iter()
                                    .any(|p| p.evaluate(&request) == Effect::Deny);
                            if any_deny {
                                explicit_denies += 1;
                                if !matches!(
                                    verdict,
                                    Err(Denial::ExplicitDenyInIdentityPolicy
                                        | Denial::ExplicitDenyInResourcePolicy)
                                ) {
                                    disagreements.push(format!(
                                        "{case}: an explicit deny matched but the verdict is {verdict:?}"
                                    ));
                                }
                            }

                            // Property: default deny when nothing mentions the caller.
                            let key_mentions = kp_sts
                                .as_ref()
                                .is_some_and(|sts| sts.iter().any(|st| mentions(st, who)));
                            let grant_mentions = ref_grants.iter().any(|g| {
                                g.grantee == who.arn()
                                    || Some(g.grantee.clone()) == who.session_arn()
                            });
                            let root_without_key = who.is_root() && kp.is_none();
                            if !key_mentions
                                && id_sts.is_empty()
                                && !grant_mentions
                                && !root_without_key
                            {
                                unmentioned += 1;
                                if verdict.is_ok() {
                                    disagreements.push(format!(
                                        "{case}: nothing names the caller, yet {verdict:?}"
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    println!("authz matrix: {checked} cases checked against the reference evaluator");
    println!("  of which {explicit_denies} with a matching explicit deny, {unmentioned} naming the caller nowhere");
    for (verdict, count) in &verdicts {
        println!("  {count:6}  {verdict}");
    }
    assert!(checked >= 2000, "only {checked} cases");
    assert!(
        disagreements.is_empty(),
        "{} disagreements, the first ones:\n{}",
        disagreements.len(),
        disagreements
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The matrix exercises every outcome, so a verdict stuck on one answer cannot pass.
    for expected in [
        "Ok(KeyPolicy)",
        "Ok(IdentityPolicy)",
        "Ok(Grant(\"g-match\"))",
        "Ok(Grant(\"g-session\"))",
        "Ok(Grant(\"g-subset\"))",
        "Ok(Grant(\"g-equals\"))",
        "Ok(Grant(\"g-account\"))",
        "Err(ExplicitDenyInResourcePolicy)",
        "Err(ExplicitDenyInIdentityPolicy)",
        "Err(NoResourcePolicyAllows)",
        "Err(NoIdentityPolicyAllows)",
    ] {
        assert!(
            verdicts.get(expected).copied().unwrap_or(0) >= 10,
            "the matrix has too few {expected} verdicts: {verdicts:?}"
        );
    }
    assert!(explicit_denies >= 100 && unmentioned >= 100);
}

/// The reference itself, on a handful of cases worked out by hand from the KMS guide, so
/// that a mistake shared by the reference and the implementation would show here.
#[test]
fn reference_spot_checks() {
    let default = vec![default_root()];
    let named = |name: &str| {
        key_policies()
            .into_iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, sts)| sts)
            .unwrap_or_else(|| panic!("no key policy {name}"))
    };
    let cross = named("cross-account allow of B");
    let allow_all = vec![vec![identity_statement(
        false,
        Acts::AllKms,
        Res::Star,
        None,
    )]];
    // Same-account user, default key policy: IAM decides.
    assert_eq!(
        reference(Who::UserA, "Encrypt", Some(&default), &[], &[], None),
        Err(Denial::NoIdentityPolicyAllows)
    );
    assert_eq!(
        reference(Who::UserA, "Encrypt", Some(&default), &allow_all, &[], None),
        Ok(Allowed::IdentityPolicy)
    );
    // Root of the key's account: the default key policy alone.
    assert_eq!(
        reference(
            Who::RootA,
            "ScheduleKeyDeletion",
            Some(&default),
            &[],
            &[],
            None
        ),
        Ok(Allowed::KeyPolicy)
    );
    // Another account not named by the key policy: no resource-based policy allows.
    assert_eq!(
        reference(Who::UserB, "Encrypt", Some(&default), &allow_all, &[], None),
        Err(Denial::NoResourcePolicyAllows)
    );
    // Named: the external account's IAM must allow too, except for its root.
    assert_eq!(
        reference(Who::UserB, "Decrypt", Some(&cross), &[], &[], None),
        Err(Denial::NoIdentityPolicyAllows)
    );
    assert_eq!(
        reference(Who::RootB, "Decrypt", Some(&cross), &[], &[], None),
        Ok(Allowed::KeyPolicy)
    );
    // A foreign session is denied by a NotPrincipal that lists only its user's ARN.
    let not_principal = named("NotPrincipal deny");
    assert_eq!(
        ref_document(&not_principal, Who::UserB, "Encrypt", true, None),
        RefEffect::Deny
    );
    assert_eq!(
        ref_document(&not_principal, Who::UserA, "Encrypt", true, None),
        RefEffect::Allow
    );
    assert_eq!(
        ref_document(&not_principal, Who::SessionA, "Encrypt", true, None),
        RefEffect::Deny
    );
}
