//! Events: facts in the past tense, one envelope for all (DESIGN.md "Events").
//!
//! Two families share the log: lifecycle events ([`DomainEvent`], on per-key or
//! per-account streams, folded by the key-state projection) and usage events
//! (`ApiCallRecorded`, one per API call, whose body is a CloudTrail record).

use super::ids::{AccountId, KeyId, Region};
use super::key::{ExpirationModel, KeyManager, KeySpec, KeyUsage, Origin};
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use uuid::Uuid;

/// Bytes sealed by the crypto layer (nonce ‖ ciphertext ‖ tag); base64 in JSON.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(pub Vec<u8>);

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}

impl Serialize for Sealed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Sealed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map(Sealed)
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(rename = "TagKey")]
    pub key: String,
    #[serde(rename = "TagValue")]
    pub value: String,
}

/// Who did it: the authenticated caller, or the service itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub principal_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountCreated {
    pub account_id: AccountId,
    /// Created in FIPS mode (decision 0015). The ledger's first account fixes the mode of the
    /// whole ledger; absent (false) in every ledger from before FIPS mode, so their bytes and
    /// hashes are unchanged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fips_mode: bool,
}

/// An access key for SigV4. The secret is sealed under the root key: never in the clear.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyCreated {
    pub access_key_id: String,
    pub account_id: AccountId,
    pub principal_arn: String,
    pub user_name: String,
    pub sealed_secret: Sealed,
}

/// An IAM user (`AIDA…` id; ARN `arn:aws:iam::<account>:user<path><name>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCreated {
    pub account_id: AccountId,
    pub user_name: String,
    pub user_id: String,
    pub arn: String,
    pub path: String,
    #[serde(with = "time::serde::rfc3339")]
    pub create_date: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDeleted {
    pub account_id: AccountId,
    pub user_name: String,
}

/// An inline identity policy of a user, added or replaced (validated when put).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPolicyPut {
    pub account_id: AccountId,
    pub user_name: String,
    pub policy_name: String,
    pub policy_document: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPolicyDeleted {
    pub account_id: AccountId,
    pub user_name: String,
    pub policy_name: String,
}

/// An access key was made `Inactive`: SigV4 refuses it from then on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyDeactivated {
    pub account_id: AccountId,
    pub access_key_id: String,
}

/// An `Inactive` access key was made `Active` again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyActivated {
    pub account_id: AccountId,
    pub access_key_id: String,
}

/// An access key is gone (its sealed secret stays in the log, never used again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyDeleted {
    pub account_id: AccountId,
    pub access_key_id: String,
}

/// An IAM role (`AROA…` id) and the trust policy that says who may assume it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleCreated {
    pub account_id: AccountId,
    pub role_name: String,
    pub role_id: String,
    pub arn: String,
    pub path: String,
    #[serde(with = "time::serde::rfc3339")]
    pub create_date: OffsetDateTime,
    pub assume_role_policy_document: String,
    #[serde(default)]
    pub description: String,
    /// Seconds; AssumeRole's DurationSeconds may not exceed it.
    pub max_session_duration: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleDeleted {
    pub account_id: AccountId,
    pub role_name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolePolicyPut {
    pub account_id: AccountId,
    pub role_name: String,
    pub policy_name: String,
    pub policy_document: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolePolicyDeleted {
    pub account_id: AccountId,
    pub role_name: String,
    pub policy_name: String,
}

/// The ledger's note key, which signs the trail's checkpoints (C2SP signed-note, Ed25519).
/// The verifier key is public; the signer key is sealed under the root key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailKeyCreated {
    pub account_id: AccountId,
    /// The checkpoints' origin line, and the note key's name.
    pub origin: String,
    /// `<name>+<hex key id>+<base64 of 0x01 ‖ Ed25519 public key>`.
    pub verifier_key: String,
    pub sealed_signer_key: Sealed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCreated {
    pub key_id: KeyId,
    pub account_id: AccountId,
    pub region: Region,
    #[serde(with = "time::serde::rfc3339")]
    pub creation_date: OffsetDateTime,
    pub description: String,
    pub key_spec: KeySpec,
    pub key_usage: KeyUsage,
    pub origin: Origin,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The key policy document (AWS's default key policy when the caller gave none).
    #[serde(default)]
    pub policy: String,
    pub material_version: u32,
    /// The key material, sealed under the key's shredding key; `None` for a key created for
    /// imported material (`Origin` EXTERNAL), which is `PendingImport` until it comes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_material: Option<Sealed>,
    /// `AWS` for the `alias/aws/<service>` keys the service creates; left out for customer
    /// keys (events written before it existed read as those).
    #[serde(default, skip_serializing_if = "KeyManager::is_customer")]
    pub key_manager: KeyManager,
    /// For a multi-Region key: the id it shares with its primary and replicas, and whether
    /// it is the primary (CreateKey) or a replica (ReplicateKey).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_region: Option<MultiRegionMembership>,
    /// A replica's material versions after the first (the primary's, sealed again under the
    /// replica's own shredding key): replicas share material and rotations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub later_versions: Vec<SealedVersion>,
}

/// A key's place in a multi-Region key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultiRegionMembership {
    /// The `mrk-` id every member shows (each member has its own stream id as well).
    pub key_id: KeyId,
    pub primary: bool,
}

/// A material version as a replica receives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedVersion {
    pub material_version: u32,
    pub rotation_type: RotationType,
    #[serde(with = "time::serde::rfc3339")]
    pub rotation_date: OffsetDateTime,
    pub sealed_material: Sealed,
}

/// UpdatePrimaryRegion: one member becomes the primary, the old primary a replica (one
/// event on each member's stream).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPrimaryRegionUpdated {
    pub key_id: KeyId,
    pub primary: bool,
    pub primary_region: Region,
    /// The new primary takes over the automatic rotation of the old one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_period_days: Option<u32>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_rotation_date: Option<OffsetDateTime>,
}

