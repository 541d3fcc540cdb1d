//! The key aggregate: state, `decide` and `apply`. Pure: no clock, randomness,
//! crypto or I/O — the command handler brings those in.

use super::events::{
    DomainEvent, GrantCreated, GrantRetired, GrantRevoked, ImportedKeyMaterialDeleted, KeyCreated,
    KeyDeleted, KeyDeletionCancelled, KeyDeletionScheduled, KeyDescriptionUpdated, KeyDisabled,
    KeyEnabled, KeyMaterialImported, KeyPolicyPut, KeyPrimaryRegionUpdated, KeyReplicated,
    KeyRotated, KeyRotationDisabled, KeyRotationEnabled, KeyTagged, KeyUntagged,
    MultiRegionMembership, RotationType, Sealed, SealedVersion, Tag,
};
use super::ids::{key_arn, AccountId, KeyId, Region};
use super::DomainError;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

macro_rules! aws_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
            /// AWS's "Member must satisfy enum value set: [...]" list.
            pub fn value_set() -> String {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                format!("[{}]", names.join(", "))
            }
        }
    };
}

aws_enum!(
    /// `KeySpec` as AWS KMS names them.
    KeySpec {
        SymmetricDefault = "SYMMETRIC_DEFAULT",
        Rsa2048 = "RSA_2048",
        Rsa3072 = "RSA_3072",
        Rsa4096 = "RSA_4096",
        EccNistP256 = "ECC_NIST_P256",
        EccNistP384 = "ECC_NIST_P384",
        EccNistP521 = "ECC_NIST_P521",
        EccSecgP256k1 = "ECC_SECG_P256K1",
        EccNistEdwards25519 = "ECC_NIST_EDWARDS25519",
        Hmac224 = "HMAC_224",
        Hmac256 = "HMAC_256",
        Hmac384 = "HMAC_384",
        Hmac512 = "HMAC_512",
        Sm2 = "SM2",
        MlDsa44 = "ML_DSA_44",
        MlDsa65 = "ML_DSA_65",
        MlDsa87 = "ML_DSA_87",
        MlKem512 = "ML_KEM_512",
        MlKem768 = "ML_KEM_768",
        MlKem1024 = "ML_KEM_1024",
        // keyledger's extension: X25519 key agreement (RFC 7748), not an AWS key spec.
        X25519 = "X25519",
    }
);

aws_enum!(
    KeyUsage {
        EncryptDecrypt = "ENCRYPT_DECRYPT",
        SignVerify = "SIGN_VERIFY",
        GenerateVerifyMac = "GENERATE_VERIFY_MAC",
        KeyAgreement = "KEY_AGREEMENT",
        EncapsulateDecapsulate = "ENCAPSULATE_DECAPSULATE",
    }
);

aws_enum!(
    Origin {
        AwsKms = "AWS_KMS",
        External = "EXTERNAL",
        AwsCloudhsm = "AWS_CLOUDHSM",
        ExternalKeyStore = "EXTERNAL_KEY_STORE",
    }
);

aws_enum!(
    /// Who manages a key: the customer, or AWS (the `alias/aws/<service>` keys).
    KeyManager {
        Aws = "AWS",
        Customer = "CUSTOMER",
    }
);

impl KeyManager {
    pub fn is_customer(&self) -> bool {
        *self == KeyManager::Customer
    }
}

impl Default for KeyManager {
    fn default() -> KeyManager {
        KeyManager::Customer
    }
}

aws_enum!(
    /// The key states of the AWS KMS key-state table.
    KeyState {
        Creating = "Creating",
        Enabled = "Enabled",
        Disabled = "Disabled",
        PendingDeletion = "PendingDeletion",
        PendingImport = "PendingImport",
        PendingReplicaDeletion = "PendingReplicaDeletion",
        Unavailable = "Unavailable",
        Updating = "Updating",
    }
);

/// One version of a key's material, sealed by the crypto layer; opaque here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyVersion {
    pub number: u32,
    pub sealed: Sealed,
    pub created_at: OffsetDateTime,
    /// How the version came to be; `None` for the key's first material.
    pub rotation_type: Option<RotationType>,
    /// For imported material (`Origin` EXTERNAL): its id, and whether it is imported now.
    pub import: Option<MaterialImport>,
}

/// What a key knows of one imported material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaterialImport {
    pub material_id: String,
    pub expiration_model: ExpirationModel,
    pub valid_to: Option<OffsetDateTime>,
    pub description: Option<String>,
    /// `false` once deleted or expired: the key does not use it until it is imported again.
    pub imported: bool,
}

impl KeyVersion {
    /// Whether the key may use this version's material: generated material always, imported
    /// material while it is imported.
    pub fn is_present(&self) -> bool {
        self.import.as_ref().is_none_or(|i| i.imported)
    }
}

aws_enum!(
    /// ImportKeyMaterial's `ImportType`.
    ImportType {
        NewKeyMaterial = "NEW_KEY_MATERIAL",
        ExistingKeyMaterial = "EXISTING_KEY_MATERIAL",
    }
);

aws_enum!(
    /// Whether imported key material expires (AWS's `ExpirationModelType`).
    ExpirationModel {
        Expires = "KEY_MATERIAL_EXPIRES",
        DoesNotExpire = "KEY_MATERIAL_DOES_NOT_EXPIRE",
    }
);

/// Automatic rotation, when enabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotationSchedule {
    pub period_days: u32,
    pub next_rotation_date: OffsetDateTime,
}

/// A pending deletion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingDeletion {
    pub deletion_date: OffsetDateTime,
    pub window_days: u32,
}

/// A key policy, parsed. Derived from the document beside it, so it takes no part in
/// comparing keys. `None`: a document recorded before policies were parsed that does not
/// parse now; it allows nothing.
#[derive(Clone, Debug)]
pub struct PolicyRules(Option<std::sync::Arc<super::policy::Policy>>);

impl PolicyRules {
    pub fn parse(document: &str) -> PolicyRules {
        PolicyRules(
            super::policy::Policy::parse(document, super::policy::PolicyKind::Key)
                .ok()
                .map(std::sync::Arc::new),
        )
    }

    pub fn policy(&self) -> Option<&super::policy::Policy> {
        self.0.as_deref()
    }
}

impl PartialEq for PolicyRules {
    fn eq(&self, _: &PolicyRules) -> bool {
        true
    }
}

impl Eq for PolicyRules {}

/// A grant in force on a key: what authorization reads, and what ListGrants shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyGrant {
    pub grant: std::sync::Arc<super::authz::Grant>,
    pub name: Option<String>,
    pub retiring_principal: Option<String>,
    pub issuing_account: AccountId,
    pub creation_date: OffsetDateTime,
}

impl AsRef<super::authz::Grant> for KeyGrant {
    fn as_ref(&self) -> &super::authz::Grant {
        &self.grant
    }
}

