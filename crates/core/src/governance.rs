//! Registration governance (issue 16): what an operator decides about dynamically registered
//! clients, shared by the embedded authorization server and the Cognito registration bridge.
//!
//! [`RegistrationGovernance`] holds the policies (approval, trusted redirect hosts, scope
//! ceilings, software statements required, limits); [`ClientStatus`] is where a client stands
//! with the operator and [`RegistrationPath`] how it came in, which decides its
//! [`ScopeCeilings`] entry and whether it waits for approval. Everything here is pure: the
//! servers store the status and path and enforce the answers.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::ScopeSet;
use crate::client_metadata::{RegistrationPolicy, ScopeHandling};
use crate::redirect_hosts::TrustedRedirects;

/// Why a registration is refused, as the `reason` label of the `mcp_oauth_registrations`
/// metric in both modes: the OAuth error codes registration endpoints send
/// (`unapproved_software_statement` included), or the governance rule that refused it
/// (`untrusted_redirect_uri`: a redirect URI off the trusted hosts; `pending_limit`: too many
/// clients await approval; `global_limit`: too many registrations from all addresses).
pub const REGISTRATION_REFUSAL_REASONS: [&str; 11] = [
    "invalid_client_metadata",
    "invalid_redirect_uri",
    "invalid_software_statement",
    "unapproved_software_statement",
    "invalid_request",
    "invalid_token",
    "slow_down",
    "server_error",
    "untrusted_redirect_uri",
    "pending_limit",
    "global_limit",
];

/// Where a client stands with the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientStatus {
    /// May sign people in and get tokens.
    Active,
    /// Registered, waiting for an operator's approval: `/authorize` shows a page saying so and
    /// `/token` answers `invalid_client`.
    Pending,
    /// Stopped by an operator: treated as pending, and its grants are revoked.
    Suspended,
}

impl ClientStatus {
    /// Every status, in the order `admin clients list` groups them.
    pub const ALL: [Self; 3] = [Self::Active, Self::Pending, Self::Suspended];

    /// The stored and printed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Pending => "pending",
            Self::Suspended => "suspended",
        }
    }
}

/// How a client came to be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RegistrationPath {
    /// Added by an operator (`admin clients add`, the deploy stack): no ceiling, never pending.
    Static,
    /// Dynamic registration with nothing but the request.
    Open,
    /// Dynamic registration presenting the initial access token.
    InitialAccessToken,
    /// Dynamic registration carrying a valid software statement (RFC 7591 §2.3).
    SoftwareStatement,
    /// A Client ID Metadata Document fetched at `/authorize`.
    MetadataDocument,
}

impl RegistrationPath {
    /// Every path.
    pub const ALL: [Self; 5] = [
        Self::Static,
        Self::Open,
        Self::InitialAccessToken,
        Self::SoftwareStatement,
        Self::MetadataDocument,
    ];

    /// The stored and printed name (also the flag value of `--registration-approval-exempt`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Static => "static",
            Self::Open => "open",
            Self::InitialAccessToken => "initial-access-token",
            Self::SoftwareStatement => "software-statement",
            Self::MetadataDocument => "metadata-document",
        }
    }
}

/// A status or path name that is not one of the known ones.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("unknown {kind} `{value}`; expected one of: {expected}")]
pub struct UnknownName {
    kind: &'static str,
    value: String,
    expected: String,
}

