//! The pure command side: ids, the key aggregate, events, decide/apply, policy
//! documents and authorization.
//! No I/O, no clock, no randomness, no crypto.

pub mod alias;
pub mod authz;
pub mod events;
pub mod ids;
pub mod key;
pub mod policy;

/// Why a command was refused. The HTTP layer maps each to an AWS error type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    Disabled(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Tag(String),
    #[error("{0}")]
    InvalidAliasName(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    UnsupportedOperation(String),
    #[error("{0}")]
    InvalidGrantId(String),
    /// The caller may not do this at all (AWS's `NotAuthorizedException`, e.g. an alias under
    /// `alias/aws/`).
    #[error("{0}")]
    NotAuthorized(String),
    /// Imported key material that is not the key's (AWS's `IncorrectKeyMaterialException`).
    #[error("{0}")]
    IncorrectKeyMaterial(String),
    /// The command was prepared against a state that has moved on; decide it again.
    #[error("{0}")]
    Conflict(String),
}