/// A key as the key-state projection knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub id: KeyId,
    pub account: AccountId,
    pub region: Region,
    pub arn: String,
    pub created_at: OffsetDateTime,
    pub description: String,
    pub spec: KeySpec,
    pub usage: KeyUsage,
    pub origin: Origin,
    pub manager: KeyManager,
    pub state: KeyState,
    pub versions: Vec<KeyVersion>,
    pub tags: Vec<Tag>,
    pub policy: String,
    /// `policy`, parsed once when it was put: evaluation never parses JSON.
    pub policy_rules: PolicyRules,
    pub rotation: Option<RotationSchedule>,
    pub deletion: Option<PendingDeletion>,
    /// The grants in force, oldest first.
    pub grants: Vec<KeyGrant>,
    /// For a multi-Region key: its shared `mrk-` id and whether it is the primary.
    pub multi_region: Option<MultiRegionMembership>,
    /// Imported material waiting for RotateKeyOnDemand to make it current (ImportType
    /// NEW_KEY_MATERIAL; AWS's `PENDING_ROTATION`).
    pub pending_material: Option<KeyVersion>,
    /// The last lifecycle event applied to this key's stream.
    pub stream_version: u64,
}

/// AWS KMS allows this many on-demand rotations per key.
pub const MAX_ON_DEMAND_ROTATIONS: usize = 10;
pub const MIN_ROTATION_PERIOD_DAYS: u32 = 90;
pub const MAX_ROTATION_PERIOD_DAYS: u32 = 2560;
pub const DEFAULT_ROTATION_PERIOD_DAYS: u32 = 365;
pub const MIN_PENDING_WINDOW_DAYS: u32 = 7;
pub const MAX_PENDING_WINDOW_DAYS: u32 = 30;
pub const DEFAULT_PENDING_WINDOW_DAYS: u32 = 30;
pub const DEFAULT_POLICY_NAME: &str = "default";
/// AWS KMS's quota of grants per key.
pub const MAX_GRANTS: usize = 50_000;

impl Key {
    /// The id the key shows (in its ARN, answers and ciphertext): the shared `mrk-` id of a
    /// multi-Region key, else its own.
    pub fn external_id(&self) -> KeyId {
        self.multi_region.map_or(self.id, |m| m.key_id)
    }

    /// Import and key-material operations are for keys with `Origin` EXTERNAL only.
    pub fn require_external(&self) -> Result<(), DomainError> {
        if self.origin == Origin::External {
            Ok(())
        } else {
            Err(DomainError::UnsupportedOperation(format!(
                "{} origin is {} which is not valid for this operation.",
                self.arn,
                self.origin.as_str()
            )))
        }
    }

    /// A replica of a multi-Region key (not its primary).
    pub fn is_replica(&self) -> bool {
        self.multi_region.is_some_and(|m| !m.primary)
    }

    /// The material new operations use. Invariant: every key but one created for imported
    /// material that has none yet has a version (KeyCreated carries version 1, versions are
    /// only ever added), and a key without one is `PendingImport` (or `PendingDeletion`), a
    /// state no operation that reaches for material is allowed in.
    pub fn current_version(&self) -> &KeyVersion {
        self.versions
            .last()
            .expect("a key in a state that uses material has a version")
    }

    /// The number the next material version takes (pending imported material counts).
    pub fn next_version(&self) -> u32 {
        self.versions
            .iter()
            .chain(&self.pending_material)
            .map(|v| v.number)
            .max()
            .unwrap_or(0)
            + 1
    }

    /// The version new imported material is sealed for: the next, or the number of a
    /// pending material that was deleted (the new material takes its place).
    pub fn new_material_version(&self) -> u32 {
        self.pending_material
            .as_ref()
            .map_or_else(|| self.next_version(), |pending| pending.number)
    }

    /// The material versions a key has ever had, the pending one last.
    pub fn materials(&self) -> impl Iterator<Item = &KeyVersion> {
        self.versions.iter().chain(&self.pending_material)
    }

    /// The imported material with AWS's `KeyMaterialId` `id`.
    pub fn imported_material(&self, id: &str) -> Option<&KeyVersion> {
        self.materials()
            .find(|v| v.import.as_ref().is_some_and(|i| i.material_id == id))
    }

    /// The state a key whose current material is gone (deleted, expired, never imported) is
    /// in: `PendingImport`, but a key pending deletion stays so.
    fn state_without_material(&self) -> KeyState {
        if self.state == KeyState::PendingDeletion {
            KeyState::PendingDeletion
        } else {
            KeyState::PendingImport
        }
    }

    /// Whether the key has its material: at least one version, and every version that is
    /// permanently its own (not one pending rotation) imported now — AWS makes a key
    /// `PendingImport` when any of its imported material is deleted or expires.
    fn has_current_material(&self) -> bool {
        !self.versions.is_empty() && self.versions.iter().all(KeyVersion::is_present)
    }

    pub fn version(&self, number: u32) -> Option<&KeyVersion> {
        self.versions.iter().find(|v| v.number == number)
    }

    pub fn on_demand_rotations(&self) -> usize {
        self.versions
            .iter()
            .filter(|v| v.rotation_type == Some(RotationType::OnDemand))
            .count()
    }

    /// Whether `operation` may run in the key's current state — AWS's key-state table.
    pub fn check(&self, operation: Operation) -> Result<(), DomainError> {
        match (self.state, operation.rule_in(self.state)) {
            (_, Rule::Allowed) => Ok(()),
            (KeyState::Disabled, Rule::Disabled) => {
                Err(DomainError::Disabled(format!("{} is disabled.", self.arn)))
            }
            // AWS words CancelKeyDeletion's refusal after what the key is not.
            (_, _) if operation == Operation::CancelKeyDeletion => Err(DomainError::InvalidState(
                format!("{} is not pending deletion.", self.arn),
            )),
            (state, _) => Err(DomainError::InvalidState(format!(
                "{} is {}.",
                self.arn,
                if state == KeyState::PendingDeletion {
                    "pending deletion"
                } else {
                    state.as_str()
                }
            ))),
        }
    }

    /// Whether cryptographic operations may use this key now (Encrypt's row of the table).
    pub fn check_usable(&self) -> Result<(), DomainError> {
        self.check(Operation::Encrypt)
    }
}

/// API operations that the key-state table speaks of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    CancelKeyDeletion,
    CreateAlias,
    Decrypt,
    DeleteAlias,
    DescribeKey,
    DisableKey,
    DisableKeyRotation,
    EnableKey,
    EnableKeyRotation,
    Encrypt,
    GenerateDataKey,
    GetKeyPolicy,
    GetKeyRotationStatus,
    ListKeyPolicies,
    ListKeyRotations,
    ListResourceTags,
    PutKeyPolicy,
    ReEncrypt,
    RotateKeyOnDemand,
    ScheduleKeyDeletion,
    TagResource,
    UntagResource,
    UpdateAlias,
    UpdateKeyDescription,
    GetPublicKey,
    Sign,
    Verify,
    GenerateMac,
    VerifyMac,
    DeriveSharedSecret,
    Encapsulate,
    Decapsulate,
    GenerateDataKeyPair,
    CreateGrant,
    ListGrants,
    RetireGrant,
    RevokeGrant,
    GetParametersForImport,
    ImportKeyMaterial,
    DeleteImportedKeyMaterial,
    ReplicateKey,
    UpdatePrimaryRegion,
}

