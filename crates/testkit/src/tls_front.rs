//! A TLS terminator (nginx's stream module, Debian's libnginx-mod-stream) in front of an RTMP
//! server, with a certificate from a fresh test CA: an `rtmps://` destination on loopback.
//!
//! Point the relay's `SSL_CERT_FILE` at [`TlsFront::ca_pem`] so it trusts the test CA and
//! nothing else.

use std::path::PathBuf;
use std::process::Child;

use anyhow::Context;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

use crate::nginx::{STREAM_MODULE, free_port, spawn_nginx, wait_for_port};

pub struct TlsFront {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl TlsFront {
    /// Terminates TLS on a free port and forwards to `127.0.0.1:{upstream_port}`.
    pub fn start(upstream_port: u16) -> anyhow::Result<Self> {
        Self::start_named(upstream_port, &["localhost", "127.0.0.1"])
    }

    /// [`Self::start`] with a certificate for `names` only (DNS names or IP addresses): with
    /// names other than `localhost`, a client that trusts the CA still refuses the server's
    /// name.
    pub fn start_named(upstream_port: u16, names: &[&str]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("temp dir for the TLS front")?;
        write_certificates(&dir, names)?;
        let port = free_port()?;
        let d = dir.path().display();
        let config = format!(
            "load_module {STREAM_MODULE};\n\
             daemon off;\nmaster_process off;\nworker_processes 1;\n\
             pid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
             events {{ worker_connections 64; }}\n\
             stream {{\n  server {{\n    listen 127.0.0.1:{port} ssl;\n\
                 ssl_certificate {d}/server.pem;\n    ssl_certificate_key {d}/server.key;\n\
                 proxy_pass 127.0.0.1:{upstream_port};\n  }}\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), config)?;
        let mut child = spawn_nginx(dir.path())?;
        wait_for_port(port, Some(&mut child)).context("the TLS front did not come up")?;
        Ok(Self {
            dir,
            port,
            child: Some(child),
        })
    }

    /// `rtmps://localhost:PORT/live/{stream}` (the certificate of [`Self::start`] is for
    /// localhost and 127.0.0.1).
    pub fn url(&self, stream: &str) -> String {
        format!("rtmps://localhost:{}/live/{stream}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The test CA's certificate: give it to the relay as `SSL_CERT_FILE`.
    pub fn ca_pem(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn write_certificates(dir: &tempfile::TempDir, names: &[&str]) -> anyhow::Result<()> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Stream-Hard test CA");
    let ca = ca_params.self_signed(&ca_key)?;

    let key = KeyPair::generate()?;
    let names: Vec<String> = names.iter().map(|&n| n.to_owned()).collect();
    let common_name = names.first().cloned().unwrap_or_default();
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let cert = params.signed_by(&key, &ca, &ca_key)?;

    std::fs::write(dir.path().join("ca.pem"), ca.pem())?;
    std::fs::write(dir.path().join("server.pem"), cert.pem())?;
    std::fs::write(dir.path().join("server.key"), key.serialize_pem())?;
    Ok(())
}
