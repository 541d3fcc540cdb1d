//! Step 3 of every call: authorize. The one place a request meets the policies.
//!
//! Resolving a `KeyId` gives a [`Found`] key, which an operation cannot use: only
//! [`Service::authorize`] turns it into the `Arc<Key>` the crypto needs, after the key
//! policy, the caller's identity policies and the key's grants have allowed the action
//! (`domain::authz`). Actions without a key (CreateKey, ListKeys, …) go through
//! [`Service::authorize_account`]. A denial is `AccessDeniedException` with AWS's
//! message, and is recorded like any failed call.

use super::request::bool_text;
use super::shapes::EncryptionContext;
use super::{ApiError, Caller, RequestContext, Service};
use crate::domain::authz::{self, Authorization};
use crate::domain::key::Key;
use crate::domain::policy::{Context, Policy};
use std::sync::Arc;

/// The service prefix of the actions of keyledger's own operations, which AWS has not.
pub const NATIVE_ACTION_PREFIX: &str = "keyledger:";

/// keyledger's own operations that answer from every account's records: the reports, and
/// the trail's entries and the leaves of its proofs (hash-only evidence is anyone's).
pub const LEDGER_WIDE: &[&str] = &[
    "GetBillingReport",
    "GetComplianceReport",
    "GetTrailTile",
    "GetTrailInclusionProof",
];

/// A key a request named, found but not yet authorized.
pub(crate) struct Found {
    key: Arc<Key>,
    /// The alias the request named the key by (`kms:RequestAlias`).
    alias: Option<String>,
}

impl Found {
    pub(crate) fn new(key: Arc<Key>, alias: Option<String>) -> Found {
        Found { key, alias }
    }

    /// The key's ARN, for the call's record and for messages, before authorization.
    pub(crate) fn arn(&self) -> &str {
        &self.key.arn
    }

    pub(crate) fn account(&self) -> &crate::domain::ids::AccountId {
        &self.key.account
    }

    pub(crate) fn spec(&self) -> crate::domain::key::KeySpec {
        self.key.spec
    }

    pub(crate) fn into_alias(self) -> Option<String> {
        self.alias
    }

    /// The grants in force on the key (RetireGrant reads them before authorizing).
    pub(crate) fn grants(&self) -> &[crate::domain::key::KeyGrant] {
        &self.key.grants
    }

    /// The key, for a RetireGrant its grant's own rule allows (its retiring principal,
    /// its grantee with RetireGrant, its account's root): no policy is asked.
    pub(crate) fn allowed_by_its_grant(self) -> Arc<Key> {
        self.key
    }

    /// The key id, for operations that only filter by it (ListAliases' `KeyId`, which
    /// IAM authorizes as `kms:ListAliases` on `*`).
    pub(crate) fn id(&self) -> crate::domain::ids::KeyId {
        self.key.id
    }
}

/// What one request adds to the condition keys every request has: its encryption
/// context, its algorithm, its tags, … and the grant tokens it presents.
#[derive(Default)]
pub(crate) struct Facts<'a> {
    context: Context,
    encryption_context: Option<&'a EncryptionContext>,
    grant_tokens: &'a [String],
}

