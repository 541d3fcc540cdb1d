//! The key aggregate: state, `decide` and `apply`. Pure: no clock, randomness,
//! crypto or I/O — the command handler brings those in.

use super::events::{DomainEvent, KeyCreated, KeyDisabled, KeyEnabled, Sealed, Tag};
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
    }
);

aws_enum!(
    KeyUsage {
        EncryptDecrypt = "ENCRYPT_DECRYPT",
        SignVerify = "SIGN_VERIFY",
        GenerateVerifyMac = "GENERATE_VERIFY_MAC",
        KeyAgreement = "KEY_AGREEMENT",
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
    pub state: KeyState,
    pub versions: Vec<KeyVersion>,
    pub tags: Vec<Tag>,
    /// The last lifecycle event applied to this key's stream.
    pub stream_version: u64,
}

impl Key {
    pub fn current_version(&self) -> &KeyVersion {
        // Invariant: KeyCreated always carries version 1, and versions are only ever added.
        self.versions
            .last()
            .expect("a key always has at least one version")
    }

    pub fn version(&self, number: u32) -> Option<&KeyVersion> {
        self.versions.iter().find(|v| v.number == number)
    }

    /// Whether cryptographic operations may use this key now, with AWS's error for each state.
    pub fn check_usable(&self) -> Result<(), DomainError> {
        match self.state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled => Err(DomainError::Disabled(format!("{} is disabled.", self.arn))),
            KeyState::PendingDeletion => Err(DomainError::InvalidState(format!(
                "{} is pending deletion.",
                self.arn
            ))),
            other => Err(DomainError::InvalidState(format!(
                "{} is {}.",
                self.arn,
                other.as_str()
            ))),
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
        sealed_material: Sealed,
    },
    Enable,
    Disable,
}

/// Decide which events a command produces against the current state.
pub fn decide(
    key: Option<&Key>,
    command: KeyCommand,
    now: OffsetDateTime,
) -> Result<Vec<DomainEvent>, DomainError> {
    match (key, command) {
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
                sealed_material,
            },
        ) => {
            if !spec_allows_usage(spec, usage) {
                return Err(DomainError::Validation(format!(
                    "KeyUsage {} is not compatible with KeySpec {}",
                    usage.as_str(),
                    spec.as_str()
                )));
            }
            Ok(vec![DomainEvent::KeyCreated(KeyCreated {
                key_id,
                account_id: account,
                region,
                creation_date: now,
                description,
                key_spec: spec,
                key_usage: usage,
                origin,
                tags,
                material_version: 1,
                sealed_material,
            })])
        }
        (Some(key), KeyCommand::Create { .. }) => Err(DomainError::AlreadyExists(format!(
            "{} already exists",
            key.arn
        ))),
        (None, _) => Err(DomainError::NotFound("key does not exist".into())),
        (Some(key), KeyCommand::Enable) => match key.state {
            KeyState::Enabled => Ok(vec![]),
            KeyState::Disabled => Ok(vec![DomainEvent::KeyEnabled(KeyEnabled { key_id: key.id })]),
            _ => Err(invalid_state(key)),
        },
        (Some(key), KeyCommand::Disable) => match key.state {
            KeyState::Disabled => Ok(vec![]),
            KeyState::Enabled => Ok(vec![DomainEvent::KeyDisabled(KeyDisabled {
                key_id: key.id,
            })]),
            _ => Err(invalid_state(key)),
        },
    }
}

fn invalid_state(key: &Key) -> DomainError {
    DomainError::InvalidState(format!("{} is {}.", key.arn, key.state.as_str()))
}

/// Fold one lifecycle event into a key's state. Events that are not about keys leave it as is.
pub fn apply(key: Option<Key>, event: &DomainEvent) -> Option<Key> {
    match event {
        DomainEvent::KeyCreated(e) => Some(Key {
            id: e.key_id,
            arn: key_arn(&e.region, &e.account_id, &e.key_id),
            account: e.account_id.clone(),
            region: e.region.clone(),
            created_at: e.creation_date,
            description: e.description.clone(),
            spec: e.key_spec,
            usage: e.key_usage,
            origin: e.origin,
            state: KeyState::Enabled,
            versions: vec![KeyVersion {
                number: e.material_version,
                sealed: e.sealed_material.clone(),
            }],
            tags: e.tags.clone(),
            stream_version: 1,
        }),
        DomainEvent::KeyEnabled(_) => key.map(|k| Key {
            state: KeyState::Enabled,
            ..bump(k)
        }),
        DomainEvent::KeyDisabled(_) => key.map(|k| Key {
            state: KeyState::Disabled,
            ..bump(k)
        }),
        DomainEvent::AccountCreated(_) | DomainEvent::AccessKeyCreated(_) => key,
    }
}

fn bump(mut key: Key) -> Key {
    key.stream_version += 1;
    key
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
            sealed_material: Sealed(vec![1, 2, 3]),
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
