//! Every operation keyledger answers, declared once: its name, whether CloudTrail calls it
//! read-only, the IAM action it is authorized as, and whether it is served yet. The
//! dispatcher reads the trail's `readOnly` and the default action of a key lookup from
//! here, so an operation cannot be recorded one way and authorized another.

/// How an operation is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    Served,
    /// An AWS KMS operation keyledger does not serve yet: `UnsupportedOperationException`.
    NotYet,
}

/// One operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperationSpec {
    /// The `X-Amz-Target` operation and the trail's `eventName`.
    pub name: &'static str,
    /// CloudTrail's `readOnly`.
    pub read_only: bool,
    /// The action a policy must allow. ReEncrypt names its source side
    /// (`kms:ReEncryptFrom`); its destination is authorized as `kms:ReEncryptTo`.
    pub action: &'static str,
    pub support: Support,
    /// The key-state table's row for the key it names (`KeyId`), checked once the key is
    /// found and authorized; `None` where the operation checks its keys itself (ReEncrypt's
    /// two, CreateGrant, RetireGrant) or names none.
    pub state: Option<Operation>,
}

impl OperationSpec {
    const fn checked_as(mut self, state: Operation) -> OperationSpec {
        self.state = Some(state);
        self
    }
}

const fn op(
    name: &'static str,
    read_only: bool,
    action: &'static str,
    support: Support,
) -> OperationSpec {
    OperationSpec {
        name,
        read_only,
        action,
        support,
        state: None,
    }
}

use crate::domain::key::Operation;
use Support::{NotYet, Served};

/// Reading, writing: the two values of `read_only`, named for the table below.
const R: bool = true;
const W: bool = false;

