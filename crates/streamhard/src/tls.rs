//! HTTPS served by the binary itself.
//!
//! Browsers grant the camera and microphone only to secure contexts: `http://localhost`,
//! `http://127.0.0.1`, or HTTPS. A streamer who opens `http://192.168.1.5:8080` from a laptop
//! would get a silent camera failure, so `streamhard serve` can speak HTTPS on its `--listen`
//! socket without a reverse proxy: with the operator's certificate (`--tls-cert`/`--tls-key`)
//! or with one it makes and keeps in the data directory (`--tls-self-signed`, [`self_signed`]).
//! [`listener`] does the handshakes; [`authority`] gives HTTP/2 requests the `Host` header
//! the web layer reads.

pub mod authority;
pub mod listener;
pub mod self_signed;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

pub use listener::TlsListener;

/// Where the HTTPS certificate comes from (from `--tls-*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsSource {
    /// The operator's certificate chain and key, PEM.
    Files { cert: PathBuf, key: PathBuf },
    /// One made on first start and kept under `<data_dir>/tls/`.
    SelfSigned { data_dir: PathBuf },
}

/// Why HTTPS cannot start. Each says which file and what is wrong with it, in one line (the
/// cause is part of the message, not a separate source, so it is not printed twice).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{flag} {}: {cause}", path.display())]
    Read {
        flag: &'static str,
        path: PathBuf,
        cause: rustls::pki_types::pem::Error,
    },
    #[error("{flag} {}: no PEM certificate in it", path.display())]
    NoCertificate { flag: &'static str, path: PathBuf },
    #[error("{flag} {}: not a certificate rustls can parse: {reason}", path.display())]
    BadCertificate {
        flag: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{} does not fit the certificate {}: {cause}", key.display(), cert.display())]
    Unusable {
        cert: PathBuf,
        key: PathBuf,
        cause: rustls::Error,
    },
    #[error("cannot write the self-signed certificate to {}: {cause}", path.display())]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(rcgen::Error),
    #[error("cannot make a self-signed certificate: the system clock is out of range")]
    Clock,
}

impl From<rcgen::Error> for TlsError {
    fn from(e: rcgen::Error) -> Self {
        Self::Generate(e)
    }
}

/// A certificate ready to serve, with what start-up tells the operator about it.
pub struct Identity {
    pub config: Arc<ServerConfig>,
    /// SHA-256 of the server's certificate, as browsers show it (`AB:CD:…`).
    pub fingerprint: String,
    /// When the certificate expires (Unix seconds).
    pub not_after: i64,
}

impl Identity {
    /// Loads a PEM chain and key and checks that they belong together: a wrong pair is
    /// refused at start, not at the first browser's handshake.
    pub fn load(
        cert: &Path,
        key: &Path,
        flags: (&'static str, &'static str),
    ) -> Result<Self, TlsError> {
        let (cert_flag, key_flag) = flags;
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|cause| TlsError::Read {
                flag: cert_flag,
                path: cert.to_owned(),
                cause,
            })?;
        let Some(leaf) = chain.first() else {
            return Err(TlsError::NoCertificate {
                flag: cert_flag,
                path: cert.to_owned(),
            });
        };
        let not_after = expiry(leaf).map_err(|reason| TlsError::BadCertificate {
            flag: cert_flag,
            path: cert.to_owned(),
            reason,
        })?;
        let fingerprint = fingerprint(leaf);
        let private_key = PrivateKeyDer::from_pem_file(key).map_err(|cause| TlsError::Read {
            flag: key_flag,
            path: key.to_owned(),
            cause,
        })?;
        let config = server_config(chain, private_key).map_err(|cause| TlsError::Unusable {
            cert: cert.to_owned(),
            key: key.to_owned(),
            cause,
        })?;
        Ok(Self {
            config: Arc::new(config),
            fingerprint,
            not_after,
        })
    }

    /// Whether the certificate is past its expiry at `now` (Unix seconds).
    pub fn expired_at(&self, now: i64) -> bool {
        now > self.not_after
    }
}

