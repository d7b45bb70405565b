//! The `Host` header as HTTP defines it: `Host = uri-host [ ":" port ]` (RFC 9110 §7.2), with
//! `uri-host` and `port` from RFC 3986 §3.2.2–§3.2.3, and at most one of it per request
//! (RFC 9112 §3.2). Parsed without allocating, since every request to a server is checked.

use std::net::Ipv6Addr;

use http::{HeaderMap, header};
use thiserror::Error;

/// A well-formed `Host` value (or request-target authority): its host as written and its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostAuthority<'a> {
    host: &'a str,
    port: Option<u16>,
}

/// Why a request's `Host` cannot be used; the server answers 400 (RFC 9112 §3.2).
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostError {
    /// More than one `Host` header field line.
    #[error("more than one Host header")]
    Duplicate,
    /// A value that is not `host[:port]`: a port that is empty, not a number or too large, or
    /// a host with characters RFC 3986 does not allow (`localhost:evil.example`,
    /// `127.0.0.1:19001@evil.example`, `localhost:`).
    #[error("malformed Host header")]
    Malformed,
}

impl<'a> HostAuthority<'a> {
    /// Parses `host[:port]`, where host is a bracketed IPv6 literal, an IPv4 address or a
    /// registered name (RFC 3986 §3.2.2). The host may be empty (RFC 9112 §3.2: a target
    /// without an authority); a `:` must be followed by a port of 1–5 digits up to 65535.
    pub fn parse(value: &'a str) -> Result<Self, HostError> {
        let (host, port) = if value.starts_with('[') {
            let end = value.find(']').ok_or(HostError::Malformed)?;
            let literal = &value[1..end];
            if literal.parse::<Ipv6Addr>().is_err() {
                return Err(HostError::Malformed);
            }
            (&value[..=end], &value[end + 1..])
        } else {
            let end = value.find(':').unwrap_or(value.len());
            let host = &value[..end];
            if !is_reg_name(host) {
                return Err(HostError::Malformed);
            }
            (host, &value[end..])
        };
        let port = match port.strip_prefix(':') {
            None if port.is_empty() => None,
            None => return Err(HostError::Malformed),
            Some(digits) => Some(parse_port(digits)?),
        };
        Ok(Self { host, port })
    }

    /// The host as written (IPv6 literals keep their brackets; case is not changed).
    pub fn host(&self) -> &'a str {
        self.host
    }

    /// The port, when one is given.
    pub fn port(&self) -> Option<u16> {
        self.port
    }
}

/// The request's single `Host` (RFC 9112 §3.2): `Ok(None)` when it has none, an error when it
/// has several or its value is malformed.
pub fn request_host(headers: &HeaderMap) -> Result<Option<HostAuthority<'_>>, HostError> {
    let mut values = headers.get_all(header::HOST).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(HostError::Duplicate);
    }
    let value = value.to_str().map_err(|_| HostError::Malformed)?;
    HostAuthority::parse(value).map(Some)
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )` (RFC 3986 §3.2.2), which also
/// covers IPv4 addresses.
fn is_reg_name(host: &str) -> bool {
    let bytes = host.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' => {
                let hex = bytes.get(index + 1..index + 3);
                if !hex.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                    return false;
                }
                index += 3;
            }
            byte if REG_NAME[usize::from(byte)] => {
                index += 1;
            }
            _ => return false,
        }
    }
    true
}

/// The bytes a `reg-name` holds as themselves: `unreserved / sub-delims` (RFC 3986 §2.2, §2.3);
/// a table, as every request's `Host` is read.
const REG_NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        byte += 1;
    }
    table
};

/// `port = 1*5DIGIT` up to 65535; RFC 3986 allows an empty port, but a `:` with nothing after
/// it is what URI normalisers remove, so it is refused here as ambiguous.
fn parse_port(digits: &str) -> Result<u16, HostError> {
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HostError::Malformed);
    }
    digits.parse().map_err(|_| HostError::Malformed)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_reg_name_holds_exactly_the_unreserved_and_sub_delims_bytes() {
        for byte in 0..=255u8 {
            let expected = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&byte);
            assert_eq!(REG_NAME[usize::from(byte)], expected, "{byte:#04x}");
        }
    }

    #[test]
    fn parses_names_addresses_and_ports() {
        let cases = [
            ("localhost", "localhost", None),
            ("LocalHost:3001", "LocalHost", Some(3001)),
            ("127.0.0.1:19001", "127.0.0.1", Some(19001)),
            ("[::1]", "[::1]", None),
            ("[::1]:3001", "[::1]", Some(3001)),
            ("mcp.example.com:65535", "mcp.example.com", Some(65535)),
            ("xn--bcher-kva.example", "xn--bcher-kva.example", None),
            ("", "", None),
        ];
        for (value, host, port) in cases {
            let parsed = HostAuthority::parse(value).unwrap();
            assert_eq!((parsed.host(), parsed.port()), (host, port), "{value}");
        }
    }

    #[test]
    fn refuses_values_that_are_not_host_and_port() {
        for value in [
            "localhost:evil.example",
            "127.0.0.1:19001@evil.example",
            "user@localhost",
            "localhost:",
            "localhost:65536",
            "localhost:123456",
            "localhost:+80",
            "localhost:80:80",
            "local host",
            "localhost/mcp",
            "[::1",
            "[::1]x",
            "[::1]:",
            "[evil.example]",
            "[::1]:80@evil.example",
            "%zz.example",
            "évil.example",
        ] {
            assert_eq!(
                HostAuthority::parse(value),
                Err(HostError::Malformed),
                "{value}"
            );
        }
    }

    #[test]
    fn a_request_has_at_most_one_host() {
        let mut headers = HeaderMap::new();
        assert_eq!(request_host(&headers), Ok(None));
        headers.insert(header::HOST, "localhost:3001".parse().unwrap());
        assert_eq!(
            request_host(&headers).unwrap().map(|host| host.port()),
            Some(Some(3001))
        );
        headers.append(header::HOST, "localhost:3001".parse().unwrap());
        assert_eq!(request_host(&headers), Err(HostError::Duplicate));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn never_panics(value in any::<String>()) {
            let _ = HostAuthority::parse(&value);
        }

        /// Whatever parses is a host followed by nothing or by `:` and digits: nothing after
        /// an allowed-looking host can smuggle another one in.
        #[test]
        fn what_parses_is_a_host_and_at_most_a_port(value in "[a-z0-9.:@%\\[\\]/-]{0,24}") {
            if let Ok(parsed) = HostAuthority::parse(&value) {
                let rest = &value[parsed.host().len()..];
                prop_assert!(value.starts_with(parsed.host()));
                prop_assert!(!parsed.host().contains(['@', '/', ':']) || parsed.host().starts_with('['));
                match rest.strip_prefix(':') {
                    None => prop_assert!(rest.is_empty()),
                    Some(digits) => {
                        prop_assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
                        prop_assert_eq!(parsed.port(), digits.parse().ok());
                    }
                }
            }
        }

        #[test]
        fn names_addresses_and_ports_round_trip(
            host in prop_oneof![
                "[a-zA-Z0-9-]{1,10}(\\.[a-zA-Z0-9-]{1,10}){0,3}",
                any::<Ipv6Addr>().prop_map(|address| format!("[{address}]")),
            ],
            port in proptest::option::of(any::<u16>()),
        ) {
            let value = match port {
                Some(port) => format!("{host}:{port}"),
                None => host.clone(),
            };
            let parsed = HostAuthority::parse(&value).unwrap();
            prop_assert_eq!((parsed.host(), parsed.port()), (host.as_str(), port));
        }
    }
}
