//! Trusted redirect hosts: the operator's list of hosts a dynamically registered client may
//! send people back to (the original guide's "redirect URIs limited to trusted domains").
//!
//! A pattern is a host name (`app.example.com`), an IP address (`192.0.2.7`, `[2001:db8::1]`),
//! or `*.` followed by a domain of at least two labels (`*.example.com`), which matches every
//! host below that domain at any depth but not the domain itself. Names are compared in their
//! ASCII form (IDNA), lower-cased, without a trailing dot; schemes, ports and paths have no
//! place in a pattern.

use std::fmt;

use url::{Host, Url};

use crate::redirect_uri::RedirectUriKind;

/// The redirect URIs a registration policy accepts when the operator restricts them
/// (`RegistrationPolicy::trusted_redirects`): `https` URIs on one of the [`HostPatterns`];
/// loopback URIs of native clients unless turned off; private-use schemes only if allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrustedRedirects {
    /// The hosts `https` redirect URIs may name.
    pub hosts: HostPatterns,
    /// Whether loopback `http` URIs (RFC 8252 §7.3) stay allowed (the default).
    pub allow_loopback: bool,
    /// Whether private-use schemes such as `com.example.app:/cb` (RFC 8252 §7.1) are allowed;
    /// they name no host the list could vouch for, so they are refused by default.
    pub allow_private_use_schemes: bool,
}

impl TrustedRedirects {
    /// `https` redirect URIs on `hosts`, and loopback URIs.
    pub fn new(hosts: HostPatterns) -> Self {
        Self {
            hosts,
            allow_loopback: true,
            allow_private_use_schemes: false,
        }
    }

    /// Allows or refuses loopback redirect URIs.
    pub fn with_loopback(mut self, allow: bool) -> Self {
        self.allow_loopback = allow;
        self
    }

    /// Allows or refuses private-use scheme redirect URIs.
    pub fn with_private_use_schemes(mut self, allow: bool) -> Self {
        self.allow_private_use_schemes = allow;
        self
    }

    /// Whether `uri`, already found to be a redirect URI of `kind`, is trusted.
    pub fn allows(&self, uri: &str, kind: RedirectUriKind) -> bool {
        match kind {
            RedirectUriKind::LoopbackHttp => self.allow_loopback,
            RedirectUriKind::PrivateUse => self.allow_private_use_schemes,
            RedirectUriKind::Https => Url::parse(uri).is_ok_and(|url| self.hosts.allows(&url)),
        }
    }
}

/// The parsed list of trusted redirect hosts. Build it with [`HostPatterns::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPatterns {
    patterns: Vec<HostPattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// Exactly this host (a name in ASCII form, or an IP address as `url` prints it).
    Exact(String),
    /// Any host ending in `.` + this domain.
    Below(String),
}

impl HostPatterns {
    /// Parses `patterns`; on failure, one message per pattern that cannot be used, naming it.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<Self, Vec<String>> {
        let mut parsed = Vec::with_capacity(patterns.len());
        let mut problems = Vec::new();
        for pattern in patterns {
            match HostPattern::parse(pattern.as_ref()) {
                Ok(pattern) => parsed.push(pattern),
                Err(reason) => problems.push(format!(
                    "trusted redirect host `{}`: {reason}",
                    pattern.as_ref()
                )),
            }
        }
        if parsed.is_empty() && problems.is_empty() {
            problems.push("the list of trusted redirect hosts is empty".to_owned());
        }
        if problems.is_empty() {
            Ok(Self { patterns: parsed })
        } else {
            Err(problems)
        }
    }

    /// Whether `url`'s host matches one of the patterns.
    pub fn allows(&self, url: &Url) -> bool {
        let Some(host) = url.host() else {
            return false;
        };
        let host = normalized_host(&host);
        self.patterns.iter().any(|pattern| pattern.matches(&host))
    }
}

impl fmt::Display for HostPatterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, pattern) in self.patterns.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            match pattern {
                HostPattern::Exact(host) => f.write_str(host)?,
                HostPattern::Below(domain) => write!(f, "*.{domain}")?,
            }
        }
        Ok(())
    }
}

impl HostPattern {
    fn parse(pattern: &str) -> Result<Self, &'static str> {
        let pattern = pattern.trim();
        if pattern.is_empty() {
            return Err("is empty");
        }
        if pattern.contains("://") || pattern.contains('/') {
            return Err("must be a host name, without a scheme or a path");
        }
        if let Some(domain) = pattern.strip_prefix("*.") {
            let domain = parse_host(domain)?;
            let Host::Domain(domain) = domain else {
                return Err("`*.` must be followed by a domain name, not an IP address");
            };
            let domain = normalized_domain(&domain);
            if domain.split('.').count() < 2 {
                return Err("`*.` must be followed by a domain of at least two labels");
            }
            return Ok(Self::Below(domain));
        }
        if pattern.contains('*') {
            return Err("`*` is allowed only as the whole first label, as in `*.example.com`");
        }
        Ok(Self::Exact(normalized_host(&parse_host(pattern)?)))
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(exact) => host == exact,
            Self::Below(domain) => host
                .strip_suffix(domain.as_str())
                .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.')),
        }
    }
}