/// What the table says for one operation in one state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    Allowed,
    /// `DisabledException`.
    Disabled,
    /// `KMSInvalidStateException`.
    InvalidState,
}

impl Operation {
    pub const ALL: &'static [Operation] = &[
        Operation::CancelKeyDeletion,
        Operation::CreateAlias,
        Operation::Decrypt,
        Operation::DeleteAlias,
        Operation::DescribeKey,
        Operation::DisableKey,
        Operation::DisableKeyRotation,
        Operation::EnableKey,
        Operation::EnableKeyRotation,
        Operation::Encrypt,
        Operation::GenerateDataKey,
        Operation::GetKeyPolicy,
        Operation::GetKeyRotationStatus,
        Operation::ListKeyPolicies,
        Operation::ListKeyRotations,
        Operation::ListResourceTags,
        Operation::PutKeyPolicy,
        Operation::ReEncrypt,
        Operation::RotateKeyOnDemand,
        Operation::ScheduleKeyDeletion,
        Operation::TagResource,
        Operation::UntagResource,
        Operation::UpdateAlias,
        Operation::UpdateKeyDescription,
        Operation::GetPublicKey,
        Operation::Sign,
        Operation::Verify,
        Operation::GenerateMac,
        Operation::VerifyMac,
        Operation::DeriveSharedSecret,
        Operation::Encapsulate,
        Operation::Decapsulate,
        Operation::GenerateDataKeyPair,
        Operation::CreateGrant,
        Operation::ListGrants,
        Operation::RetireGrant,
        Operation::RevokeGrant,
        Operation::GetParametersForImport,
        Operation::ImportKeyMaterial,
        Operation::DeleteImportedKeyMaterial,
        Operation::ReplicateKey,
        Operation::UpdatePrimaryRegion,
    ];

    /// The AWS KMS key-state table ("Key states of AWS KMS keys", Developer Guide), for the
    /// states keyledger has: Enabled, Disabled, PendingDeletion, PendingImport. Whether a key
    /// takes imported material at all (its `Origin`) is the operations' to say.
    pub fn rule_in(self, state: KeyState) -> Rule {
        use Operation::*;
        use Rule::*;
        match state {
            KeyState::Enabled => match self {
                CancelKeyDeletion => InvalidState,
                _ => Allowed,
            },
            KeyState::Disabled => match self {
                CancelKeyDeletion => InvalidState,
                Decrypt | Encrypt | GenerateDataKey | ReEncrypt | RotateKeyOnDemand
                | EnableKeyRotation | DisableKeyRotation | GetPublicKey | Sign | Verify
                | GenerateMac | VerifyMac | DeriveSharedSecret | Encapsulate | Decapsulate
                | GenerateDataKeyPair => Disabled,
                _ => Allowed,
            },
            // A multi-Region primary waiting for its replicas' deletion is pending deletion.
            KeyState::PendingDeletion | KeyState::PendingReplicaDeletion => match self {
                CancelKeyDeletion
                | DeleteAlias
                | DescribeKey
                | GetKeyPolicy
                | GetKeyRotationStatus
                | ListKeyPolicies
                | ListKeyRotations
                | ListResourceTags
                | PutKeyPolicy
                | ListGrants
                | RetireGrant
                | RevokeGrant
                | DeleteImportedKeyMaterial => Allowed,
                _ => InvalidState,
            },
            // A key without its material: everything but using it, enabling or disabling
            // it, and rotation.
            KeyState::PendingImport => match self {
                CreateAlias
                | DeleteAlias
                | DescribeKey
                | GetKeyPolicy
                | GetKeyRotationStatus
                | ListKeyPolicies
                | ListKeyRotations
                | ListResourceTags
                | PutKeyPolicy
                | ScheduleKeyDeletion
                | TagResource
                | UntagResource
                | UpdateAlias
                | UpdateKeyDescription
                | CreateGrant
                | ListGrants
                | RetireGrant
                | RevokeGrant
                | GetParametersForImport
                | ImportKeyMaterial
                | DeleteImportedKeyMaterial => Allowed,
                _ => InvalidState,
            },
            _ => match self {
                DescribeKey | GetKeyPolicy | ListKeyPolicies | ListResourceTags | DeleteAlias => {
                    Allowed
                }
                _ => InvalidState,
            },
        }
    }
}

/// The spec/usage pairs AWS KMS accepts.
pub fn spec_allows_usage(spec: KeySpec, usage: KeyUsage) -> bool {
    use KeySpec::*;
    use KeyUsage::*;
    match spec {
        SymmetricDefault => usage == EncryptDecrypt,
        Rsa2048 | Rsa3072 | Rsa4096 => matches!(usage, EncryptDecrypt | SignVerify),
        EccNistP256 | EccNistP384 | EccNistP521 => matches!(usage, SignVerify | KeyAgreement),
        EccSecgP256k1 | EccNistEdwards25519 => usage == SignVerify,
        Hmac224 | Hmac256 | Hmac384 | Hmac512 => usage == GenerateVerifyMac,
        Sm2 => matches!(usage, EncryptDecrypt | SignVerify | KeyAgreement),
        MlDsa44 | MlDsa65 | MlDsa87 => usage == SignVerify,
        MlKem512 | MlKem768 | MlKem1024 => usage == EncapsulateDecapsulate,
        X25519 => usage == KeyAgreement,
    }
}

/// Commands on one key. Material arrives already sealed: the domain never sees key bytes.
#[derive(Clone, Debug)]
pub enum KeyCommand {
    Create {
        key_id: KeyId,
        account: AccountId,
        region: Region,
        description: String,
        spec: KeySpec,
        usage: KeyUsage,
        origin: Origin,
        tags: Vec<Tag>,
        policy: String,
        /// `None` for a key created for imported material (`Origin` EXTERNAL).
        sealed_material: Option<Sealed>,
        manager: KeyManager,
        multi_region: Option<MultiRegionMembership>,
        /// A replica's versions after the first.
        later_versions: Vec<SealedVersion>,
    },
    Enable,
    Disable,
    UpdateDescription(String),
    Tag(Vec<Tag>),
    Untag(Vec<String>),
    PutPolicy {
        policy_name: String,
        policy: String,
    },
    EnableRotation {
        period_days: u32,
    },
    DisableRotation,
    /// `version` must be the next version number; the material is sealed for it.
    Rotate {
        version: u32,
        rotation_type: RotationType,
        sealed_material: Sealed,
        /// A replica following its primary's rotation (no key-state rule of its own).
        replica: bool,
    },
    ScheduleDeletion {
        window_days: u32,
        /// A multi-Region primary with replicas left waits for them.
        waiting_for_replicas: bool,
    },
    /// ReplicateKey, on the primary's stream: a replica in `replica_region` (so that the
    /// replication conflicts with a concurrent rotation or replication of the primary).
    AddReplica {
        replica_region: Region,
        replica_key_id: KeyId,
    },
    /// The scheduler: a multi-Region primary's last replica is deleted, so its own waiting
    /// period starts now.
    StartPrimaryDeletion,
    /// UpdatePrimaryRegion, on each of the two members it changes.
    UpdatePrimary {
        primary: bool,
        primary_region: Region,
        /// The automatic rotation the new primary takes over from the old one.
        rotation: Option<RotationSchedule>,
    },
    CancelDeletion,
    /// The scheduler's deletion of a key whose waiting period is over.
    Delete,
    /// `grant.key_id` must be this key's.
    CreateGrant(GrantCreated),
    RetireGrant {
        grant_id: String,
    },
    RevokeGrant {
        grant_id: String,
    },
    /// ImportKeyMaterial, once the handler has unwrapped and checked the material: its id
    /// (which is how the domain tells the same material from another) and, for material
    /// new to the key, the material sealed for `Key::next_version`.
    ImportMaterial {
        material_id: String,
        sealed_material: Sealed,
        import_type: Option<ImportType>,
        /// The `KeyMaterialId` the caller said it reimports.
        claimed_material_id: Option<String>,
        expiration_model: ExpirationModel,
        valid_to: Option<OffsetDateTime>,
        description: Option<String>,
    },
    /// DeleteImportedKeyMaterial (the current material, or the one `material_id` names), or
    /// with `expired` the scheduler's deletion of material whose `ValidTo` passed.
    DeleteImportedMaterial {
        material_id: Option<String>,
        expired: bool,
    },
}

