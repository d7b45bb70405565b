//! The member-by-member checks behind [`ClientMetadata::validate`](super::ClientMetadata::validate).

use url::Url;

use super::values::{GrantType, ResponseType, TokenEndpointAuthMethod};
use super::{RegistrationError, RegistrationPolicy, ScopeHandling};
use crate::ScopeSet;
use crate::redirect_uri::{ApplicationType, validate_redirect_uri};

pub(super) fn check_redirect_uris(
    uris: Vec<String>,
    application_type: ApplicationType,
    policy: &RegistrationPolicy,
) -> Result<Vec<String>, RegistrationError> {
    if uris.is_empty() {
        return Err(RegistrationError::MissingRedirectUris);
    }
    let mut registered: Vec<String> = Vec::with_capacity(uris.len());
    for uri in uris {
        if uri.len() > policy.max_uri_len {
            return Err(RegistrationError::RedirectUriTooLong {
                max: policy.max_uri_len,
            });
        }
        let kind = match validate_redirect_uri(&uri, application_type) {
            Ok(kind) => kind,
            Err(source) => return Err(RegistrationError::InvalidRedirectUri { uri, source }),
        };
        if let Some(trusted) = &policy.trusted_redirects
            && !trusted.allows(&uri, kind)
        {
            return Err(RegistrationError::UntrustedRedirectUri { uri });
        }
        if !registered.contains(&uri) {
            registered.push(uri);
        }
    }
    if registered.len() > policy.max_redirect_uris {
        return Err(RegistrationError::TooManyRedirectUris {
            max: policy.max_redirect_uris,
        });
    }
    Ok(registered)
}

pub(super) fn check_auth_method(
    requested: Option<&str>,
    policy: &RegistrationPolicy,
) -> Result<TokenEndpointAuthMethod, RegistrationError> {
    let method = match requested {
        None => TokenEndpointAuthMethod::ClientSecretBasic,
        Some(value) => TokenEndpointAuthMethod::parse(value).ok_or_else(|| {
            RegistrationError::UnsupportedAuthMethod {
                method: value.to_owned(),
            }
        })?,
    };
    if !policy.allows_auth_method(method) {
        return Err(RegistrationError::AuthMethodNotAllowed { method });
    }
    Ok(method)
}

pub(super) fn check_grant_types(
    requested: Option<Vec<String>>,
) -> Result<Vec<GrantType>, RegistrationError> {
    let Some(requested) = requested else {
        return Ok(vec![GrantType::AuthorizationCode]);
    };
    if requested.is_empty() {
        return Err(RegistrationError::EmptyList {
            field: "grant_types",
        });
    }
    let mut grant_types = Vec::new();
    for value in requested {
        let grant_type = GrantType::parse(&value)
            .ok_or(RegistrationError::UnsupportedGrantType { grant_type: value })?;
        if !grant_types.contains(&grant_type) {
            grant_types.push(grant_type);
        }
    }
    if !grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(RegistrationError::InconsistentGrantTypes);
    }
    Ok(grant_types)
}

pub(super) fn check_response_types(
    requested: Option<Vec<String>>,
) -> Result<Vec<ResponseType>, RegistrationError> {
    let Some(requested) = requested else {
        return Ok(vec![ResponseType::Code]);
    };
    if requested.is_empty() {
        return Err(RegistrationError::EmptyList {
            field: "response_types",
        });
    }
    if let Some(other) = requested.into_iter().find(|value| value != "code") {
        return Err(RegistrationError::UnsupportedResponseType {
            response_type: other,
        });
    }
    Ok(vec![ResponseType::Code])
}

pub(super) fn check_text(
    field: &'static str,
    value: Option<String>,
    policy: &RegistrationPolicy,
) -> Result<Option<String>, RegistrationError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let invalid = |reason: String| RegistrationError::InvalidText { field, reason };
    if value.trim().is_empty() {
        return Err(invalid("must not be empty".to_owned()));
    }
    if value.chars().count() > policy.max_text_chars {
        return Err(invalid(format!(
            "may be at most {} characters long",
            policy.max_text_chars
        )));
    }
    if value.chars().any(is_deceptive_char) {
        return Err(invalid(
            "must not contain control or bidirectional formatting characters".to_owned(),
        ));
    }
    Ok(Some(value))
}

/// Control characters and the Unicode bidirectional formatting characters (UAX #9), which can
/// make a name display as something else.
fn is_deceptive_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

pub(super) fn check_uri(
    field: &'static str,
    value: Option<String>,
    policy: &RegistrationPolicy,
) -> Result<Option<String>, RegistrationError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let invalid = |reason: String| RegistrationError::InvalidUri { field, reason };
    if value.len() > policy.max_uri_len {
        return Err(invalid(format!(
            "may be at most {} bytes long",
            policy.max_uri_len
        )));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
        return Err(invalid(
            "contains whitespace, control, backslash or non-ASCII characters".to_owned(),
        ));
    }
    let url = Url::parse(&value).map_err(|error| invalid(format!("is not a URL: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must be an http or https URL".to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "must not contain a user name or password".to_owned(),
        ));
    }
    Ok(Some(value))
}

pub(super) fn check_contacts(
    contacts: Option<Vec<String>>,
    policy: &RegistrationPolicy,
) -> Result<Vec<String>, RegistrationError> {
    let contacts = contacts.unwrap_or_default();
    if contacts.len() > policy.max_contacts {
        return Err(RegistrationError::InvalidText {
            field: "contacts",
            reason: format!("may list at most {} entries", policy.max_contacts),
        });
    }
    contacts
        .into_iter()
        .map(|contact| check_text("contacts", Some(contact), policy).map(Option::unwrap_or_default))
        .collect()
}

pub(super) fn check_scope(
    requested: Option<&str>,
    policy: &RegistrationPolicy,
) -> Result<Option<ScopeSet>, RegistrationError> {
    let Some(requested) = requested else {
        return Ok(None);
    };
    let requested = ScopeSet::parse(requested);
    if requested.is_empty() {
        return Ok(None);
    }
    if let Some(token) = requested.iter().find(|token| !is_scope_token(token)) {
        return Err(RegistrationError::InvalidScopeToken {
            token: token.to_owned(),
        });
    }
    let Some(allowed) = &policy.allowed_scopes else {
        return Ok(Some(requested));
    };
    let refused: ScopeSet = requested.iter().filter(|s| !allowed.contains(s)).collect();
    if refused.is_empty() {
        return Ok(Some(requested));
    }
    let kept: ScopeSet = requested.iter().filter(|s| allowed.contains(s)).collect();
    if policy.scope_handling == ScopeHandling::Refuse || kept.is_empty() {
        return Err(RegistrationError::ScopeNotAllowed {
            scopes: refused.to_string(),
        });
    }
    Ok(Some(kept))
}

/// `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )` (RFC 6749 §3.3).
fn is_scope_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}
