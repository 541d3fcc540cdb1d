//! AWS managed keys: the key behind `alias/aws/<service>`, created by the service the
//! first time a request names that alias in an account and region (DescribeKey too, as
//! at AWS). It has `KeyManager: AWS`, AWS's managed-key policy (use only through the
//! service, metadata for the account), yearly rotation that cannot be turned off, and no
//! customer management: the domain refuses policy, rotation, deletion, alias and tag
//! changes on it, and its policy does not allow them either.

use super::authz::Facts;
use super::keys::key_metadata;
use super::{lifecycle_event, ApiError, CallRecord, Caller, RequestContext, Service};
use crate::domain::alias::RESERVED_PREFIX;
use crate::domain::events::{AliasCreated, DomainEvent, KeyRotationEnabled};
use crate::domain::ids::{AccountId, KeyId, Region};
use crate::domain::key::{
    apply, decide, KeyCommand, KeyManager, KeySpec, KeyUsage, Origin, DEFAULT_ROTATION_PERIOD_DAYS,
};
use crate::ledger::AppendError;
use serde_json::json;

/// The AWS managed key aliases an account has before any of their keys exist, as
/// ListAliases shows them.
pub const AWS_MANAGED_ALIASES: &[&str] = &[
    "alias/aws/acm",
    "alias/aws/codecommit",
    "alias/aws/connect",
    "alias/aws/dynamodb",
    "alias/aws/ebs",
    "alias/aws/elasticfilesystem",
    "alias/aws/es",
    "alias/aws/glue",
    "alias/aws/kinesisvideo",
    "alias/aws/lambda",
    "alias/aws/rds",
    "alias/aws/redshift",
    "alias/aws/s3",
    "alias/aws/secretsmanager",
    "alias/aws/sns",
    "alias/aws/sqs",
    "alias/aws/ssm",
    "alias/aws/xray",
];

/// Whether `alias` is one of the AWS managed key aliases.
pub fn is_aws_managed_alias(alias: &str) -> bool {
    AWS_MANAGED_ALIASES.contains(&alias)
}

/// The service an AWS managed alias stands for: `alias/aws/s3` → `s3`.
fn service_of(alias: &str) -> &str {
    alias.strip_prefix(RESERVED_PREFIX).unwrap_or(alias)
}

/// AWS's policy for an AWS managed key: every principal of the account may use it through
/// the service (`kms:ViaService`), and the account may read its metadata.
pub fn aws_managed_policy(account: &AccountId, region: &Region, service: &str) -> String {
    let via = format!("{service}.{region}.amazonaws.com");
    serde_json::to_string_pretty(&json!({
        "Version": "2012-10-17",
        "Id": format!("auto-{service}-1"),
        "Statement": [
            {
                "Sid": format!("Allow access through {service} for all principals in the account that are authorized to use {service}"),
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": via, "kms:CallerAccount": account.as_str()}}
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                "Resource": "*"
            }
        ]
    }))
    .expect("a JSON literal serializes")
}

impl Service {
    /// Create the AWS managed key of `alias` for a request of `caller`'s that named it:
    /// only if the caller's identity policies allow the request's action on the alias (one
    /// denied everything creates nothing); its denial otherwise.
    pub(crate) async fn create_aws_managed_key_for(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        operation: &str,
        alias: &str,
    ) -> Result<(), ApiError> {
        let action = super::catalog::find(operation).map_or("kms:DescribeKey", |s| s.action);
        let alias_arn = format!("arn:aws:kms:{}:{}:{alias}", ctx.region, caller.account);
        self.authorize_account(caller, ctx, action, &alias_arn, Facts::new())?;
        self.create_aws_managed_key(&caller.account, &ctx.region, alias)
            .await
    }

