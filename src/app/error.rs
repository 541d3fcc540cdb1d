//! The errors an API call can end in, named as the AWS KMS API Reference names
//! them: the trail records the name, the HTTP layer maps it to a status.

use crate::domain::DomainError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    Disabled(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    InvalidCiphertext(String),
    #[error("{0}")]
    IncorrectKey(String),
    #[error("{0}")]
    InvalidKeyUsage(String),
    #[error("{0}")]
    InvalidMarker(String),
    #[error("{0}")]
    InvalidGrantToken(String),
    #[error("{0}")]
    InvalidGrantId(String),
    /// ImportKeyMaterial: material that is not the key's, or not material of its spec.
    #[error("{0}")]
    IncorrectKeyMaterial(String),
    /// ImportKeyMaterial: a token GetParametersForImport did not issue for this key.
    #[error("{0}")]
    InvalidImportToken(String),
    /// ImportKeyMaterial: a token past its 24 hours.
    #[error("{0}")]
    ExpiredImportToken(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Serialization(String),
    #[error("{0}")]
    UnknownOperation(String),
    #[error("{0}")]
    UnsupportedOperation(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    Tag(String),
    #[error("{0}")]
    InvalidAliasName(String),
    /// What AWS answers for an alias under `alias/aws/` (the type, with no message).
    #[error("{0}")]
    NotAuthorized(String),
    #[error("{0}")]
    LimitExceeded(String),
    /// Over a request quota (`quotas`): AWS's `ThrottlingException`, HTTP 400.
    #[error("{0}")]
    Throttling(String),
    /// A decision raced a concurrent change; the handler decides again.
    #[error("{0}")]
    Conflict(String),
    #[error("The request would have succeeded, but the DryRun option is set.")]
    DryRun,
    #[error("{0}")]
    UnrecognizedClient(String),
    #[error("{0}")]
    InvalidSignature(String),
    /// Verify: the signature is not valid (not a SigV4 failure).
    #[error("{0}")]
    KmsInvalidSignature(String),
    #[error("{0}")]
    InvalidMac(String),
    #[error("{0}")]
    IncompleteSignature(String),
    #[error("{0}")]
    MissingAuthenticationToken(String),
    #[error("{0}")]
    AccessDenied(String),
    /// CloudTrail LookupEvents: a lookup attribute that is not valid, or more than one.
    #[error("{0}")]
    InvalidLookupAttributes(String),
    /// CloudTrail LookupEvents: the start time is after the end time.
    #[error("{0}")]
    InvalidTimeRange(String),
    #[error("{0}")]
    InvalidMaxResults(String),
    /// A NextToken that is malformed or was issued for other parameters.
    #[error("{0}")]
    InvalidNextToken(String),
    #[error("{0}")]
    InvalidEventCategory(String),
    /// A session token past its expiry.
    #[error("{0}")]
    ExpiredToken(String),
    /// An IAM or STS error (query protocol), as their API references name it: `code` on the
    /// wire with HTTP `status`; the trail records `trail_code` (CloudTrail's form of it).
    #[error("{message}")]
    Query {
        code: &'static str,
        trail_code: &'static str,
        status: u16,
        message: String,
    },
    /// The service could not do its part (e.g. the ledger is unavailable).
    #[error("{0}")]
    Internal(String),
    /// Never answered: the request named an AWS managed key's alias (`alias/aws/<service>`)
    /// before its key exists. The handler creates the key, then decides the request again.
    #[error("the AWS managed key of {0} does not exist yet")]
    AwsManagedKeyNeeded(String),
}

impl ApiError {
    /// The AWS error type (`__type`, CloudTrail `errorCode`).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) => "NotFoundException",
            ApiError::AlreadyExists(_) => "AlreadyExistsException",
            ApiError::Disabled(_) => "DisabledException",
            ApiError::InvalidState(_) => "KMSInvalidStateException",
            ApiError::InvalidCiphertext(_) => "InvalidCiphertextException",
            ApiError::IncorrectKey(_) => "IncorrectKeyException",
            ApiError::InvalidKeyUsage(_) => "InvalidKeyUsageException",
            ApiError::InvalidMarker(_) => "InvalidMarkerException",
            ApiError::InvalidGrantToken(_) => "InvalidGrantTokenException",
            ApiError::InvalidGrantId(_) => "InvalidGrantIdException",
            ApiError::IncorrectKeyMaterial(_) => "IncorrectKeyMaterialException",
            ApiError::InvalidImportToken(_) => "InvalidImportTokenException",
            ApiError::ExpiredImportToken(_) => "ExpiredImportTokenException",
            ApiError::Validation(_) => "ValidationException",
            ApiError::Serialization(_) => "SerializationException",
            ApiError::UnknownOperation(_) => "UnknownOperationException",
            ApiError::UnsupportedOperation(_) => "UnsupportedOperationException",
            ApiError::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            ApiError::Tag(_) => "TagException",
            ApiError::LimitExceeded(_) => "LimitExceededException",
            ApiError::Throttling(_) => "ThrottlingException",
            ApiError::InvalidAliasName(_) => "InvalidAliasNameException",
            ApiError::NotAuthorized(_) => "NotAuthorizedException",
            ApiError::Conflict(_) => "ConflictException",
            ApiError::DryRun => "DryRunOperationException",
            ApiError::UnrecognizedClient(_) => "UnrecognizedClientException",
            ApiError::InvalidSignature(_) => "InvalidSignatureException",
            ApiError::KmsInvalidSignature(_) => "KMSInvalidSignatureException",
            ApiError::InvalidMac(_) => "KMSInvalidMacException",
            ApiError::IncompleteSignature(_) => "IncompleteSignatureException",
            ApiError::MissingAuthenticationToken(_) => "MissingAuthenticationTokenException",
            ApiError::AccessDenied(_) => "AccessDeniedException",
            ApiError::InvalidLookupAttributes(_) => "InvalidLookupAttributesException",
            ApiError::InvalidTimeRange(_) => "InvalidTimeRangeException",
            ApiError::InvalidMaxResults(_) => "InvalidMaxResultsException",
            ApiError::InvalidNextToken(_) => "InvalidNextTokenException",
            ApiError::InvalidEventCategory(_) => "InvalidEventCategoryException",
            ApiError::ExpiredToken(_) => "ExpiredTokenException",
            ApiError::Query { trail_code, .. } => trail_code,
            ApiError::Internal(_) | ApiError::AwsManagedKeyNeeded(_) => "KMSInternalException",
        }
    }

    /// `1 validation error detected: Value at 'x' failed to satisfy constraint: ...`
    pub fn constraint(member: &str, value: Option<&str>, constraint: &str) -> ApiError {
        let value = match value {
            // A caller's value, quoted short and escaped (`limits::echo`).
            Some(v) => format!("Value '{}' at '{member}'", super::limits::echo(v)),
            None => format!("Value at '{member}'"),
        };
        ApiError::Validation(format!(
            "1 validation error detected: {value} failed to satisfy constraint: {constraint}"
        ))
    }

    pub fn missing(member: &str) -> ApiError {
        ApiError::Validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> ApiError {
        match e {
            DomainError::NotFound(m) => ApiError::NotFound(m),
            DomainError::AlreadyExists(m) => ApiError::AlreadyExists(m),
            DomainError::Disabled(m) => ApiError::Disabled(m),
            DomainError::InvalidState(m) => ApiError::InvalidState(m),
            DomainError::Validation(m) => ApiError::Validation(m),
            DomainError::Tag(m) => ApiError::Tag(m),
            DomainError::InvalidAliasName(m) => ApiError::InvalidAliasName(m),
            DomainError::LimitExceeded(m) => ApiError::LimitExceeded(m),
            DomainError::UnsupportedOperation(m) => ApiError::UnsupportedOperation(m),
            DomainError::Conflict(m) => ApiError::Conflict(m),
            DomainError::InvalidGrantId(m) => ApiError::InvalidGrantId(m),
            DomainError::NotAuthorized(m) => ApiError::NotAuthorized(m),
            DomainError::IncorrectKeyMaterial(m) => ApiError::IncorrectKeyMaterial(m),
        }
    }
}
