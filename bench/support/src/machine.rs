//! The machine a run had: its CPUs, kernel, how busy it was, and when.

/// The first three fields of /proc/loadavg (the load averages over 1, 5 and 15 minutes).
pub fn load_average() -> String {
    read_trimmed("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The number of CPUs /proc/cpuinfo lists: all of the machine's, whatever CPU this process is
/// pinned to.
pub fn cpu_count() -> usize {
    read_trimmed("/proc/cpuinfo")
        .lines()
        .filter(|line| line.starts_with("processor"))
        .count()
}

/// The CPU model from /proc/cpuinfo (`unknown CPU` when it names none).
pub fn cpu_model() -> String {
    read_trimmed("/proc/cpuinfo")
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

/// The Linux kernel's release (/proc/sys/kernel/osrelease), such as `6.8.0-45-generic`.
pub fn kernel_release() -> String {
    read_trimmed("/proc/sys/kernel/osrelease")
}

/// The date and time now, `YYYY-MM-DD HH:MM UTC` (`an unknown date` when `date` fails).
pub fn utc_now() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map_or_else(
            || "an unknown date".to_owned(),
            |date| date.trim().to_owned(),
        )
}

/// A file's contents without surrounding whitespace; empty when unreadable.
fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|text| text.trim().to_owned())
        .unwrap_or_default()
}