impl KeyCommand {
    /// What may change on an AWS managed key: its grants, and its yearly rotation.
    fn allowed_on_aws_managed_keys(&self) -> bool {
        matches!(
            self,
            KeyCommand::CreateGrant(_)
                | KeyCommand::RetireGrant { .. }
                | KeyCommand::RevokeGrant { .. }
                | KeyCommand::Rotate {
                    rotation_type: RotationType::Automatic,
                    ..
                }
        )
    }

    /// The operation of the key-state table this command is checked as.
    fn operation(&self) -> Option<Operation> {
        Some(match self {
            KeyCommand::Create { .. } | KeyCommand::Delete | KeyCommand::StartPrimaryDeletion => {
                return None
            }
            KeyCommand::ImportMaterial { .. } => Operation::ImportKeyMaterial,
            KeyCommand::DeleteImportedMaterial { expired: false, .. } => {
                Operation::DeleteImportedKeyMaterial
            }
            KeyCommand::DeleteImportedMaterial { expired: true, .. } => return None,
            KeyCommand::Enable => Operation::EnableKey,
            KeyCommand::Disable => Operation::DisableKey,
            KeyCommand::UpdateDescription(_) => Operation::UpdateKeyDescription,
            KeyCommand::Tag(_) => Operation::TagResource,
            KeyCommand::Untag(_) => Operation::UntagResource,
            KeyCommand::PutPolicy { .. } => Operation::PutKeyPolicy,
            KeyCommand::EnableRotation { .. } => Operation::EnableKeyRotation,
            KeyCommand::DisableRotation => Operation::DisableKeyRotation,
            KeyCommand::Rotate { replica: true, .. } => return None,
            KeyCommand::Rotate {
                rotation_type: RotationType::OnDemand,
                ..
            } => Operation::RotateKeyOnDemand,
            KeyCommand::Rotate {
                rotation_type: RotationType::Automatic,
                ..
            } => return None,
            KeyCommand::UpdatePrimary { .. } => Operation::UpdatePrimaryRegion,
            KeyCommand::AddReplica { .. } => Operation::ReplicateKey,
            KeyCommand::ScheduleDeletion { .. } => Operation::ScheduleKeyDeletion,
            KeyCommand::CancelDeletion => Operation::CancelKeyDeletion,
            KeyCommand::CreateGrant(_) => Operation::CreateGrant,
            KeyCommand::RetireGrant { .. } => Operation::RetireGrant,
            KeyCommand::RevokeGrant { .. } => Operation::RevokeGrant,
        })
    }
}

/// A key has at most this many tags.
pub const MAX_TAGS: usize = 50;

fn days(n: u32) -> time::Duration {
    time::Duration::days(i64::from(n))
}

