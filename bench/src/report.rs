//! The results: medians over rounds, the markdown table and verdicts, and BENCHMARKS.md.

use std::fmt::Write as _;

use mcp_oauth_bench_support::{
    IfMissing, cpu_model, kernel_release, median, thousands, utc_now, write_section,
};

use crate::load::{MIN_SERVER_CPU, Measurement};
use crate::{Args, RETRIES};

/// Most of its throughput that authentication may cost.
pub const MAX_COST_PERCENT: f64 = 5.0;
/// Idle RSS the MCP server must stay under, in bytes (15 MB).
const MAX_IDLE_RSS_BYTES: u64 = 15_000_000;

/// What was measured for one server.
pub struct Side {
    /// One measurement per round.
    pub rounds: Vec<Measurement>,
    /// RSS before any load, in KiB.
    pub idle_kib: u64,
    /// RSS after all rounds, in KiB.
    pub after_kib: u64,
}

impl Side {
    /// Collects one server's results.
    pub fn new(rounds: Vec<Measurement>, idle_kib: u64, after_kib: u64) -> Self {
        Self {
            rounds,
            idle_kib,
            after_kib,
        }
    }

    /// How many runs loaded the server fully.
    fn full_runs(&self) -> usize {
        self.rounds.iter().filter(|m| m.loaded_fully()).count()
    }

    /// The runs that loaded the server fully, or all runs if none did.
    fn counted(&self) -> Vec<&Measurement> {
        let full: Vec<_> = self.rounds.iter().filter(|m| m.loaded_fully()).collect();
        if full.is_empty() {
            self.rounds.iter().collect()
        } else {
            full
        }
    }

    fn median(&self, metric: fn(&Measurement) -> f64) -> f64 {
        median(self.counted().into_iter().map(metric).collect())
    }

    /// The median share of requests that missed the verified-token cache; none without
    /// validation.
    fn median_misses(&self) -> Option<f64> {
        let shares: Vec<f64> = self
            .counted()
            .iter()
            .filter_map(|m| m.cache_misses)
            .collect();
        (!shares.is_empty()).then(|| median(shares))
    }
}

/// `, N% cache misses` for a progress line, when the run counted them.
pub fn misses_note(measured: &Measurement) -> String {
    measured
        .cache_misses
        .map(|share| format!(", {:.1}% cache misses", share * 100.0))
        .unwrap_or_default()
}

/// The whole run.
pub struct Report {
    /// The server with token validation on.
    pub on: Side,
    /// The server started with `--dangerously-disable-auth`.
    pub off: Side,
    /// Rounds that loaded both at once: `[on, off]`.
    pub side_by_side: Vec<[Measurement; 2]>,
    /// /proc/loadavg before the servers started (how busy the machine was).
    pub load_before: String,
}

