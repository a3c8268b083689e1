//! A throwaway nginx with the RTMP module (Debian's libnginx-mod-rtmp) that records every
//! stream published to its application `live` as FLV: an independent RTMP peer for tests.
//!
//! Each instance has its own temporary directory (config, pid, logs, recordings), listens on a
//! free port on 127.0.0.1, runs in the foreground as a child process (`daemon off;
//! master_process off;`, so killing the child kills the server) and is killed on drop.
//!
//! Recordings: nginx names them `{stream}-{unix seconds}.flv` (`record_unique on`), so two
//! publishes within one second would share a file. Every run of the server (start, restart)
//! therefore records into a directory of its own, `rec/{run}/`, and [`NginxRtmp::recordings`]
//! lists them oldest run first: a test of a reconnect after a restart always sees two files.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Where Debian's libnginx-mod-rtmp installs the module.
pub const RTMP_MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";
/// Where Debian's libnginx-mod-stream installs the module (for [`crate::tls_front`]).
pub const STREAM_MODULE: &str = "/usr/lib/nginx/modules/ngx_stream_module.so";
/// How long a server may take to accept connections after being started.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at finding a free port: another process may take the one we picked before nginx
/// binds it.
const PORT_ATTEMPTS: u32 = 3;

/// How the test server behaves; the defaults are a plain recording server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NginxOptions {
    /// nginx's outgoing chunk size (what a client's decoder must follow).
    pub chunk_size: u32,
    /// Record every published stream into the run's directory.
    pub record: bool,
    /// `ack_window`: bytes after which nginx wants an acknowledgement (nginx's default is
    /// 5,000,000). Small values make a client acknowledge often.
    pub ack_window: Option<u32>,
    /// `ping`: how often nginx pings an idle client (nginx's default is one minute). Short
    /// values make a client answer pings.
    pub ping: Option<Duration>,
}

impl Default for NginxOptions {
    fn default() -> Self {
        Self {
            chunk_size: 4096,
            record: true,
            ack_window: None,
            ping: None,
        }
    }
}

/// An nginx-rtmp server with application `live`.
pub struct NginxRtmp {
    dir: tempfile::TempDir,
    port: u16,
    options: NginxOptions,
    /// Runs so far (each with its own recordings directory).
    runs: u32,
    child: Option<Child>,
}