macro_rules! named_enum {
    ($type:ty, $kind:literal) => {
        impl FromStr for $type {
            type Err = UnknownName;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|candidate| candidate.as_str() == value)
                    .ok_or_else(|| UnknownName {
                        kind: $kind,
                        value: value.to_owned(),
                        expected: Self::ALL.map(Self::as_str).join(", "),
                    })
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum!(ClientStatus, "client status");
named_enum!(RegistrationPath, "registration path");

/// The most scope a dynamically registered client may hold, by how it registered; `None` is
/// every scope the server supports. Once an operator approves a client, `approved` replaces
/// its path's ceiling. Static clients have none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScopeCeilings {
    /// Open registration, and Client ID Metadata Documents.
    pub open: Option<ScopeSet>,
    /// Registration with the initial access token.
    pub initial_access_token: Option<ScopeSet>,
    /// Registration with a valid software statement.
    pub software_statement: Option<ScopeSet>,
    /// Clients an operator approved.
    pub approved: Option<ScopeSet>,
}

impl ScopeCeilings {
    /// The ceiling of a client that registered by `path`; `approved` when an operator approved
    /// it. `None`: no ceiling.
    pub fn ceiling(&self, path: RegistrationPath, approved: bool) -> Option<&ScopeSet> {
        if path == RegistrationPath::Static {
            return None;
        }
        if approved {
            return self.approved.as_ref();
        }
        match path {
            RegistrationPath::Static => None,
            RegistrationPath::Open | RegistrationPath::MetadataDocument => self.open.as_ref(),
            RegistrationPath::InitialAccessToken => self.initial_access_token.as_ref(),
            RegistrationPath::SoftwareStatement => self.software_statement.as_ref(),
        }
    }

    fn named(&self) -> [(&'static str, Option<&ScopeSet>); 4] {
        [
            ("open", self.open.as_ref()),
            ("initial-access-token", self.initial_access_token.as_ref()),
            ("software-statement", self.software_statement.as_ref()),
            ("approved", self.approved.as_ref()),
        ]
    }
}

/// What a scope request comes to under a ceiling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CeilingOutcome {
    /// Everything requested is under the ceiling.
    Within(ScopeSet),
    /// Part of the request is above the ceiling: `kept` is what is left.
    Narrowed {
        /// The requested scopes under the ceiling (never empty).
        kept: ScopeSet,
        /// The requested scopes above it.
        refused: ScopeSet,
    },
    /// Nothing requested is under the ceiling.
    Refused(ScopeSet),
}

impl CeilingOutcome {
    /// Applies `ceiling` (none: no limit) to `requested`.
    pub fn of(requested: &ScopeSet, ceiling: Option<&ScopeSet>) -> Self {
        let Some(ceiling) = ceiling else {
            return Self::Within(requested.clone());
        };
        let refused = requested.difference(ceiling);
        if refused.is_empty() {
            return Self::Within(requested.clone());
        }
        let kept = requested.intersection(ceiling);
        if kept.is_empty() {
            Self::Refused(refused)
        } else {
            Self::Narrowed { kept, refused }
        }
    }

    /// The scope granted under `handling`, or the refused scopes when the request must be
    /// refused (RFC 6749 §3.3 lets the server narrow; [`ScopeHandling::Refuse`] refuses).
    pub fn granted(self, handling: ScopeHandling) -> Result<ScopeSet, ScopeSet> {
        match self {
            Self::Within(scope) => Ok(scope),
            Self::Narrowed { kept, .. } if handling == ScopeHandling::Narrow => Ok(kept),
            Self::Narrowed { refused, .. } | Self::Refused(refused) => Err(refused),
        }
    }
}

/// The operator's policies for dynamically registered clients (issue 16). The default changes
/// nothing: no approval, every redirect URI the redirect-URI rules allow, no ceilings, no
/// software statement required, no limit beyond the per-address rate limit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistrationGovernance {
    /// New dynamic and metadata-document clients start [`ClientStatus::Pending`].
    pub approval_required: bool,
    /// Paths whose clients start active even when approval is required.
    pub approval_exempt: Vec<RegistrationPath>,
    /// Redirect URIs limited to trusted hosts.
    pub trusted_redirects: Option<TrustedRedirects>,
    /// Scope ceilings by registration path.
    pub ceilings: ScopeCeilings,
    /// Narrow (the default) or refuse a request above the ceiling, at registration, at
    /// `/authorize` and on refresh.
    pub scope_handling: ScopeHandling,
    /// Open registration (no initial access token, no trusted certificate) must carry a
    /// software statement.
    pub require_software_statement: bool,
    /// The most clients that may wait for approval at once; registration is paused above it.
    pub max_pending: Option<u32>,
    /// The most registrations per minute from all addresses together.
    pub global_registrations_per_minute: Option<u32>,
    /// How long a pending client waits before it is deleted, in seconds.
    pub pending_ttl_secs: u64,
}

impl Default for RegistrationGovernance {
    fn default() -> Self {
        Self {
            approval_required: false,
            approval_exempt: Vec::new(),
            trusted_redirects: None,
            ceilings: ScopeCeilings::default(),
            scope_handling: ScopeHandling::Narrow,
            require_software_statement: false,
            max_pending: None,
            global_registrations_per_minute: None,
            pending_ttl_secs: Self::DEFAULT_PENDING_TTL_SECS,
        }
    }
}