/// Decide which events a command produces against the current state.
pub fn decide(
    key: Option<&Key>,
    command: KeyCommand,
    now: OffsetDateTime,
) -> Result<Vec<DomainEvent>, DomainError> {
    let key = match (key, command) {
        (
            None,
            KeyCommand::Create {
                key_id,
                account,
                region,
                description,
                spec,
                usage,
                origin,
                tags,
                policy,
                sealed_material,
                manager,
                multi_region,
                later_versions,
            },
        ) => {
            if !spec_allows_usage(spec, usage) {
                return Err(DomainError::Validation(format!(
                    "KeyUsage {} is not compatible with KeySpec {}",
                    usage.as_str(),
                    spec.as_str()
                )));
            }
            if (origin == Origin::External) != sealed_material.is_none() {
                return Err(DomainError::Validation(
                    "A key has material exactly when its Origin is not EXTERNAL.".into(),
                ));
            }
            return Ok(vec![DomainEvent::KeyCreated(KeyCreated {
                key_id,
                account_id: account,
                region,
                creation_date: now,
                description,
                key_spec: spec,
                key_usage: usage,
                origin,
                tags,
                policy,
                material_version: 1,
                sealed_material,
                key_manager: manager,
                multi_region,
                later_versions,
            })]);
        }
        (Some(key), KeyCommand::Create { .. }) => {
            return Err(DomainError::AlreadyExists(format!(
                "{} already exists",
                key.arn
            )))
        }
        (None, _) => return Err(DomainError::NotFound("key does not exist".into())),
        (Some(key), command) => {
            if let Some(operation) = command.operation() {
                key.check(operation)?;
            }
            if key.manager == KeyManager::Aws && !command.allowed_on_aws_managed_keys() {
                return Err(DomainError::UnsupportedOperation(format!(
                    "{} is an AWS managed key: AWS manages its policy, rotation and lifetime.",
                    key.arn
                )));
            }
            (key, command)
        }
    };
    let (key, command) = key;
    let key_id = key.id;
    let event = match command {
        KeyCommand::Create { .. } => unreachable!("handled above"),
        KeyCommand::Enable if key.state == KeyState::Enabled => return Ok(vec![]),
        KeyCommand::Enable => DomainEvent::KeyEnabled(KeyEnabled { key_id }),
        KeyCommand::Disable if key.state == KeyState::Disabled => return Ok(vec![]),
        KeyCommand::Disable => DomainEvent::KeyDisabled(KeyDisabled { key_id }),
        KeyCommand::UpdateDescription(description) => {
            DomainEvent::KeyDescriptionUpdated(KeyDescriptionUpdated {
                key_id,
                description,
            })
        }
        KeyCommand::Tag(tags) => {
            let mut keys: Vec<&str> = key.tags.iter().map(|t| t.key.as_str()).collect();
            for t in &tags {
                if !keys.contains(&t.key.as_str()) {
                    keys.push(&t.key);
                }
            }
            if keys.len() > MAX_TAGS {
                return Err(DomainError::Tag(format!(
                    "A key can have at most {MAX_TAGS} tags; this request would give it {}.",
                    keys.len()
                )));
            }
            DomainEvent::KeyTagged(KeyTagged { key_id, tags })
        }
        KeyCommand::Untag(tag_keys) => DomainEvent::KeyUntagged(KeyUntagged { key_id, tag_keys }),
        KeyCommand::PutPolicy {
            policy_name,
            policy,
        } => DomainEvent::KeyPolicyPut(KeyPolicyPut {
            key_id,
            policy_name,
            policy,
        }),
        KeyCommand::EnableRotation { period_days } => {
            if key.is_replica() {
                return Err(DomainError::UnsupportedOperation(format!(
                    "{} is a multi-Region replica key: rotation is set on its primary key.",
                    key.arn
                )));
            }
            if key.origin == Origin::External {
                return Err(DomainError::UnsupportedOperation(format!(
                    "{} has imported key material: it rotates on demand only (ImportKeyMaterial with ImportType NEW_KEY_MATERIAL, then RotateKeyOnDemand).",
                    key.arn
                )));
            }
            if key.spec != KeySpec::SymmetricDefault {
                return Err(DomainError::UnsupportedOperation(format!(
                    "{} does not support automatic key rotation.",
                    key.arn
                )));
            }
            if !(MIN_ROTATION_PERIOD_DAYS..=MAX_ROTATION_PERIOD_DAYS).contains(&period_days) {
                return Err(DomainError::Validation(format!(
                    "1 validation error detected: Value '{period_days}' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value between {MIN_ROTATION_PERIOD_DAYS} and {MAX_ROTATION_PERIOD_DAYS}"
                )));
            }
            DomainEvent::KeyRotationEnabled(KeyRotationEnabled {
                key_id,
                rotation_period_days: period_days,
                next_rotation_date: now + days(period_days),
            })
        }
        KeyCommand::DisableRotation => {
            if key.is_replica() {
                return Err(DomainError::UnsupportedOperation(format!(
                    "{} is a multi-Region replica key: rotation is set on its primary key.",
                    key.arn
                )));
            }
            DomainEvent::KeyRotationDisabled(KeyRotationDisabled { key_id })
        }
        KeyCommand::Rotate {
            version,
            rotation_type,
            sealed_material,
            replica,
        } => {
            if key.is_replica() && !replica {
                return Err(DomainError::UnsupportedOperation(format!(
                    "{} is a multi-Region replica key: it rotates with its primary key.",
                    key.arn
                )));
            }
            if key.spec != KeySpec::SymmetricDefault {
                return Err(DomainError::UnsupportedOperation(format!(
                    "{} does not support rotation.",
                    key.arn
                )));
            }
            if rotation_type == RotationType::OnDemand
                && !replica
                && key.on_demand_rotations() >= MAX_ON_DEMAND_ROTATIONS
            {
                return Err(DomainError::LimitExceeded(format!(
                    "{} has reached the limit of {MAX_ON_DEMAND_ROTATIONS} on-demand rotations.",
                    key.arn
                )));
            }
            let next = key.next_version();
            if key.origin == Origin::External {
                // Imported keys rotate into the material imported for it, nothing else.
                match &key.pending_material {
                    Some(pending) if pending.is_present() && pending.number == version => {}
                    Some(pending) if pending.is_present() => {
                        return Err(DomainError::Conflict(format!(
                            "rotation prepared version {version}, the pending one is {}",
                            pending.number
                        )))
                    }
                    _ => {
                        return Err(DomainError::InvalidState(format!(
                            "{} has no key material pending rotation: import it first (ImportKeyMaterial with ImportType NEW_KEY_MATERIAL).",
                            key.arn
                        )))
                    }
                }
            } else if version != next {
                return Err(DomainError::Conflict(format!(
                    "rotation prepared version {version}, the next is {next}"
                )));
            }
            DomainEvent::KeyRotated(KeyRotated {
                key_id,
                material_version: version,
                rotation_type,
                rotation_date: now,
                sealed_material,
            })
        }
        KeyCommand::ScheduleDeletion {
            window_days,
            waiting_for_replicas,
        } => {
            if !(MIN_PENDING_WINDOW_DAYS..=MAX_PENDING_WINDOW_DAYS).contains(&window_days) {
                return Err(DomainError::Validation(format!(
                    "1 validation error detected: Value '{window_days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between {MIN_PENDING_WINDOW_DAYS} and {MAX_PENDING_WINDOW_DAYS}"
                )));
            }
            DomainEvent::KeyDeletionScheduled(KeyDeletionScheduled {
                key_id,
                deletion_date: now + days(window_days),
                pending_window_days: window_days,
                waiting_for_replicas,
            })
        }
        KeyCommand::CancelDeletion => {
            DomainEvent::KeyDeletionCancelled(KeyDeletionCancelled { key_id })
        }
        KeyCommand::AddReplica {
            replica_region,
            replica_key_id,
        } => match key.multi_region {
            Some(m) if m.primary => DomainEvent::KeyReplicated(KeyReplicated {
                key_id,
                replica_region,
                replica_key_id,
            }),
            _ => {
                return Err(DomainError::UnsupportedOperation(format!(
                    "{} is not a multi-Region primary key.",
                    key.arn
                )))
            }
        },
        KeyCommand::StartPrimaryDeletion => match key.deletion {
            Some(d) if key.state == KeyState::PendingReplicaDeletion => {
                DomainEvent::KeyDeletionScheduled(KeyDeletionScheduled {
                    key_id,
                    deletion_date: now + days(d.window_days),
                    pending_window_days: d.window_days,
                    waiting_for_replicas: false,
                })
            }
            _ => {
                return Err(DomainError::InvalidState(format!(
                    "{} is not waiting for its replicas' deletion.",
                    key.arn
                )))
            }
        },
        KeyCommand::Delete => match key.deletion {
            Some(d) if key.state == KeyState::PendingDeletion && d.deletion_date <= now => {
                DomainEvent::KeyDeleted(KeyDeleted { key_id })
            }
            _ => {
                return Err(DomainError::InvalidState(format!(
                    "{} is not due for deletion.",
                    key.arn
                )))
            }
        },
        KeyCommand::CreateGrant(grant) => {
            if key.grants.len() >= MAX_GRANTS {
                return Err(DomainError::LimitExceeded(format!(
                    "{} has {MAX_GRANTS} grants, the most a key can have.",
                    key.arn
                )));
            }
            DomainEvent::GrantCreated(grant)
        }
        KeyCommand::RetireGrant { grant_id } | KeyCommand::RevokeGrant { grant_id }
            if !key.grants.iter().any(|g| g.grant.grant_id == grant_id) =>
        {
            return Err(DomainError::InvalidGrantId(
                "The grant ID is not valid for this key.".into(),
            ))
        }
        KeyCommand::RetireGrant { grant_id } => {
            DomainEvent::GrantRetired(GrantRetired { key_id, grant_id })
        }
        KeyCommand::RevokeGrant { grant_id } => {
            DomainEvent::GrantRevoked(GrantRevoked { key_id, grant_id })
        }
        KeyCommand::ImportMaterial {
            material_id,
            sealed_material,
            import_type,
            claimed_material_id,
            expiration_model,
            valid_to,
            description,
        } => decide_import(
            key,
            ImportDecision {
                material_id,
                sealed_material,
                import_type,
                claimed_material_id,
                expiration_model,
                valid_to,
                description,
            },
            now,
        )?,
        KeyCommand::UpdatePrimary {
            primary,
            primary_region,
            rotation,
        } => match key.multi_region {
            Some(m) if m.primary == primary => return Ok(vec![]),
            Some(_) => DomainEvent::KeyPrimaryRegionUpdated(KeyPrimaryRegionUpdated {
                key_id,
                primary,
                primary_region,
                rotation_period_days: rotation.map(|r| r.period_days),
                next_rotation_date: rotation.map(|r| r.next_rotation_date),
            }),
            None => {
                return Err(DomainError::UnsupportedOperation(format!(
                    "{} is not a multi-Region key.",
                    key.arn
                )))
            }
        },
        KeyCommand::DeleteImportedMaterial {
            material_id,
            expired,
        } => {
            key.require_external()?;
            let target = match &material_id {
                Some(id) => Some(key.imported_material(id).ok_or_else(|| {
                    DomainError::NotFound(format!(
                        "Key material {id} is not associated with {}.",
                        key.arn
                    ))
                })?),
                None => key.versions.last(),
            };
            // The scheduler's expiry decides on what it read: material imported again since
            // with a later ValidTo (or for good) has not expired.
            let expired_now = |v: &KeyVersion| {
                v.import
                    .as_ref()
                    .and_then(|i| i.valid_to)
                    .is_some_and(|t| t <= now)
            };
            match target {
                Some(version) if expired && !expired_now(version) => return Ok(vec![]),
                Some(version) if version.is_present() => {
                    DomainEvent::ImportedKeyMaterialDeleted(ImportedKeyMaterialDeleted {
                        key_id,
                        material_version: version.number,
                        key_material_id: version
                            .import
                            .as_ref()
                            .map(|i| i.material_id.clone())
                            .unwrap_or_default(),
                        expired,
                    })
                }
                // Nothing imported to delete: nothing changes.
                _ => return Ok(vec![]),
            }
        }
    };
    Ok(vec![event])
}