impl<'a> Facts<'a> {
    pub(crate) fn new() -> Facts<'a> {
        Facts::default()
    }

    /// `kms:EncryptionContext:<key>` for each pair and `kms:EncryptionContextKeys`; grant
    /// constraints compare against it. An operation that takes an encryption context
    /// compares grant constraints with an empty one when the request gave none; the keys
    /// are then absent from the condition context, as at AWS.
    pub(crate) fn encryption_context(mut self, context: Option<&'a EncryptionContext>) -> Self {
        static EMPTY: EncryptionContext = EncryptionContext::new();
        let context = context.unwrap_or(&EMPTY);
        for (k, v) in context {
            self.context
                .set_one(&format!("kms:EncryptionContext:{k}"), v.clone());
        }
        self.context.set_values(
            "kms:EncryptionContextKeys",
            context.keys().cloned().collect(),
        );
        self.encryption_context = Some(context);
        self
    }

    /// A single-valued condition key, when the request has a value for it.
    pub(crate) fn with(mut self, key: &str, value: Option<&str>) -> Self {
        if let Some(value) = value {
            self.context.set_one(key, value);
        }
        self
    }

    /// A multivalued condition key (absent when it has no values, as at AWS).
    pub(crate) fn with_all(mut self, key: &str, values: Vec<String>) -> Self {
        self.context.set_values(key, values);
        self
    }

    /// The condition keys of the kind of key a `CreateKey` or `ReplicateKey` makes.
    pub(crate) fn of_new_key(mut self, kind: &KeyKind<'_>) -> Self {
        kind.conditions(&mut self.context);
        self
    }

    /// `aws:RequestTag/<key>` for each tag a request adds.
    pub(crate) fn with_tags(mut self, tags: &[crate::domain::events::Tag]) -> Self {
        for tag in tags {
            self.context
                .set_one(&format!("aws:RequestTag/{}", tag.key), tag.value.clone());
        }
        self
    }

    /// The grant tokens the request presents (a grant takes effect with its token at once).
    pub(crate) fn grant_tokens(mut self, tokens: Option<&'a Vec<String>>) -> Self {
        self.grant_tokens = tokens.map(Vec::as_slice).unwrap_or_default();
        self
    }
}

impl Service {
    /// Authorize `action` on a found key: the key, if the policies or a grant allow it.
    pub(crate) fn authorize(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        found: Found,
        action: &str,
        facts: Facts<'_>,
    ) -> Result<Arc<Key>, ApiError> {
        self.authorize_how(caller, ctx, found, action, facts)
            .map(|(key, _)| key)
    }

    /// [`Service::authorize`], and what allowed it (CreateGrant limits what a grant's
    /// grantee may pass on).
    pub(crate) fn authorize_how(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        found: Found,
        action: &str,
        facts: Facts<'_>,
    ) -> Result<(Arc<Key>, authz::Allowed), ApiError> {
        let Found { key, alias } = found;
        let mut context = facts.context;
        self.common_conditions(caller, ctx, &mut context);
        KeyResource::of(&key).conditions(&mut context);
        context.set_values(
            "kms:ResourceAliases",
            self.projections.aliases.names_of(key.id),
        );
        if let Some(alias) = alias {
            context.set_one("kms:RequestAlias", alias);
        }
        let identity = self.projections.credentials.identity_policies(caller);
        self.check_grant_tokens_issued(facts.grant_tokens)?;
        let principal = caller.principal();
        let denied = |denial: authz::Denial| {
            ApiError::AccessDenied(denial.message(&caller.principal_arn, action, &key.arn))
        };
        let Some(key_policy) = key.policy_rules.policy() else {
            return Err(denied(authz::Denial::NoResourcePolicyAllows));
        };
        let request = Authorization {
            principal: &principal,
            action,
            resource: &key.arn,
            resource_policy: Some((key_policy, key.account.as_str())),
            identity_policies: &identity,
            grants: &key.grants,
            encryption_context: facts.encryption_context,
            context: &context,
        };
        match authz::authorize(&request) {
            Ok(allowed) => Ok((key.clone(), allowed)),
            Err(denial) => Err(denied(denial)),
        }
    }

    /// Authorize an action no key policy covers (CreateKey, ListKeys, ListAliases,
    /// GenerateRandom, the trail's queries): the caller's identity policies decide.
    pub(crate) fn authorize_account(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        action: &str,
        resource: &str,
        facts: Facts<'_>,
    ) -> Result<(), ApiError> {
        let mut context = facts.context;
        self.common_conditions(caller, ctx, &mut context);
        let identity = self.projections.credentials.identity_policies(caller);
        let principal = caller.principal();
        let request = Authorization {
            principal: &principal,
            action,
            resource,
            resource_policy: None,
            identity_policies: &identity,
            grants: authz::NO_GRANTS,
            encryption_context: facts.encryption_context,
            context: &context,
        };
        authz::authorize(&request).map(drop).map_err(|denial| {
            ApiError::AccessDenied(denial.message(&caller.principal_arn, action, resource))
        })
    }

