//! `--tls-self-signed`: a certificate made once and kept in `<data-dir>/tls/`.
//!
//! Browsers warn about a self-signed certificate, and the operator accepts it once per browser.
//! That exception belongs to this very certificate, so it is made once and reused on every
//! later start; it is remade only when it is unreadable or close to expiry. Its names are every
//! way a browser may reach this machine: `localhost`, the loopback addresses, the hostname
//! (and `<hostname>.local` for mDNS), and each interface address.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
    SerialNumber,
};
use tracing::{info, warn};
use x509_parser::extensions::GeneralName;
use x509_parser::time::ASN1Time;

use super::{Identity, TlsError, unix_now};

/// The certificate and its key, under the data directory.
pub const CERT_FILE: &str = "tls/self-signed.crt";
pub const KEY_FILE: &str = "tls/self-signed.key";

const DAY: i64 = 24 * 3600;
/// 397 days: the longest validity every browser accepts for a TLS server certificate
/// (Safari refuses longer ones, even self-signed).
const VALIDITY: i64 = 397 * DAY;
/// Remade at a start this close to expiry, so a running server does not cross it soon after.
const RENEW_BEFORE: i64 = 30 * DAY;
/// Error messages name the flag that made the files.
const FLAGS: (&str, &str) = ("--tls-self-signed", "--tls-self-signed");

/// Whether this start made the certificate or found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Created,
    Reused,
}

/// The certificate in `data_dir`, made first if missing, unreadable or close to expiry.
pub fn ensure(data_dir: &Path) -> Result<(Identity, Origin), TlsError> {
    let (cert, key) = (data_dir.join(CERT_FILE), data_dir.join(KEY_FILE));
    let names = subject_alt_names();
    if cert.exists() || key.exists() {
        match Identity::load(&cert, &key, FLAGS) {
            Ok(identity) if identity.not_after - RENEW_BEFORE > unix_now() => {
                warn_about_missing_names(&cert, &names);
                return Ok((identity, Origin::Reused));
            }
            Ok(_) => info!(
                path = %cert.display(),
                "the self-signed certificate expires within 30 days: making a new one"
            ),
            Err(e) => warn!(
                error = %e,
                "the stored self-signed certificate is unusable: making a new one"
            ),
        }
    }
    generate(&cert, &key, names)?;
    Ok((Identity::load(&cert, &key, FLAGS)?, Origin::Created))
}

/// Writes a new certificate and key. The key is written first, readable by the owner only;
/// each file goes through a temporary name so a crash never leaves half a file (a key without
/// its certificate is remade on the next start).
fn generate(cert_path: &Path, key_path: &Path, names: Vec<String>) -> Result<(), TlsError> {
    let now = unix_now();
    let mut params = CertificateParams::new(names)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "streamhard (self-signed)");
    // An hour of slack for clocks a little behind ours.
    params.not_before = asn1_time(now - 3600)?.to_datetime();
    params.not_after = asn1_time(now + VALIDITY)?.to_datetime();
    // A fresh serial each time: Firefox refuses a certificate whose issuer and serial it saw
    // before with another key.
    let mut serial: [u8; 16] = rand::random();
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;

    let dir = cert_path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir).map_err(|cause| TlsError::Write {
        path: dir.to_owned(),
        cause,
    })?;
    write_atomically(key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write_atomically(cert_path, cert.pem().as_bytes(), 0o644)?;
    info!(path = %cert_path.display(), "made a self-signed certificate");
    Ok(())
}

fn asn1_time(unix: i64) -> Result<ASN1Time, TlsError> {
    ASN1Time::from_timestamp(unix).map_err(|_| TlsError::Clock)
}

/// Creates `dir` (and parents) and makes it the owner's alone: it holds a private key.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let write = || -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            options.mode(mode);
            let file = options.open(&tmp)?;
            // `mode` applies only to a new file; a leftover one keeps its own.
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            write_all(file, contents)?;
        }
        #[cfg(not(unix))]
        {
            let _ = mode;
            write_all(options.open(&tmp)?, contents)?;
        }
        std::fs::rename(&tmp, path)
    };
    fn write_all(mut file: std::fs::File, contents: &[u8]) -> std::io::Result<()> {
        file.write_all(contents)?;
        file.sync_all()
    }
    write().map_err(|cause| TlsError::Write {
        path: path.to_owned(),
        cause,
    })
}

/// Every name a browser may use for this machine: localhost, loopback, the hostname (and its
/// mDNS `.local` form), every interface address. Sorted and without duplicates.
fn subject_alt_names() -> Vec<String> {
    let mut ips: BTreeSet<IpAddr> = [Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()].into();
    match if_addrs::get_if_addrs() {
        Ok(interfaces) => ips.extend(interfaces.iter().map(|i| i.ip())),
        Err(e) => {
            warn!(error = %e, "cannot list the interface addresses for the self-signed certificate")
        }
    }
    let mut dns = BTreeSet::from(["localhost".to_owned()]);
    if let Some(host) = hostname() {
        if !host.contains('.') {
            dns.insert(format!("{host}.local"));
        }
        dns.insert(host);
    }
    dns.into_iter()
        .chain(ips.iter().map(IpAddr::to_string))
        .collect()
}

