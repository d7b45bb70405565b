//! X.509 distinguished names as RFC 4514 writes them (`CN=client,O=Example,C=JP`), for the
//! `tls_client_auth_subject_dn` a client registers (RFC 8705 §2.1.2) and the subject of the
//! certificate it presents, compared the way directories compare names.

use std::fmt;

use thiserror::Error;

/// The attribute types RFC 4514 §3 names, plus the ones certificates commonly carry, by
/// their short name (compared case-insensitively) and OID.
const SHORT_NAMES: &[(&str, &str)] = &[
    ("CN", "2.5.4.3"),
    ("SN", "2.5.4.4"),
    ("SERIALNUMBER", "2.5.4.5"),
    ("C", "2.5.4.6"),
    ("L", "2.5.4.7"),
    ("ST", "2.5.4.8"),
    ("STREET", "2.5.4.9"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("TITLE", "2.5.4.12"),
    ("GN", "2.5.4.42"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("UID", "0.9.2342.19200300.100.1.1"),
    ("EMAILADDRESS", "1.2.840.113549.1.9.1"),
];

/// A distinguished name: its relative distinguished names in RFC 4514 string order (the most
/// specific first), each a set of attribute type (dotted OID) and value.
///
/// Equality approximates RFC 4517 `distinguishedNameMatch` with `caseIgnoreMatch` values:
/// attribute types by OID (so `CN` equals `2.5.4.3`), values without leading and trailing
/// spaces, inner runs of spaces as one, letters in any case; the attributes of a
/// multi-valued RDN in any order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistinguishedName {
    rdns: Vec<Vec<(String, String)>>,
}

/// Why a string is not an RFC 4514 distinguished name this crate can compare.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{text}` is not a distinguished name (RFC 4514): {reason}")]
pub struct DistinguishedNameError {
    text: String,
    reason: String,
}

impl DistinguishedName {
    /// Parses an RFC 4514 string: RDNs separated by `,`, multi-valued RDNs joined by `+`,
    /// `type=value` with a short name (`CN`, `O`, `OU`, `C`, `DC`, …) or a dotted OID as the
    /// type, and `\`-escapes (a special character, or two hex digits of UTF-8) in values.
    /// Hex-encoded BER values (`#…`) and empty names are refused.
    pub fn parse(text: &str) -> Result<Self, DistinguishedNameError> {
        let fail = |reason: &str| DistinguishedNameError {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        if text.trim().is_empty() {
            return Err(fail("it is empty"));
        }
        let mut rdns = Vec::new();
        for rdn in split_unescaped(text, ',') {
            let mut attributes = Vec::new();
            for attribute in split_unescaped(rdn, '+') {
                let (kind, value) = attribute
                    .split_once('=')
                    .ok_or_else(|| fail("each attribute must be `type=value`"))?;
                let oid = attribute_oid(kind.trim()).map_err(|reason| fail(&reason))?;
                let value = unescape(value).map_err(|reason| fail(&reason))?;
                attributes.push((oid, normalize(&value)));
            }
            rdns.push(attributes);
        }
        Ok(Self::ordered(rdns))
    }

    /// The name of a certificate's subject: its RDNs in certificate (ASN.1) order, the most
    /// general first, each a list of (dotted OID, value as text).
    pub fn from_certificate_rdns(rdns: impl IntoIterator<Item = Vec<(String, String)>>) -> Self {
        let mut rdns: Vec<Vec<(String, String)>> = rdns
            .into_iter()
            .map(|attributes| {
                attributes
                    .into_iter()
                    .map(|(oid, value)| (oid, normalize(&value)))
                    .collect()
            })
            .collect();
        rdns.reverse();
        Self::ordered(rdns)
    }

    /// Sorts each RDN's attributes, which form a set.
    fn ordered(mut rdns: Vec<Vec<(String, String)>>) -> Self {
        for attributes in &mut rdns {
            attributes.sort();
        }
        Self { rdns }
    }
}

impl fmt::Display for DistinguishedName {
    /// The normalized name in RFC 4514 form (short names where known).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, rdn) in self.rdns.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            for (position, (oid, value)) in rdn.iter().enumerate() {
                if position > 0 {
                    f.write_str("+")?;
                }
                let kind = SHORT_NAMES
                    .iter()
                    .find(|(_, known)| known == oid)
                    .map_or(oid.as_str(), |(name, _)| name);
                write!(f, "{kind}=")?;
                for character in value.chars() {
                    if matches!(character, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') {
                        f.write_str("\\")?;
                    }
                    write!(f, "{character}")?;
                }
            }
        }
        Ok(())
    }
}