    /// A new key's `Tags` (`CreateKey`, `ReplicateKey`) need `kms:TagResource` too, from an
    /// identity policy, as at AWS: otherwise a caller denied tagging could tag through them.
    pub(crate) fn authorize_tags_on_create(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        tags: &[crate::domain::events::Tag],
    ) -> Result<(), ApiError> {
        if tags.is_empty() {
            return Ok(());
        }
        self.authorize_account(
            caller,
            ctx,
            "kms:TagResource",
            "*",
            Facts::new()
                .with_all("aws:TagKeys", tags.iter().map(|t| t.key.clone()).collect())
                .with_tags(tags),
        )
    }

    /// Authorize one of keyledger's own operations (the trail's evidence, the reports):
    /// `keyledger:<operation>` on `*`, by identity policies. Those that read every account's
    /// events or keys ([`LEDGER_WIDE`]) are the operator's: only principals of the ledger's
    /// first account may call them, whatever their policies say.
    pub(crate) fn authorize_native(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        operation: &str,
    ) -> Result<(), ApiError> {
        let action = format!("{NATIVE_ACTION_PREFIX}{operation}");
        if LEDGER_WIDE.contains(&operation)
            && self.projections.credentials.first_account().as_ref() != Some(&caller.account)
        {
            return Err(ApiError::AccessDenied(format!(
                "User: {} is not authorized to perform: {action} on resource: * because it reads every account's records, which only the ledger's operator account may",
                caller.principal_arn
            )));
        }
        self.authorize_account(caller, ctx, &action, "*", Facts::new())
    }

    /// Whether `policy` (about to become the key's) would still let the caller put the key
    /// policy: AWS's lockout safety check, skipped with `BypassPolicyLockoutSafetyCheck`.
    /// Evaluated with the condition keys a later `PutKeyPolicy` would have: the common ones
    /// and the key's own, so a policy that allows it for, say, symmetric keys only is not
    /// refused as a lockout.
    pub(crate) fn check_lockout(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        key_arn: &str,
        key: &KeyResource<'_>,
        policy: &Policy,
    ) -> Result<(), ApiError> {
        let mut context = Context::new();
        self.common_conditions(caller, ctx, &mut context);
        key.conditions(&mut context);
        let identity = self.projections.credentials.identity_policies(caller);
        let principal = caller.principal();
        let request = Authorization {
            principal: &principal,
            action: "kms:PutKeyPolicy",
            resource: key_arn,
            resource_policy: Some((policy, key.account)),
            identity_policies: &identity,
            grants: authz::NO_GRANTS,
            encryption_context: None,
            context: &context,
        };
        authz::authorize(&request).map(drop).map_err(|_| {
            ApiError::MalformedPolicyDocument(
                "The new key policy will not allow you to update the key policy in the future."
                    .into(),
            )
        })
    }

    /// The condition keys every KMS request has: AWS's global keys, `kms:CallerAccount`, and
    /// `aws:ResourceAccount` (the caller's, until a key of another account replaces it).
    fn common_conditions(&self, caller: &Caller, ctx: &RequestContext, context: &mut Context) {
        self.global_conditions(caller, ctx, context);
        context.set_one("kms:CallerAccount", caller.account.as_str());
        context.set_one("aws:ResourceAccount", caller.account.as_str());
    }

    /// The global keys of the caller alone (IAM's "AWS global condition context keys"), the
    /// same for every service: for a role session `aws:PrincipalArn` is the role's ARN and
    /// `aws:userid` its `AROA…:session`; no caller here is an AWS service.
    pub(crate) fn principal_conditions(&self, caller: &Caller, context: &mut Context) {
        context.set_one("aws:PrincipalAccount", caller.account.as_str());
        context.set_one("aws:PrincipalArn", caller.principal().arn);
        context.set_one(
            "aws:PrincipalType",
            match caller.kind {
                super::CallerKind::Root => "Account",
                super::CallerKind::User => "User",
                super::CallerKind::AssumedRole { .. } => "AssumedRole",
            },
        );
        if caller.kind == super::CallerKind::User {
            context.set_one("aws:username", caller.user_name.as_str());
        }
        context.set_one("aws:userid", self.user_id(caller));
        context.set_one("aws:PrincipalIsAWSService", "false");
        // Present only for temporary credentials, as at AWS (a `BoolIfExists` on
        // `aws:MultiFactorAuthPresent` is how policies let long-term keys through); no
        // session here is issued with MFA.
        if let super::CallerKind::AssumedRole { issued, .. } = &caller.kind {
            context.set_one("aws:TokenIssueTime", super::trail::event_time(*issued));
            context.set_one("aws:MultiFactorAuthPresent", "false");
        }
    }