    /// Create the AWS managed key of `alias` in `account` and `region`, recorded as the
    /// service's own `CreateKey` (an `AwsServiceEvent`). Another request creating it at the
    /// same time is not an error: one of the two lands, and both then find it.
    pub(crate) async fn create_aws_managed_key(
        &self,
        account: &AccountId,
        region: &Region,
        alias: &str,
    ) -> Result<(), ApiError> {
        let now = self.clock.now();
        let ctx = RequestContext {
            request_id: uuid::Uuid::new_v4().to_string(),
            region: region.clone(),
            source_ip: super::scheduler::SERVICE_PRINCIPAL.into(),
            user_agent: super::scheduler::SERVICE_PRINCIPAL.into(),
            access_key_id: None,
            secure_transport: true,
        };
        let service = service_of(alias);
        let key_id = KeyId::from_uuid(uuid::Uuid::new_v4());
        let material = crate::crypto::secret::random_bytes(32);
        let secrets = self.keyring.new_key_secrets(&key_id, &material);
        drop(material);
        let command = KeyCommand::Create {
            key_id,
            account: account.clone(),
            region: region.clone(),
            description: format!(
                "Default key that protects my {service} resources when no other key is defined"
            ),
            spec: KeySpec::SymmetricDefault,
            usage: KeyUsage::EncryptDecrypt,
            origin: Origin::AwsKms,
            tags: Vec::new(),
            policy: aws_managed_policy(account, region, service),
            sealed_material: Some(secrets.sealed_material),
            multi_region: None,
            later_versions: vec![],
            manager: KeyManager::Aws,
        };
        let mut events = decide(None, command, now)?;
        events.push(DomainEvent::KeyRotationEnabled(KeyRotationEnabled {
            key_id,
            rotation_period_days: DEFAULT_ROTATION_PERIOD_DAYS,
            next_rotation_date: now + time::Duration::days(DEFAULT_ROTATION_PERIOD_DAYS.into()),
        }));
        let key = events
            .iter()
            .fold(None, apply)
            .ok_or_else(|| ApiError::Internal("key creation produced no key".into()))?;
        let alias_version = self
            .projections
            .aliases
            .stream_version(region, account, alias)
            + 1;
        let record = CallRecord {
            service_account: Some(account.clone()),
            resources: vec![key.arn.clone()],
            request_parameters: json!({
                "keyUsage": KeyUsage::EncryptDecrypt.as_str(),
                "keySpec": KeySpec::SymmetricDefault.as_str(),
                "origin": Origin::AwsKms.as_str(),
                "aliasName": alias,
            }),
            response_elements: json!({ "keyMetadata": key_metadata(&key) }),
            lifecycle: events.into_iter().zip(1..).collect(),
            shredding_keys: vec![(key_id, secrets.wrapped_shredding_key)],
            ..CallRecord::default()
        };
        let mut batch = self.audit_batch(
            &ctx,
            None,
            "CreateKey",
            now,
            record,
            &mut Ok(serde_json::Value::Null),
        );
        let alias_event = DomainEvent::AliasCreated(AliasCreated {
            alias_name: alias.to_owned(),
            account_id: account.clone(),
            region: region.clone(),
            key_id,
        });
        // The alias goes with the key, before the call's usage event.
        let actor = crate::domain::events::Actor {
            account_id: Some(account.to_string()),
            principal_arn: Some(super::scheduler::SERVICE_PRINCIPAL.into()),
            ..Default::default()
        };
        let usage = batch.events.len() - 1;
        batch.events.insert(
            usage,
            lifecycle_event(
                &ctx.request_id,
                "CreateKey",
                &actor,
                now,
                &alias_event,
                alias_version,
            ),
        );
        match self.ledger.append(batch).await {
            Ok(_) => {
                tracing::info!(key = %key_id, alias, "AWS managed key created");
                Ok(())
            }
            Err(AppendError::Conflict { .. }) => Ok(()),
            Err(AppendError::Unavailable(reason)) => {
                tracing::error!(%reason, "AWS managed key not recorded");
                Err(self.ledger_unavailable())
            }
        }
    }
}
