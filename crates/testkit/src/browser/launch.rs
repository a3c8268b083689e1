//! What to launch and how: the builder, the command line, and the child process with the
//! DevTools pipe on its fds 3 and 4.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::net::unix::pipe;
use tokio::process::{Child, Command};

use super::{Browser, DEFAULT_TIMEOUT};

/// Debian's Chromium (package `chromium`): a shell script that `exec`s the real binary, so the
/// process we spawn is the browser itself.
pub const DEFAULT_BINARY: &str = "/usr/bin/chromium";

/// How to launch Chromium; [`Browser::builder`] gives the defaults. Every browser gets a fresh
/// profile, so no state leaks from one test to the next.
#[derive(Clone, Debug)]
pub struct BrowserBuilder {
    pub(super) binary: PathBuf,
    pub(super) wrapper: Vec<OsString>,
    pub(super) extra_args: Vec<OsString>,
    pub(super) fake_media: bool,
    pub(super) fake_video: Option<PathBuf>,
    pub(super) fake_audio: Option<PathBuf>,
    pub(super) secure_origins: Vec<String>,
    pub(super) window_size: (u32, u32),
    pub(super) log_file: Option<PathBuf>,
    pub(super) timeout: Duration,
}

impl Default for BrowserBuilder {
    fn default() -> Self {
        Self {
            binary: PathBuf::from(DEFAULT_BINARY),
            wrapper: Vec::new(),
            extra_args: Vec::new(),
            fake_media: false,
            fake_video: None,
            fake_audio: None,
            secure_origins: Vec::new(),
            window_size: (1280, 720),
            log_file: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl BrowserBuilder {
    /// The Chromium executable (default [`DEFAULT_BINARY`]).
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = path.into();
        self
    }

    /// A command that runs Chromium, e.g. `["ip", "netns", "exec", "ns1"]`: it gets the
    /// Chromium command line appended. It must pass fds 3 and 4 through and should `exec`
    /// (as `ip netns exec`, `env` and `nsenter` do): the process is killed by its group, but
    /// [`Browser::close`] waits for the wrapper's exit.
    pub fn wrap_command<S: Into<OsString>>(mut self, prefix: impl IntoIterator<Item = S>) -> Self {
        self.wrapper = prefix.into_iter().map(Into::into).collect();
        self
    }

    /// One more Chromium flag, appended after the defaults (a later duplicate of a switch
    /// usually wins in Chromium).
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    /// More Chromium flags.
    pub fn args<S: Into<OsString>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.extra_args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Fake camera and microphone, granted without a prompt
    /// (`--use-fake-device-for-media-stream --use-fake-ui-for-media-stream`): Chromium's
    /// generated test pattern and beep, unless [`Self::fake_video`] / [`Self::fake_audio`]
    /// name files.
    pub fn fake_media(mut self) -> Self {
        self.fake_media = true;
        self
    }

    /// The fake camera plays this `.y4m` (or `.mjpeg`) file in a loop; implies
    /// [`Self::fake_media`].
    pub fn fake_video(mut self, path: impl Into<PathBuf>) -> Self {
        self.fake_media = true;
        self.fake_video = Some(path.into());
        self
    }

    /// The fake microphone plays this `.wav` file in a loop; implies [`Self::fake_media`].
    pub fn fake_audio(mut self, path: impl Into<PathBuf>) -> Self {
        self.fake_media = true;
        self.fake_audio = Some(path.into());
        self
    }

    /// Treats `origin` (e.g. `http://10.0.0.1:8080`) as a secure context, so getUserMedia
    /// works on plain HTTP there. Chromium reads only the last such flag, hence one flag
    /// listing every origin given here. `http://127.0.0.1` and `http://localhost` are secure
    /// already.
    pub fn insecure_origin_as_secure(mut self, origin: impl Into<String>) -> Self {
        self.secure_origins.push(origin.into());
        self
    }

    /// The size of the windows [`Browser::new_page`] opens (default 1280×720; Chromium's own
    /// headless default is an odd 780×580). The viewport is the window less Chromium's
    /// (invisible) tab strip and toolbar: 1280×633 for the default.
    pub fn window_size(mut self, width: u32, height: u32) -> Self {
        self.window_size = (width, height);
        self
    }

    /// Where Chromium's stdout and stderr go (default `chromium.log` in the profile).
    pub fn log_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.log_file = Some(path.into());
        self
    }

    /// The bound on every wait: launch, each command, navigation, element look-ups (default
    /// [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Same as [`Browser::launch`].
    pub async fn launch(self) -> anyhow::Result<Browser> {
        Browser::launch(self).await
    }

    /// Chromium's arguments (without the wrapper and the binary).
    pub(super) fn chromium_args(&self, profile: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = [
            "--headless=new",
            "--remote-debugging-pipe",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // Chromium's own log on stderr, which includes the pages' console messages and
            // uncaught errors ("INFO:CONSOLE:12] "…", source: …"): the first thing to read
            // when a test fails.
            "--enable-logging=stderr",
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        args.push(flag_with_path("--user-data-dir=", profile));
        let (width, height) = self.window_size;
        args.push(format!("--window-size={width},{height}").into());
        if self.fake_media {
            args.push("--use-fake-device-for-media-stream".into());
            args.push("--use-fake-ui-for-media-stream".into());
        }
        if let Some(video) = &self.fake_video {
            args.push(flag_with_path("--use-file-for-fake-video-capture=", video));
        }
        if let Some(audio) = &self.fake_audio {
            args.push(flag_with_path("--use-file-for-fake-audio-capture=", audio));
        }
        if !self.secure_origins.is_empty() {
            args.push(
                format!(
                    "--unsafely-treat-insecure-origin-as-secure={}",
                    self.secure_origins.join(",")
                )
                .into(),
            );
        }
        args.extend(self.extra_args.iter().cloned());
        // The start-up tab: about:blank instead of the (heavier) new-tab page. Last, since
        // Debian's wrapper script stops reading its own options at the first non-flag.
        args.push("about:blank".into());
        args
    }

    /// Fails early, with a clear message, where Chromium would fall back silently or exit.
    pub(super) fn check(&self) -> anyhow::Result<()> {
        for file in self.fake_video.iter().chain(&self.fake_audio) {
            if !file.is_file() {
                bail!("fake media file {} does not exist", file.display());
            }
        }
        Ok(())
    }
}

fn flag_with_path(flag: &str, path: &Path) -> OsString {
    let mut arg = OsString::from(flag);
    arg.push(path);
    arg
}

/// A spawned Chromium and our ends of its DevTools pipe.
pub(super) struct Spawned {
    pub child: Child,
    /// Also its process group: the child leads a group of its own.
    pub pid: u32,
    pub to_chromium: pipe::Sender,
    pub from_chromium: pipe::Receiver,
}

/// Spawns `wrapper… binary args…` in its own process group, with stdout and stderr to `log`
/// and the DevTools pipe on fds 3 (Chromium reads) and 4 (Chromium writes).
pub(super) fn spawn(
    builder: &BrowserBuilder,
    args: &[OsString],
    log: &Path,
) -> anyhow::Result<Spawned> {
    let log_file =
        File::create(log).with_context(|| format!("creating Chromium's log {}", log.display()))?;
    // Chromium reads commands from `commands_in` (its fd 3), replies into `replies_out` (fd 4).
    let (commands_in, commands_out) = io::pipe().context("creating the DevTools pipe")?;
    let (replies_in, replies_out) = io::pipe().context("creating the DevTools pipe")?;
    let child_reads = above_child_fds(commands_in.into())?;
    let child_writes = above_child_fds(replies_out.into())?;

    let mut command = match builder.wrapper.split_first() {
        Some((program, prefix)) => {
            let mut command = Command::new(program);
            command.args(prefix).arg(&builder.binary);
            command
        }
        None => Command::new(&builder.binary),
    };
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().context("sharing Chromium's log")?)
        .stderr(log_file)
        // A group of its own: killing the group takes the renderers along, and a Ctrl-C at the
        // terminal reaches the test alone (Chromium then exits when the pipe closes).
        .process_group(0);
    let (read_fd, write_fd) = (child_reads.as_raw_fd(), child_writes.as_raw_fd());
    // SAFETY: the closure runs in the forked child before exec, and only calls dup2, which is
    // async-signal-safe, on two fds that stay open until spawn returns (they are owned by
    // `child_reads` and `child_writes` below). Both are ≥ 5 (see `above_child_fds`), so
    // neither dup2 overwrites the other's source, and dup2 leaves the copies on 3 and 4
    // without FD_CLOEXEC: exactly those two survive the exec.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(read_fd, 3) < 0 || libc::dup2(write_fd, 4) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().with_context(|| {
        format!(
            "starting {}",
            builder
                .wrapper
                .first()
                .map(PathBuf::from)
                .unwrap_or_else(|| builder.binary.clone())
                .display()
        )
    })?;
    // Our copies of Chromium's ends must go now: while we hold the write end of its reply
    // pipe, its exit would never show as end of input.
    drop((child_reads, child_writes));
    let pid = child
        .id()
        .context("Chromium exited before its pid could be read")?;
    Ok(Spawned {
        child,
        pid,
        to_chromium: pipe::Sender::from_owned_fd(commands_out.into())
            .context("DevTools pipe (to Chromium)")?,
        from_chromium: pipe::Receiver::from_owned_fd(replies_in.into())
            .context("DevTools pipe (from Chromium)")?,
    })
}

