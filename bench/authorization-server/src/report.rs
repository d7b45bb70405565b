//! The results: medians over rounds, the markdown section and BENCHMARKS.md.

use std::fmt::Write as _;

use mcp_oauth_bench_support::{
    IfMissing, cpu_count, cpu_model, kernel_release, median, thousands, utc_now, write_section,
};

use crate::Args;
use crate::load::Measurement;
use crate::server::AuthServer;

/// This benchmark's section of BENCHMARKS.md, and the one of its runs on PostgreSQL.
const SECTION: &str = "auth-server";
const POSTGRES_SECTION: &str = "auth-server-postgres";

/// The heading of the section of runs on PostgreSQL, whose method is the one above it.
const POSTGRES_HEADING: &str = "## Authorization server on PostgreSQL

The same benchmark with the store on PostgreSQL (`--database-url`): the method is the one of
the section above; the database is a cluster on this machine (its own processes, not pinned to
a CPU, so their time is not in \"server CPU\").
";

/// The version of node-oidc-provider that tests/oidc-provider/package.json installs.
const OIDC_PROVIDER_VERSION: &str = "9.13.3";

/// The section's fixed part: what is measured, how to run it, and how.
const METHOD: &str = include_str!("method.md");

/// What one round measured.
pub struct Round {
    /// `POST /register`.
    pub register: Measurement,
    /// `GET /authorize` with consent remembered: preparing the codes.
    pub authorize: Measurement,
    /// `POST /token` with `grant_type=authorization_code`.
    pub authorization_code: Measurement,
    /// `POST /token` with `grant_type=refresh_token`.
    pub refresh_token: Measurement,
    /// The same on node-oidc-provider (`--oidc-provider`), measured right after.
    pub oidc_provider_refresh: Option<Measurement>,
}

impl Round {
    /// One line of progress.
    pub fn summary(&self) -> String {
        let part = |name: &str, m: &Measurement| {
            format!(
                "{name} {:.0}/s (p99 {:.1} ms, CPU {:.0}% server, {:.0}% driver)",
                m.requests_per_sec,
                m.p99_ms,
                m.server_cpu * 100.0,
                m.load_cpu * 100.0
            )
        };
        let mut parts = vec![
            part("register", &self.register),
            part("authorize", &self.authorize),
            part("authorization_code", &self.authorization_code),
            part("refresh_token", &self.refresh_token),
        ];
        if let Some(provider) = &self.oidc_provider_refresh {
            parts.push(part("node-oidc-provider refresh_token", provider));
        }
        parts.join(", ")
    }

    /// The measurements in the order of the table's columns.
    fn columns(&self) -> [&Measurement; 4] {
        [
            &self.register,
            &self.authorization_code,
            &self.refresh_token,
            &self.authorize,
        ]
    }
}

/// The table's column headings.
const COLUMNS: [&str; 4] = [
    "`POST /register`",
    "`authorization_code`",
    "`refresh_token`",
    "`GET /authorize` (preparing codes)",
];

/// The whole section: the method, then this run's setup, table and rounds.
pub fn markdown(args: &Args, rounds: &[Round], load_before: &str, server: &AuthServer) -> String {
    let mut out = String::from(match server.postgres {
        true => POSTGRES_HEADING,
        false => METHOD,
    });
    let _ = writeln!(out, "\n### Results\n\nRun on {} with", utc_now());
    let _ = writeln!(
        out,
        "`bench/auth-server-run --write --rounds {} --duration {} --warmup {} --codes {} --connections {}{}{}`.\n",
        args.rounds,
        args.duration,
        args.warmup,
        args.codes,
        args.connections,
        match (&args.database_url, &args.data_in) {
            (Some(_), _) => " --database-url $URL".to_owned(),
            (None, Some(dir)) => format!(" --data-in {}", dir.display()),
            (None, None) => String::new(),
        },
        match args.oidc_provider {
            true => " --oidc-provider",
            false => "",
        }
    );
    let _ = writeln!(
        out,
        "Machine: {} CPUs, {}, Linux {}; database on {}; load average before the run: {}.\n",
        cpu_count(),
        cpu_model(),
        kernel_release(),
        match server.postgres {
            true => "PostgreSQL".to_owned(),
            false => filesystem(server),
        },
        load_before
    );
    let _ = writeln!(
        out,
        "| median of {} rounds | {} |",
        rounds.len(),
        COLUMNS.join(" | ")
    );
    let _ = writeln!(out, "|---|{}", "---:|".repeat(COLUMNS.len()));
    for (name, metric, format) in ROWS {
        let cells: Vec<String> = (0..COLUMNS.len())
            .map(|column| {
                format(median(
                    rounds
                        .iter()
                        .map(|round| metric(round.columns()[column]))
                        .collect(),
                ))
            })
            .collect();
        let _ = writeln!(out, "| {name} | {} |", cells.join(" | "));
    }
    let each: Vec<String> = rounds
        .iter()
        .map(|round| {
            let rates: Vec<String> = round.columns()[..3]
                .iter()
                .map(|m| thousands(m.requests_per_sec))
                .collect();
            rates.join(" / ")
        })
        .collect();
    let _ = writeln!(
        out,
        "\n- Each round, req/s of registrations / `authorization_code` / `refresh_token`: {}.",
        each.join("; ")
    );
    let provider: Vec<&Measurement> = rounds
        .iter()
        .filter_map(|round| round.oidc_provider_refresh.as_ref())
        .collect();
    if provider.len() == rounds.len() {
        let of =
            |metric: fn(&Measurement) -> f64| median(provider.iter().map(|m| metric(m)).collect());
        let ours = median(
            rounds
                .iter()
                .map(|round| round.refresh_token.requests_per_sec)
                .collect(),
        );
        let theirs = of(|m| m.requests_per_sec);
        let _ = writeln!(
            out,
            "- node-oidc-provider {OIDC_PROVIDER_VERSION} (in-memory storage, pinned to CPU 0 like \
             the server), `refresh_token` grants under the same load right after the server's in \
             each round (`--oidc-provider`; `oidc-provider/provider.mjs`): {} req/s, p99 {}, \
             slowest {}, its CPU {} (medians of the rounds; each round: {}). The server's \
             refresh rate is **{:.1}×** node-oidc-provider's.",
            thousands(theirs),
            milliseconds(of(|m| m.p99_ms)),
            milliseconds(of(|m| m.max_ms)),
            percent(of(|m| m.server_cpu)),
            provider
                .iter()
                .map(|m| thousands(m.requests_per_sec))
                .collect::<Vec<_>>()
                .join(" / "),
            ours / theirs
        );
    }
    let _ = writeln!(out, "- Errors: none (any unexpected answer fails the run).");
    if !server.postgres {
        let _ = writeln!(
            out,
            "- Database after the run: {:.1} MiB (with its write-ahead log).",
            server.database_bytes() as f64 / (1024.0 * 1024.0)
        );
    }
    let slow = slow_statements(server);
    if slow > 0 {
        let _ = writeln!(
            out,
            "- The server logged {slow} statements that took over a second \
             (sqlx's \"slow statement\" warning)."
        );
    }
    out
}

/// A row of the table: its name, what it reads from a measurement, and how it is shown.
type Row = (&'static str, fn(&Measurement) -> f64, fn(f64) -> String);

/// The rows of the table, each the median over the rounds.
const ROWS: [Row; 7] = [
    ("requests per second", |m| m.requests_per_sec, thousands),
    ("p50 latency", |m| m.p50_ms, milliseconds),
    ("p99 latency", |m| m.p99_ms, milliseconds),
    ("slowest request", |m| m.max_ms, milliseconds),
    ("server CPU (CPU 0)", |m| m.server_cpu, percent),
    ("driver CPU (CPU 1)", |m| m.load_cpu, percent),
    (
        "requests measured per round",
        |m| m.requests as f64,
        thousands,
    ),
];

/// `12.34` as `12.3 ms`, `1434.0` as `1,434 ms`.
fn milliseconds(value: f64) -> String {
    match value < 100.0 {
        true => format!("{value:.1} ms"),
        false => format!("{} ms", thousands(value)),
    }
}

/// `0.74` as `74%`.
fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// Replaces this benchmark's section of BENCHMARKS.md with `markdown`, or appends the
/// section (with its markers) at the end of the file when it has none.
pub fn write_benchmarks_md(markdown: &str, postgres: bool) -> Result<(), String> {
    let section = match postgres {
        true => POSTGRES_SECTION,
        false => SECTION,
    };
    write_section(section, markdown, IfMissing::Append)
}

/// How many of sqlx's "slow statement" warnings (over 1 s) the server logged.
pub fn slow_statements(server: &AuthServer) -> usize {
    server.log_text().matches("slow statement").count()
}

/// The type of the file system holding the database (`df --output=fstype`).
fn filesystem(server: &AuthServer) -> String {
    std::process::Command::new("df")
        .args(["--output=fstype"])
        .arg(&server.data_dir)
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.lines().nth(1).map(|line| line.trim().to_owned()))
        .unwrap_or_else(|| "an unknown file system".to_owned())
}
