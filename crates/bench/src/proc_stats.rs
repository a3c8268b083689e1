//! CPU time and resident memory of a process, from `/proc` (Linux).
//!
//! The server runs as its own child process precisely so these figures are its own and not
//! the benchmark's (publishers and sinks run in the bench process).

use std::time::Duration;

/// `/proc/PID/stat` counts CPU time in USER_HZ ticks, which the Linux ABI fixes at 100 per
/// second for user space on every architecture we run on.
const USER_HZ: f64 = 100.0;

/// Total CPU time (user + system) of process `pid` so far.
pub fn cpu_time(pid: u32) -> std::io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu_time(&stat).ok_or_else(|| std::io::Error::other("unreadable /proc/PID/stat"))
}

/// Resident set size of process `pid`, in bytes.
pub fn rss_bytes(pid: u32) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_rss(&status).ok_or_else(|| std::io::Error::other("no VmRSS in /proc/PID/status"))
}

/// utime + stime of a `/proc/PID/stat` line. The command name (field 2) may contain spaces
/// and parentheses, so fields are counted from the last `)`.
pub fn parse_cpu_time(stat: &str) -> Option<Duration> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // After the name: state(3) ppid(4) … utime is field 14, stime 15 (1-based, man proc).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) as f64 / USER_HZ))
}

/// `VmRSS:   12345 kB` of `/proc/PID/status`, in bytes.
pub fn parse_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime_even_with_a_strange_command_name() {
        let stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 9 0 \
                    123 456 789";
        assert_eq!(parse_cpu_time(stat), Some(Duration::from_millis(3250)));
        assert_eq!(parse_cpu_time("garbage"), None);
        assert_eq!(parse_cpu_time("1 (x) S 1 2"), None);
    }

    #[test]
    fn reads_vm_rss_in_bytes() {
        let status = "Name:\tstreamhard\nVmPeak:\t  9000 kB\nVmRSS:\t   20480 kB\nThreads:\t3\n";
        assert_eq!(parse_rss(status), Some(20 * 1024 * 1024));
        assert_eq!(parse_rss("Name:\tx\n"), None);
    }

    #[test]
    fn measures_this_process() {
        let pid = std::process::id();
        // Burn a little CPU so the figure cannot be a constant.
        let before = cpu_time(pid).unwrap();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(100) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        assert!(cpu_time(pid).unwrap() > before);
        assert!(rss_bytes(pid).unwrap() > 1024 * 1024);
    }
}