/// Loads (or makes) the certificate and tells the operator about it: which file, and the
/// SHA-256 fingerprint to compare with what a browser's certificate warning shows.
pub fn prepare(source: &TlsSource) -> Result<Identity, TlsError> {
    match source {
        TlsSource::Files { cert, key } => {
            let identity = Identity::load(cert, key, ("--tls-cert", "--tls-key"))?;
            if identity.expired_at(unix_now()) {
                warn!(
                    certificate = %cert.display(),
                    "the --tls-cert certificate has expired: browsers will refuse it"
                );
            }
            info!(
                certificate = %cert.display(),
                sha256 = %identity.fingerprint,
                "HTTPS with the certificate of --tls-cert"
            );
            Ok(identity)
        }
        TlsSource::SelfSigned { data_dir } => {
            let (identity, origin) = self_signed::ensure(data_dir)?;
            info!(
                certificate = %data_dir.join(self_signed::CERT_FILE).display(),
                sha256 = %identity.fingerprint,
                reused = origin == self_signed::Origin::Reused,
                "HTTPS with a self-signed certificate: browsers warn about it until accepted; \
                 the SHA-256 fingerprint they show must be this one"
            );
            Ok(identity)
        }
    }
}

/// rustls with aws-lc-rs (the provider the rest of the workspace uses), offering HTTP/2 and
/// HTTP/1.1 by ALPN. `with_single_cert` also checks that the key matches the certificate.
fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The certificate's notAfter, in Unix seconds.
fn expiry(cert: &CertificateDer<'_>) -> Result<i64, String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).map_err(|e| e.to_string())?;
    Ok(parsed.validity().not_after.timestamp())
}

/// SHA-256 of the DER certificate in the colon-separated hex that browsers' certificate
/// viewers show, so an operator can compare it with the warning page.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = Sha256::digest(cert.as_ref());
    let mut out = String::with_capacity(digest.len() * 3);
    for (i, byte) in digest.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02X}");
    }
    out
}

/// Now, in Unix seconds (0 if the clock is before 1970, which only makes certificates look
/// valid for longer: the browser checks them anyway).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, names: &[&str]) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = rcgen::CertificateParams::new(names)
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (c, k) = (dir.join("c.pem"), dir.join("k.pem"));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }

    const FLAGS: (&str, &str) = ("--tls-cert", "--tls-key");

    #[test]
    fn a_matching_pair_loads_and_offers_h2_and_http1() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), &["localhost"]);
        let identity = Identity::load(&cert, &key, FLAGS).unwrap();
        assert_eq!(identity.config.alpn_protocols, [&b"h2"[..], b"http/1.1"]);
        assert_eq!(identity.fingerprint.len(), 32 * 3 - 1);
        assert!(!identity.expired_at(unix_now()));
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_with_both_paths() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = write_pair(dir.path(), &["localhost"]);
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        let (_, key) = write_pair(&other, &["localhost"]);
        let err = Identity::load(&cert, &key, FLAGS).err().expect("mismatch");
        assert!(matches!(err, TlsError::Unusable { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("c.pem") && message.contains("k.pem"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_or_empty_file_names_the_flag_and_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), &["localhost"]);
        let missing = dir.path().join("nope.pem");
        let err = Identity::load(&missing, &key, FLAGS)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("--tls-cert ") && err.contains("nope.pem"),
            "{err}"
        );
        let err = Identity::load(&cert, &missing, FLAGS)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("--tls-key ") && err.contains("nope.pem"),
            "{err}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem\n").unwrap();
        let err = Identity::load(&empty, &key, FLAGS).err().unwrap();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
    }

    #[test]
    fn fingerprints_are_colon_separated_uppercase_sha256() {
        let der = CertificateDer::from(vec![0u8; 4]);
        // sha256(00 00 00 00) = df3f6198...
        assert!(
            fingerprint(&der).starts_with("DF:3F:61:98:"),
            "{}",
            fingerprint(&der)
        );
    }
}