/// `fd`, moved to a number above 4 if needed (close-on-exec either way). A pipe end that
/// happened to be fd 3 or 4 would be clobbered by, or survive only by accident of, the dup2
/// onto 3 and 4: it happens whenever the test process has few files open.
fn above_child_fds(fd: OwnedFd) -> anyhow::Result<OwnedFd> {
    if fd.as_raw_fd() > 4 {
        return Ok(fd);
    }
    // SAFETY: fcntl with F_DUPFD_CLOEXEC only reads `fd`, which `fd` keeps open.
    let moved = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 5) };
    if moved < 0 {
        return Err(io::Error::last_os_error()).context("moving a DevTools pipe fd");
    }
    // SAFETY: `moved` is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(moved) })
}

/// SIGKILL to the process group `pgid`.
pub(super) fn kill_group(pgid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    // SAFETY: killpg has no memory-safety preconditions; an already empty group is ESRCH.
    unsafe {
        libc::killpg(pgid, libc::SIGKILL);
    }
}

/// The last `lines` lines of Chromium's log, without its constant D-Bus complaints (there is
/// no system bus here), for error messages.
pub(super) fn log_tail(log: &Path, lines: usize) -> String {
    let Ok(text) = std::fs::read_to_string(log) else {
        return format!("(could not read {})", log.display());
    };
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| !line.contains("dbus/"))
        .collect();
    kept[kept.len().saturating_sub(lines)..].join("\n")
}
