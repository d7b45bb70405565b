//! The results: medians over rounds, the markdown section and BENCHMARKS.md.

use std::fmt::Write as _;

use mcp_oauth_bench_support::{
    IfMissing, cpu_count, cpu_model, kernel_release, median, thousands, utc_now, write_section,
};

use crate::load::Run;
use crate::{Args, median_of};

/// This benchmark's section of BENCHMARKS.md.
const SECTION: &str = "proxy";

/// The section's fixed part: what is measured, how to run it, and how.
const METHOD: &str = include_str!("method.md");

/// The targets on a 2-core machine.
const TARGET_CPU_US: f64 = 50.0;
const TARGET_ADDED_LATENCY_US: f64 = 150.0;
const TARGET_RSS_MIB: f64 = 30.0;

/// A side's one-connection runs, with wrk on either CPU. On the proxy's CPU, both paths cross
/// between the CPUs twice (client to upstream and back), so their difference is the proxy's own
/// work; on the upstream's, the direct path never crosses and the proxied one crosses four
/// times, each crossing a wake-up of the other CPU.
pub struct Latency {
    /// wrk on CPU 0, the proxy's.
    pub beside_proxy: Run,
    /// wrk on CPU 1, the upstream's.
    pub beside_upstream: Run,
}

/// The forwarding rounds: each side's throughput run and one-connection latency runs.
#[derive(Default)]
pub struct Forwarding {
    direct: Vec<(Run, Latency)>,
    proxied: Vec<(Run, Latency)>,
}

impl Forwarding {
    /// Keeps one side's runs of a round.
    pub fn record(&mut self, proxied: bool, loaded: Run, latency: Latency) {
        let side = if proxied {
            &mut self.proxied
        } else {
            &mut self.direct
        };
        side.push((loaded, latency));
    }

    /// The median latency the proxy added, in µs, with wrk where `placed` puts it: the
    /// median of the rounds' differences.
    fn added_latency_us(&self, placed: fn(&Latency) -> &Run) -> f64 {
        median(
            self.proxied
                .iter()
                .zip(&self.direct)
                .map(|((_, proxied), (_, direct))| {
                    (placed(proxied).wrk.p50_ms - placed(direct).wrk.p50_ms) * 1000.0
                })
                .collect(),
        )
    }
}

/// The proxy's memory before and after opening the sessions.
pub struct SessionMemory {
    /// RSS after start, in KiB.
    pub idle_kib: u64,
    /// RSS with every session open, in KiB.
    pub loaded_kib: u64,
}

/// The comparison rounds: `mcp-oauth proxy` and FastMCP's proxy under the same load.
#[derive(Default)]
pub struct Comparison {
    ours: Vec<Run>,
    theirs: Vec<Run>,
}

impl Comparison {
    /// Keeps one side's run of a round.
    pub fn record(&mut self, ours: bool, run: Run) {
        if ours {
            self.ours.push(run);
        } else {
            self.theirs.push(run);
        }
    }
}