/// ReplicateKey made a replica of this primary (on the primary's stream, so that a
/// replication and a rotation of the primary cannot both be decided on the same state).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyReplicated {
    pub key_id: KeyId,
    pub replica_region: Region,
    /// The replica's own id (its stream).
    pub replica_key_id: KeyId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEnabled {
    pub key_id: KeyId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDisabled {
    pub key_id: KeyId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDescriptionUpdated {
    pub key_id: KeyId,
    pub description: String,
}

/// Tags added or overwritten.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyTagged {
    pub key_id: KeyId,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyUntagged {
    pub key_id: KeyId,
    pub tag_keys: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPolicyPut {
    pub key_id: KeyId,
    pub policy_name: String,
    pub policy: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRotationEnabled {
    pub key_id: KeyId,
    pub rotation_period_days: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub next_rotation_date: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRotationDisabled {
    pub key_id: KeyId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RotationType {
    #[serde(rename = "AUTOMATIC")]
    Automatic,
    #[serde(rename = "ON_DEMAND")]
    OnDemand,
}

impl RotationType {
    pub fn as_str(&self) -> &'static str {
        match self {
            RotationType::Automatic => "AUTOMATIC",
            RotationType::OnDemand => "ON_DEMAND",
        }
    }
}

/// A new material version; new encryptions use it, old versions still decrypt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRotated {
    pub key_id: KeyId,
    pub material_version: u32,
    pub rotation_type: RotationType,
    #[serde(with = "time::serde::rfc3339")]
    pub rotation_date: OffsetDateTime,
    /// The new material, sealed under the key's shredding key (AAD binds id and version).
    pub sealed_material: Sealed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDeletionScheduled {
    pub key_id: KeyId,
    #[serde(with = "time::serde::rfc3339")]
    pub deletion_date: OffsetDateTime,
    pub pending_window_days: u32,
    /// A multi-Region primary whose replicas are not all deleted: it waits for them
    /// (`PendingReplicaDeletion`), and its waiting period starts when the last one goes
    /// (then a second `KeyDeletionScheduled`, without this). `deletion_date` is not due then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub waiting_for_replicas: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDeletionCancelled {
    pub key_id: KeyId,
}

/// The key is gone and its shredding key destroyed in the same transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDeleted {
    pub key_id: KeyId,
}

/// Key material imported into a key with `Origin` EXTERNAL (ImportKeyMaterial).
///
/// `sealed_material` is there when the material is new to the key (its first material, or
/// NEW_KEY_MATERIAL for on-demand rotation): sealed under the key's shredding key for
/// `material_version`, exactly as generated material is. A reimport of material the key
/// already had names that version and carries no material: the ledger holds it already.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyMaterialImported {
    pub key_id: KeyId,
    pub material_version: u32,
    /// AWS's `KeyMaterialId`: 64 hex digits, computed from the key and the material (keyed,
    /// so it tells nothing about the material to anyone without the key's shredding key).
    pub key_material_id: String,
    pub expiration_model: ExpirationModel,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub valid_to: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub import_date: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_material: Option<Sealed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_material_description: Option<String>,
}

/// Imported key material deleted: by DeleteImportedKeyMaterial, or (`expired`) by the
/// service when its `ValidTo` passed. The sealed material stays in the ledger, openable
/// only with the key's shredding key, which lives until the key itself is deleted; the key
/// uses that material again only if the same material is imported again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedKeyMaterialDeleted {
    pub key_id: KeyId,
    pub material_version: u32,
    pub key_material_id: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired: bool,
}

/// An alias and the key it names (alias events live on the alias's own stream).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasCreated {
    pub alias_name: String,
    pub account_id: AccountId,
    pub region: Region,
    pub key_id: KeyId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasUpdated {
    pub alias_name: String,
    pub account_id: AccountId,
    pub region: Region,
    pub key_id: KeyId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasDeleted {
    pub alias_name: String,
    pub account_id: AccountId,
    pub region: Region,
}

/// A grant on a key: who may use it for which operations, under which constraints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantCreated {
    pub key_id: KeyId,
    /// 64 hex digits, as AWS's.
    pub grant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub grantee_principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring_principal: Option<String>,
    /// KMS operation names.
    pub operations: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<crate::domain::authz::GrantConstraints>,
    pub issuing_account: AccountId,
    #[serde(with = "time::serde::rfc3339")]
    pub creation_date: OffsetDateTime,
}

/// A grant retired (by its retiring principal, its grantee, or its account).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRetired {
    pub key_id: KeyId,
    pub grant_id: String,
}

/// A grant revoked (by someone the key policy allows).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRevoked {
    pub key_id: KeyId,
    pub grant_id: String,
}

