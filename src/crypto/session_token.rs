//! AssumeRole's session tokens: stateless. A token is the session itself (its access key
//! id, secret, role, session name, account and expiry) sealed under the root key with its
//! own domain-separation label, so only this service can read or forge one, and nothing
//! about a session needs storing. The session's access key id is bound as the AAD context:
//! a token is only good with the key id it was issued with.

use super::root_key::{RootKey, LABEL_SESSION_TOKEN};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

/// Tokens start with this (a version: another format gets another prefix).
const PREFIX: &str = "KLST1";
/// Longest token read: AWS allows tokens of a few KB; ours are well under 1 KB.
const MAX_TOKEN_LEN: usize = 4096;

/// What a session token holds.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionClaims {
    pub access_key_id: String,
    /// Cleared when the claims are dropped.
    pub secret_access_key: String,
    pub account_id: String,
    pub role_arn: String,
    pub role_name: String,
    pub role_id: String,
    pub session_name: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds; the token is refused from then on.
    pub expires_at: i64,
}

impl Drop for SessionClaims {
    fn drop(&mut self) {
        self.secret_access_key.zeroize();
    }
}

impl std::fmt::Debug for SessionClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionClaims")
            .field("access_key_id", &self.access_key_id)
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Seal `claims` into a token.
pub fn seal(root: &RootKey, claims: &SessionClaims) -> Zeroizing<String> {
    let json = Zeroizing::new(serde_json::to_vec(claims).expect("plain claims serialize"));
    let sealed = root.wrap(LABEL_SESSION_TOKEN, claims.access_key_id.as_bytes(), &json);
    Zeroizing::new(format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)
    ))
}

/// Open a token presented with `access_key_id`. Opaque on failure: a token that is not
/// ours, was altered, or belongs to another key id is simply not valid.
pub fn open(root: &RootKey, access_key_id: &str, token: &str) -> Option<SessionClaims> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.strip_prefix(PREFIX)?)
        .ok()?;
    let json = root
        .unwrap(LABEL_SESSION_TOKEN, access_key_id.as_bytes(), &sealed)
        .ok()?;
    let claims: SessionClaims = serde_json::from_slice(&json).ok()?;
    (claims.access_key_id == access_key_id).then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::secret::SecretKey;

    fn claims() -> SessionClaims {
        SessionClaims {
            access_key_id: "ASIAAAAAAAAAAAAAAAAA".into(),
            secret_access_key: "s3cr3t-session-secret".into(),
            account_id: "111122223333".into(),
            role_arn: "arn:aws:iam::111122223333:role/r".into(),
            role_name: "r".into(),
            role_id: "AROAAAAAAAAAAAAAAAAAA".into(),
            session_name: "s".into(),
            issued_at: 1,
            expires_at: 2,
        }
    }

    #[test]
    fn tokens_open_with_their_key_id_only() {
        let root = RootKey::from_secret(SecretKey::generate());
        let token = seal(&root, &claims());
        assert!(!token.contains("s3cr3t"));
        assert_eq!(open(&root, "ASIAAAAAAAAAAAAAAAAA", &token), Some(claims()));
        assert_eq!(open(&root, "ASIABBBBBBBBBBBBBBBB", &token), None);
        let other = RootKey::from_secret(SecretKey::generate());
        assert_eq!(open(&other, "ASIAAAAAAAAAAAAAAAAA", &token), None);
        // One character changed in the middle of the sealed bytes.
        let mut altered: Vec<char> = token.chars().collect();
        let middle = altered.len() / 2;
        altered[middle] = if altered[middle] == 'A' { 'B' } else { 'A' };
        let altered: String = altered.into_iter().collect();
        assert_eq!(open(&root, "ASIAAAAAAAAAAAAAAAAA", &altered), None);
        assert_eq!(open(&root, "ASIAAAAAAAAAAAAAAAAA", "FwoGZXIvYXdzE"), None);
    }

    #[test]
    fn debug_prints_no_secret() {
        assert!(!format!("{:?}", claims()).contains("s3cr3t"));
    }
}
