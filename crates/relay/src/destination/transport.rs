//! TCP or TLS to a destination.
//!
//! RTMPS verifies the server's certificate against the system roots, loaded once through
//! rustls-native-certs, which honours `SSL_CERT_FILE` / `SSL_CERT_DIR` (a private CA, tests).
//! The server name for SNI and verification is the URL's host. Timeouts are the caller's: it
//! bounds connecting and publishing together.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::ServerName;
use streamhard_rtmp::url::{RtmpUrl, Scheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::address::is_public;

/// A byte stream to a server: TCP or TLS over TCP.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Why a connection could not be made. Messages name no host and no key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    #[error("cannot resolve the host: {0}")]
    Resolve(io::Error),
    #[error("the host resolves to no address")]
    NoAddress,
    #[error("the host resolves to a private or reserved address, which this server does not allow")]
    Private,
    #[error("connection failed: {0}")]
    Tcp(io::Error),
    #[error("TLS failed: {0}")]
    Tls(io::Error),
    #[error("TLS failed: no trusted root certificates are available")]
    NoRoots,
    #[error("TLS failed: the host is not a valid server name")]
    ServerName,
}

/// Resolves, checks and connects to `url`'s host, then starts TLS for `rtmps://`.
pub async fn connect(url: &RtmpUrl, allow_private: bool) -> Result<Box<dyn Io>, ConnectError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((url.host(), url.port()))
        .await
        .map_err(ConnectError::Resolve)?
        .collect();
    if addrs.is_empty() {
        return Err(ConnectError::NoAddress);
    }
    // Checked on the addresses we are about to use, so DNS cannot point us elsewhere after
    // the URL was accepted.
    if !allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(ConnectError::Private);
    }
    let mut last_error = None;
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                tcp = Some(stream);
                break;
            }
            Err(e) => last_error = Some(e),
        }
    }
    let tcp = match (tcp, last_error) {
        (Some(tcp), _) => tcp,
        (None, Some(e)) => return Err(ConnectError::Tcp(e)),
        (None, None) => return Err(ConnectError::NoAddress),
    };
    // We write whole messages and want them out now: no Nagle delay on media.
    let _ = tcp.set_nodelay(true);
    match url.scheme() {
        Scheme::Rtmp => Ok(Box::new(tcp)),
        Scheme::Rtmps => {
            let config = tls_config()?;
            let name = ServerName::try_from(url.host().to_owned())
                .map_err(|_| ConnectError::ServerName)?;
            let tls = TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(tls_error)?;
            Ok(Box::new(tls))
        }
    }
}

/// A failed TLS handshake in words that name no host: rustls's text for a certificate made out
/// to another name lists the name we asked for and every name the certificate holds.
fn tls_error(error: io::Error) -> ConnectError {
    use rustls::CertificateError;
    let certificate = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .and_then(|e| match e {
            rustls::Error::InvalidCertificate(c) => Some(c),
            _ => None,
        });
    match certificate {
        Some(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => ConnectError::Tls(io::Error::other(
            "invalid peer certificate: it is not valid for the destination's host name",
        )),
        _ => ConnectError::Tls(error),
    }
}

/// One TLS client configuration for the process: loading the roots reads files.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, ConnectError> {
    static CONFIG: OnceLock<Option<Arc<rustls::ClientConfig>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let loaded = rustls_native_certs::load_native_certs();
            for error in &loaded.errors {
                tracing::warn!(%error, "could not load some root certificates");
            }
            let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
            if ignored > 0 {
                tracing::warn!(ignored, "some root certificates could not be parsed");
            }
            if added == 0 {
                tracing::warn!("no root certificates found; rtmps destinations will fail");
                return None;
            }
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .ok()?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Some(Arc::new(config))
        })
        .clone()
        .ok_or(ConnectError::NoRoots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_a_private_address_unless_allowed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = RtmpUrl::parse(&format!("rtmp://127.0.0.1:{port}/live/key")).unwrap();
        assert!(matches!(
            connect(&url, false).await,
            Err(ConnectError::Private)
        ));
        assert!(connect(&url, true).await.is_ok());
    }

    #[tokio::test]
    async fn a_closed_port_is_a_tcp_error_that_names_no_host_or_key() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let url = RtmpUrl::parse(&format!("rtmp://127.0.0.1:{port}/live/SECRET")).unwrap();
        let Err(error) = connect(&url, true).await else {
            panic!("connected to a closed port");
        };
        let shown = error.to_string();
        assert!(matches!(error, ConnectError::Tcp(_)), "{shown}");
        assert!(
            !shown.contains("SECRET") && !shown.contains("127.0.0.1"),
            "{shown}"
        );
    }
}
