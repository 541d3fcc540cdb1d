//! TLS for `keyledger serve`: rustls on the aws-lc-rs provider (the AWS-LC the crypto already
//! uses), TLS 1.2 and 1.3 only, and a certificate that `SIGHUP` reloads from its files. New
//! connections get the new certificate; connections already open keep the one they
//! handshook with. Why rustls and this provider: docs/decisions/0016-tls.md.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

/// Why a certificate or key could not be loaded. Never holds key bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("TLS certificate {}: {message}", path.display())]
    Certificate { path: PathBuf, message: String },
    #[error("TLS key {}: {message}", path.display())]
    Key { path: PathBuf, message: String },
    #[error("TLS key {} is not the key of certificate {}", key.display(), cert.display())]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The rustls provider every TLS connection uses: aws-lc-rs. In FIPS mode (decision 0015)
/// only the suites and groups the FIPS module approves: AES-GCM, ECDHE on P-256 and P-384
/// (no ChaCha20-Poly1305, no X25519 or its hybrids).
pub fn provider(fips: bool) -> Arc<rustls::crypto::CryptoProvider> {
    use rustls::crypto::aws_lc_rs::{cipher_suite, default_provider, kx_group};
    let mut provider = default_provider();
    if fips {
        provider.cipher_suites = vec![
            cipher_suite::TLS13_AES_256_GCM_SHA384,
            cipher_suite::TLS13_AES_128_GCM_SHA256,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ];
        provider.kx_groups = vec![kx_group::SECP384R1, kx_group::SECP256R1];
    }
    Arc::new(provider)
}

/// Serves the certificate last loaded from `cert`/`key`; [`CertificateReloader::reload`]
/// swaps in what the files hold now.
#[derive(Debug)]
pub struct CertificateReloader {
    fips: bool,
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<rustls::crypto::CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertificateReloader {
    /// Load the certificate chain (PEM, leaf first) and its private key (PEM: PKCS#8, SEC 1
    /// or PKCS#1); refuses a key that is not the certificate's. `fips`: see [`provider`].
    pub fn load(cert: &Path, key: &Path, fips: bool) -> Result<CertificateReloader, TlsError> {
        let provider = provider(fips);
        let current = load(cert, key, &provider)?;
        Ok(CertificateReloader {
            fips,
            cert: cert.to_owned(),
            key: key.to_owned(),
            provider,
            current: RwLock::new(Arc::new(current)),
        })
    }

    /// Read the files again; on success new handshakes use what they hold. On failure the
    /// certificate in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = Arc::new(load(&self.cert, &self.key, &self.provider)?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// SHA-256 of the leaf certificate in use, hex (what `openssl x509 -fingerprint -sha256`
    /// prints, without the colons): for the log, so an operator sees which one is served.
    pub fn fingerprint(&self) -> String {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        current
            .cert
            .first()
            .map(|leaf| {
                hex::encode(aws_lc_rs::digest::digest(
                    &aws_lc_rs::digest::SHA256,
                    leaf.as_ref(),
                ))
            })
            .unwrap_or_default()
    }
}

impl ResolvesServerCert for CertificateReloader {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// The server configuration: aws-lc-rs, TLS 1.3 and 1.2, no client certificates, the
/// certificate from `resolver`, ALPN `http/1.1` (the server speaks HTTP/1.1 only). In FIPS
/// mode TLS 1.2 also needs the extended master secret (SP 800-135's TLS KDF, RFC 7627).
pub fn server_config(resolver: Arc<CertificateReloader>) -> Result<ServerConfig, TlsError> {
    let fips = resolver.fips;
    let mut config = ServerConfig::builder_with_provider(resolver.provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.require_ems = fips;
    Ok(config)
}

fn load(
    cert: &Path,
    key: &Path,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let cert_error = |message: String| TlsError::Certificate {
        path: cert.to_owned(),
        message,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| cert_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_error("no CERTIFICATE in the file".into()));
    }
    check_key_mode(key)?;
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_owned(),
        message: e.to_string(),
    })?;
    let signing_key = provider
        .key_provider
        .load_private_key(private)
        .map_err(|e| TlsError::Key {
            path: key.to_owned(),
            message: e.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match().map_err(|_| TlsError::Mismatch {
        cert: cert.to_owned(),
        key: key.to_owned(),
    })?;
    Ok(certified)
}

/// A private key anyone on the machine can read (or anyone but its owner can change) is
/// refused, on start and on reload: it may already be exposed. Group read stays allowed, the
/// Debian `ssl-cert` group's convention (0640 root:ssl-cert).
fn check_key_mode(key: &Path) -> Result<(), TlsError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(key)
            .map_err(|e| TlsError::Key {
                path: key.to_owned(),
                message: e.to_string(),
            })?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o027 != 0 {
            return Err(TlsError::Key {
                path: key.to_owned(),
                message: format!(
                    "mode {mode:04o} lets others read or change it; \
                     make it 0600 (or 0640 for a group such as ssl-cert)"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fips_mode_offers_only_aes_gcm_and_nist_curves() {
        let fips = provider(true);
        assert!(!fips.cipher_suites.is_empty());
        for suite in &fips.cipher_suites {
            let name = format!("{:?}", suite.suite());
            assert!(name.contains("AES_") && name.contains("GCM"), "{name}");
        }
        let groups: Vec<_> = fips.kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(
            groups,
            [rustls::NamedGroup::secp384r1, rustls::NamedGroup::secp256r1]
        );
        // Outside FIPS mode, the provider's defaults (ChaCha20-Poly1305 and X25519 among them).
        let standard = provider(false);
        assert!(standard
            .cipher_suites
            .iter()
            .any(|s| format!("{:?}", s.suite()).contains("CHACHA20")));
        assert!(standard
            .kx_groups
            .iter()
            .any(|g| g.name() == rustls::NamedGroup::X25519));
    }
}