impl RegistrationGovernance {
    /// A pending client is deleted after a week unless approved.
    pub const DEFAULT_PENDING_TTL_SECS: u64 = 7 * 24 * 60 * 60;

    /// The status a client registering by `path` starts with.
    pub fn initial_status(&self, path: RegistrationPath) -> ClientStatus {
        let waits = self.approval_required
            && path != RegistrationPath::Static
            && !self.approval_exempt.contains(&path);
        if waits {
            ClientStatus::Pending
        } else {
            ClientStatus::Active
        }
    }

    /// `base` (the server's own limits and supported scopes) with this governance applied for
    /// a client registering by `path`: allowed scopes cut to the ceiling, the scope handling,
    /// the trusted redirect hosts. A client that will wait for approval registers under the
    /// `approved` ceiling: it gets no token before an operator approves it.
    pub fn registration_policy(
        &self,
        base: &RegistrationPolicy,
        path: RegistrationPath,
    ) -> RegistrationPolicy {
        let mut policy = base.clone().with_scope_handling(self.scope_handling);
        let waits = self.initial_status(path) == ClientStatus::Pending;
        if let Some(ceiling) = self.ceilings.ceiling(path, waits) {
            let allowed = match &base.allowed_scopes {
                Some(allowed) => allowed.intersection(ceiling),
                None => ceiling.clone(),
            };
            policy = policy.with_allowed_scopes(allowed);
        }
        if let Some(trusted) = &self.trusted_redirects {
            policy = policy.with_trusted_redirects(trusted.clone());
        }
        policy
    }