struct ImportDecision {
    material_id: String,
    sealed_material: Sealed,
    import_type: Option<ImportType>,
    claimed_material_id: Option<String>,
    expiration_model: ExpirationModel,
    valid_to: Option<OffsetDateTime>,
    description: Option<String>,
}

/// ImportKeyMaterial: the key's first material, the same material again (EXISTING), or new
/// material for on-demand rotation (NEW, symmetric keys only) — AWS's rules.
fn decide_import(
    key: &Key,
    import: ImportDecision,
    now: OffsetDateTime,
) -> Result<DomainEvent, DomainError> {
    key.require_external()?;
    let first = key.versions.is_empty();
    // AWS's default: NEW for a key that never had material, EXISTING after.
    let import_type = import.import_type.unwrap_or(if first {
        ImportType::NewKeyMaterial
    } else {
        ImportType::ExistingKeyMaterial
    });
    let known = key.imported_material(&import.material_id);
    let (material_version, sealed_material) = match import_type {
        ImportType::ExistingKeyMaterial => {
            if import.import_type.is_some() && first {
                return Err(DomainError::Validation(format!(
                    "{} has no key material yet: import its first material with ImportType NEW_KEY_MATERIAL.",
                    key.arn
                )));
            }
            if let Some(claimed) = &import.claimed_material_id {
                if claimed != &import.material_id {
                    return Err(DomainError::IncorrectKeyMaterial(format!(
                        "The key material does not match key material {claimed}."
                    )));
                }
            }
            match known {
                Some(version) => (version.number, None),
                None => {
                    return Err(DomainError::IncorrectKeyMaterial(format!(
                        "The key material is not the key material previously imported into {}.",
                        key.arn
                    )))
                }
            }
        }
        ImportType::NewKeyMaterial => {
            if import.claimed_material_id.is_some() {
                return Err(DomainError::Validation(
                    "You cannot specify a key material ID with ImportType set to NEW_KEY_MATERIAL."
                        .into(),
                ));
            }
            if !first && key.spec != KeySpec::SymmetricDefault {
                return Err(DomainError::UnsupportedOperation(format!(
                    "{} is a {} key: only symmetric encryption keys take new key material after the first.",
                    key.arn,
                    key.spec.as_str()
                )));
            }
            if known.is_some() {
                return Err(DomainError::IncorrectKeyMaterial(format!(
                    "This key material is already associated with {}: reimport it with ImportType EXISTING_KEY_MATERIAL.",
                    key.arn
                )));
            }
            if let Some(pending) = key.pending_material.as_ref().filter(|p| p.is_present()) {
                return Err(DomainError::InvalidState(format!(
                    "{} already has key material {} pending rotation: rotate (RotateKeyOnDemand) or delete it first.",
                    key.arn,
                    pending
                        .import
                        .as_ref()
                        .map_or("", |i| i.material_id.as_str())
                )));
            }
            if !first && key.on_demand_rotations() >= MAX_ON_DEMAND_ROTATIONS {
                return Err(DomainError::LimitExceeded(format!(
                    "{} has reached the limit of {MAX_ON_DEMAND_ROTATIONS} on-demand rotations.",
                    key.arn
                )));
            }
            (key.new_material_version(), Some(import.sealed_material))
        }
    };
    Ok(DomainEvent::KeyMaterialImported(KeyMaterialImported {
        key_id: key.id,
        material_version,
        key_material_id: import.material_id,
        expiration_model: import.expiration_model,
        valid_to: import.valid_to,
        import_date: now,
        sealed_material,
        key_material_description: import.description,
    }))
}