    /// Every global key of a signed request: the caller's, and where, when and how it called.
    pub(crate) fn global_conditions(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        context: &mut Context,
    ) {
        self.principal_conditions(caller, context);
        let now = self.clock.now();
        context.set_one("aws:ViaAWSService", "false");
        context.set_one("aws:SourceIp", ctx.source_ip.as_str());
        // Whole seconds, as AWS spells its date keys (`2026-12-07T21:30:00Z`).
        context.set_one("aws:CurrentTime", super::trail::event_time(now));
        context.set_one("aws:EpochTime", now.unix_timestamp().to_string());
        context.set_one("aws:SecureTransport", bool_text(Some(ctx.secure_transport)));
        context.set_one("aws:RequestedRegion", ctx.region.as_str());
    }
}

/// A key, existing or about to be made, as a call on it sees it: its account, its kind, its
/// tags.
pub(crate) struct KeyResource<'a> {
    pub account: &'a str,
    pub kind: KeyKind<'a>,
    pub tags: &'a [crate::domain::events::Tag],
}

impl KeyResource<'_> {
    pub(crate) fn of(key: &Key) -> KeyResource<'_> {
        KeyResource {
            account: key.account.as_str(),
            kind: KeyKind::of(key),
            tags: &key.tags,
        }
    }

    /// Its condition keys. Set after the common keys (it replaces their
    /// `aws:ResourceAccount`).
    fn conditions(&self, context: &mut Context) {
        context.set_one("aws:ResourceAccount", self.account);
        self.kind.conditions(context);
        for tag in self.tags {
            context.set_one(&format!("aws:ResourceTag/{}", tag.key), tag.value.clone());
        }
    }
}

/// What kind of key a key is, as its condition keys say it: of a key that exists
/// ([`KeyResource::of`]) or of one `CreateKey` or `ReplicateKey` is about to make.
#[derive(Clone, Copy)]
pub(crate) struct KeyKind<'a> {
    pub spec: &'a str,
    pub usage: &'a str,
    pub origin: &'a str,
    pub manager: &'a str,
    /// For a multi-Region key, whether it is the primary.
    pub multi_region: Option<bool>,
}

impl KeyKind<'_> {
    pub(crate) fn of(key: &Key) -> KeyKind<'_> {
        KeyKind {
            spec: key.spec.as_str(),
            usage: key.usage.as_str(),
            origin: key.origin.as_str(),
            manager: key.manager.as_str(),
            multi_region: key.multi_region.map(|m| m.primary),
        }
    }

    fn conditions(&self, context: &mut Context) {
        context.set_one("kms:KeySpec", self.spec);
        context.set_one("kms:KeyUsage", self.usage);
        // Deprecated names AWS still honours, with the same values.
        context.set_one("kms:CustomerMasterKeySpec", self.spec);
        context.set_one("kms:CustomerMasterKeyUsage", self.usage);
        context.set_one("kms:KeyOrigin", self.origin);
        context.set_one("kms:KeyManager", self.manager);
        // Of the key the call is on (AWS: "operations … on multi-Region keys"), not only of
        // the key a CreateKey or ReplicateKey makes.
        context.set_one(
            "kms:MultiRegion",
            bool_text(Some(self.multi_region.is_some())),
        );
        if let Some(primary) = self.multi_region {
            let kind = if primary { "PRIMARY" } else { "REPLICA" };
            context.set_one("kms:MultiRegionKeyType", kind);
        }
    }
}
