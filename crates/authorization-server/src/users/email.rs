//! E-mail addresses as account names: trimmed, lower-cased, and checked for a plausible shape.
//! Nothing here proves an address exists; it only keeps typos and junk out of the store.

/// The longest address accepted (RFC 5321 §4.5.3.1.3 limits a path to 256 octets, so an
/// address to 254).
const MAX_LEN: usize = 254;
/// The longest local part (RFC 5321 §4.5.3.1.1).
const MAX_LOCAL_LEN: usize = 64;

/// The form in which addresses are stored and looked up: trimmed and lower-cased.
pub(crate) fn normalize(input: &str) -> String {
    input.trim().to_lowercase()
}

/// Whether a normalized address looks like `local@domain`: one `@`, a local part without
/// spaces, controls or the specials of RFC 5322 §3.2.3, and a domain of non-empty labels of
/// letters, digits and hyphens (`localhost` is fine for development).
pub(crate) fn is_plausible(email: &str) -> bool {
    if email.len() > MAX_LEN {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= MAX_LOCAL_LEN
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"@<>()[]\\,;:\"".contains(c));
    let domain_ok = !domain.is_empty()
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_by_trimming_and_lower_casing() {
        assert_eq!(normalize("  Alice@Example.COM \n"), "alice@example.com");
    }

    #[test]
    fn accepts_ordinary_addresses() {
        for email in [
            "a@b.c",
            "first.last+tag@example.co.uk",
            "dev@localhost",
            "x_y-z@sub-domain.example",
        ] {
            assert!(is_plausible(email), "{email}");
        }
    }

    #[test]
    fn rejects_malformed_addresses() {
        let too_long = format!("{}@example.com", "a".repeat(250));
        for email in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@@example.com",
            "a@b@example.com",
            "alice smith@example.com",
            "alice@exa mple.com",
            "alice@example..com",
            "alice@.example.com",
            "alice@-example.com",
            ".alice@example.com",
            "al..ice@example.com",
            "<alice>@example.com",
            "alice@example.com\r\nBcc: x@y.z",
            too_long.as_str(),
        ] {
            assert!(!is_plausible(email), "{email:?}");
        }
    }
}
