//! What the benchmark drivers share (`mcp-oauth-bench`, `mcp-oauth-bench-auth-server` and
//! `mcp-oauth-bench-proxy`): the description of the machine a run had, the numbers as
//! BENCHMARKS.md shows them, writing a driver's section of BENCHMARKS.md, readings of a
//! process from /proc, the server under test as a child process pinned to CPU 0, and wrk's
//! report.
#![warn(missing_docs)]

mod benchmarks_md;
mod machine;
mod numbers;
mod process;
mod server;
mod wrk;

pub use benchmarks_md::{IfMissing, write_section};
pub use machine::{cpu_count, cpu_model, kernel_release, load_average, utc_now};
pub use numbers::{median, thousands};
pub use process::{clock_ticks_per_second, cpu_ticks, rss_kib, status_kib};
pub use server::{ServerProcess, free_port, server_binary};
pub use wrk::{WrkReport, parse_wrk};
