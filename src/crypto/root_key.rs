//! The root key: wraps shredding keys and access-key secrets. Providers: a key
//! file (default; created on first start with mode 0600) or an environment variable.

use super::aead;
use super::secret::{SecretBytes, SecretKey};
use super::CryptoError;
use std::io::Write;
use std::path::Path;
use zeroize::Zeroizing;

/// Domain-separation labels: each wrapped thing has its own AAD prefix.
pub const LABEL_SHREDDING_KEY: &[u8] = b"keyledger/v1/shredding-key";
pub const LABEL_ACCESS_KEY_SECRET: &[u8] = b"keyledger/v1/access-key-secret";
pub const LABEL_KEY_MATERIAL: &[u8] = b"keyledger/v1/key-material";
pub const LABEL_TRAIL_SIGNER_KEY: &[u8] = b"keyledger/v1/trail-signer-key";
/// Grant tokens: a grant's key and id, sealed so that only tokens keyledger issued open.
pub const LABEL_GRANT_TOKEN: &[u8] = b"keyledger/v1/grant-token";
/// GetParametersForImport's import tokens: the wrapping private key and its terms, bound to
/// one key (its id is the context).
pub const LABEL_IMPORT_TOKEN: &[u8] = b"keyledger/v1/import-token";
/// AssumeRole's session tokens (`crate::crypto::session_token`).
pub const LABEL_SESSION_TOKEN: &[u8] = b"keyledger/v1/session-token";

/// `label ‖ 0x00 ‖ context`: the AAD of a wrapped secret.
pub fn labelled_aad(label: &[u8], context: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(label.len() + 1 + context.len());
    aad.extend_from_slice(label);
    aad.push(0);
    aad.extend_from_slice(context);
    aad
}

#[derive(Debug, thiserror::Error)]
pub enum RootKeyError {
    #[error("root key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("root key {0} must be 64 hex characters (32 bytes)")]
    Malformed(String),
    /// The key file can be read by others than its owner.
    #[error(
        "root key file {path} is mode {mode:o}: group or others can read it; \
         make it owner only (chmod 600 {path}) and consider the key exposed"
    )]
    Readable { path: String, mode: u32 },
}

/// The value of the root key's environment variable, taken out of the environment by
/// [`take_from_env`] before any thread starts (so that `/proc/<pid>/environ` and child
/// processes never see it).
static TAKEN_FROM_ENV: std::sync::Mutex<Option<(String, Zeroizing<String>)>> =
    std::sync::Mutex::new(None);

/// Read `var` and remove it from the process environment. Call first thing in `main`, before
/// any thread exists: changing the environment races with threads reading it.
pub fn take_from_env(var: &str) {
    if let Some(value) = std::env::var_os(var) {
        std::env::remove_var(var);
        let value = Zeroizing::new(value.to_string_lossy().into_owned());
        *TAKEN_FROM_ENV.lock().unwrap_or_else(|p| p.into_inner()) = Some((var.to_owned(), value));
    }
}

pub struct RootKey(SecretKey);

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootKey").finish_non_exhaustive()
    }
}

impl RootKey {
    pub fn from_secret(key: SecretKey) -> RootKey {
        RootKey(key)
    }

    /// Parse 64 hex characters (surrounding whitespace ignored).
    pub fn from_hex(text: &str, source: &str) -> Result<RootKey, RootKeyError> {
        let bytes = Zeroizing::new(
            hex::decode(text.trim()).map_err(|_| RootKeyError::Malformed(source.into()))?,
        );
        SecretKey::from_slice(&bytes)
            .map(RootKey)
            .ok_or_else(|| RootKeyError::Malformed(source.into()))
    }

    /// Load the key file, creating it (mode 0600) with a fresh key if it does not exist.
    pub fn load_or_create_file(path: &Path) -> Result<(RootKey, bool), RootKeyError> {
        let io = |source| RootKeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                check_private(path)?;
                Ok((
                    RootKey::from_hex(&text, &path.display().to_string())?,
                    false,
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SecretKey::generate();
                let text = Zeroizing::new(format!("{}\n", hex::encode(key.expose())));
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(io)?;
                file.write_all(text.as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok((RootKey(key), true))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Read the key from an environment variable (64 hex characters): the value
    /// [`take_from_env`] took out of the environment, or else the variable itself.
    pub fn from_env(var: &str) -> Result<Option<RootKey>, RootKeyError> {
        let taken = TAKEN_FROM_ENV
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|(name, _)| name == var)
            .map(|(_, value)| value.clone());
        if let Some(value) = taken {
            return RootKey::from_hex(&value, &format!("from ${var}")).map(Some);
        }
        match std::env::var(var) {
            Ok(value) => {
                let value = Zeroizing::new(value);
                RootKey::from_hex(&value, &format!("from ${var}")).map(Some)
            }
            Err(_) => Ok(None),
        }
    }

    pub fn wrap(&self, label: &[u8], context: &[u8], secret: &[u8]) -> Vec<u8> {
        aead::seal(&self.0, &labelled_aad(label, context), secret)
    }

    pub fn unwrap(
        &self,
        label: &[u8],
        context: &[u8],
        wrapped: &[u8],
    ) -> Result<SecretBytes, CryptoError> {
        aead::open(&self.0, &labelled_aad(label, context), wrapped)
    }
}

/// A key file others can read is refused: the key may already be exposed.
fn check_private(path: &Path) -> Result<(), RootKeyError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|source| RootKeyError::Io {
                path: path.display().to_string(),
                source,
            })?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(RootKeyError::Readable {
                path: path.display().to_string(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let (first, created) = RootKey::load_or_create_file(&path).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let (second, created) = RootKey::load_or_create_file(&path).unwrap();
        assert!(!created);
        let wrapped = first.wrap(LABEL_SHREDDING_KEY, b"k", b"secret");
        assert_eq!(
            &second.unwrap(LABEL_SHREDDING_KEY, b"k", &wrapped).unwrap()[..],
            b"secret"
        );
    }

    #[test]
    fn labels_and_contexts_separate_wrapped_secrets() {
        let root = RootKey::from_secret(SecretKey::generate());
        let wrapped = root.wrap(LABEL_SHREDDING_KEY, b"key-1", b"secret");
        assert!(root
            .unwrap(LABEL_ACCESS_KEY_SECRET, b"key-1", &wrapped)
            .is_err());
        assert!(root
            .unwrap(LABEL_SHREDDING_KEY, b"key-2", &wrapped)
            .is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        RootKey::load_or_create_file(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = RootKey::load_or_create_file(&path).unwrap_err();
        assert!(
            matches!(e, RootKeyError::Readable { mode: 0o640, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(RootKey::load_or_create_file(&path).is_ok());
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert!(RootKey::from_hex("abcd", "test").is_err());
        assert!(RootKey::from_hex(&"zz".repeat(32), "test").is_err());
        assert!(RootKey::from_hex(&"ab".repeat(32), "test").is_ok());
    }
}
