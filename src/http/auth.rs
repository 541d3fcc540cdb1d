//! Step 1 of every request: SigV4 → the caller. Derived signing keys are cached
//! per access key, date and region, so the hot path does one HMAC chain of two
//! hashes, not six, and never unwraps a secret.

use super::sigv4::{self, Authorization, RequestParts, SigV4Error, SigningKey};
use crate::app::{limits, ApiError, Caller, CallerKind, Clock};
use crate::crypto::root_key::LABEL_ACCESS_KEY_SECRET;
use crate::crypto::session_token;
use crate::domain::ids::Region;
use crate::projections::Projections;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use time::OffsetDateTime;

/// AWS accepts requests signed up to 15 minutes before or after its own clock.
pub const MAX_CLOCK_SKEW: time::Duration = time::Duration::minutes(15);
/// The service name SigV4 scopes must carry.
pub const SERVICE: &str = "kms";
/// The service name of CloudTrail's LookupEvents (`crate::http::trail_query`).
pub const CLOUDTRAIL_SERVICE: &str = "cloudtrail";
/// The service names of the IAM and STS query APIs (`crate::http::query`).
pub const IAM_SERVICE: &str = "iam";
pub const STS_SERVICE: &str = "sts";
/// Temporary (session) access key ids start so; long-term ones with `AKIA`.
pub const SESSION_KEY_PREFIX: &str = "ASIA";
/// Cached signing keys per access key at most (the oldest goes first). Only a verified
/// request adds one, so only the key's holder can fill its own list; a day's traffic in a
/// handful of regions and services fits.
const MAX_CACHED_KEYS_PER_ACCESS_KEY: usize = 16;

/// What authentication learned, whether or not it succeeded.
pub struct Authenticated {
    pub access_key_id: Option<String>,
    pub region: Option<Region>,
    pub caller: Result<Caller, ApiError>,
}

/// Per access key: the signing keys derived for each (date, region, service) seen. Looked up
/// by `&str` so a hit allocates nothing on the request path.
type SigningKeys = HashMap<String, Vec<(String, String, &'static str, Arc<SigningKey>)>>;

pub struct Authenticator {
    projections: Arc<Projections>,
    signing_keys: RwLock<SigningKeys>,
    /// The service's clock: session tokens expire by it (signatures are checked against the
    /// wall clock).
    clock: Arc<dyn Clock>,
    /// The Regions a request may be signed for (`regions`); `None`: any of AWS's form.
    regions: Option<Vec<Region>>,
}

/// The access key id a malformed `Authorization` header claims, if one can be read, as the
/// trail keeps it (`limits::recorded_access_key_id`): the trail should still say who tried.
pub(crate) fn claimed_access_key(header: &str) -> Option<String> {
    let start = header.find("Credential=")? + "Credential=".len();
    let rest = &header[start..];
    let end = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let id = &rest[..end];
    (!id.is_empty()).then(|| limits::recorded_access_key_id(id))
}

fn invalid_token() -> ApiError {
    ApiError::UnrecognizedClient("The security token included in the request is invalid.".into())
}

fn verify(
    parts: &RequestParts<'_>,
    auth: &Authorization<'_>,
    amz_date: &str,
    key: &SigningKey,
) -> Result<(), ApiError> {
    sigv4::verify(parts, auth, amz_date, key).map_err(|e| match e {
        SigV4Error::MissingSignedHeader(h) => ApiError::IncompleteSignature(format!(
            "The header '{}' is signed but missing from the request.",
            limits::echo(&h)
        )),
        _ => signature_mismatch(),
    })
}

/// Each signed header comes once and in visible ASCII (with spaces and tabs): a second copy
/// or a value that is not text would be signed or verified as something other than what the
/// service reads.
fn check_signed_headers(
    auth: &Authorization<'_>,
    parts: &RequestParts<'_>,
) -> Result<(), ApiError> {
    for name in auth.signed_headers.split(';') {
        let mut values = parts
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name));
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::IncompleteSignature(format!(
                "The signed header '{}' appears more than once.",
                limits::echo(name)
            )));
        }
        if let Some((_, value)) = first {
            if !value
                .bytes()
                .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
            {
                return Err(ApiError::IncompleteSignature(format!(
                    "The signed header '{}' is not ASCII text.",
                    limits::echo(name)
                )));
            }
        }
    }
    Ok(())
}

fn signature_mismatch() -> ApiError {
    ApiError::InvalidSignature(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
    )
}

impl Authenticator {
    pub fn new(
        projections: Arc<Projections>,
        clock: Arc<dyn Clock>,
        regions: Option<Vec<Region>>,
    ) -> Authenticator {
        Authenticator {
            projections,
            signing_keys: RwLock::default(),
            clock,
            regions,
        }
    }

