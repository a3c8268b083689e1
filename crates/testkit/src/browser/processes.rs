//! Chromium's processes and the CPU time each has used, read from `/proc`: what a page costs
//! the machine, split the way Chromium splits its work (the browser process, renderers, the
//! GPU process, utilities).
//!
//! Why `/proc` and not CDP (`SystemInfo.getProcessInfo`): it also counts a browser that is
//! too busy to answer, and its figures are the kernel's, the same as `top` shows.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::Browser;

/// One process of the browser and the CPU (user + system) it has used since it started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessCpu {
    pub pid: u32,
    /// Chromium's `--type=` (`renderer`, `gpu-process`, `utility`, `zygote`, …), or `browser`
    /// for the process without one.
    pub kind: String,
    pub cpu: Duration,
}

/// The CPU used so far by each of the browser's processes, at one moment.
#[derive(Clone, Debug)]
pub struct CpuSample {
    pub taken: Instant,
    pub processes: Vec<ProcessCpu>,
}

impl CpuSample {
    /// The CPU each kind of process used between `earlier` and this sample, as a percentage
    /// of one core (200 is both cores of a two-core machine, busy the whole time). A process
    /// started in between counts from zero; one that ended in between is not counted.
    pub fn percent_since(&self, earlier: &CpuSample) -> BTreeMap<String, f64> {
        let wall = self.taken.saturating_duration_since(earlier.taken);
        let before: HashMap<u32, Duration> =
            earlier.processes.iter().map(|p| (p.pid, p.cpu)).collect();
        let mut used: BTreeMap<String, Duration> = BTreeMap::new();
        for process in &self.processes {
            let start = before.get(&process.pid).copied().unwrap_or_default();
            *used.entry(process.kind.clone()).or_default() += process.cpu.saturating_sub(start);
        }
        used.into_iter()
            .map(|(kind, cpu)| {
                let percent = if wall.is_zero() {
                    0.0
                } else {
                    100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
                };
                (kind, percent)
            })
            .collect()
    }
}

impl Browser {
    /// The browser process and all its descendants (zygotes, renderers, the GPU process,
    /// utilities) with the CPU time each has used, from `/proc/<pid>/stat` and `cmdline`.
    pub fn cpu_sample(&self) -> anyhow::Result<CpuSample> {
        let taken = Instant::now();
        let processes = descendants(Path::new("/proc"), self.pid())?
            .into_iter()
            .filter_map(|(pid, stat)| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                Some(ProcessCpu {
                    pid,
                    kind: process_kind(&cmdline),
                    cpu: ticks_to_duration(stat.cpu_ticks, clock_ticks_per_second()?),
                })
            })
            .collect();
        Ok(CpuSample { taken, processes })
    }
}

/// What `/proc/<pid>/stat` says that we use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stat {
    ppid: u32,
    /// utime + stime, in clock ticks.
    cpu_ticks: u64,
}

/// Parses a `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and may
/// itself hold spaces and parentheses, so fields are counted from the last `)`.
fn parse_stat(line: &str) -> Option<Stat> {
    let after_name = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state (3), ppid (4), … utime (14), stime (15), numbered as in proc(5).
    let field = |number: usize| fields.get(number - 3).copied();
    Some(Stat {
        ppid: field(4)?.parse().ok()?,
        cpu_ticks: field(14)?.parse::<u64>().ok()? + field(15)?.parse::<u64>().ok()?,
    })
}

/// `root` and every process descending from it, with their stat, from the `/proc` at `proc`.
fn descendants(proc: &Path, root: u32) -> anyhow::Result<Vec<(u32, Stat)>> {
    let mut stats = HashMap::new();
    for entry in std::fs::read_dir(proc).with_context(|| format!("reading {}", proc.display()))? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may exit between the listing and the read.
        let Ok(line) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some(stat) = parse_stat(&line) {
            stats.insert(pid, stat);
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        if let Some(stat) = stats.get(&parent) {
            found.push((parent, *stat));
        }
        frontier.extend(
            stats
                .iter()
                .filter(|(pid, stat)| stat.ppid == parent && **pid != parent)
                .map(|(pid, _)| *pid),
        );
    }
    found.sort_by_key(|(pid, _)| *pid);
    Ok(found)
}

/// Chromium's `--type=` from a `/proc/<pid>/cmdline`, or `browser` without one. Chromium's
/// child processes rewrite their command line as one space-separated string (a process
/// title), so arguments are split at spaces as well as at NULs.
fn process_kind(cmdline: &[u8]) -> String {
    String::from_utf8_lossy(cmdline)
        .split(['\0', ' '])
        .find_map(|arg| arg.strip_prefix("--type="))
        .unwrap_or("browser")
        .to_owned()
}

fn clock_ticks_per_second() -> Option<u64> {
    // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0)
}

fn ticks_to_duration(ticks: u64, per_second: u64) -> Duration {
    Duration::from_secs(ticks / per_second)
        + Duration::from_nanos((ticks % per_second) * 1_000_000_000 / per_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stat_lines_whose_command_names_hold_parentheses() {
        let line = "4242 (Chrome (Child) x) S 4200 4200 4200 0 -1 4194560 100 0 0 0 \
                    250 75 0 0 20 0 12 0 5000 100000 200 18446744073709551615";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                ppid: 4200,
                cpu_ticks: 325
            })
        );
        assert_eq!(parse_stat("4242 (x) S"), None);
        assert_eq!(parse_stat("no name"), None);
    }

    #[test]
    fn names_processes_by_their_type_flag() {
        assert_eq!(
            process_kind(b"/usr/lib/chromium/chromium\0--type=renderer\0--lang=en"),
            "renderer"
        );
        assert_eq!(
            process_kind(b"/usr/lib/chromium/chromium --type=gpu-process --no-sandbox\0\0"),
            "gpu-process"
        );
        assert_eq!(
            process_kind(b"/usr/lib/chromium/chromium\0--headless=new"),
            "browser"
        );
    }

    #[test]
    fn this_process_is_its_own_descendant_and_counts_cpu() {
        let me = std::process::id();
        let found = descendants(Path::new("/proc"), me).expect("/proc");
        assert_eq!(found.first().map(|(pid, _)| *pid), Some(me), "{found:?}");
        assert_eq!(ticks_to_duration(250, 100), Duration::from_millis(2500));
    }

    #[test]
    fn percentages_are_of_one_core_over_the_wall_time_between_samples() {
        let start = Instant::now();
        let process = |pid, kind: &str, ms| ProcessCpu {
            pid,
            kind: kind.to_owned(),
            cpu: Duration::from_millis(ms),
        };
        let earlier = CpuSample {
            taken: start,
            processes: vec![process(1, "renderer", 1000), process(2, "gpu-process", 0)],
        };
        let later = CpuSample {
            taken: start + Duration::from_secs(10),
            processes: vec![
                process(1, "renderer", 6000),
                process(2, "gpu-process", 2000),
                process(3, "renderer", 1000),
            ],
        };
        let percent = later.percent_since(&earlier);
        assert_eq!(percent["renderer"], 60.0);
        assert_eq!(percent["gpu-process"], 20.0);
    }
}
