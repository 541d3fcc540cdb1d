//! Aliases: friendly names for keys, unique per account and region. Each alias
//! is its own stream, so two concurrent CreateAlias calls for one name cannot
//! both win (the second conflicts on stream version 1).

use super::events::{AliasCreated, AliasDeleted, AliasUpdated, DomainEvent};
use super::ids::{AccountId, KeyId, Region};
use super::key::{Key, Operation};
use super::DomainError;
use time::OffsetDateTime;

pub const ALIAS_PREFIX: &str = "alias/";
pub const RESERVED_PREFIX: &str = "alias/aws/";
pub const MAX_ALIAS_NAME: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alias {
    pub name: String,
    pub account: AccountId,
    pub region: Region,
    pub key_id: KeyId,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub stream_version: u64,
}

impl Alias {
    pub fn arn(&self) -> String {
        format!("arn:aws:kms:{}:{}:{}", self.region, self.account, self.name)
    }
}

/// The AWS KMS model's pattern for `AliasName` (it allows `:`, which aliases do not).
pub const ALIAS_NAME_PATTERN: &str = "^[a-zA-Z0-9:/_-]+$";

/// AWS's refusal of an alias name without the `alias/` prefix.
pub const MISSING_PREFIX: &str = "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html";

/// Check an alias name as AWS does: the model's constraints first (length, pattern), then
/// the service's (the `alias/` prefix, no `:`, a name after the prefix, not `alias/aws/`).
pub fn validate_name(name: &str) -> Result<(), DomainError> {
    check_model_constraints(name)?;
    let Some(rest) = name.strip_prefix(ALIAS_PREFIX) else {
        return Err(DomainError::Validation(MISSING_PREFIX.into()));
    };
    if name.contains(':') {
        return Err(DomainError::Validation(format!(
            "{name} contains invalid characters for an alias"
        )));
    }
    if rest.is_empty() {
        return Err(DomainError::InvalidAliasName(format!(
            "{name} is not a valid alias name."
        )));
    }
    if name.starts_with(RESERVED_PREFIX) {
        // As AWS refuses it: the type alone, no message.
        return Err(DomainError::NotAuthorized(String::new()));
    }
    Ok(())
}

/// The AWS KMS model's constraints on `AliasName`: 1–256 characters of its pattern.
pub fn check_model_constraints(name: &str) -> Result<(), DomainError> {
    if name.is_empty() || name.len() > MAX_ALIAS_NAME {
        return Err(DomainError::Validation(format!(
            "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must have length between 1 and {MAX_ALIAS_NAME}"
        )));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b':'))
    {
        return Err(DomainError::Validation(format!(
            "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: {ALIAS_NAME_PATTERN}"
        )));
    }
    Ok(())
}

pub enum AliasCommand<'a> {
    Create {
        name: String,
        account: AccountId,
        region: Region,
        target: &'a Key,
    },
    Update {
        target: &'a Key,
        current_target: Option<&'a Key>,
    },
    Delete,
}

pub fn decide(
    alias: Option<&Alias>,
    command: AliasCommand<'_>,
) -> Result<Vec<DomainEvent>, DomainError> {
    match (alias, command) {
        (Some(existing), AliasCommand::Create { .. }) => Err(DomainError::AlreadyExists(format!(
            "An alias with the name {} already exists",
            existing.arn()
        ))),
        (
            None,
            AliasCommand::Create {
                name,
                account,
                region,
                target,
            },
        ) => {
            validate_name(&name)?;
            target.check(Operation::CreateAlias)?;
            Ok(vec![DomainEvent::AliasCreated(AliasCreated {
                alias_name: name,
                account_id: account,
                region,
                key_id: target.id,
            })])
        }
        (None, _) => Err(DomainError::NotFound("Alias does not exist".into())),
        (
            Some(alias),
            AliasCommand::Update {
                target,
                current_target,
            },
        ) => {
            validate_name(&alias.name)?;
            target.check(Operation::UpdateAlias)?;
            if let Some(current) = current_target {
                if current.usage != target.usage || current.spec != target.spec {
                    return Err(DomainError::Validation(format!(
                        "{} and {} are not the same type of key: an alias can only move between keys of the same key spec and key usage.",
                        current.arn, target.arn
                    )));
                }
            }
            Ok(vec![DomainEvent::AliasUpdated(AliasUpdated {
                alias_name: alias.name.clone(),
                account_id: alias.account.clone(),
                region: alias.region.clone(),
                key_id: target.id,
            })])
        }
        (Some(alias), AliasCommand::Delete) => {
            if alias.name.starts_with(RESERVED_PREFIX) {
                return Err(DomainError::InvalidAliasName(format!(
                    "{} is reserved.",
                    alias.name
                )));
            }
            Ok(vec![DomainEvent::AliasDeleted(AliasDeleted {
                alias_name: alias.name.clone(),
                account_id: alias.account.clone(),
                region: alias.region.clone(),
            })])
        }
    }
}

/// Fold an alias event; `time` is the event's time.
pub fn apply(alias: Option<Alias>, event: &DomainEvent, time: OffsetDateTime) -> Option<Alias> {
    match event {
        DomainEvent::AliasCreated(e) => Some(Alias {
            name: e.alias_name.clone(),
            account: e.account_id.clone(),
            region: e.region.clone(),
            key_id: e.key_id,
            created_at: time,
            updated_at: time,
            // A re-created alias continues its stream after the deletion.
            stream_version: alias.map_or(0, |a| a.stream_version) + 1,
        }),
        DomainEvent::AliasUpdated(e) => alias.map(|a| Alias {
            key_id: e.key_id,
            updated_at: time,
            stream_version: a.stream_version + 1,
            ..a
        }),
        DomainEvent::AliasDeleted(_) => None,
        _ => alias,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names_as_aws_checks_them() {
        assert!(validate_name("alias/my-key_1/prod").is_ok());
        assert!(matches!(
            validate_name("my-key"),
            Err(DomainError::Validation(_))
        ));
        assert!(matches!(
            validate_name("alias/"),
            Err(DomainError::InvalidAliasName(_))
        ));
        assert!(matches!(
            validate_name("alias/aws/s3"),
            Err(DomainError::NotAuthorized(_))
        ));
        assert_eq!(
            validate_name("alias/x:y"),
            Err(DomainError::Validation(
                "alias/x:y contains invalid characters for an alias".into()
            ))
        );
        assert_eq!(
            validate_name("x"),
            Err(DomainError::Validation(MISSING_PREFIX.into()))
        );
        assert!(matches!(
            validate_name("alias/has space"),
            Err(DomainError::Validation(_))
        ));
        assert!(matches!(
            validate_name(&format!("alias/{}", "a".repeat(251))),
            Err(DomainError::Validation(_))
        ));
        assert!(validate_name(&format!("alias/{}", "a".repeat(250))).is_ok());
    }
}
