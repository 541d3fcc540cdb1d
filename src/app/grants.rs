//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant.
//!
//! A grant is a lifecycle event on its key's stream, so point-in-time reads show it and
//! it is in force the moment CreateGrant answers (the event is durable first). A grant
//! token is the grant's key and id sealed under the root key: it proves that keyledger
//! issued it, so a token it did not issue is `InvalidGrantTokenException`.

use super::authz::{Facts, Found};
use super::operations::Resolve;
use super::request::{
    bool_text, check_grant_tokens, check_key_id_param, check_length, page, paged, parse,
    without_nulls,
};
use super::{ApiError, CallRecord, Caller, CallerKind, RequestContext, Service};
use crate::crypto::root_key::LABEL_GRANT_TOKEN;
use crate::domain::authz::GrantConstraints;
use crate::domain::events::GrantCreated;
use crate::domain::ids::KeyId;
use crate::domain::key::{Key, KeyCommand, KeyGrant, KeyUsage, Operation};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use time::OffsetDateTime;

/// The prefix of the grant tokens keyledger issues (format version 1).
const TOKEN_PREFIX: &str = "KLGT1";

/// The operations a grant may name: the AWS KMS model's `GrantOperation` enum, in its order.
const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
    "Encapsulate",
    "Decapsulate",
];

/// Grant operations that take an encryption context, the only ones a constraint can go with.
const CONTEXT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "CreateGrant",
    "RetireGrant",
];