impl Report {
    /// The results section: setup, table, verdicts and the rounds.
    pub fn markdown(&self, args: &Args) -> String {
        let (on, off) = (&self.on, &self.off);
        let rps = |side: &Side| side.median(|m| m.requests_per_sec);
        let costs = self.side_by_side_costs();
        let cost = median(costs.clone());
        let interval = median_interval(costs.clone());
        let cpu = |side: &Side| side.median(|m| m.cpu_us_per_request);
        let cpu_cost = (1.0 - cpu(off) / cpu(on)) * 100.0;
        // A verdict needs at least half of each server's runs to have had the core to itself.
        let reliable = [on, off]
            .iter()
            .all(|side| 2 * side.full_runs() >= side.rounds.len());
        let idle_bytes = on.idle_kib * 1024;
        let mut out = String::new();
        let _ = writeln!(out, "Run on {} with", utc_now());
        let _ = writeln!(
            out,
            "`bench/run --write --tool {}{}{}{} --duration {} --rounds {} --side-by-side-rounds {} --connections {}` \
             ({} s warm-up before each run).\n",
            args.tool,
            scopes_flag(&args.scopes),
            revocation_flag(args),
            tokens_flag(args),
            args.duration,
            args.rounds,
            args.side_by_side_rounds,
            args.connections,
            args.warmup
        );
        let _ = writeln!(
            out,
            "Machine: {} CPUs, {}, Linux {}; load average before the run: {}.\n",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model(),
            kernel_release(),
            self.load_before
        );
        let _ = writeln!(
            out,
            "| `{}`, token scopes `{}`{}, median | validation on | validation off |",
            args.tool,
            args.scopes,
            match args.revocation_check_secs {
                Some(secs) => format!(", revocation checked every {secs} s"),
                None => String::new(),
            }
        );
        let _ = writeln!(out, "|---|---:|---:|");
        let row = |out: &mut String, name: &str, value: &dyn Fn(&Side) -> String| {
            let _ = writeln!(out, "| {name} | {} | {} |", value(on), value(off));
        };
        row(&mut out, "`tools/call` req/s", &|side| thousands(rps(side)));
        row(&mut out, "p50 latency", &|side| {
            format!("{:.2} ms", side.median(|m| m.p50_ms))
        });
        row(&mut out, "p99 latency", &|side| {
            format!("{:.2} ms", side.median(|m| m.p99_ms))
        });
        row(&mut out, "server CPU during load", &|side| {
            format!("{:.0}%", side.median(|m| m.server_cpu) * 100.0)
        });
        row(&mut out, "server CPU per request", &|side| {
            format!("{:.1} µs", cpu(side))
        });
        row(
            &mut out,
            "verified-token cache misses",
            &|side| match side.median_misses() {
                Some(share) => format!("{:.1}%", share * 100.0),
                None => "–".to_owned(),
            },
        );
        row(&mut out, "runs with the core to itself", &|side| {
            format!("{} of {}", side.full_runs(), side.rounds.len())
        });
        row(&mut out, "idle RSS", &|side| mib(side.idle_kib));
        row(&mut out, "RSS after load", &|side| mib(side.after_kib));
        let _ = writeln!(out);
        let judged = match interval {
            Some(interval) if interval.high <= MAX_COST_PERCENT => "met",
            Some(interval) if interval.low > MAX_COST_PERCENT => "missed",
            Some(_) => "not settled: the interval spans the target",
            None => "not judged: too few rounds for an interval",
        };
        let interval_text = interval.map_or_else(String::new, |interval| {
            format!(
                "; {:.0}% interval of the median {:.1}% to {:.1}%",
                interval.confidence * 100.0,
                interval.low,
                interval.high
            )
        });
        let _ = writeln!(
            out,
            "- **Cost of validation: {cost:.1}%** of the requests a core serves (target at most \
             {MAX_COST_PERCENT}%: **{judged}**). Both servers loaded at once, taking turns on \
             one core, in {} rounds of {} s; each round's cost is `1 - requests per CPU-second \
             on / off`, and this is their median{interval_text}.",
            costs.len(),
            args.duration
        );
        let side_by_side_misses: Vec<f64> = (self.side_by_side.iter())
            .filter_map(|[on, _]| on.cache_misses)
            .collect();
        if !side_by_side_misses.is_empty() {
            let _ = writeln!(
                out,
                "- Requests whose token was not in the verified-token cache (a full validation \
                 each), median of those rounds: **{:.1}%**.",
                median(side_by_side_misses) * 100.0
            );
        }
        let _ = writeln!(
            out,
            "- One server at a time (the table; slow spells of the machine between runs move \
             these): `1 - req/s on / off` of the medians {:.1}%, of server CPU per request {:.1}%{}.",
            (1.0 - rps(on) / rps(off)) * 100.0,
            cpu_cost,
            if reliable { "" } else { " (see the warning)" }
        );
        let _ = writeln!(
            out,
            "- Idle RSS with validation on: **{}** (target under 15 MB: **{}**).",
            mib(on.idle_kib),
            verdict(idle_bytes < MAX_IDLE_RSS_BYTES)
        );
        let run = |m: &Measurement| {
            let mark = if m.loaded_fully() { "" } else { "*" };
            format!("{}{mark}", thousands(m.requests_per_sec))
        };
        let rounds: Vec<String> = (on.rounds.iter().zip(&off.rounds))
            .map(|(on, off)| format!("{} / {}", run(on), run(off)))
            .collect();
        let _ = writeln!(out, "- Each round, req/s on / off: {}.", rounds.join("; "));
        let all = || on.rounds.iter().chain(&off.rounds);
        if all().any(|m| !m.loaded_fully()) {
            let _ = writeln!(
                out,
                "- \\* The server got less than {:.0}% of its core even after {RETRIES} repeats \
                 (another process, or wrk, was the bottleneck): left out of the medians \
                 when the same server has other runs.",
                MIN_SERVER_CPU * 100.0
            );
        }
        if !reliable {
            let _ = writeln!(
                out,
                "- **Warning**: fewer than half of one server's runs had its core to itself: these \
                 numbers are not reliable."
            );
        }
        out
    }
}

impl Report {
    /// Per side-by-side round: `1 - requests per CPU-second on / off`, in percent (which is
    /// `1 - CPU per request off / on`). The servers ran at the same moments on the same core,
    /// so a slow spell of the machine hits both and cancels out of the ratio.
    fn side_by_side_costs(&self) -> Vec<f64> {
        self.side_by_side
            .iter()
            .map(|[on, off]| (1.0 - off.cpu_us_per_request / on.cpu_us_per_request) * 100.0)
            .collect()
    }
}

/// Fewest rounds for which an interval of the median is given.
pub const MIN_PAIRED_ROUNDS: usize = 6;

/// A distribution-free confidence interval of a median.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Interval {
    low: f64,
    high: f64,
    /// The probability that the interval holds the true median.
    confidence: f64,
}

