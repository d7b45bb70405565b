//! wrk, the HTTP load generator both MCP drivers run: its `--latency` report, read.

/// What a wrk run reports.
#[derive(Clone, Copy, Debug)]
pub struct WrkReport {
    /// Requests per second (`Requests/sec`).
    pub requests_per_sec: f64,
    /// Requests completed (`N requests in`).
    pub requests: u64,
    /// Median latency in milliseconds.
    pub p50_ms: f64,
    /// 99th-percentile latency in milliseconds.
    pub p99_ms: f64,
}

/// Reads throughput and latency percentiles from wrk's `--latency` report, refusing runs
/// with non-2xx responses or socket errors.
pub fn parse_wrk(text: &str) -> Result<WrkReport, String> {
    if let Some(line) = text
        .lines()
        .find(|line| line.contains("Non-2xx or 3xx responses"))
    {
        return Err(format!("the server refused requests ({})", line.trim()));
    }
    if let Some(line) = text.lines().find(|line| line.contains("Socket errors")) {
        return Err(format!("the load had socket errors ({})", line.trim()));
    }
    let value = |label: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .map(str::trim)
            .ok_or_else(|| format!("no `{label}` in wrk's report"))
    };
    let requests_per_sec = value("Requests/sec:")?
        .parse()
        .map_err(|_| "unreadable Requests/sec".to_owned())?;
    let requests = text
        .lines()
        .find(|line| line.contains(" requests in "))
        .and_then(|line| line.split_whitespace().next()?.parse().ok())
        .ok_or("no request count in wrk's report")?;
    Ok(WrkReport {
        requests_per_sec,
        requests,
        p50_ms: milliseconds(value("50%")?)?,
        p99_ms: milliseconds(value("99%")?)?,
    })
}

/// A wrk duration such as `812.00us`, `1.23ms` or `2.00s`, in milliseconds.
fn milliseconds(text: &str) -> Result<f64, String> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("unreadable latency `{text}`"))?;
    let scale = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        _ => return Err(format!("unknown latency unit in `{text}`")),
    };
    Ok(number * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 20s test @ http://127.0.0.1:4000/mcp
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.01ms  300.00us  10.00ms   90.00%
    Req/Sec    31.50k     1.20k   33.00k    80.00%
  Latency Distribution
     50%  812.00us
     75%    1.10ms
     90%    1.30ms
     99%    2.10ms
  630000 requests in 20.00s, 200.00MB read
Requests/sec:  31500.25
Transfer/sec:     10.00MB
";

    #[test]
    fn reads_throughput_and_percentiles() {
        let measurement = parse_wrk(REPORT).unwrap();
        assert_eq!(measurement.requests_per_sec, 31500.25);
        assert_eq!(measurement.requests, 630000);
        assert!((measurement.p50_ms - 0.812).abs() < 1e-9);
        assert!((measurement.p99_ms - 2.1).abs() < 1e-9);
    }

    #[test]
    fn refuses_runs_with_errors() {
        let refused = REPORT.replace(
            "Requests/sec",
            "  Non-2xx or 3xx responses: 7\nRequests/sec",
        );
        assert!(parse_wrk(&refused).unwrap_err().contains("refused"));
        let broken = REPORT.replace(
            "Requests/sec",
            "  Socket errors: connect 0, read 1, write 0, timeout 0\nRequests/sec",
        );
        assert!(parse_wrk(&broken).unwrap_err().contains("socket errors"));
    }
}