impl NginxRtmp {
    /// Starts a recording server with the default options.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(NginxOptions::default())
    }

    /// Starts a server on a free port and waits until it accepts connections.
    pub fn start_with(options: NginxOptions) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("temp dir for nginx")?;
        let mut server = Self {
            dir,
            port: 0,
            options,
            runs: 0,
            child: None,
        };
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            server.port = free_port()?;
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("nginx did not start")))
    }

    /// `rtmp://127.0.0.1:PORT/live/{stream}`
    pub fn url(&self, stream: &str) -> String {
        format!("rtmp://127.0.0.1:{}/live/{stream}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the server process is running (false after [`Self::stop`]).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// The FLV recordings of `stream`, oldest first: by run, then by name (the publish time).
    pub fn recordings(&self, stream: &str) -> Vec<PathBuf> {
        let prefix = format!("{stream}-");
        let mut files = Vec::new();
        for run in 1..=self.runs {
            let Ok(entries) = std::fs::read_dir(self.run_dir(run)) else {
                continue;
            };
            let mut names: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| {
                    let name = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or_default();
                    name.starts_with(&prefix)
                        && name.ends_with(".flv")
                        // `{stream}-{digits}.flv` only: "a" must not match "a-b-17.flv".
                        && name[prefix.len()..name.len() - 4].bytes().all(|b| b.is_ascii_digit())
                })
                .collect();
            names.sort();
            files.extend(names);
        }
        files
    }

    /// Waits until `stream` has at least `count` recordings of at least `min_bytes` each.
    pub fn wait_for_recordings(
        &self,
        stream: &str,
        count: usize,
        min_bytes: u64,
        timeout: Duration,
    ) -> anyhow::Result<Vec<PathBuf>> {
        let deadline = Instant::now() + timeout;
        loop {
            let files = self.recordings(stream);
            let big_enough = |p: &PathBuf| p.metadata().is_ok_and(|m| m.len() >= min_bytes);
            if files.len() >= count && files.iter().all(big_enough) {
                return Ok(files);
            }
            if Instant::now() >= deadline {
                bail!(
                    "{stream}: {} recording(s) after {timeout:?}, wanted {count} of ≥ {min_bytes} bytes: {files:?}",
                    files.len()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open but nothing is read or answered,
    /// like a server that hangs or a network path that silently drops everything.
    pub fn pause(&self) -> anyhow::Result<()> {
        self.signal("-STOP")
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume(&self) -> anyhow::Result<()> {
        self.signal("-CONT")
    }

    fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let child = self.child.as_ref().context("nginx is not running")?;
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .context("running kill")?;
        anyhow::ensure!(status.success(), "kill {signal} failed: {status}");
        Ok(())
    }

    /// Kills the server at once: to a publisher, a crash.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, recording into a new run directory.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.spawn()
    }

    /// nginx's error log, for diagnosing a failing test.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    fn run_dir(&self, run: u32) -> PathBuf {
        self.dir.path().join("rec").join(run.to_string())
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        self.runs += 1;
        let run_dir = self.run_dir(self.runs);
        std::fs::create_dir_all(&run_dir).context("recordings directory")?;
        let config = rtmp_config(self.dir.path(), &run_dir, self.port, &self.options);
        std::fs::write(self.dir.path().join("nginx.conf"), config)?;
        let mut child = spawn_nginx(self.dir.path())?;
        match wait_for_port(self.port, Some(&mut child)) {
            Ok(()) => {
                self.child = Some(child);
                Ok(())
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e).with_context(|| format!("nginx-rtmp did not come up: {}", self.error_log()))
            }
        }
    }
}

impl Drop for NginxRtmp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The whole nginx configuration: one RTMP server with application `live`.
fn rtmp_config(dir: &Path, run_dir: &Path, port: u16, options: &NginxOptions) -> String {
    let dir = dir.display();
    let mut server = format!(
        "    listen 127.0.0.1:{port};\n    chunk_size {};\n",
        options.chunk_size
    );
    if let Some(window) = options.ack_window {
        server.push_str(&format!("    ack_window {window};\n"));
    }
    if let Some(ping) = options.ping {
        let ms = ping.as_millis().max(1);
        server.push_str(&format!("    ping {ms}ms;\n    ping_timeout {ms}ms;\n"));
    }
    let record = if options.record {
        format!(
            "      record all;\n      record_path {};\n      record_unique on;\n",
            run_dir.display()
        )
    } else {
        String::new()
    };
    format!(
        "load_module {RTMP_MODULE};\n\
         daemon off;\nmaster_process off;\nworker_processes 1;\n\
         pid {dir}/nginx.pid;\nerror_log {dir}/error.log info;\n\
         events {{ worker_connections 256; }}\n\
         rtmp {{\n  server {{\n{server}    application live {{\n      live on;\n{record}    }}\n  }}\n}}\n"
    )
}

/// Runs `nginx -p DIR -c DIR/nginx.conf` in the foreground (the config says `daemon off`).
pub(crate) fn spawn_nginx(dir: &Path) -> anyhow::Result<Child> {
    Command::new(nginx_binary())
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        // nginx opens its compiled-in default error log before reading the config.
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context(
            "cannot run nginx: apt-get install nginx-light libnginx-mod-rtmp libnginx-mod-stream",
        )
}

fn nginx_binary() -> &'static str {
    if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

/// A port that was free a moment ago (bind to 0, read it, release it).
pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until something accepts connections on `port`, or `child` exits.
pub(crate) fn wait_for_port(port: u16, mut child: Option<&mut Child>) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if let Some(child) = child.as_deref_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
            }
            bail!("nginx exited with {status}: {err}");
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("nothing listens on port {port} after {READY_TIMEOUT:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_listens_stops_and_restarts_on_the_same_port() {
        let mut nginx = NginxRtmp::start().expect("nginx");
        let port = nginx.port();
        assert!(nginx.is_running());
        assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
        nginx.stop();
        assert!(!nginx.is_running());
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
        nginx.restart().expect("restart");
        assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
        assert_eq!(nginx.url("k"), format!("rtmp://127.0.0.1:{port}/live/k"));
        assert!(nginx.recordings("k").is_empty());
    }

    #[test]
    fn a_paused_server_accepts_connections_but_never_answers() {
        use std::io::{Read, Write};
        let nginx = NginxRtmp::start().expect("nginx");
        nginx.pause().expect("pause");
        let mut stream = TcpStream::connect(("127.0.0.1", nginx.port())).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        stream.write_all(&[3; 1537]).unwrap();
        let mut buf = [0u8; 1];
        let err = stream
            .read(&mut buf)
            .expect_err("a paused server answers nothing");
        assert!(matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ));
        nginx.resume().expect("resume");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(stream.read(&mut buf).expect("S0 after resuming"), 1);
        assert_eq!(buf[0], 3, "S0 is RTMP version 3");
    }

    #[test]
    fn lists_recordings_by_run_then_time_and_only_for_the_exact_stream() {
        let mut nginx = NginxRtmp::start().expect("nginx");
        nginx.restart().expect("restart");
        let touch = |run: u32, name: &str| std::fs::write(nginx.run_dir(run).join(name), b"FLV");
        touch(2, "k-100.flv").unwrap();
        touch(1, "k-200.flv").unwrap();
        touch(1, "k-150.flv").unwrap();
        touch(1, "k-x-150.flv").unwrap();
        touch(1, "other-150.flv").unwrap();
        let names: Vec<String> = nginx
            .recordings("k")
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["k-150.flv", "k-200.flv", "k-100.flv"]);
        let files = nginx.wait_for_recordings("k", 3, 3, Duration::from_millis(10));
        assert_eq!(files.expect("three files").len(), 3);
        assert!(
            nginx
                .wait_for_recordings("k", 4, 0, Duration::from_millis(10))
                .is_err()
        );
    }

    #[test]
    fn writes_the_options_into_the_config() {
        let options = NginxOptions {
            chunk_size: 128,
            record: false,
            ack_window: Some(8192),
            ping: Some(Duration::from_secs(2)),
        };
        let config = rtmp_config(Path::new("/d"), Path::new("/d/rec/1"), 1935, &options);
        assert!(config.contains("listen 127.0.0.1:1935;"), "{config}");
        assert!(config.contains("chunk_size 128;"), "{config}");
        assert!(config.contains("ack_window 8192;"), "{config}");
        assert!(config.contains("ping 2000ms;"), "{config}");
        assert!(!config.contains("record"), "{config}");
        let default = rtmp_config(
            Path::new("/d"),
            Path::new("/d/rec/1"),
            1,
            &Default::default(),
        );
        assert!(default.contains("record_path /d/rec/1;"), "{default}");
    }

    #[test]
    fn starts_with_every_option_set() {
        let options = NginxOptions {
            chunk_size: 128,
            record: false,
            ack_window: Some(8192),
            ping: Some(Duration::from_secs(2)),
        };
        let nginx = NginxRtmp::start_with(options).expect("nginx accepts the config");
        assert!(TcpStream::connect(("127.0.0.1", nginx.port())).is_ok());
    }
}