/// The stream of an alias: aliases are unique per account and region.
pub fn alias_stream(region: &Region, account: &AccountId, alias_name: &str) -> String {
    format!("alias/{region}/{account}/{alias_name}")
}

/// Lifecycle events: what the key-state projection folds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "body")]
pub enum DomainEvent {
    AccountCreated(AccountCreated),
    AccessKeyCreated(AccessKeyCreated),
    UserCreated(UserCreated),
    UserDeleted(UserDeleted),
    UserPolicyPut(UserPolicyPut),
    UserPolicyDeleted(UserPolicyDeleted),
    AccessKeyDeactivated(AccessKeyDeactivated),
    AccessKeyActivated(AccessKeyActivated),
    AccessKeyDeleted(AccessKeyDeleted),
    RoleCreated(RoleCreated),
    RoleDeleted(RoleDeleted),
    RolePolicyPut(RolePolicyPut),
    RolePolicyDeleted(RolePolicyDeleted),
    TrailKeyCreated(TrailKeyCreated),
    KeyCreated(KeyCreated),
    KeyEnabled(KeyEnabled),
    KeyDisabled(KeyDisabled),
    KeyDescriptionUpdated(KeyDescriptionUpdated),
    KeyTagged(KeyTagged),
    KeyUntagged(KeyUntagged),
    KeyPolicyPut(KeyPolicyPut),
    KeyRotationEnabled(KeyRotationEnabled),
    KeyRotationDisabled(KeyRotationDisabled),
    KeyRotated(KeyRotated),
    KeyDeletionScheduled(KeyDeletionScheduled),
    KeyDeletionCancelled(KeyDeletionCancelled),
    KeyDeleted(KeyDeleted),
    KeyMaterialImported(KeyMaterialImported),
    ImportedKeyMaterialDeleted(ImportedKeyMaterialDeleted),
    KeyPrimaryRegionUpdated(KeyPrimaryRegionUpdated),
    KeyReplicated(KeyReplicated),
    AliasCreated(AliasCreated),
    AliasUpdated(AliasUpdated),
    AliasDeleted(AliasDeleted),
    GrantCreated(GrantCreated),
    GrantRetired(GrantRetired),
    GrantRevoked(GrantRevoked),
}