/// A host as `url` parses it (IDNA to ASCII, lower case, IP literals checked), refusing ports
/// and empty labels.
fn parse_host(value: &str) -> Result<Host, &'static str> {
    if value.contains('*') {
        return Err("`*` is allowed only as the whole first label, as in `*.example.com`");
    }
    let is_ipv6 = value.starts_with('[');
    if (!is_ipv6 && value.contains(':')) || (is_ipv6 && !value.ends_with(']')) {
        return Err("must not carry a port");
    }
    let host = Host::parse(value).map_err(|_| "is not a valid host name or IP address")?;
    if let Host::Domain(domain) = &host {
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        if domain.is_empty() || domain.split('.').any(str::is_empty) {
            return Err("has an empty label");
        }
    }
    Ok(host)
}

fn normalized_host<S: AsRef<str>>(host: &Host<S>) -> String {
    match host {
        Host::Domain(domain) => normalized_domain(domain.as_ref()),
        Host::Ipv4(address) => address.to_string(),
        Host::Ipv6(address) => format!("[{address}]"),
    }
}

fn normalized_domain(domain: &str) -> String {
    domain
        .strip_suffix('.')
        .unwrap_or(domain)
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(list: &[&str]) -> HostPatterns {
        HostPatterns::parse(list).expect("valid patterns")
    }

    fn allows(patterns: &HostPatterns, url: &str) -> bool {
        patterns.allows(&Url::parse(url).expect("a URL"))
    }

    #[test]
    fn exact_hosts_match_only_themselves() {
        let list = patterns(&["app.example.com", "192.0.2.7", "[2001:db8::1]"]);
        assert!(allows(&list, "https://app.example.com/cb"));
        assert!(allows(&list, "https://APP.Example.COM./cb"));
        assert!(allows(&list, "https://app.example.com:8443/cb"));
        assert!(allows(&list, "https://192.0.2.7/cb"));
        assert!(allows(&list, "https://[2001:db8:0::1]/cb"));
        assert!(!allows(&list, "https://evil.app.example.com/cb"));
        assert!(!allows(&list, "https://example.com/cb"));
        assert!(!allows(&list, "https://app.example.com.evil.test/cb"));
        assert!(!allows(&list, "https://192.0.2.8/cb"));
    }

    #[test]
    fn wildcards_match_subdomains_at_any_depth_but_not_the_domain() {
        let list = patterns(&["*.example.com"]);
        assert!(allows(&list, "https://a.example.com/cb"));
        assert!(allows(&list, "https://a.b.example.com/cb"));
        assert!(!allows(&list, "https://example.com/cb"));
        assert!(!allows(&list, "https://badexample.com/cb"));
        assert!(!allows(&list, "https://example.com.evil.test/cb"));
        assert!(!allows(&list, "com.example.app:/cb"));
    }

    #[test]
    fn international_names_compare_in_ascii_form() {
        let list = patterns(&["*.bücher.example"]);
        assert!(allows(&list, "https://shop.xn--bcher-kva.example/cb"));
        assert!(allows(&list, "https://shop.bücher.example/cb"));
    }

    #[test]
    fn unusable_patterns_are_each_named() {
        let problems = HostPatterns::parse(&[
            "",
            "https://example.com",
            "example.com/cb",
            "example.com:443",
            "*.com",
            "*example.com",
            "a.*.example.com",
            "*.192.0.2.7",
            "exa mple.com",
            "a..example.com",
            "ok.example.com",
        ])
        .expect_err("bad patterns");
        assert_eq!(problems.len(), 10, "{problems:?}");
        assert!(
            problems[1].contains("`https://example.com`"),
            "{problems:?}"
        );
        assert!(problems[3].contains("port"), "{problems:?}");
        assert!(problems[4].contains("two labels"), "{problems:?}");
        assert!(
            HostPatterns::parse::<&str>(&[]).is_err(),
            "an empty list is a mistake, not a policy"
        );
    }

    #[test]
    fn trusted_redirects_treat_each_kind_of_uri_by_its_own_rule() {
        let trusted = TrustedRedirects::new(patterns(&["*.example.com"]));
        assert!(trusted.allows("https://a.example.com/cb", RedirectUriKind::Https));
        assert!(!trusted.allows("https://a.example.org/cb", RedirectUriKind::Https));
        assert!(trusted.allows("http://127.0.0.1:1234/cb", RedirectUriKind::LoopbackHttp));
        assert!(!trusted.allows("com.example.app:/cb", RedirectUriKind::PrivateUse));
        let strict = trusted
            .clone()
            .with_loopback(false)
            .with_private_use_schemes(true);
        assert!(!strict.allows("http://127.0.0.1:1234/cb", RedirectUriKind::LoopbackHttp));
        assert!(strict.allows("com.example.app:/cb", RedirectUriKind::PrivateUse));
    }

    #[test]
    fn display_lists_the_normalized_patterns() {
        assert_eq!(
            patterns(&["APP.example.com.", "*.Example.org"]).to_string(),
            "app.example.com, *.example.org"
        );
    }
}