/// The parts of `text` between unescaped `separator`s.
fn split_unescaped(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (index, character) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if character == '\\' {
            escaped = true;
        } else if character == separator {
            parts.push(&text[start..index]);
            start = index + character.len_utf8();
        }
    }
    parts.push(&text[start..]);
    parts
}

/// The dotted OID of an attribute type: a known short name or a numeric OID.
fn attribute_oid(kind: &str) -> Result<String, String> {
    if let Some((_, oid)) = SHORT_NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(kind))
    {
        return Ok((*oid).to_owned());
    }
    let numeric = !kind.is_empty()
        && kind
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|byte| byte.is_ascii_digit()));
    if numeric && kind.contains('.') {
        return Ok(kind.to_owned());
    }
    Err(format!(
        "unknown attribute type `{kind}`; use CN, O, OU, C, L, ST, STREET, DC, UID, \
         SERIALNUMBER, emailAddress or a dotted OID"
    ))
}

/// A value with its RFC 4514 escapes resolved.
fn unescape(value: &str) -> Result<String, String> {
    let value = value.trim_start_matches(' ');
    if value.starts_with('#') {
        return Err("hex-encoded (`#…`) values are not supported; write the value as text".into());
    }
    let mut bytes = Vec::with_capacity(value.len());
    let mut characters = value.chars().peekable();
    while let Some(character) = characters.next() {
        if character != '\\' {
            let mut buffer = [0; 4];
            bytes.extend_from_slice(character.encode_utf8(&mut buffer).as_bytes());
            continue;
        }
        match characters.next() {
            Some(high) if high.is_ascii_hexdigit() => {
                let low = characters
                    .next()
                    .filter(char::is_ascii_hexdigit)
                    .ok_or("`\\` must be followed by two hex digits or a special character")?;
                let pair = [high, low].iter().collect::<String>();
                bytes.push(u8::from_str_radix(&pair, 16).map_err(|error| error.to_string())?);
            }
            Some(special) if " \"#+,;<=>\\".contains(special) => bytes.push(special as u8),
            _ => {
                return Err(
                    "`\\` must be followed by two hex digits or a special character".into(),
                );
            }
        }
    }
    String::from_utf8(bytes).map_err(|_| "an escaped value is not UTF-8".to_owned())
}

/// `caseIgnoreMatch`'s view of a value: trimmed, inner spaces collapsed, lower case.
fn normalize(value: &str) -> String {
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(oid, value)| ((*oid).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn a_string_equals_the_certificate_subject_it_names() {
        // Certificate order: C, O, CN (most general first); RFC 4514 writes it reversed.
        let subject = DistinguishedName::from_certificate_rdns([
            attributes(&[("2.5.4.6", "JP")]),
            attributes(&[("2.5.4.10", "Example  Corp")]),
            attributes(&[("2.5.4.3", "mcp client")]),
        ]);
        for text in [
            "CN=mcp client,O=Example Corp,C=JP",
            "cn=MCP Client, o = example corp , c=jp",
            "2.5.4.3=mcp client,O=Example Corp,C=JP",
            "CN=mcp\\20client,O=Example Corp,C=JP",
        ] {
            assert_eq!(DistinguishedName::parse(text).unwrap(), subject, "{text}");
        }
        assert_ne!(
            DistinguishedName::parse("CN=other,O=Example Corp,C=JP").unwrap(),
            subject
        );
        assert_ne!(
            DistinguishedName::parse("C=JP,O=Example Corp,CN=mcp client").unwrap(),
            subject,
            "RDN order matters"
        );
    }

    #[test]
    fn escapes_and_multi_valued_rdns() {
        let name = DistinguishedName::parse("CN=Doe\\, John+UID=jdoe,O=A\\2bB").unwrap();
        let unescaped_plus = DistinguishedName::parse("UID=jdoe+CN=doe\\, john,O=a+b");
        assert!(
            unescaped_plus
                .unwrap_err()
                .to_string()
                .contains("type=value")
        );
        assert_eq!(
            name,
            DistinguishedName::parse("UID=jdoe+CN=doe\\, john,O=a\\+b").unwrap()
        );
        assert_eq!(name.to_string(), "UID=jdoe+CN=doe\\, john,O=a\\+b");
    }

    #[test]
    fn refuses_what_it_cannot_compare() {
        for (text, reason) in [
            ("", "empty"),
            ("CN", "type=value"),
            ("Foo=bar", "unknown attribute type"),
            ("CN=#04024869", "hex-encoded"),
            ("CN=a\\q", "two hex digits"),
            ("CN=a\\ff", "UTF-8"),
        ] {
            let error = DistinguishedName::parse(text).unwrap_err().to_string();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }
}