    /// Authenticate a request; `amz_date` is the `X-Amz-Date` header, `parts.headers` every header.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        amz_date: Option<&str>,
        parts: &RequestParts<'_>,
        now: OffsetDateTime,
    ) -> Authenticated {
        self.authenticate_for(SERVICE, authorization, amz_date, parts, now)
    }

    /// [`Self::authenticate`] for a request whose SigV4 scope must name `service`.
    pub fn authenticate_for(
        &self,
        service: &'static str,
        authorization: Option<&str>,
        amz_date: Option<&str>,
        parts: &RequestParts<'_>,
        now: OffsetDateTime,
    ) -> Authenticated {
        let Some(header) = authorization else {
            return Authenticated {
                access_key_id: None,
                region: None,
                caller: Err(ApiError::MissingAuthenticationToken(
                    "Missing Authentication Token".into(),
                )),
            };
        };
        let auth = match sigv4::parse_authorization(header) {
            Ok(auth) => auth,
            Err(e) => {
                return Authenticated {
                    // Keep whatever access key the header claims, for the trail.
                    access_key_id: claimed_access_key(header),
                    region: None,
                    caller: Err(ApiError::IncompleteSignature(format!(
                        "Authorization header is malformed: {e}"
                    ))),
                };
            }
        };
        let access_key_id = Some(limits::recorded_access_key_id(auth.access_key_id));
        if !limits::is_access_key_id(auth.access_key_id) {
            // Not an id IAM could have issued: refused before anything is looked up.
            return Authenticated {
                access_key_id,
                region: None,
                caller: Err(invalid_token()),
            };
        }
        // Only a region of AWS's form, and of the configured list if there is one, becomes the
        // call's region (and namespace).
        let region = Region::parse(auth.region)
            .filter(|r| limits::is_aws_region(r.as_str()))
            .filter(|r| self.regions.as_ref().is_none_or(|list| list.contains(r)));
        let caller = self.check(service, &auth, region.as_ref(), amz_date, parts, now);
        Authenticated {
            access_key_id,
            region,
            caller,
        }
    }

    fn check(
        &self,
        service: &'static str,
        auth: &Authorization<'_>,
        region: Option<&Region>,
        amz_date: Option<&str>,
        parts: &RequestParts<'_>,
        now: OffsetDateTime,
    ) -> Result<Caller, ApiError> {
        check_signed_headers(auth, parts)?;
        if auth.service != service {
            return Err(ApiError::InvalidSignature(format!(
                "Credential should be scoped to correct service: '{service}'."
            )));
        }
        if region.is_none() {
            return Err(ApiError::InvalidSignature(
                "Credential should be scoped to a valid region.".into(),
            ));
        }
        let amz_date = amz_date.ok_or_else(|| {
            ApiError::IncompleteSignature("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.".into())
        })?;
        let signed_at = sigv4::parse_amz_date(amz_date).map_err(|_| {
            ApiError::IncompleteSignature(format!(
                "Date must be in ISO-8601 'basic format'. Got '{}'.",
                limits::echo(amz_date)
            ))
        })?;
        // The scope date is X-Amz-Date's (as `verify` checks too), so within the skew
        // window: a signing key is never derived for an arbitrary date.
        if amz_date.get(..8) != Some(auth.date) {
            return Err(ApiError::InvalidSignature(
                "Credential should be scoped to a valid date: the date of X-Amz-Date.".into(),
            ));
        }
        if let Err(SigV4Error::ClockSkew { .. }) =
            sigv4::check_clock_skew(signed_at, now, MAX_CLOCK_SKEW)
        {
            let fmt = sigv4::format_amz_date;
            let message = if signed_at < now {
                format!(
                    "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
                    fmt(now - MAX_CLOCK_SKEW),
                    fmt(now)
                )
            } else {
                format!(
                    "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
                    fmt(now + MAX_CLOCK_SKEW),
                    fmt(now)
                )
            };
            return Err(ApiError::InvalidSignature(message));
        }
        // The operation must be covered by the signature, or a captured request could be
        // replayed within the skew window as another operation with the same body.
        let target_present = parts
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("x-amz-target"));
        if target_present && !auth.signed_headers.split(';').any(|h| h == "x-amz-target") {
            return Err(ApiError::InvalidSignature(
                "The X-Amz-Target header must be signed.".into(),
            ));
        }
        if auth.access_key_id.starts_with(SESSION_KEY_PREFIX) {
            return self.check_session(service, auth, amz_date, parts);
        }
        // Only an active key is found: a deactivated or deleted one is refused from the
        // moment its event is applied, whatever signing keys were derived from it before.
        let access_key = self
            .projections
            .credentials
            .access_key(auth.access_key_id)
            .ok_or_else(invalid_token)?;
        let (key, cached) = self.signing_key(&access_key, auth.date, auth.region, service)?;
        verify(parts, auth, amz_date, &key)?;
        if !cached {
            self.cache_signing_key(&access_key.access_key_id, auth, service, key);
        }
        let root = access_key.principal_arn == crate::app::iam::root_arn(&access_key.account_id);
        Ok(Caller {
            account: access_key.account_id.clone(),
            principal_arn: access_key.principal_arn.clone(),
            user_name: access_key.user_name.clone(),
            access_key_id: access_key.access_key_id.clone(),
            kind: if root {
                CallerKind::Root
            } else {
                CallerKind::User
            },
        })
    }

    /// Temporary credentials: the session token (`X-Amz-Security-Token`) holds the session,
    /// sealed by this service; its secret signs the request, until it expires.
    fn check_session(
        &self,
        service: &'static str,
        auth: &Authorization<'_>,
        amz_date: &str,
        parts: &RequestParts<'_>,
    ) -> Result<Caller, ApiError> {
        let token = parts
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-amz-security-token"))
            .map(|(_, v)| v.trim())
            .ok_or_else(invalid_token)?;
        let claims =
            session_token::open(self.projections.keyring.root(), auth.access_key_id, token)
                .ok_or_else(invalid_token)?;
        let expires =
            OffsetDateTime::from_unix_timestamp(claims.expires_at).map_err(|_| invalid_token())?;
        let issued =
            OffsetDateTime::from_unix_timestamp(claims.issued_at).map_err(|_| invalid_token())?;
        if self.clock.now() >= expires {
            return Err(ApiError::ExpiredToken(
                "The security token included in the request is expired".into(),
            ));
        }
        let account =
            crate::domain::ids::AccountId::parse(&claims.account_id).ok_or_else(invalid_token)?;
        let key = sigv4::derive_signing_key(
            claims.secret_access_key.as_bytes(),
            auth.date,
            auth.region,
            service,
        );
        verify(parts, auth, amz_date, &key)?;
        Ok(Caller {
            principal_arn: format!(
                "arn:aws:sts::{account}:assumed-role/{}/{}",
                claims.role_name, claims.session_name
            ),
            account,
            user_name: claims.session_name.clone(),
            access_key_id: claims.access_key_id.clone(),
            kind: CallerKind::AssumedRole {
                role_arn: claims.role_arn.clone(),
                role_name: claims.role_name.clone(),
                session_name: claims.session_name.clone(),
                issued,
                expires,
            },
        })
    }

    /// The signing key for the scope, and whether it came from the cache.
    fn signing_key(
        &self,
        access_key: &crate::domain::events::AccessKeyCreated,
        date: &str,
        region: &str,
        service: &'static str,
    ) -> Result<(Arc<SigningKey>, bool), ApiError> {
        let cached = self
            .signing_keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(access_key.access_key_id.as_str())
            .and_then(|keys| {
                keys.iter()
                    .find(|(d, r, s, _)| d == date && r == region && *s == service)
            })
            .map(|(_, _, _, key)| key.clone());
        if let Some(key) = cached {
            return Ok((key, true));
        }
        let secret = self
            .projections
            .keyring
            .root()
            .unwrap(
                LABEL_ACCESS_KEY_SECRET,
                access_key.access_key_id.as_bytes(),
                &access_key.sealed_secret.0,
            )
            .map_err(|_| {
                ApiError::Internal("The access key's secret cannot be unsealed.".into())
            })?;
        let key = Arc::new(sigv4::derive_signing_key(&secret, date, region, service));
        Ok((key, false))
    }

    /// Keep a signing key a request has just been verified with.
    fn cache_signing_key(
        &self,
        access_key_id: &str,
        auth: &Authorization<'_>,
        service: &'static str,
        key: Arc<SigningKey>,
    ) {
        let mut cache = self.signing_keys.write().unwrap_or_else(|p| p.into_inner());
        let entries = cache.entry(access_key_id.to_owned()).or_default();
        if entries
            .iter()
            .any(|(d, r, s, _)| d == auth.date && r == auth.region && *s == service)
        {
            return;
        }
        // Dates roll over daily and regions are few: the oldest entry goes first.
        if entries.len() >= MAX_CACHED_KEYS_PER_ACCESS_KEY {
            entries.remove(0);
        }
        entries.push((auth.date.to_owned(), auth.region.to_owned(), service, key));
    }

    /// How many signing keys are cached for `access_key_id` (for tests and metrics).
    pub fn cached_signing_keys(&self, access_key_id: &str) -> usize {
        self.signing_keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(access_key_id)
            .map_or(0, Vec::len)
    }
}
