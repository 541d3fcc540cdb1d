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
    pub fn parse(s: &str) -> Option<KeyId> {
        // Only the canonical hyphenated form: AWS rejects braces, URNs and bare hex.
        if s.len() != 36 {
            return None;
        }
        Uuid::try_parse(s).ok().map(KeyId)
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

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
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
