//! "Another machine on the LAN" for tests: a network namespace joined to this host by a veth
//! pair, made and removed by the test (needs root and iproute2's `ip netns`). A browser run
//! inside it (`ip netns exec NAME …`, see [`LanHost::exec_prefix`]) reaches this host only at
//! [`LanHost::host_ip`], as a laptop reaches a self-hosted server at its LAN address; nothing
//! in it can reach anything else.
//!
//! [`LanHost::disconnect`] takes the link down (the cable pulled, Wi-Fi gone), and
//! [`LanHost::reconnect`] brings it back: packets are dropped meanwhile, TCP connections
//! survive a short cut, and ICE notices.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, ensure};

/// Namespaces made by this process so far: each gets its own names and subnet.
static CREATED: AtomicU32 = AtomicU32::new(0);

/// A network namespace with one veth link to this host, removed on drop.
pub struct LanHost {
    /// The namespace's name, for `ip netns exec`.
    pub name: String,
    /// This host's end of the veth pair (in the test's namespace).
    pub host_link: String,
    /// This host's address on the link, as the namespace sees it.
    pub host_ip: String,
    /// The namespace's address on the link.
    pub guest_ip: String,
}

impl LanHost {
    /// Makes the namespace and its link, both up. Leftovers of a killed run of the same pid
    /// are removed first.
    pub fn create() -> anyhow::Result<Self> {
        let pid = std::process::id() % 100_000;
        let serial = CREATED.fetch_add(1, Ordering::Relaxed) % 10;
        let subnet = format!("10.{}.{}", 230 + serial, 1 + pid % 250);
        let lan = LanHost {
            name: format!("sh-lan-{pid}-{serial}"),
            host_link: format!("shh{pid}-{serial}"),
            host_ip: format!("{subnet}.1"),
            guest_ip: format!("{subnet}.2"),
        };
        let peer_link = format!("shp{pid}-{serial}");
        let _ = run(&["ip", "netns", "del", &lan.name]);
        let _ = run(&["ip", "link", "del", &lan.host_link]);
        run(&["ip", "netns", "add", &lan.name])?;
        run(&[
            "ip",
            "link",
            "add",
            &lan.host_link,
            "type",
            "veth",
            "peer",
            "name",
            &peer_link,
        ])?;
        run(&["ip", "link", "set", &peer_link, "netns", &lan.name])?;
        let host_cidr = format!("{}/24", lan.host_ip);
        run(&["ip", "addr", "add", &host_cidr, "dev", &lan.host_link])?;
        run(&["ip", "link", "set", &lan.host_link, "up"])?;
        let guest_cidr = format!("{}/24", lan.guest_ip);
        lan.exec(&["ip", "addr", "add", &guest_cidr, "dev", &peer_link])?;
        lan.exec(&["ip", "link", "set", &peer_link, "up"])?;
        lan.exec(&["ip", "link", "set", "lo", "up"])?;
        Ok(lan)
    }

    /// `["ip", "netns", "exec", NAME]`: prefix a command with it to run it in the namespace
    /// (e.g. `BrowserBuilder::wrap_command`).
    pub fn exec_prefix(&self) -> [&str; 4] {
        ["ip", "netns", "exec", self.name.as_str()]
    }

    /// Runs `command` in the namespace and waits for it to succeed.
    pub fn exec(&self, command: &[&str]) -> anyhow::Result<()> {
        let mut full = self.exec_prefix().to_vec();
        full.extend_from_slice(command);
        run(&full)
    }

    /// Takes this host's end of the link down: from now on nothing passes either way.
    pub fn disconnect(&self) -> anyhow::Result<()> {
        run(&["ip", "link", "set", &self.host_link, "down"])
    }

    /// Brings the link back up after [`Self::disconnect`] (the addresses stay configured).
    pub fn reconnect(&self) -> anyhow::Result<()> {
        run(&["ip", "link", "set", &self.host_link, "up"])
    }
}

impl Drop for LanHost {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end of the pair, which takes ours along; the
        // second delete is for a namespace that was never populated.
        let _ = run(&["ip", "netns", "del", &self.name]);
        let _ = run(&["ip", "link", "del", &self.host_link]);
    }
}

fn run(args: &[&str]) -> anyhow::Result<()> {
    let (program, rest) = args.split_first().context("an empty command")?;
    let out = Command::new(program)
        .args(rest)
        .output()
        .with_context(|| format!("running {program} (apt-get install iproute2)"))?;
    ensure!(
        out.status.success(),
        "`{}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}
