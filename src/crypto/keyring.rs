//! The keyring: unwrapped key material in memory, cached so the hot path does
//! one AEAD (the caller's), not three (root → shredding key → material → data).

use super::aead;
use super::root_key::{labelled_aad, RootKey, LABEL_KEY_MATERIAL, LABEL_SHREDDING_KEY};
use super::secret::{SecretBytes, SecretKey};
use super::CryptoError;
use crate::domain::events::Sealed;
use crate::domain::ids::KeyId;
use crate::domain::key::Key;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The secrets of a key being created: its wrapped shredding key (for the
/// mutable table) and its first material version, sealed (for the event).
pub struct NewKeySecrets {
    pub wrapped_shredding_key: Vec<u8>,
    pub sealed_material: Sealed,
}

pub struct Keyring {
    root: RootKey,
    wrapped_shredding_keys: RwLock<HashMap<KeyId, Vec<u8>>>,
    /// Unsealed material: 32 bytes for symmetric keys, PKCS#8 DER for asymmetric ones,
    /// the raw key for HMAC keys.
    materials: RwLock<HashMap<(KeyId, u32), Arc<SecretBytes>>>,
}

fn material_aad(key_id: &KeyId, version: u32) -> Vec<u8> {
    let mut context = key_id.as_bytes().to_vec();
    context.extend_from_slice(&version.to_be_bytes());
    labelled_aad(LABEL_KEY_MATERIAL, &context)
}

impl Keyring {
    pub fn new(root: RootKey) -> Keyring {
        Keyring {
            root,
            wrapped_shredding_keys: RwLock::default(),
            materials: RwLock::default(),
        }
    }

    pub fn root(&self) -> &RootKey {
        &self.root
    }

    /// Generate a shredding key and seal `material` as version 1 of a new key under it.
    pub fn new_key_secrets(&self, key_id: &KeyId, material: &[u8]) -> NewKeySecrets {
        let shredding_key = SecretKey::generate();
        NewKeySecrets {
            wrapped_shredding_key: self.root.wrap(
                LABEL_SHREDDING_KEY,
                key_id.as_bytes(),
                shredding_key.expose(),
            ),
            sealed_material: Sealed(aead::seal(
                &shredding_key,
                &material_aad(key_id, 1),
                material,
            )),
        }
    }

    /// Generate a shredding key for a new key and seal each `(version, material)` under it
    /// (a multi-Region replica: the primary's versions, under its own shredding key).
    pub fn new_key_with_versions(
        &self,
        key_id: &KeyId,
        versions: &[(u32, &[u8])],
    ) -> (Vec<u8>, Vec<Sealed>) {
        let shredding_key = SecretKey::generate();
        let sealed = versions
            .iter()
            .map(|(version, material)| {
                Sealed(aead::seal(
                    &shredding_key,
                    &material_aad(key_id, *version),
                    material,
                ))
            })
            .collect();
        let wrapped = self.root.wrap(
            LABEL_SHREDDING_KEY,
            key_id.as_bytes(),
            shredding_key.expose(),
        );
        (wrapped, sealed)
    }

    /// Make a committed shredding key known (at start-up, and as keys are created).
    pub fn add_wrapped_shredding_key(&self, key_id: KeyId, wrapped: Vec<u8>) {
        self.wrapped_shredding_keys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key_id, wrapped);
    }

    /// Drop everything held for a deleted key (its shredding key is destroyed with it).
    pub fn forget(&self, key_id: &KeyId) {
        self.wrapped_shredding_keys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key_id);
        self.materials
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(id, _), _| id != key_id);
    }

    /// Generate a shredding key for a key created without material (`Origin` EXTERNAL):
    /// what the mutable table keeps for it, wrapped under the root key.
    pub fn new_shredding_key(&self, key_id: &KeyId) -> Vec<u8> {
        self.root.wrap(
            LABEL_SHREDDING_KEY,
            key_id.as_bytes(),
            SecretKey::generate().expose(),
        )
    }

    /// The shredding key of a key, unwrapped (held only for one sealing).
    fn shredding_key(&self, key_id: &KeyId) -> Result<SecretKey, CryptoError> {
        let wrapped = self
            .wrapped_shredding_keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key_id)
            .cloned()
            .ok_or(CryptoError)?;
        let bytes = self
            .root
            .unwrap(LABEL_SHREDDING_KEY, key_id.as_bytes(), &wrapped)?;
        SecretKey::from_slice(&bytes).ok_or(CryptoError)
    }

    /// Seal fresh material for `version` of an existing key (rotation).
    pub fn new_version_material(
        &self,
        key_id: &KeyId,
        version: u32,
    ) -> Result<Sealed, CryptoError> {
        self.seal_material(key_id, version, SecretKey::generate().expose())
    }

    /// Seal `material` (imported by the caller) for `version` of an existing key.
    pub fn seal_material(
        &self,
        key_id: &KeyId,
        version: u32,
        material: &[u8],
    ) -> Result<Sealed, CryptoError> {
        let shredding_key = self.shredding_key(key_id)?;
        Ok(Sealed(aead::seal(
            &shredding_key,
            &material_aad(key_id, version),
            material,
        )))
    }

    /// AWS's `KeyMaterialId` of imported material: 64 hex digits, the same for the same
    /// material of the same key (that is how a reimport is recognised), keyed with a key
    /// derived from the key's shredding key, so that the id — which the ledger and the trail
    /// show — is no oracle for guessing the material.
    pub fn imported_material_id(
        &self,
        key_id: &KeyId,
        material: &[u8],
    ) -> Result<String, CryptoError> {
        let shredding_key = self.shredding_key(key_id)?;
        let id_key = zeroize::Zeroizing::new(blake3::derive_key(
            "keyledger/v1 imported key material id",
            shredding_key.expose(),
        ));
        let mut hasher = blake3::Hasher::new_keyed(&id_key);
        hasher.update(key_id.as_bytes());
        hasher.update(material);
        Ok(hasher.finalize().to_hex().to_string())
    }

    /// Drop the cached material of one version (imported material deleted or replaced).
    pub fn forget_version(&self, key_id: &KeyId, version: u32) {
        self.materials
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(*key_id, version));
    }

    /// The material of one version of `key`, unwrapped once and then cached.
    pub fn material(&self, key: &Key, version: u32) -> Result<Arc<SecretBytes>, CryptoError> {
        if let Some(m) = self
            .materials
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(key.id, version))
        {
            return Ok(m.clone());
        }
        let sealed = key.version(version).ok_or(CryptoError)?;
        let shredding_key = {
            let wrapped = self
                .wrapped_shredding_keys
                .read()
                .unwrap_or_else(|p| p.into_inner());
            let wrapped = wrapped.get(&key.id).ok_or(CryptoError)?;
            let bytes = self
                .root
                .unwrap(LABEL_SHREDDING_KEY, key.id.as_bytes(), wrapped)?;
            SecretKey::from_slice(&bytes).ok_or(CryptoError)?
        };
        let bytes = aead::open(
            &shredding_key,
            &material_aad(&key.id, version),
            &sealed.sealed.0,
        )?;
        let material = Arc::new(bytes);
        // Hold the shredding-key map while caching, so a concurrent `forget` (crypto-shredding)
        // cannot be undone by this insert.
        let wrapped = self
            .wrapped_shredding_keys
            .read()
            .unwrap_or_else(|p| p.into_inner());
        if !wrapped.contains_key(&key.id) {
            return Err(CryptoError);
        }
        self.materials
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert((key.id, version), material.clone());
        Ok(material)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::secret::SecretKey;
    use crate::domain::ids::{AccountId, Region};
    use crate::domain::key::{KeySpec, KeyState, KeyUsage, KeyVersion, Origin};

    fn key_with(id: KeyId, sealed: Sealed) -> Key {
        Key {
            id,
            account: AccountId::parse("111122223333").unwrap(),
            region: Region::parse("us-east-1").unwrap(),
            arn: String::new(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            description: String::new(),
            spec: KeySpec::SymmetricDefault,
            usage: KeyUsage::EncryptDecrypt,
            origin: Origin::AwsKms,
            manager: crate::domain::key::KeyManager::Customer,
            state: KeyState::Enabled,
            versions: vec![KeyVersion {
                number: 1,
                sealed,
                created_at: time::OffsetDateTime::UNIX_EPOCH,
                rotation_type: None,
                import: None,
            }],
            policy: String::new(),
            policy_rules: crate::domain::key::PolicyRules::parse(""),
            rotation: None,
            deletion: None,
            grants: vec![],
            tags: vec![],
            pending_material: None,
            multi_region: None,
            stream_version: 1,
        }
    }

    #[test]
    fn material_unwraps_through_the_shredding_key_and_is_stable() {
        let keyring = Keyring::new(RootKey::from_secret(SecretKey::generate()));
        let id = KeyId::from_uuid(uuid::Uuid::new_v4());
        let secrets = keyring.new_key_secrets(&id, &[7u8; 32]);
        let key = key_with(id, secrets.sealed_material.clone());
        // Without its shredding key the material cannot be opened.
        assert!(keyring.material(&key, 1).is_err());
        keyring.add_wrapped_shredding_key(id, secrets.wrapped_shredding_key.clone());
        let first = keyring.material(&key, 1).unwrap();
        assert_eq!(&first[..], &[7u8; 32]);
        assert_eq!(&first[..], &keyring.material(&key, 1).unwrap()[..]);
        assert!(keyring.material(&key, 2).is_err());

        // Another keyring with the same root key derives the same material (restart).
        let other_id = KeyId::from_uuid(uuid::Uuid::new_v4());
        let moved = key_with(other_id, secrets.sealed_material);
        keyring.add_wrapped_shredding_key(other_id, secrets.wrapped_shredding_key);
        // Material sealed for one key id does not open under another (AAD binds the id).
        assert!(keyring.material(&moved, 1).is_err());
    }
}