/// The narrowest interval between order statistics `x(k)` and `x(n+1-k)` that holds the true
/// median with at least 95% probability (the sign test's interval; it assumes nothing about
/// the distribution, only that rounds are independent). `None` for fewer than
/// [`MIN_PAIRED_ROUNDS`] values.
fn median_interval(mut values: Vec<f64>) -> Option<Interval> {
    let n = values.len();
    if n < MIN_PAIRED_ROUNDS {
        return None;
    }
    values.sort_by(f64::total_cmp);
    // P(X <= m) for X ~ Binomial(n, 1/2).
    let at_most = |m: usize| {
        let mut term = 0.5f64.powi(n as i32);
        let mut sum = term;
        for i in 0..m {
            term *= (n - i) as f64 / (i + 1) as f64;
            sum += term;
        }
        sum
    };
    // The interval leaves out k - 1 values on each side; it holds the median unless at most
    // k - 1 values lie below it or at most k - 1 above, so its confidence is
    // 1 - 2 P(X <= k - 1). Six values are the fewest for which k = 1 reaches 95%.
    let mut k = 1;
    while k < n / 2 && 2.0 * at_most(k) <= 0.05 {
        k += 1;
    }
    Some(Interval {
        low: values[k - 1],
        high: values[n - k],
        confidence: 1.0 - 2.0 * at_most(k - 1),
    })
}

/// The scopes of the benchmark's access tokens unless `--scopes` says otherwise: every scope
/// a demo tool needs.
pub const DEFAULT_SCOPES: &str = "mcp:read mcp:write";

/// The BENCHMARKS.md section of a run of `tool` with tokens holding `scopes`: the tool's name,
/// followed by `@` and the scopes when they are not the default ones.
pub fn section(tool: &str, scopes: &str) -> String {
    match scopes == DEFAULT_SCOPES {
        true => tool.to_owned(),
        false => format!("{tool}@{scopes}"),
    }
}

/// What a run with `--revocation-check-secs` adds to its section's name: `+revocation-check`;
/// nothing without it.
pub fn revocation_suffix(args: &Args) -> String {
    match args.revocation_check_secs {
        Some(_) => "+revocation-check".to_owned(),
        None => String::new(),
    }
}

/// What a run with several tokens adds to its section's name: `+tokens-N` (and `-hot-H`);
/// nothing with one token.
pub fn tokens_suffix(args: &Args) -> String {
    match (args.tokens, args.hot_tokens) {
        (1, _) => String::new(),
        (tokens, None) => format!("+tokens-{tokens}"),
        (tokens, Some(hot)) => format!("+tokens-{tokens}-hot-{hot}"),
    }
}

/// ` --tokens N [--hot-tokens H]` for the command line a section shows, when given.
fn tokens_flag(args: &Args) -> String {
    match (args.tokens, args.hot_tokens) {
        (1, _) => String::new(),
        (tokens, None) => format!(" --tokens {tokens}"),
        (tokens, Some(hot)) => format!(" --tokens {tokens} --hot-tokens {hot}"),
    }
}

/// ` --revocation-check-secs N` for the command line a section shows, when it was given.
fn revocation_flag(args: &Args) -> String {
    args.revocation_check_secs
        .map(|secs| format!(" --revocation-check-secs {secs}"))
        .unwrap_or_default()
}

/// ` --scopes '...'` for the command line a section shows; nothing for the default scopes.
pub fn scopes_flag(scopes: &str) -> String {
    match scopes == DEFAULT_SCOPES {
        true => String::new(),
        false => format!(" --scopes '{scopes}'"),
    }
}

/// Replaces the results section `section` of BENCHMARKS.md (a tool's name, or
/// `instructions:TOOL`) with `markdown`; the section must already have its markers.
pub fn write_benchmarks_md(section: &str, markdown: &str) -> Result<(), String> {
    write_section(section, markdown, IfMissing::Refuse)
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_command_lines_name_scopes_only_when_they_differ() {
        assert_eq!(section("whoami", DEFAULT_SCOPES), "whoami");
        assert_eq!(scopes_flag(DEFAULT_SCOPES), "");
        assert_eq!(
            section("list_contexts", "mcp:read"),
            "list_contexts@mcp:read"
        );
        assert_eq!(scopes_flag("mcp:read"), " --scopes 'mcp:read'");
    }

    #[test]
    fn median_intervals_follow_the_sign_test() {
        assert_eq!(median_interval(vec![1.0; 5]), None);
        // n = 6: only (x1, x6) reaches 95% (1 - 2/64 = 96.9%).
        let six = median_interval((1..=6).map(f64::from).collect()).unwrap();
        assert_eq!((six.low, six.high), (1.0, 6.0));
        assert!((six.confidence - 0.96875).abs() < 1e-9);
        // n = 20: (x6, x15), confidence 95.86%.
        let twenty = median_interval((1..=20).rev().map(f64::from).collect()).unwrap();
        assert_eq!((twenty.low, twenty.high), (6.0, 15.0));
        assert!((twenty.confidence - 0.958611).abs() < 1e-6, "{twenty:?}");
    }
}