/// The grant operations a key of this usage supports.
fn operations_for(usage: KeyUsage, symmetric: bool) -> &'static [&'static str] {
    match usage {
        KeyUsage::EncryptDecrypt if symmetric => &[
            "Decrypt",
            "Encrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "ReEncryptFrom",
            "ReEncryptTo",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
        ],
        KeyUsage::EncryptDecrypt => &[
            "Decrypt",
            "Encrypt",
            "ReEncryptFrom",
            "ReEncryptTo",
            "GetPublicKey",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ],
        KeyUsage::SignVerify => &[
            "Sign",
            "Verify",
            "GetPublicKey",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ],
        KeyUsage::GenerateVerifyMac => &[
            "GenerateMac",
            "VerifyMac",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ],
        KeyUsage::KeyAgreement => &[
            "DeriveSharedSecret",
            "GetPublicKey",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ],
        KeyUsage::EncapsulateDecapsulate => &[
            "Encapsulate",
            "Decapsulate",
            "GetPublicKey",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ],
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ConstraintsShape {
    encryption_context_subset: Option<BTreeMap<String, String>>,
    encryption_context_equals: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct CreateGrantRequest {
    key_id: Option<String>,
    grantee_principal: Option<String>,
    retiring_principal: Option<String>,
    operations: Option<Vec<String>>,
    constraints: Option<ConstraintsShape>,
    grant_tokens: Option<Vec<String>>,
    name: Option<String>,
    dry_run: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ListGrantsRequest {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
    grant_id: Option<String>,
    grantee_principal: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ListRetirableGrantsRequest {
    retiring_principal: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RetireGrantRequest {
    grant_token: Option<String>,
    key_id: Option<String>,
    grant_id: Option<String>,
    dry_run: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RevokeGrantRequest {
    key_id: Option<String>,
    grant_id: Option<String>,
    dry_run: Option<bool>,
}

/// AWS's pattern for grant names: `^[a-zA-Z0-9:/_-]+$`, 1–256 characters.
fn check_name(name: &str) -> Result<(), ApiError> {
    check_length("name", name.len(), 1, 256)?;
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b":/_-".contains(&b))
    {
        return Err(ApiError::constraint(
            "name",
            None,
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
        ));
    }
    Ok(())
}

fn check_principal(member: &str, principal: &str) -> Result<(), ApiError> {
    check_length(member, principal.len(), 1, 256)?;
    if !principal.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(ApiError::constraint(
            member,
            None,
            "Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$",
        ));
    }
    Ok(())
}

fn check_grant_id(grant_id: &str) -> Result<(), ApiError> {
    check_length("grantId", grant_id.len(), 1, 128)
}

/// A grant as ListGrants shows it (AWS's GrantListEntry).
pub(crate) fn list_entry(key: &Key, g: &KeyGrant) -> Value {
    let mut entry = json!({
        "KeyId": key.arn,
        "GrantId": g.grant.grant_id,
        "CreationDate": super::request::epoch_seconds(g.creation_date),
        "GranteePrincipal": g.grant.grantee_principal,
        "IssuingAccount": format!("arn:aws:iam::{}:root", g.issuing_account),
        "Operations": g.grant.operations,
    });
    if let Some(name) = &g.name {
        entry["Name"] = json!(name);
    }
    if let Some(retiring) = &g.retiring_principal {
        entry["RetiringPrincipal"] = json!(retiring);
    }
    if let Some(c) = &g.grant.constraints {
        let mut constraints = json!({});
        if let Some(equals) = &c.encryption_context_equals {
            constraints["EncryptionContextEquals"] = json!(equals);
        }
        if let Some(subset) = &c.encryption_context_subset {
            constraints["EncryptionContextSubset"] = json!(subset);
        }
        entry["Constraints"] = constraints;
    }
    entry
}

/// Whether `arn` names the caller (its own ARN, its role's, or its session's).
fn names_caller(caller: &Caller, arn: &str) -> bool {
    let principal = caller.principal();
    arn == principal.arn || principal.session_arn.as_deref() == Some(arn)
}

impl Service {
    /// A grant token for `grant_id` on `key_id`.
    fn grant_token(&self, key_id: &KeyId, grant_id: &str) -> String {
        let payload = format!("{key_id}/{grant_id}");
        let sealed = self
            .keyring
            .root()
            .wrap(LABEL_GRANT_TOKEN, b"", payload.as_bytes());
        format!(
            "{TOKEN_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)
        )
    }

    /// The (key, grant id) a token keyledger issued names; `None` for any other string.
    fn open_grant_token(&self, token: &str) -> Option<(KeyId, String)> {
        let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.strip_prefix(TOKEN_PREFIX)?)
            .ok()?;
        let payload = self
            .keyring
            .root()
            .unwrap(LABEL_GRANT_TOKEN, b"", &sealed)
            .ok()?;
        let text = std::str::from_utf8(&payload).ok()?;
        let (key, grant) = text.split_once('/')?;
        Some((KeyId::parse(key)?, grant.to_owned()))
    }

    /// Every grant token a request presents must be one keyledger issued. A grant is in
    /// force from the moment CreateGrant answered, so a token adds no grant the key does
    /// not have already: authorization reads the key's own grants.
    pub(crate) fn check_grant_tokens_issued(&self, tokens: &[String]) -> Result<(), ApiError> {
        for token in tokens {
            if self.open_grant_token(token).is_none() {
                return Err(ApiError::InvalidGrantToken(
                    "The grant token is not valid.".into(),
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn create_grant(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: CreateGrantRequest = parse(body)?;
        rec.request_parameters = without_nulls(json!({
            "keyId": req.key_id,
            "granteePrincipal": req.grantee_principal,
            "retiringPrincipal": req.retiring_principal,
            "operations": req.operations,
            "name": req.name,
            "constraints": req.constraints.as_ref().map(|c| without_nulls(json!({
                "encryptionContextSubset": c.encryption_context_subset,
                "encryptionContextEquals": c.encryption_context_equals,
            }))),
            "dryRun": req.dry_run,
        }));
        check_key_id_param("keyId", req.key_id.as_deref())?;
        let grantee = req
            .grantee_principal
            .clone()
            .ok_or_else(|| ApiError::missing("granteePrincipal"))?;
        check_principal("granteePrincipal", &grantee)?;
        if let Some(retiring) = &req.retiring_principal {
            check_principal("retiringPrincipal", retiring)?;
        }
        let operations = req
            .operations
            .clone()
            .ok_or_else(|| ApiError::missing("operations"))?;
        check_length("operations", operations.len(), 1, GRANT_OPERATIONS.len())?;
        for op in &operations {
            if !GRANT_OPERATIONS.contains(&op.as_str()) {
                return Err(ApiError::constraint(
                    "operations.member",
                    None,
                    &format!(
                        "Member must satisfy enum value set: [{}]",
                        GRANT_OPERATIONS.join(", ")
                    ),
                ));
            }
        }
        if let Some(name) = &req.name {
            check_name(name)?;
        }
        check_grant_tokens(&req.grant_tokens)?;
        let constraints = match req.constraints {
            None => None,
            Some(ConstraintsShape {
                encryption_context_subset,
                encryption_context_equals,
            }) => {
                if encryption_context_subset.is_some() && encryption_context_equals.is_some() {
                    return Err(ApiError::Validation(
                        "A grant constraint can be EncryptionContextEquals or EncryptionContextSubset, not both.".into(),
                    ));
                }
                if let Some(op) = operations
                    .iter()
                    .find(|op| !CONTEXT_OPERATIONS.contains(&op.as_str()))
                {
                    return Err(ApiError::Validation(format!(
                        "Grant constraints are not allowed with the {op} operation: it takes no encryption context."
                    )));
                }
                Some(GrantConstraints {
                    encryption_context_equals,
                    encryption_context_subset,
                })
            }
        };
        let constraint_type: Vec<String> = constraints
            .iter()
            .flat_map(|c| {
                [
                    c.encryption_context_equals
                        .as_ref()
                        .map(|_| "EncryptionContextEquals".to_owned()),
                    c.encryption_context_subset
                        .as_ref()
                        .map(|_| "EncryptionContextSubset".to_owned()),
                ]
            })
            .flatten()
            .collect();
        let found = self.resolve(
            caller,
            ctx,
            req.key_id.as_deref().unwrap_or_default(),
            Resolve::KeyOnly,
        )?;
        rec.resources.push(found.arn().to_owned());
        // A grant's own constraints are checked against the constraints of the grant it
        // would create (a constrained grant passes on only what is at least as constrained).
        let passed_on = constraints.as_ref().and_then(|c| {
            c.encryption_context_equals
                .as_ref()
                .or(c.encryption_context_subset.as_ref())
        });
        let facts = Facts::new()
            .encryption_context(passed_on)
            .with("kms:GranteePrincipal", Some(&grantee))
            .with("kms:RetiringPrincipal", req.retiring_principal.as_deref())
            .with_all("kms:GrantOperations", operations.clone())
            .with("kms:GrantIsForAWSResource", Some(bool_text(Some(false))))
            .with_all("kms:GrantConstraintType", constraint_type)
            .grant_tokens(req.grant_tokens.as_ref());
        let (key, allowed_by) = self.authorize_how(caller, ctx, found, rec.action, facts)?;
        if let crate::domain::authz::Allowed::Grant(parent) = &allowed_by {
            // Allowed by a grant with CreateGrant: the new grant gives at most what it has.
            let parent = key.grants.iter().find(|g| &g.grant.grant_id == parent);
            let within =
                parent.is_some_and(|p| operations.iter().all(|op| p.grant.operations.contains(op)));
            if !within {
                return Err(ApiError::AccessDenied(format!(
                    "User: {} is not authorized to perform: kms:CreateGrant on resource: {} because the grant that allows it does not allow every requested operation",
                    caller.principal_arn, key.arn
                )));
            }
        }
        key.check(Operation::CreateGrant)?;
        let allowed = operations_for(
            key.usage,
            key.spec == crate::domain::key::KeySpec::SymmetricDefault,
        );
        if let Some(op) = operations.iter().find(|op| !allowed.contains(&op.as_str())) {
            return Err(ApiError::Validation(format!(
                "The grant operation {op} is not valid for {}, a {} key.",
                key.arn,
                key.usage.as_str()
            )));
        }
        if req.dry_run == Some(true) {
            return Err(ApiError::DryRun);
        }
        // The same name and parameters: the grant that exists, with a new token.
        let sorted = |ops: &[String]| {
            let mut ops = ops.to_vec();
            ops.sort();
            ops
        };
        let same = key.grants.iter().find(|g| {
            req.name.is_some()
                && g.name == req.name
                && g.issuing_account == caller.account
                && g.grant.grantee_principal == grantee
                && g.retiring_principal == req.retiring_principal
                && sorted(&g.grant.operations) == sorted(&operations)
                && g.grant.constraints == constraints
        });
        let grant_id = match same {
            Some(existing) => existing.grant.grant_id.clone(),
            None => {
                let grant_id = hex::encode(&*crate::crypto::secret::random_bytes(32));
                self.change(
                    &key,
                    KeyCommand::CreateGrant(GrantCreated {
                        key_id: key.id,
                        grant_id: grant_id.clone(),
                        name: req.name.clone(),
                        grantee_principal: grantee,
                        retiring_principal: req.retiring_principal.clone(),
                        operations,
                        constraints,
                        issuing_account: caller.account.clone(),
                        creation_date: now,
                    }),
                    now,
                    rec,
                )?;
                grant_id
            }
        };
        rec.response_elements = json!({ "grantId": grant_id });
        Ok(json!({
            "GrantToken": self.grant_token(&key.id, &grant_id),
            "GrantId": grant_id,
        }))
    }

    pub(crate) fn list_grants(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: ListGrantsRequest = parse(body)?;
        rec.request_parameters = without_nulls(json!({
            "keyId": req.key_id,
            "limit": req.limit,
            "marker": req.marker,
            "grantId": req.grant_id,
            "granteePrincipal": req.grantee_principal,
        }));
        if let Some(id) = &req.grant_id {
            check_grant_id(id)?;
        }
        if let Some(p) = &req.grantee_principal {
            check_principal("granteePrincipal", p)?;
        }
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::AliasesToo,
            // No grant here is for an AWS service (no service calls keyledger).
            Facts::new().with("kms:GrantIsForAWSResource", Some("false")),
            rec,
        )?;
        let grants: Vec<&KeyGrant> = key
            .grants
            .iter()
            .filter(|g| {
                req.grant_id
                    .as_ref()
                    .is_none_or(|id| &g.grant.grant_id == id)
            })
            .filter(|g| {
                req.grantee_principal
                    .as_ref()
                    .is_none_or(|p| &g.grant.grantee_principal == p)
            })
            .collect();
        let (items, next) = page(&grants, req.limit, (50, 1000), req.marker.as_deref())?;
        let listed: Vec<Value> = items.iter().map(|g| list_entry(&key, g)).collect();
        Ok(paged(json!({ "Grants": listed }), next))
    }

    pub(crate) fn list_retirable_grants(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: ListRetirableGrantsRequest = parse(body)?;
        rec.request_parameters = without_nulls(json!({
            "retiringPrincipal": req.retiring_principal,
            "limit": req.limit,
            "marker": req.marker,
        }));
        let retiring = req
            .retiring_principal
            .ok_or_else(|| ApiError::missing("retiringPrincipal"))?;
        check_principal("retiringPrincipal", &retiring)?;
        self.authorize_account(caller, ctx, rec.action, "*", Facts::new())?;
        // The caller's account's keys in this region: grants are listed where they live.
        let keys = self.projections.keys.list(&caller.account, &ctx.region);
        let grants: Vec<(&Arc<Key>, &KeyGrant)> = keys
            .iter()
            .flat_map(|k| k.grants.iter().map(move |g| (k, g)))
            .filter(|(_, g)| g.retiring_principal.as_deref() == Some(retiring.as_str()))
            .collect();
        let (items, next) = page(&grants, req.limit, (50, 1000), req.marker.as_deref())?;
        let listed: Vec<Value> = items.iter().map(|(k, g)| list_entry(k, g)).collect();
        Ok(paged(json!({ "Grants": listed }), next))
    }

    pub(crate) fn retire_grant(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: RetireGrantRequest = parse(body)?;
        rec.request_parameters = without_nulls(json!({
            "keyId": req.key_id,
            "grantId": req.grant_id,
            "dryRun": req.dry_run,
        }));
        let (key, grant_id) = match (&req.grant_token, &req.key_id, &req.grant_id) {
            (Some(token), _, _) => {
                check_length("grantToken", token.len(), 1, 8192)?;
                let (key_id, grant_id) = self.open_grant_token(token).ok_or_else(|| {
                    ApiError::InvalidGrantToken("The grant token is not valid.".into())
                })?;
                if req.grant_id.as_ref().is_some_and(|id| id != &grant_id) {
                    return Err(ApiError::InvalidGrantId(
                        "The grant ID does not match the grant token.".into(),
                    ));
                }
                let key =
                    self.projections.keys.get(&key_id).ok_or_else(|| {
                        ApiError::NotFound(format!("Key '{key_id}' does not exist"))
                    })?;
                (Found::new(key, None), grant_id)
            }
            (None, Some(key_id), Some(grant_id)) => {
                check_length("keyId", key_id.len(), 1, super::limits::MAX_KEY_ID)?;
                check_grant_id(grant_id)?;
                (
                    self.resolve(caller, ctx, key_id, Resolve::KeyOnly)?,
                    grant_id.clone(),
                )
            }
            _ => {
                return Err(ApiError::Validation(
                    "RetireGrant needs a GrantToken, or a KeyId and a GrantId.".into(),
                ))
            }
        };
        rec.resources.push(key.arn().to_owned());
        let grant = key
            .grants()
            .iter()
            .find(|g| g.grant.grant_id == grant_id)
            .ok_or_else(|| {
                ApiError::InvalidGrantId("The grant ID is not valid for this key.".into())
            })?;
        // Who may retire a grant: its retiring principal, its grantee when the grant allows
        // RetireGrant, and its account's root user; or whoever the key policy allows.
        let allowed_by_grant = grant
            .retiring_principal
            .as_deref()
            .is_some_and(|p| names_caller(caller, p))
            || (names_caller(caller, &grant.grant.grantee_principal)
                && grant.grant.operations.iter().any(|o| o == "RetireGrant"))
            || (caller.kind == CallerKind::Root && caller.account == grant.issuing_account);
        // Beyond those, a principal of the grant's account whose identity policies allow
        // kms:RetireGrant on the key (a key policy's kms:RetireGrant is not what AWS reads).
        let issuing = grant.issuing_account.clone();
        let key = key.allowed_by_its_grant();
        if !allowed_by_grant {
            if caller.account != issuing {
                return Err(ApiError::AccessDenied(format!(
                    "User: {} is not authorized to perform: kms:RetireGrant on resource: {}",
                    caller.principal_arn, key.arn
                )));
            }
            self.authorize_account(caller, ctx, "kms:RetireGrant", &key.arn, Facts::new())?;
        }
        key.check(Operation::RetireGrant)?;
        if req.dry_run == Some(true) {
            return Err(ApiError::DryRun);
        }
        self.change(&key, KeyCommand::RetireGrant { grant_id }, now, rec)?;
        Ok(json!({}))
    }

    pub(crate) fn revoke_grant(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: &[u8],
        now: OffsetDateTime,
        rec: &mut CallRecord,
    ) -> Result<Value, ApiError> {
        let req: RevokeGrantRequest = parse(body)?;
        rec.request_parameters = without_nulls(json!({
            "keyId": req.key_id,
            "grantId": req.grant_id,
            "dryRun": req.dry_run,
        }));
        let grant_id = req.grant_id.ok_or_else(|| ApiError::missing("grantId"))?;
        check_grant_id(&grant_id)?;
        let key = self.key_param(
            caller,
            ctx,
            req.key_id.as_deref(),
            Resolve::KeyOnly,
            // No grant here is for an AWS service (no service calls keyledger).
            Facts::new().with("kms:GrantIsForAWSResource", Some("false")),
            rec,
        )?;
        if req.dry_run == Some(true) {
            return Err(ApiError::DryRun);
        }
        self.change(&key, KeyCommand::RevokeGrant { grant_id }, now, rec)?;
        Ok(json!({}))
    }
}