/// This machine's hostname, lowercase, if it is a valid DNS name.
#[cfg(unix)]
fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes, which is what we pass.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    // A truncated name may lack its NUL: then it is not one we can use.
    let end = buf.iter().position(|&b| b == 0)?;
    let name = std::str::from_utf8(&buf[..end]).ok()?;
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    is_dns_name(&name).then_some(name)
}

#[cfg(not(unix))]
fn hostname() -> Option<String> {
    None
}

/// Letters, digits and hyphens in dot-separated labels of 1 to 63 bytes (RFC 1123).
fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A reused certificate keeps the names it was made with. When this machine gained an address
/// or a name since, browsers reaching it that way also warn that the name does not match:
/// say so, and how to get a certificate with the new names.
fn warn_about_missing_names(cert: &Path, wanted: &[String]) {
    let Some(present) = certificate_names(cert) else {
        return;
    };
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|name| !present.contains(name.as_str()))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        warn!(
            missing = %missing.join(", "),
            path = %cert.display(),
            "the self-signed certificate does not name all of this machine's current addresses; \
             delete it (and its key) to make one that does"
        );
    }
}

/// The DNS names and IP addresses (as text) in a certificate file's subjectAltName.
fn certificate_names(cert: &Path) -> Option<BTreeSet<String>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let der = CertificateDer::from_pem_file(cert).ok()?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).ok()?;
    let san = parsed.subject_alternative_name().ok()??;
    Some(
        san.value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                GeneralName::IPAddress(bytes) => match bytes.len() {
                    4 => <[u8; 4]>::try_from(*bytes)
                        .ok()
                        .map(|b| IpAddr::from(b).to_string()),
                    16 => <[u8; 16]>::try_from(*bytes)
                        .ok()
                        .map(|b| IpAddr::from(b).to_string()),
                    _ => None,
                },
                _ => None,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (first, origin) = ensure(dir.path()).unwrap();
        assert_eq!(origin, Origin::Created);
        let (again, origin) = ensure(dir.path()).unwrap();
        assert_eq!(origin, Origin::Reused);
        assert_eq!(first.fingerprint, again.fingerprint);
    }

    #[cfg(unix)]
    #[test]
    fn only_the_owner_can_read_the_key() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        ensure(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = std::fs::metadata(dir.path().join("tls"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn an_unreadable_certificate_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (first, _) = ensure(dir.path()).unwrap();
        std::fs::write(dir.path().join(CERT_FILE), "garbage").unwrap();
        let (second, origin) = ensure(dir.path()).unwrap();
        assert_eq!(origin, Origin::Created);
        assert_ne!(first.fingerprint, second.fingerprint);
    }

    #[test]
    fn an_expiring_certificate_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join(CERT_FILE), dir.path().join(KEY_FILE));
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_before = asn1_time(unix_now() - 400 * DAY).unwrap().to_datetime();
        params.not_after = asn1_time(unix_now() + DAY).unwrap().to_datetime();
        let pair = KeyPair::generate().unwrap();
        let old = params.self_signed(&pair).unwrap();
        create_private_dir(cert.parent().unwrap()).unwrap();
        std::fs::write(&cert, old.pem()).unwrap();
        std::fs::write(&key, pair.serialize_pem()).unwrap();
        let (identity, origin) = ensure(dir.path()).unwrap();
        assert_eq!(origin, Origin::Created);
        assert!(identity.not_after > unix_now() + 300 * DAY);
    }

    #[test]
    fn the_names_cover_loopback_and_every_interface() {
        let dir = tempfile::tempdir().unwrap();
        ensure(dir.path()).unwrap();
        let names = certificate_names(&dir.path().join(CERT_FILE)).unwrap();
        for name in ["localhost", "127.0.0.1", "::1"] {
            assert!(names.contains(name), "{name} missing from {names:?}");
        }
        for interface in if_addrs::get_if_addrs().unwrap() {
            let ip = interface.ip().to_string();
            assert!(names.contains(&ip), "{ip} missing from {names:?}");
        }
        if let Some(host) = hostname() {
            assert!(names.contains(&host), "{host} missing from {names:?}");
        }
    }

    #[test]
    fn hostnames_must_be_dns_names() {
        assert!(is_dns_name("studio-1.lan"));
        assert!(!is_dns_name("my host"));
        assert!(!is_dns_name("a..b"));
        assert!(!is_dns_name(&"x".repeat(64)));
    }
}