impl DomainEvent {
    pub fn event_type(&self) -> &'static str {
        use DomainEvent::*;
        match self {
            AccountCreated(_) => "AccountCreated",
            AccessKeyCreated(_) => "AccessKeyCreated",
            UserCreated(_) => "UserCreated",
            UserDeleted(_) => "UserDeleted",
            UserPolicyPut(_) => "UserPolicyPut",
            UserPolicyDeleted(_) => "UserPolicyDeleted",
            AccessKeyDeactivated(_) => "AccessKeyDeactivated",
            AccessKeyActivated(_) => "AccessKeyActivated",
            AccessKeyDeleted(_) => "AccessKeyDeleted",
            RoleCreated(_) => "RoleCreated",
            RoleDeleted(_) => "RoleDeleted",
            RolePolicyPut(_) => "RolePolicyPut",
            RolePolicyDeleted(_) => "RolePolicyDeleted",
            TrailKeyCreated(_) => "TrailKeyCreated",
            KeyCreated(_) => "KeyCreated",
            KeyEnabled(_) => "KeyEnabled",
            KeyDisabled(_) => "KeyDisabled",
            KeyDescriptionUpdated(_) => "KeyDescriptionUpdated",
            KeyTagged(_) => "KeyTagged",
            KeyUntagged(_) => "KeyUntagged",
            KeyPolicyPut(_) => "KeyPolicyPut",
            KeyRotationEnabled(_) => "KeyRotationEnabled",
            KeyRotationDisabled(_) => "KeyRotationDisabled",
            KeyRotated(_) => "KeyRotated",
            KeyDeletionScheduled(_) => "KeyDeletionScheduled",
            KeyDeletionCancelled(_) => "KeyDeletionCancelled",
            KeyDeleted(_) => "KeyDeleted",
            KeyMaterialImported(_) => "KeyMaterialImported",
            ImportedKeyMaterialDeleted(_) => "ImportedKeyMaterialDeleted",
            KeyPrimaryRegionUpdated(_) => "KeyPrimaryRegionUpdated",
            KeyReplicated(_) => "KeyReplicated",
            AliasCreated(_) => "AliasCreated",
            AliasUpdated(_) => "AliasUpdated",
            AliasDeleted(_) => "AliasDeleted",
            GrantCreated(_) => "GrantCreated",
            GrantRetired(_) => "GrantRetired",
            GrantRevoked(_) => "GrantRevoked",
        }
    }

    /// The key this event is about, if it is a key lifecycle event.
    pub fn key_id(&self) -> Option<KeyId> {
        use DomainEvent::*;
        match self {
            KeyCreated(e) => Some(e.key_id),
            KeyEnabled(e) => Some(e.key_id),
            KeyDisabled(e) => Some(e.key_id),
            KeyDescriptionUpdated(e) => Some(e.key_id),
            KeyTagged(e) => Some(e.key_id),
            KeyUntagged(e) => Some(e.key_id),
            KeyPolicyPut(e) => Some(e.key_id),
            KeyRotationEnabled(e) => Some(e.key_id),
            KeyRotationDisabled(e) => Some(e.key_id),
            KeyRotated(e) => Some(e.key_id),
            KeyDeletionScheduled(e) => Some(e.key_id),
            KeyDeletionCancelled(e) => Some(e.key_id),
            KeyDeleted(e) => Some(e.key_id),
            KeyMaterialImported(e) => Some(e.key_id),
            ImportedKeyMaterialDeleted(e) => Some(e.key_id),
            KeyPrimaryRegionUpdated(e) => Some(e.key_id),
            KeyReplicated(e) => Some(e.key_id),
            GrantCreated(e) => Some(e.key_id),
            GrantRetired(e) => Some(e.key_id),
            GrantRevoked(e) => Some(e.key_id),
            AccountCreated(_) | AccessKeyCreated(_) | TrailKeyCreated(_) | AliasCreated(_)
            | AliasUpdated(_) | AliasDeleted(_) => None,
            UserCreated(_)
            | UserDeleted(_)
            | UserPolicyPut(_)
            | UserPolicyDeleted(_)
            | AccessKeyDeactivated(_)
            | AccessKeyActivated(_)
            | AccessKeyDeleted(_)
            | RoleCreated(_)
            | RoleDeleted(_)
            | RolePolicyPut(_)
            | RolePolicyDeleted(_) => None,
        }
    }

    /// The stream this event belongs to.
    pub fn stream(&self) -> String {
        use DomainEvent::*;
        match self {
            AccountCreated(e) => account_stream(&e.account_id),
            AccessKeyCreated(e) => account_stream(&e.account_id),
            UserCreated(e) => account_stream(&e.account_id),
            UserDeleted(e) => account_stream(&e.account_id),
            UserPolicyPut(e) => account_stream(&e.account_id),
            UserPolicyDeleted(e) => account_stream(&e.account_id),
            AccessKeyDeactivated(e) => account_stream(&e.account_id),
            AccessKeyActivated(e) => account_stream(&e.account_id),
            AccessKeyDeleted(e) => account_stream(&e.account_id),
            RoleCreated(e) => account_stream(&e.account_id),
            RoleDeleted(e) => account_stream(&e.account_id),
            RolePolicyPut(e) => account_stream(&e.account_id),
            RolePolicyDeleted(e) => account_stream(&e.account_id),
            TrailKeyCreated(_) => TRAIL_STREAM.to_owned(),
            AliasCreated(e) => alias_stream(&e.region, &e.account_id, &e.alias_name),
            AliasUpdated(e) => alias_stream(&e.region, &e.account_id, &e.alias_name),
            AliasDeleted(e) => alias_stream(&e.region, &e.account_id, &e.alias_name),
            other => other.key_id().map(|id| id.stream()).unwrap_or_default(),
        }
    }
}

