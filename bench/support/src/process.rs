//! Readings of a process from /proc: its resident memory and the CPU time it has used.

/// Resident set size of process `pid` in KiB (`VmRSS` of /proc/PID/status).
pub fn rss_kib(pid: u32) -> Result<u64, String> {
    status_kib(pid, "VmRSS")
}

/// A size in KiB from /proc/PID/status, such as `VmRSS` or its parts `RssFile` (pages of
/// mapped files: the executable's code and data, shared libraries) and `RssAnon` (the
/// process's own memory).
pub fn status_kib(pid: u32, field: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|error| format!("cannot read /proc/{pid}/status: {error}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/{pid}/status"))
}

/// User plus system CPU time of process `pid` so far, in clock ticks (/proc/PID/stat fields
/// 14 and 15); see [`clock_ticks_per_second`].
pub fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|error| format!("cannot read /proc/{pid}/stat: {error}"))?;
    ticks_of_stat(&stat).ok_or_else(|| format!("malformed /proc/{pid}/stat"))
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
pub fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Fields 14 (user time) plus 15 (system time) of a /proc/PID/stat line.
fn ticks_of_stat(stat: &str) -> Option<u64> {
    // Fields after the parenthesised command name, which may itself hold `)` and spaces,
    // start at field 3.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|value| value.parse::<u64>().ok())
    };
    Some(field(14)? + field(15)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_add_user_and_system_time_after_the_command_name() {
        let stat = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194304 100 0 0 0 \
                    1234 56 0 0 20 0 1 0 100 1000000 250 18446744073709551615";
        assert_eq!(ticks_of_stat(stat), Some(1290));
        assert_eq!(ticks_of_stat("4242 (short) S 1 2 3"), None);
        assert_eq!(ticks_of_stat("no command name"), None);
    }

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(rss_kib(pid).unwrap() > 0);
        assert!(
            status_kib(pid, "RssFile").unwrap() > 0,
            "the test binary's own pages"
        );
        assert!(status_kib(pid, "RssAnon").unwrap() > 0);
        assert!(
            status_kib(pid, "Rss").is_err(),
            "a field's prefix is not the field"
        );
        assert!(cpu_ticks(pid).is_ok());
        assert!(clock_ticks_per_second() > 0.0);
    }

    #[test]
    fn names_the_process_it_cannot_read() {
        // Above the kernel's largest process id (2^22).
        let missing = 1 << 23;
        assert!(
            rss_kib(missing)
                .unwrap_err()
                .contains("/proc/8388608/status")
        );
        assert!(
            cpu_ticks(missing)
                .unwrap_err()
                .contains("/proc/8388608/stat")
        );
    }
}