    /// Every problem with this configuration, given the scopes the server supports; empty
    /// when it can be used.
    pub fn problems(&self, supported: &ScopeSet) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, ceiling) in self.ceilings.named() {
            if let Some(ceiling) = ceiling {
                let unknown = ceiling.difference(supported);
                if !unknown.is_empty() {
                    problems.push(format!(
                        "the {name} scope ceiling names scopes this server does not support: {unknown}"
                    ));
                }
            }
        }
        if self.approval_exempt.contains(&RegistrationPath::Static) {
            problems.push(
                "static clients never wait for approval; do not list `static` as exempt".to_owned(),
            );
        }
        if !self.approval_required && !self.approval_exempt.is_empty() {
            problems.push("approval exemptions need approval to be required".to_owned());
        }
        if self.max_pending.is_some() && !self.approval_required {
            problems.push("a limit on pending clients needs approval to be required".to_owned());
        }
        if self.max_pending == Some(0) {
            problems.push("the limit on pending clients must be at least 1".to_owned());
        }
        if self.global_registrations_per_minute == Some(0) {
            problems.push("the global registration limit must be at least 1 per minute".to_owned());
        }
        if self.pending_ttl_secs == 0 {
            problems.push("the time a pending client waits must be more than zero".to_owned());
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redirect_hosts::HostPatterns;

    fn scopes(value: &str) -> ScopeSet {
        ScopeSet::parse(value)
    }

    #[test]
    fn names_round_trip_and_unknown_ones_are_listed() {
        for status in ClientStatus::ALL {
            assert_eq!(status.as_str().parse::<ClientStatus>(), Ok(status));
        }
        for path in RegistrationPath::ALL {
            assert_eq!(path.to_string().parse::<RegistrationPath>(), Ok(path));
        }
        let error = "approved".parse::<ClientStatus>().expect_err("unknown");
        assert_eq!(
            error.to_string(),
            "unknown client status `approved`; expected one of: active, pending, suspended"
        );
    }

    #[test]
    fn approval_applies_to_dynamic_paths_not_exempt() {
        let governance = RegistrationGovernance {
            approval_required: true,
            approval_exempt: vec![RegistrationPath::InitialAccessToken],
            ..RegistrationGovernance::default()
        };
        assert_eq!(
            governance.initial_status(RegistrationPath::Open),
            ClientStatus::Pending
        );
        assert_eq!(
            governance.initial_status(RegistrationPath::MetadataDocument),
            ClientStatus::Pending
        );
        assert_eq!(
            governance.initial_status(RegistrationPath::InitialAccessToken),
            ClientStatus::Active
        );
        assert_eq!(
            governance.initial_status(RegistrationPath::Static),
            ClientStatus::Active
        );
        assert_eq!(
            RegistrationGovernance::default().initial_status(RegistrationPath::Open),
            ClientStatus::Active
        );
    }

    #[test]
    fn ceilings_follow_the_path_until_an_operator_approves() {
        let ceilings = ScopeCeilings {
            open: Some(scopes("read")),
            initial_access_token: Some(scopes("read write")),
            software_statement: None,
            approved: Some(scopes("read write admin")),
        };
        assert_eq!(
            ceilings.ceiling(RegistrationPath::Open, false),
            Some(&scopes("read"))
        );
        assert_eq!(
            ceilings.ceiling(RegistrationPath::MetadataDocument, false),
            Some(&scopes("read"))
        );
        assert_eq!(
            ceilings.ceiling(RegistrationPath::SoftwareStatement, false),
            None
        );
        assert_eq!(
            ceilings.ceiling(RegistrationPath::Open, true),
            Some(&scopes("read write admin"))
        );
        assert_eq!(ceilings.ceiling(RegistrationPath::Static, true), None);
    }

    #[test]
    fn a_request_above_the_ceiling_is_narrowed_or_refused() {
        let ceiling = scopes("read write");
        assert_eq!(
            CeilingOutcome::of(&scopes("read"), Some(&ceiling)).granted(ScopeHandling::Refuse),
            Ok(scopes("read"))
        );
        let wider = CeilingOutcome::of(&scopes("read admin"), Some(&ceiling));
        assert_eq!(
            wider.clone(),
            CeilingOutcome::Narrowed {
                kept: scopes("read"),
                refused: scopes("admin")
            }
        );
        assert_eq!(
            wider.clone().granted(ScopeHandling::Narrow),
            Ok(scopes("read"))
        );
        assert_eq!(wider.granted(ScopeHandling::Refuse), Err(scopes("admin")));
        assert_eq!(
            CeilingOutcome::of(&scopes("admin"), Some(&ceiling)).granted(ScopeHandling::Narrow),
            Err(scopes("admin"))
        );
        assert_eq!(
            CeilingOutcome::of(&scopes("admin"), None).granted(ScopeHandling::Refuse),
            Ok(scopes("admin"))
        );
    }

    #[test]
    fn the_registration_policy_carries_ceiling_handling_and_trusted_hosts() {
        let trusted = TrustedRedirects::new(HostPatterns::parse(&["*.example.com"]).expect("ok"));
        let governance = RegistrationGovernance {
            ceilings: ScopeCeilings {
                open: Some(scopes("read write")),
                ..ScopeCeilings::default()
            },
            scope_handling: ScopeHandling::Refuse,
            trusted_redirects: Some(trusted.clone()),
            ..RegistrationGovernance::default()
        };
        let base = RegistrationPolicy::default().with_allowed_scopes(scopes("read admin"));
        let open = governance.registration_policy(&base, RegistrationPath::Open);
        assert_eq!(open.allowed_scopes, Some(scopes("read")));
        assert_eq!(open.scope_handling, ScopeHandling::Refuse);
        assert_eq!(open.trusted_redirects, Some(trusted));
        let with_token =
            governance.registration_policy(&base, RegistrationPath::InitialAccessToken);
        assert_eq!(with_token.allowed_scopes, Some(scopes("read admin")));
        let awaiting_approval = RegistrationGovernance {
            approval_required: true,
            ceilings: ScopeCeilings {
                open: Some(scopes("read")),
                approved: Some(scopes("admin")),
                ..ScopeCeilings::default()
            },
            ..RegistrationGovernance::default()
        };
        assert_eq!(
            awaiting_approval
                .registration_policy(&base, RegistrationPath::Open)
                .allowed_scopes,
            Some(scopes("admin")),
            "a pending client registers under the approved ceiling"
        );
    }

    #[test]
    fn every_configuration_problem_is_listed() {
        let governance = RegistrationGovernance {
            approval_exempt: vec![RegistrationPath::Static],
            ceilings: ScopeCeilings {
                approved: Some(scopes("read nope")),
                ..ScopeCeilings::default()
            },
            max_pending: Some(0),
            global_registrations_per_minute: Some(0),
            pending_ttl_secs: 0,
            ..RegistrationGovernance::default()
        };
        let problems = governance.problems(&scopes("read write"));
        assert_eq!(problems.len(), 7, "{problems:#?}");
        assert!(problems[0].contains("approved scope ceiling") && problems[0].contains("nope"));
        assert!(
            RegistrationGovernance::default()
                .problems(&scopes("read"))
                .is_empty()
        );
    }
}