/// The stream of the trail's own facts (its note key).
pub const TRAIL_STREAM: &str = "trail";

pub fn account_stream(account: &AccountId) -> String {
    format!("account/{account}")
}

/// The body of an event: a lifecycle fact, or the CloudTrail record of an API call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EventBody {
    Lifecycle(DomainEvent),
    ApiCall(ApiCallRecorded),
}

/// A usage event: the CloudTrail-shaped record of one API call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "body")]
pub enum ApiCallRecorded {
    ApiCallRecorded(serde_json::Value),
}

/// Every event type the service writes (each has a schema in `schemas/events/`).
pub const EVENT_TYPES: &[&str] = &[
    "AccountCreated",
    "AccessKeyCreated",
    "UserCreated",
    "UserDeleted",
    "UserPolicyPut",
    "UserPolicyDeleted",
    "AccessKeyDeactivated",
    "AccessKeyActivated",
    "AccessKeyDeleted",
    "RoleCreated",
    "RoleDeleted",
    "RolePolicyPut",
    "RolePolicyDeleted",
    "TrailKeyCreated",
    "KeyCreated",
    "KeyEnabled",
    "KeyDisabled",
    "KeyDescriptionUpdated",
    "KeyTagged",
    "KeyUntagged",
    "KeyPolicyPut",
    "KeyRotationEnabled",
    "KeyRotationDisabled",
    "KeyRotated",
    "KeyDeletionScheduled",
    "KeyDeletionCancelled",
    "KeyDeleted",
    "KeyMaterialImported",
    "ImportedKeyMaterialDeleted",
    "KeyPrimaryRegionUpdated",
    "KeyReplicated",
    "AliasCreated",
    "AliasUpdated",
    "AliasDeleted",
    "GrantCreated",
    "GrantRetired",
    "GrantRevoked",
    "ApiCallRecorded",
];

/// The current schema version of every event type (upcasting starts when one changes).
pub const EVENT_VERSION: u32 = 1;

/// The envelope every stored event has. Its JSON serialization is what the chain hashes.
/// `B` is the body: [`EventBody`] when reading; the write path of usage events
/// serializes a borrowed CloudTrail record in its place, to the same JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope<B = EventBody> {
    pub event_id: Uuid,
    pub event_version: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stream_version: Option<u64>,
    pub request_id: String,
    pub event_name: String,
    pub read_only: bool,
    /// Who acted. Usage events leave it out: their CloudTrail body already says it
    /// (`userIdentity`, `sourceIPAddress`, `userAgent`), and they are the high-volume rows.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub actor: Option<Actor>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_message: Option<String>,
    #[serde(flatten)]
    pub body: B,
}

impl Envelope<EventBody> {
    pub fn lifecycle(&self) -> Option<&DomainEvent> {
        match &self.body {
            EventBody::Lifecycle(e) => Some(e),
            EventBody::ApiCall(_) => None,
        }
    }

