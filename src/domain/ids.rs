//! Identifiers parsed once at the edge: past here nothing re-checks them.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// A key's id: a lower-case hyphenated UUID, as AWS KMS uses.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(Uuid);

impl KeyId {
    pub fn from_uuid(uuid: Uuid) -> Self {
        KeyId(uuid)
    }
    /// A fresh id for a multi-Region key, shown as `mrk-` and 32 hex digits. It is a UUID of
    /// version 8 (RFC 9562's custom version), which no single-Region key id (version 4) is:
    /// the 16 bytes alone say which form an id has (ciphertext blobs carry only those).
    pub fn new_multi_region() -> KeyId {
        KeyId(uuid::Builder::from_custom_bytes(rand::random()).into_uuid())
    }

    pub fn is_multi_region(&self) -> bool {
        self.0.get_version_num() == MULTI_REGION_UUID_VERSION
            && self.0.get_variant() == uuid::Variant::RFC4122
    }

    pub fn parse(s: &str) -> Option<KeyId> {
        if let Some(hex) = s.strip_prefix(MULTI_REGION_PREFIX) {
            // `mrk-` and 32 lower-case hex digits; only ids keyledger could have issued.
            if hex.len() != 32 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return None;
            }
            let id = Uuid::try_parse(hex).ok().map(KeyId)?;
            return id.is_multi_region().then_some(id);
        }
        // Only the canonical hyphenated form: AWS rejects braces, URNs and bare hex.
        if s.len() != 36 {
            return None;
        }
        Uuid::try_parse(s)
            .ok()
            .map(KeyId)
            .filter(|id| !id.is_multi_region())
    }
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
    pub fn from_bytes(bytes: [u8; 16]) -> KeyId {
        KeyId(Uuid::from_bytes(bytes))
    }
    /// The lifecycle stream of this key in the ledger.
    pub fn stream(&self) -> String {
        format!("key/{}", self.0)
    }
}

/// AWS's prefix of multi-Region key ids.
pub const MULTI_REGION_PREFIX: &str = "mrk-";
const MULTI_REGION_UUID_VERSION: usize = 8;

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_multi_region() {
            write!(f, "{MULTI_REGION_PREFIX}{}", self.0.simple())
        } else {
            self.0.hyphenated().fmt(f)
        }
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

/// A 12-digit AWS account id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Debug)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(s: &str) -> Option<AccountId> {
        (s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())).then(|| AccountId(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        AccountId::parse(&s).ok_or_else(|| format!("invalid account id {s:?}"))
    }
}

impl From<AccountId> for String {
    fn from(a: AccountId) -> String {
        a.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An AWS region name such as `us-east-1`, taken from the SigV4 credential scope.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Debug)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

impl Region {
    pub fn parse(s: &str) -> Option<Region> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        ok.then(|| Region(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Region {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Region::parse(&s).ok_or_else(|| format!("invalid region {s:?}"))
    }
}

impl From<Region> for String {
    fn from(r: Region) -> String {
        r.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `arn:aws:kms:<region>:<account>:key/<uuid>`.
pub fn key_arn(region: &Region, account: &AccountId, key_id: &KeyId) -> String {
    format!("arn:aws:kms:{region}:{account}:key/{key_id}")
}

/// What a `KeyId` request parameter names, as AWS KMS accepts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRef {
    Id(KeyId),
    Arn {
        region: Region,
        account: AccountId,
        key_id: KeyId,
    },
    AliasName(String),
    AliasArn {
        region: Region,
        account: AccountId,
        alias: String,
    },
}

impl KeyRef {
    /// Parse a `KeyId` parameter; `None` when it is none of the four forms.
    pub fn parse(s: &str) -> Option<KeyRef> {
        if let Some(id) = KeyId::parse(s) {
            return Some(KeyRef::Id(id));
        }
        if s.starts_with("alias/") {
            return Some(KeyRef::AliasName(s.to_owned()));
        }
        let rest = s.strip_prefix("arn:aws:kms:")?;
        let mut parts = rest.splitn(3, ':');
        let region = Region::parse(parts.next()?)?;
        let account = AccountId::parse(parts.next()?)?;
        let resource = parts.next()?;
        if let Some(id) = resource.strip_prefix("key/") {
            return Some(KeyRef::Arn {
                region,
                account,
                key_id: KeyId::parse(id)?,
            });
        }
        if resource.starts_with("alias/") {
            return Some(KeyRef::AliasArn {
                region,
                account,
                alias: resource.to_owned(),
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_refs_parse_in_all_four_forms() {
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        assert!(matches!(KeyRef::parse(id), Some(KeyRef::Id(_))));
        let arn = format!("arn:aws:kms:us-east-2:111122223333:key/{id}");
        match KeyRef::parse(&arn) {
            Some(KeyRef::Arn {
                region,
                account,
                key_id,
            }) => {
                assert_eq!(region.as_str(), "us-east-2");
                assert_eq!(account.as_str(), "111122223333");
                assert_eq!(key_id.to_string(), id);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            KeyRef::parse("alias/ExampleAlias"),
            Some(KeyRef::AliasName("alias/ExampleAlias".into()))
        );
        assert!(matches!(
            KeyRef::parse("arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias"),
            Some(KeyRef::AliasArn { .. })
        ));
    }

    #[test]
    fn multi_region_ids_are_mrk_and_hex_and_never_a_uuid_form() {
        let id = KeyId::new_multi_region();
        assert!(id.is_multi_region());
        let text = id.to_string();
        assert!(text.starts_with("mrk-") && text.len() == 36, "{text}");
        assert_eq!(KeyId::parse(&text), Some(id));
        assert_eq!(
            KeyRef::parse(&format!("arn:aws:kms:eu-west-1:111122223333:key/{text}")),
            Some(KeyRef::Arn {
                region: Region::parse("eu-west-1").unwrap(),
                account: AccountId::parse("111122223333").unwrap(),
                key_id: id,
            })
        );
        // The same bytes in the UUID form are not an id, nor are mrk ids keyledger never issued.
        assert_eq!(KeyId::parse(&id.0.hyphenated().to_string()), None);
        assert_eq!(KeyId::parse("mrk-1234abcd12ab34cd56ef1234567890ab"), None);
        assert_eq!(
            KeyId::parse(&text.to_uppercase().replace("MRK-", "mrk-")),
            None
        );
        let single = KeyId::from_uuid(Uuid::new_v4());
        assert!(!single.is_multi_region());
        assert_eq!(KeyId::parse(&single.to_string()), Some(single));
    }

    #[test]
    fn malformed_key_refs_are_rejected() {
        for bad in [
            "",
            "not-a-key",
            "1234abcd12ab34cd56ef1234567890ab",
            "arn:aws:kms:us-east-2:1111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-2:111122223333:key/nope",
            "arn:aws:s3:::bucket",
        ] {
            assert_eq!(KeyRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn account_and_region_validation() {
        assert!(AccountId::parse("123456789012").is_some());
        assert!(AccountId::parse("12345678901").is_none());
        assert!(AccountId::parse("12345678901a").is_none());
        assert!(Region::parse("eu-west-1").is_some());
        assert!(Region::parse("EU-WEST-1").is_none());
        assert!(Region::parse("").is_none());
    }
}