/// Fold one lifecycle event into a key's state. Events that are not about this key leave it as is;
/// `KeyDeleted` ends it.
pub fn apply(key: Option<Key>, event: &DomainEvent) -> Option<Key> {
    if let DomainEvent::KeyCreated(e) = event {
        return Some(Key {
            id: e.key_id,
            arn: key_arn(
                &e.region,
                &e.account_id,
                &e.multi_region.map_or(e.key_id, |m| m.key_id),
            ),
            account: e.account_id.clone(),
            region: e.region.clone(),
            created_at: e.creation_date,
            description: e.description.clone(),
            spec: e.key_spec,
            usage: e.key_usage,
            origin: e.origin,
            manager: e.key_manager,
            state: if e.sealed_material.is_some() {
                KeyState::Enabled
            } else {
                KeyState::PendingImport
            },
            versions: e
                .sealed_material
                .iter()
                .map(|sealed| KeyVersion {
                    number: e.material_version,
                    sealed: sealed.clone(),
                    created_at: e.creation_date,
                    rotation_type: None,
                    import: None,
                })
                .chain(e.later_versions.iter().map(|v| KeyVersion {
                    number: v.material_version,
                    sealed: v.sealed_material.clone(),
                    created_at: v.rotation_date,
                    rotation_type: Some(v.rotation_type),
                    import: None,
                }))
                .collect(),
            tags: e.tags.clone(),
            policy: e.policy.clone(),
            policy_rules: PolicyRules::parse(&e.policy),
            rotation: None,
            deletion: None,
            grants: Vec::new(),
            multi_region: e.multi_region,
            pending_material: None,
            stream_version: 1,
        });
    }
    let mut key = key?;
    key.stream_version += 1;
    match event {
        DomainEvent::KeyEnabled(_) => key.state = KeyState::Enabled,
        DomainEvent::KeyDisabled(_) => key.state = KeyState::Disabled,
        DomainEvent::KeyDescriptionUpdated(e) => key.description = e.description.clone(),
        DomainEvent::KeyTagged(e) => {
            for tag in &e.tags {
                match key.tags.iter_mut().find(|t| t.key == tag.key) {
                    Some(existing) => existing.value = tag.value.clone(),
                    None => key.tags.push(tag.clone()),
                }
            }
        }
        DomainEvent::KeyUntagged(e) => key.tags.retain(|t| !e.tag_keys.contains(&t.key)),
        DomainEvent::KeyPolicyPut(e) => {
            key.policy = e.policy.clone();
            key.policy_rules = PolicyRules::parse(&e.policy);
        }
        DomainEvent::KeyRotationEnabled(e) => {
            key.rotation = Some(RotationSchedule {
                period_days: e.rotation_period_days,
                next_rotation_date: e.next_rotation_date,
            })
        }
        DomainEvent::KeyRotationDisabled(_) => key.rotation = None,
        DomainEvent::KeyRotated(e) => {
            // An imported key rotates into its pending material (with what it knows of it).
            let import = match key.pending_material.take() {
                Some(pending) if pending.number == e.material_version => pending.import,
                other => {
                    key.pending_material = other;
                    None
                }
            };
            key.versions.push(KeyVersion {
                number: e.material_version,
                sealed: e.sealed_material.clone(),
                created_at: e.rotation_date,
                rotation_type: Some(e.rotation_type),
                import,
            });
            if let Some(schedule) = &mut key.rotation {
                // Any rotation restarts the automatic period, as at AWS.
                schedule.next_rotation_date = e.rotation_date + days(schedule.period_days);
            }
        }
        DomainEvent::KeyDeletionScheduled(e) => {
            key.state = if e.waiting_for_replicas {
                KeyState::PendingReplicaDeletion
            } else {
                KeyState::PendingDeletion
            };
            key.deletion = Some(PendingDeletion {
                deletion_date: e.deletion_date,
                window_days: e.pending_window_days,
            });
        }
        DomainEvent::KeyDeletionCancelled(_) => {
            // AWS returns a key whose deletion is cancelled to Disabled (PendingImport if its
            // imported material is gone).
            key.deletion = None;
            key.state = if key.has_current_material() {
                KeyState::Disabled
            } else {
                KeyState::PendingImport
            };
        }
        DomainEvent::KeyMaterialImported(e) => {
            let import = MaterialImport {
                material_id: e.key_material_id.clone(),
                expiration_model: e.expiration_model,
                valid_to: e.valid_to,
                description: e.key_material_description.clone(),
                imported: true,
            };
            match &e.sealed_material {
                Some(sealed) => {
                    let version = KeyVersion {
                        number: e.material_version,
                        sealed: sealed.clone(),
                        created_at: e.import_date,
                        rotation_type: None,
                        import: Some(import),
                    };
                    if key.versions.is_empty() {
                        key.versions.push(version);
                    } else {
                        key.pending_material = Some(version);
                    }
                }
                None => {
                    let known = key
                        .versions
                        .iter_mut()
                        .chain(key.pending_material.as_mut())
                        .find(|v| v.number == e.material_version);
                    if let Some(version) = known {
                        version.import = Some(import);
                    }
                }
            }
            if key.state == KeyState::PendingImport && key.has_current_material() {
                key.state = KeyState::Enabled;
            }
        }
        DomainEvent::KeyPrimaryRegionUpdated(e) => {
            if let Some(m) = &mut key.multi_region {
                m.primary = e.primary;
            }
            // Automatic rotation moves with the primary role.
            key.rotation = match (e.rotation_period_days, e.next_rotation_date) {
                (Some(period_days), Some(next_rotation_date)) if e.primary => {
                    Some(RotationSchedule {
                        period_days,
                        next_rotation_date,
                    })
                }
                _ => None,
            };
        }
        DomainEvent::KeyReplicated(_) => {}
        DomainEvent::ImportedKeyMaterialDeleted(e) => {
            let known = key
                .versions
                .iter_mut()
                .chain(key.pending_material.as_mut())
                .find(|v| v.number == e.material_version);
            if let Some(import) = known.and_then(|v| v.import.as_mut()) {
                import.imported = false;
            }
            if !key.has_current_material() {
                key.state = key.state_without_material();
            }
        }
        DomainEvent::KeyDeleted(_) => return None,
        DomainEvent::GrantCreated(e) => key.grants.push(KeyGrant {
            grant: std::sync::Arc::new(super::authz::Grant {
                grant_id: e.grant_id.clone(),
                grantee_principal: e.grantee_principal.clone(),
                operations: e.operations.clone(),
                constraints: e.constraints.clone(),
            }),
            name: e.name.clone(),
            retiring_principal: e.retiring_principal.clone(),
            issuing_account: e.issuing_account.clone(),
            creation_date: e.creation_date,
        }),
        DomainEvent::GrantRetired(GrantRetired { grant_id, .. })
        | DomainEvent::GrantRevoked(GrantRevoked { grant_id, .. }) => {
            key.grants.retain(|g| &g.grant.grant_id != grant_id)
        }
        DomainEvent::KeyCreated(_)
        | DomainEvent::AccountCreated(_)
        | DomainEvent::AccessKeyCreated(_)
        | DomainEvent::TrailKeyCreated(_)
        | DomainEvent::AliasCreated(_)
        | DomainEvent::AliasUpdated(_)
        | DomainEvent::AliasDeleted(_)
        | DomainEvent::UserCreated(_)
        | DomainEvent::UserDeleted(_)
        | DomainEvent::UserPolicyPut(_)
        | DomainEvent::UserPolicyDeleted(_)
        | DomainEvent::AccessKeyDeactivated(_)
        | DomainEvent::AccessKeyActivated(_)
        | DomainEvent::AccessKeyDeleted(_)
        | DomainEvent::RoleCreated(_)
        | DomainEvent::RoleDeleted(_)
        | DomainEvent::RolePolicyPut(_)
        | DomainEvent::RolePolicyDeleted(_) => key.stream_version -= 1,
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    //! Given/when/then tests of the aggregate.
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

    fn create() -> KeyCommand {
        KeyCommand::Create {
            key_id: KeyId::parse("1234abcd-12ab-34cd-56ef-1234567890ab").unwrap(),
            account: AccountId::parse("111122223333").unwrap(),
            region: Region::parse("us-east-1").unwrap(),
            description: "test".into(),
            spec: KeySpec::SymmetricDefault,
            usage: KeyUsage::EncryptDecrypt,
            origin: Origin::AwsKms,
            tags: vec![],
            policy: "{}".into(),
            sealed_material: Some(Sealed(vec![1, 2, 3])),
            manager: KeyManager::Customer,
            multi_region: None,
            later_versions: vec![],
        }
    }

    /// Given past events, when a command is decided, then these events (or this error).
    fn given(events: &[DomainEvent]) -> Option<Key> {
        events.iter().fold(None, apply)
    }

    fn created() -> Vec<DomainEvent> {
        decide(None, create(), NOW).unwrap()
    }

    #[test]
    fn create_yields_key_created_and_an_enabled_key() {
        let events = created();
        assert_eq!(events.len(), 1);
        let key = given(&events).unwrap();
        assert_eq!(key.state, KeyState::Enabled);
        assert_eq!(
            key.arn,
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        );
        assert_eq!(key.created_at, NOW);
        assert_eq!(key.current_version().number, 1);
        assert_eq!(key.stream_version, 1);
    }

    #[test]
    fn create_twice_is_rejected() {
        let key = given(&created());
        assert!(matches!(
            decide(key.as_ref(), create(), NOW),
            Err(DomainError::AlreadyExists(_))
        ));
    }

    #[test]
    fn create_with_an_incompatible_usage_is_rejected() {
        let mut cmd = create();
        if let KeyCommand::Create { usage, .. } = &mut cmd {
            *usage = KeyUsage::SignVerify;
        }
        assert!(matches!(
            decide(None, cmd, NOW),
            Err(DomainError::Validation(_))
        ));
    }

    #[test]
    fn disable_then_enable() {
        let mut events = created();
        let key = given(&events);
        let disabled = decide(key.as_ref(), KeyCommand::Disable, NOW).unwrap();
        assert!(matches!(disabled.as_slice(), [DomainEvent::KeyDisabled(_)]));
        events.extend(disabled);
        let key = given(&events).unwrap();
        assert_eq!(key.state, KeyState::Disabled);
        assert_eq!(key.stream_version, 2);
        assert!(matches!(key.check_usable(), Err(DomainError::Disabled(_))));

        let enabled = decide(Some(&key), KeyCommand::Enable, NOW).unwrap();
        assert!(matches!(enabled.as_slice(), [DomainEvent::KeyEnabled(_)]));
        events.extend(enabled);
        let key = given(&events).unwrap();
        assert_eq!(key.state, KeyState::Enabled);
        assert!(key.check_usable().is_ok());
    }

    #[test]
    fn enabling_an_enabled_key_changes_nothing() {
        let key = given(&created());
        assert!(decide(key.as_ref(), KeyCommand::Enable, NOW)
            .unwrap()
            .is_empty());
        let mut events = created();
        events.extend(decide(key.as_ref(), KeyCommand::Disable, NOW).unwrap());
        let key = given(&events);
        assert!(decide(key.as_ref(), KeyCommand::Disable, NOW)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn commands_on_a_missing_key_are_not_found() {
        assert!(matches!(
            decide(None, KeyCommand::Enable, NOW),
            Err(DomainError::NotFound(_))
        ));
        assert!(matches!(
            decide(None, KeyCommand::Disable, NOW),
            Err(DomainError::NotFound(_))
        ));
    }

    #[test]
    fn pending_deletion_keys_cannot_be_enabled_or_used() {
        let mut key = given(&created()).unwrap();
        key.state = KeyState::PendingDeletion;
        assert!(matches!(
            decide(Some(&key), KeyCommand::Enable, NOW),
            Err(DomainError::InvalidState(_))
        ));
        assert!(matches!(
            key.check_usable(),
            Err(DomainError::InvalidState(_))
        ));
    }

    /// An EXTERNAL key with `material_id` imported, expiring at `valid_to`.
    fn imported(valid_to: OffsetDateTime) -> Vec<DomainEvent> {
        let mut cmd = create();
        if let KeyCommand::Create {
            origin,
            sealed_material,
            ..
        } = &mut cmd
        {
            *origin = Origin::External;
            *sealed_material = None;
        }
        let mut events = decide(None, cmd, NOW).unwrap();
        let key = given(&events).unwrap();
        assert_eq!(key.state, KeyState::PendingImport);
        let import = KeyCommand::ImportMaterial {
            material_id: "a".repeat(64),
            sealed_material: Sealed(vec![4, 5, 6]),
            import_type: None,
            claimed_material_id: None,
            expiration_model: ExpirationModel::Expires,
            valid_to: Some(valid_to),
            description: None,
        };
        events.extend(decide(Some(&key), import, NOW).unwrap());
        events
    }

    #[test]
    fn the_schedulers_expiry_takes_only_material_whose_valid_to_has_passed() {
        let valid_to = NOW + time::Duration::days(1);
        let events = imported(valid_to);
        let key = given(&events).unwrap();
        assert_eq!(key.state, KeyState::Enabled);
        let expire = || KeyCommand::DeleteImportedMaterial {
            material_id: Some("a".repeat(64)),
            expired: true,
        };
        // Decided before its ValidTo (a reimport may have moved it): nothing happens.
        assert!(decide(Some(&key), expire(), NOW).unwrap().is_empty());
        let due = decide(Some(&key), expire(), valid_to).unwrap();
        assert!(matches!(
            due.as_slice(),
            [DomainEvent::ImportedKeyMaterialDeleted(
                ImportedKeyMaterialDeleted { expired: true, .. }
            )]
        ));
        let mut all = events;
        all.extend(due);
        let key = given(&all).unwrap();
        assert_eq!(key.state, KeyState::PendingImport);
        assert!(key.check_usable().is_err());
        // The same material again restores it; other material is refused.
        let again = |id: &str| KeyCommand::ImportMaterial {
            material_id: id.to_owned(),
            sealed_material: Sealed(vec![7]),
            import_type: None,
            claimed_material_id: None,
            expiration_model: ExpirationModel::DoesNotExpire,
            valid_to: None,
            description: None,
        };
        assert!(matches!(
            decide(Some(&key), again(&"b".repeat(64)), valid_to),
            Err(DomainError::IncorrectKeyMaterial(_))
        ));
        let restored = decide(Some(&key), again(&"a".repeat(64)), valid_to).unwrap();
        match restored.as_slice() {
            [DomainEvent::KeyMaterialImported(e)] => {
                assert_eq!(e.sealed_material, None, "the ledger has it already")
            }
            other => panic!("{other:?}"),
        }
        all.extend(restored);
        assert_eq!(given(&all).unwrap().state, KeyState::Enabled);
    }

    #[test]
    fn spec_usage_table_matches_aws() {
        assert!(spec_allows_usage(
            KeySpec::SymmetricDefault,
            KeyUsage::EncryptDecrypt
        ));
        assert!(!spec_allows_usage(
            KeySpec::SymmetricDefault,
            KeyUsage::SignVerify
        ));
        assert!(spec_allows_usage(KeySpec::Rsa2048, KeyUsage::SignVerify));
        assert!(!spec_allows_usage(
            KeySpec::EccNistP256,
            KeyUsage::EncryptDecrypt
        ));
        assert!(spec_allows_usage(
            KeySpec::EccNistP256,
            KeyUsage::KeyAgreement
        ));
        assert!(spec_allows_usage(
            KeySpec::Hmac256,
            KeyUsage::GenerateVerifyMac
        ));
    }
}