    pub fn event_type(&self) -> &'static str {
        match &self.body {
            EventBody::Lifecycle(e) => e.event_type(),
            EventBody::ApiCall(_) => "ApiCallRecorded",
        }
    }

    /// Decode a stored event, refusing versions this build does not know.
    pub fn decode(data: &[u8]) -> Result<Envelope, String> {
        let envelope: Envelope = serde_json::from_slice(data).map_err(|e| e.to_string())?;
        if envelope.event_version != EVENT_VERSION {
            return Err(format!(
                "{} version {} is newer than this build understands",
                envelope.event_type(),
                envelope.event_version
            ));
        }
        // The store keeps stream versions as signed 64-bit integers, and `verify` derives the
        // column the same way: a larger one cannot be an event this build wrote (found by
        // fuzzing: fuzz/README.md).
        if let Some(version) = envelope
            .stream_version
            .filter(|v| i64::try_from(*v).is_err())
        {
            return Err(format!(
                "stream version {version} is beyond what the ledger stores"
            ));
        }
        Ok(envelope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn envelope(body: EventBody) -> Envelope {
        Envelope {
            event_id: Uuid::nil(),
            event_version: EVENT_VERSION,
            time: datetime!(2026-11-23 10:00:00.123456 UTC),
            stream: Some("key/x".into()),
            stream_version: Some(2),
            request_id: "r".into(),
            event_name: "DisableKey".into(),
            read_only: false,
            actor: Some(Actor {
                account_id: Some("111122223333".into()),
                ..Actor::default()
            }),
            error_code: None,
            error_message: None,
            body,
        }
    }

    #[test]
    fn lifecycle_envelopes_round_trip_through_json() {
        let key_id = KeyId::parse("1234abcd-12ab-34cd-56ef-1234567890ab").unwrap();
        let e = envelope(EventBody::Lifecycle(DomainEvent::KeyDisabled(
            KeyDisabled { key_id },
        )));
        let json = serde_json::to_vec(&e).unwrap();
        let text = String::from_utf8(json.clone()).unwrap();
        assert!(text.contains(r#""event_type":"KeyDisabled""#), "{text}");
        assert_eq!(Envelope::decode(&json).unwrap(), e);
    }

    #[test]
    fn usage_envelopes_round_trip_through_json() {
        let record = serde_json::json!({"eventName": "Encrypt", "readOnly": true});
        let e = envelope(EventBody::ApiCall(ApiCallRecorded::ApiCallRecorded(record)));
        let json = serde_json::to_vec(&e).unwrap();
        let back = Envelope::decode(&json).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.event_type(), "ApiCallRecorded");
        assert!(back.lifecycle().is_none());
    }

    #[test]
    fn unknown_event_versions_are_refused() {
        let key_id = KeyId::parse("1234abcd-12ab-34cd-56ef-1234567890ab").unwrap();
        let mut e = envelope(EventBody::Lifecycle(DomainEvent::KeyEnabled(KeyEnabled {
            key_id,
        })));
        e.event_version = 99;
        assert!(Envelope::decode(&serde_json::to_vec(&e).unwrap()).is_err());
    }

    #[test]
    fn stream_versions_beyond_the_stores_range_are_refused() {
        // fuzz/regressions/event/stream_version_beyond_i64.json
        let key_id = KeyId::parse("1234abcd-12ab-34cd-56ef-1234567890ab").unwrap();
        let mut e = envelope(EventBody::Lifecycle(DomainEvent::KeyEnabled(KeyEnabled {
            key_id,
        })));
        e.stream_version = Some(i64::MAX as u64);
        let json = serde_json::to_vec(&e).unwrap();
        assert_eq!(Envelope::decode(&json).unwrap(), e);
        assert!(replay::columns::derive(&json).is_ok());
        e.stream_version = Some(i64::MAX as u64 + 1);
        let json = serde_json::to_vec(&e).unwrap();
        assert!(Envelope::decode(&json).is_err());
        assert!(replay::columns::derive(&json).is_err());
    }

    #[test]
    fn sealed_bytes_debug_prints_no_content() {
        assert_eq!(format!("{:?}", Sealed(vec![7; 40])), "Sealed(40 bytes)");
    }
}