/// The AWS KMS operations (the current model's 56 plus keyledger's extensions).
pub const OPERATIONS: &[OperationSpec] = &[
    op("CancelKeyDeletion", W, "kms:CancelKeyDeletion", Served)
        .checked_as(Operation::CancelKeyDeletion),
    op(
        "ConnectCustomKeyStore",
        W,
        "kms:ConnectCustomKeyStore",
        NotYet,
    ),
    op("CreateAlias", W, "kms:CreateAlias", Served),
    op(
        "CreateCustomKeyStore",
        W,
        "kms:CreateCustomKeyStore",
        NotYet,
    ),
    op("CreateGrant", W, "kms:CreateGrant", Served),
    op("CreateKey", W, "kms:CreateKey", Served),
    op("Decapsulate", R, "kms:Decapsulate", Served).checked_as(Operation::Decapsulate),
    op("Decrypt", R, "kms:Decrypt", Served),
    op("DeleteAlias", W, "kms:DeleteAlias", Served),
    op(
        "DeleteCustomKeyStore",
        W,
        "kms:DeleteCustomKeyStore",
        NotYet,
    ),
    op(
        "DeleteImportedKeyMaterial",
        W,
        "kms:DeleteImportedKeyMaterial",
        Served,
    )
    .checked_as(Operation::DeleteImportedKeyMaterial),
    op("DeriveSharedSecret", R, "kms:DeriveSharedSecret", Served)
        .checked_as(Operation::DeriveSharedSecret),
    op(
        "DescribeCustomKeyStores",
        R,
        "kms:DescribeCustomKeyStores",
        NotYet,
    ),
    op("DescribeKey", R, "kms:DescribeKey", Served).checked_as(Operation::DescribeKey),
    op("DisableKey", W, "kms:DisableKey", Served).checked_as(Operation::DisableKey),
    op("DisableKeyRotation", W, "kms:DisableKeyRotation", Served)
        .checked_as(Operation::DisableKeyRotation),
    op(
        "DisconnectCustomKeyStore",
        W,
        "kms:DisconnectCustomKeyStore",
        NotYet,
    ),
    op("EnableKey", W, "kms:EnableKey", Served).checked_as(Operation::EnableKey),
    op("EnableKeyRotation", W, "kms:EnableKeyRotation", Served)
        .checked_as(Operation::EnableKeyRotation),
    op("Encapsulate", R, "kms:Encapsulate", Served).checked_as(Operation::Encapsulate),
    op("Encrypt", R, "kms:Encrypt", Served).checked_as(Operation::Encrypt),
    op("GenerateDataKey", R, "kms:GenerateDataKey", Served).checked_as(Operation::GenerateDataKey),
    op("GenerateDataKeyPair", R, "kms:GenerateDataKeyPair", Served)
        .checked_as(Operation::GenerateDataKeyPair),
    op(
        "GenerateDataKeyPairWithoutPlaintext",
        R,
        "kms:GenerateDataKeyPairWithoutPlaintext",
        Served,
    )
    .checked_as(Operation::GenerateDataKeyPair),
    op(
        "GenerateDataKeyWithoutPlaintext",
        R,
        "kms:GenerateDataKeyWithoutPlaintext",
        Served,
    )
    .checked_as(Operation::GenerateDataKey),
    op("GenerateMac", R, "kms:GenerateMac", Served).checked_as(Operation::GenerateMac),
    op("GenerateRandom", R, "kms:GenerateRandom", Served),
    op("GetKeyLastUsage", R, "kms:GetKeyLastUsage", Served),
    op("GetKeyPolicy", R, "kms:GetKeyPolicy", Served).checked_as(Operation::GetKeyPolicy),
    op(
        "GetKeyRotationStatus",
        R,
        "kms:GetKeyRotationStatus",
        Served,
    )
    .checked_as(Operation::GetKeyRotationStatus),
    op(
        "GetParametersForImport",
        R,
        "kms:GetParametersForImport",
        Served,
    )
    .checked_as(Operation::GetParametersForImport),
    op("GetPublicKey", R, "kms:GetPublicKey", Served).checked_as(Operation::GetPublicKey),
    op("ImportKeyMaterial", W, "kms:ImportKeyMaterial", Served)
        .checked_as(Operation::ImportKeyMaterial),
    op("ListAliases", R, "kms:ListAliases", Served),
    op("ListGrants", R, "kms:ListGrants", Served).checked_as(Operation::ListGrants),
    op("ListKeyPolicies", R, "kms:ListKeyPolicies", Served).checked_as(Operation::ListKeyPolicies),
    op("ListKeyRotations", R, "kms:ListKeyRotations", Served)
        .checked_as(Operation::ListKeyRotations),
    op("ListKeys", R, "kms:ListKeys", Served),
    op("ListResourceTags", R, "kms:ListResourceTags", Served)
        .checked_as(Operation::ListResourceTags),
    op("ListRetirableGrants", R, "kms:ListRetirableGrants", Served),
    op("PutKeyPolicy", W, "kms:PutKeyPolicy", Served).checked_as(Operation::PutKeyPolicy),
    op("ReEncrypt", R, "kms:ReEncryptFrom", Served),
    op("ReplicateKey", W, "kms:ReplicateKey", Served).checked_as(Operation::ReplicateKey),
    op("RetireGrant", W, "kms:RetireGrant", Served),
    op("RevokeGrant", W, "kms:RevokeGrant", Served).checked_as(Operation::RevokeGrant),
    op("RotateKeyOnDemand", W, "kms:RotateKeyOnDemand", Served)
        .checked_as(Operation::RotateKeyOnDemand),
    op("ScheduleKeyDeletion", W, "kms:ScheduleKeyDeletion", Served)
        .checked_as(Operation::ScheduleKeyDeletion),
    op("Sign", R, "kms:Sign", Served).checked_as(Operation::Sign),
    op("TagResource", W, "kms:TagResource", Served).checked_as(Operation::TagResource),
    op("UntagResource", W, "kms:UntagResource", Served).checked_as(Operation::UntagResource),
    op("UpdateAlias", W, "kms:UpdateAlias", Served),
    op(
        "UpdateCustomKeyStore",
        W,
        "kms:UpdateCustomKeyStore",
        NotYet,
    ),
    op(
        "UpdateKeyDescription",
        W,
        "kms:UpdateKeyDescription",
        Served,
    )
    .checked_as(Operation::UpdateKeyDescription),
    op("UpdatePrimaryRegion", W, "kms:UpdatePrimaryRegion", Served)
        .checked_as(Operation::UpdatePrimaryRegion),
    op("Verify", R, "kms:Verify", Served).checked_as(Operation::Verify),
    op("VerifyMac", R, "kms:VerifyMac", Served).checked_as(Operation::VerifyMac),
    // keyledger's own, on the same endpoint.
    op(super::history::KEY_AS_OF, R, "keyledger:GetKeyAsOf", Served),
    op(
        super::history::KEY_HISTORY,
        R,
        "keyledger:ListKeyHistory",
        Served,
    ),
    op(
        super::trail_query::LIST_TRAIL_EVENTS,
        R,
        "cloudtrail:LookupEvents",
        Served,
    ),
    op(
        super::trail_query::LOOKUP_EVENTS,
        R,
        "cloudtrail:LookupEvents",
        Served,
    ),
];

/// The declaration of `name`, if keyledger knows it.
pub fn find(name: &str) -> Option<&'static OperationSpec> {
    OPERATIONS.iter().find(|o| o.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_operation_is_declared_once_and_kms_actions_are_named_after_it() {
        for (i, a) in OPERATIONS.iter().enumerate() {
            assert!(
                OPERATIONS[i + 1..].iter().all(|b| b.name != a.name),
                "{} is declared twice",
                a.name
            );
            if a.action.starts_with("kms:") && a.name != "ReEncrypt" {
                assert_eq!(a.action, format!("kms:{}", a.name));
            }
        }
        // The AWS KMS model's 56 operations are all declared; more are keyledger's own.
        let aws = OPERATIONS
            .iter()
            .filter(|o| o.action.starts_with("kms:"))
            .count();
        assert_eq!(aws, 56);
    }
}