/// Everything one run measured.
pub struct Report {
    /// Direct and through the proxy.
    pub forwarding: Forwarding,
    /// Sessions held through the proxy in front of server-everything.
    pub http_memory: SessionMemory,
    /// Sessions held through the proxy in front of a stdio server (one child each).
    pub stdio_memory: SessionMemory,
    /// `mcp-oauth proxy --upstream-command` against FastMCP's proxy.
    pub comparison: Comparison,
    /// /proc/loadavg before the run.
    pub load_before: String,
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl Report {
    /// The whole section: the method, then this run's setup and tables.
    pub fn markdown(&self, args: &Args) -> String {
        let mut out = String::from(METHOD);
        let _ = writeln!(out, "\n### Results\n\nRun on {} with", utc_now());
        let _ = writeln!(
            out,
            "`bench/proxy-run --write --rounds {} --duration {} --warmup {} --connections {} --sessions {}`.\n",
            args.rounds, args.duration, args.warmup, args.connections, args.sessions
        );
        let _ = writeln!(
            out,
            "Machine: {} CPUs, {}, Linux {}; load average before the run: {}.\n",
            cpu_count(),
            cpu_model(),
            kernel_release(),
            self.load_before
        );
        self.forwarding_table(&mut out, args);
        self.memory_table(&mut out, args);
        self.comparison_table(&mut out, args);
        out
    }

    fn forwarding_table(&self, out: &mut String, args: &Args) {
        let forwarding = &self.forwarding;
        let loaded = |side: &[(Run, Latency)], field: fn(&Run) -> f64| {
            median_of(side, |(run, _)| field(run))
        };
        let latency = |side: &[(Run, Latency)], placed: fn(&Latency) -> &Run| {
            median_of(side, |(_, latency)| placed(latency).wrk.p50_ms * 1000.0)
        };
        let beside_proxy: fn(&Latency) -> &Run = |latency| &latency.beside_proxy;
        let beside_upstream: fn(&Latency) -> &Run = |latency| &latency.beside_upstream;
        let cpu = loaded(&forwarding.proxied, |run| run.cpu_us_per_request);
        let added = forwarding.added_latency_us(beside_proxy);
        let added_crossing = forwarding.added_latency_us(beside_upstream);
        let _ = writeln!(
            out,
            "#### Forwarding: authenticated `tools/call` (`list_contexts`), median of {} rounds\n",
            args.rounds
        );
        let _ = writeln!(
            out,
            "| | direct to the upstream | through `mcp-oauth proxy` |"
        );
        let _ = writeln!(out, "|---|---:|---:|");
        let _ = writeln!(
            out,
            "| requests per second ({} connections) | {} | {} |",
            args.connections,
            thousands(loaded(&forwarding.direct, |run| run.wrk.requests_per_sec)),
            thousands(loaded(&forwarding.proxied, |run| run.wrk.requests_per_sec)),
        );
        let _ = writeln!(
            out,
            "| median latency, one connection, client on the proxy's CPU | {:.0} µs | {:.0} µs |",
            latency(&forwarding.direct, beside_proxy),
            latency(&forwarding.proxied, beside_proxy),
        );
        let _ = writeln!(
            out,
            "| median latency, one connection, client on the upstream's CPU | {:.0} µs | {:.0} µs |",
            latency(&forwarding.direct, beside_upstream),
            latency(&forwarding.proxied, beside_upstream),
        );
        let _ = writeln!(
            out,
            "| CPU time per request of the measured process | {:.1} µs (upstream) | {:.1} µs (proxy) |\n",
            loaded(&forwarding.direct, |run| run.cpu_us_per_request),
            cpu,
        );
        let _ = writeln!(
            out,
            "- The proxy's own CPU time per forwarded request: **{cpu:.1} µs** (target ≤ {TARGET_CPU_US:.0} µs: {}).",
            verdict(cpu <= TARGET_CPU_US)
        );
        let _ = writeln!(
            out,
            "- Median latency added (median of the rounds' differences, one connection, the client on the proxy's CPU so that both paths cross between CPUs twice): **{added:.0} µs** (target ≤ {TARGET_ADDED_LATENCY_US:.0} µs: {}).",
            verdict(added <= TARGET_ADDED_LATENCY_US)
        );
        let _ = writeln!(
            out,
            "- With the client on the upstream's CPU, where the direct path crosses between CPUs never and the proxied one four times: {added_crossing:.0} µs.\n",
        );
    }

    fn memory_table(&self, out: &mut String, args: &Args) {
        let _ = writeln!(
            out,
            "#### Memory: the proxy's RSS with {} open MCP sessions (children not counted)\n",
            thousands(args.sessions as f64)
        );
        let _ = writeln!(
            out,
            "| upstream | after start | with the sessions | per session | target < {TARGET_RSS_MIB:.0} MB |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---|");
        for (name, memory) in [
            ("server-everything (Streamable HTTP)", &self.http_memory),
            (
                "`sh` stdio server (one child per session)",
                &self.stdio_memory,
            ),
        ] {
            let per_session =
                (memory.loaded_kib.saturating_sub(memory.idle_kib)) as f64 / args.sessions as f64;
            let _ = writeln!(
                out,
                "| {name} | {:.1} MiB | {:.1} MiB | {per_session:.1} KiB | {} |",
                mib(memory.idle_kib),
                mib(memory.loaded_kib),
                verdict(mib(memory.loaded_kib) < TARGET_RSS_MIB),
            );
        }
        out.push('\n');
    }

    fn comparison_table(&self, out: &mut String, args: &Args) {
        let comparison = &self.comparison;
        let throughput = |side: &[Run]| median_of(side, |run| run.wrk.requests_per_sec);
        let latency = |side: &[Run]| median_of(side, |run| run.wrk.p50_ms);
        // With one child serving every connection, a server that answers unfairly keeps a
        // low median while some requests wait long: the 99th percentile shows it.
        let tail = |side: &[Run]| median_of(side, |run| run.wrk.p99_ms);
        let cpu = |side: &[Run]| median_of(side, |run| run.cpu_us_per_request);
        let _ = writeln!(
            out,
            "#### Against FastMCP's proxy: the same stdio server, token and load ({} connections, one session), median of {} rounds\n",
            args.connections, args.rounds
        );
        let _ = writeln!(
            out,
            "| | `mcp-oauth proxy --upstream-command` | FastMCP `create_proxy` + `JWTVerifier` | ratio |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|");
        let (ours, theirs) = (throughput(&comparison.ours), throughput(&comparison.theirs));
        let _ = writeln!(
            out,
            "| requests per second | {} | {} | {:.1}× |",
            thousands(ours),
            thousands(theirs),
            ours / theirs
        );
        let (ours, theirs) = (latency(&comparison.ours), latency(&comparison.theirs));
        let _ = writeln!(
            out,
            "| median latency | {ours:.2} ms | {theirs:.2} ms | {:.1}× |",
            theirs / ours
        );
        let (ours, theirs) = (tail(&comparison.ours), tail(&comparison.theirs));
        let _ = writeln!(
            out,
            "| 99th-percentile latency | {ours:.2} ms | {theirs:.2} ms | {:.1}× |",
            theirs / ours
        );
        let (ours, theirs) = (cpu(&comparison.ours), cpu(&comparison.theirs));
        let _ = writeln!(
            out,
            "| proxy process CPU per request | {ours:.0} µs | {theirs:.0} µs | {:.1}× |",
            theirs / ours
        );
    }
}

/// Replaces this benchmark's section of BENCHMARKS.md with `markdown`.
pub fn write_benchmarks_md(markdown: &str) -> Result<(), String> {
    write_section(SECTION, markdown, IfMissing::Refuse)
}
