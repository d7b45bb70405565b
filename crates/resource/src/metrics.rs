//! What a resource server counts, for Prometheus: token validations by outcome and refusal
//! reason, verified-token cache hits and misses, and JWKS fetches and failures per issuer.
//!
//! Every label set is fixed when the server is built, and each counter is kept at hand, so a
//! count on the request path is one atomic addition: no lock, no allocation, no label lookup.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::TokenRejection;

/// The labels of a token validation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ValidationLabels {
    /// `accepted` or `refused`.
    outcome: &'static str,
    /// Why it was refused (`none` when accepted).
    reason: &'static str,
}

/// The label of a verified-token cache lookup.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    /// `hit` or `miss`.
    result: &'static str,
}

/// The label of an issuer's key-set fetches.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IssuerLabels {
    issuer: String,
}

/// Every refusal reason, in the order of [`refusal_index`].
const REFUSAL_REASONS: [&str; 5] = [
    "missing",
    "invalid_request",
    "invalid_token",
    "issuer_unavailable",
    "insufficient_scope",
];

/// The position of `rejection`'s reason in [`REFUSAL_REASONS`].
fn refusal_index(rejection: &TokenRejection) -> usize {
    match rejection {
        TokenRejection::Missing => 0,
        TokenRejection::InvalidRequest(_) => 1,
        TokenRejection::InvalidToken(_) => 2,
        TokenRejection::IssuerUnavailable => 3,
        TokenRejection::InsufficientScope { .. } => 4,
    }
}

/// One issuer's key-set fetches and failed fetches.
#[derive(Clone, Default)]
pub(crate) struct JwksCounters {
    pub(crate) fetches: Counter,
    pub(crate) failures: Counter,
}

/// The counters of one resource server.
pub(crate) struct ResourceMetrics {
    validations: Family<ValidationLabels, Counter>,
    accepted: Counter,
    refused: [Counter; REFUSAL_REASONS.len()],
    cache: Family<CacheLabels, Counter>,
    hits: Counter,
    misses: Counter,
    jwks_fetches: Family<IssuerLabels, Counter>,
    jwks_failures: Family<IssuerLabels, Counter>,
}

impl ResourceMetrics {
    /// The counters, with every label set but the issuers' created now.
    pub(crate) fn new() -> Self {
        let validations = Family::<ValidationLabels, Counter>::default();
        let validation = |outcome, reason| {
            validations
                .get_or_create(&ValidationLabels { outcome, reason })
                .clone()
        };
        let accepted = validation("accepted", "none");
        let refused = REFUSAL_REASONS.map(|reason| validation("refused", reason));
        let cache = Family::<CacheLabels, Counter>::default();
        let hits = cache.get_or_create(&CacheLabels { result: "hit" }).clone();
        let misses = cache.get_or_create(&CacheLabels { result: "miss" }).clone();
        Self {
            validations,
            accepted,
            refused,
            cache,
            hits,
            misses,
            jwks_fetches: Family::default(),
            jwks_failures: Family::default(),
        }
    }

    /// The counters of `issuer`'s key-set fetches (created once per issuer, when the server
    /// is built).
    pub(crate) fn jwks(&self, issuer: &str) -> JwksCounters {
        let labels = IssuerLabels {
            issuer: issuer.to_owned(),
        };
        JwksCounters {
            fetches: self.jwks_fetches.get_or_create(&labels).clone(),
            failures: self.jwks_failures.get_or_create(&labels).clone(),
        }
    }

    /// A token was accepted.
    pub(crate) fn accepted(&self) {
        self.accepted.inc();
    }

    /// A request was refused for `rejection`.
    pub(crate) fn refused(&self, rejection: &TokenRejection) {
        self.refused[refusal_index(rejection)].inc();
    }

    /// A token was (`hit`) or was not found in the verified-token cache.
    pub(crate) fn cache_lookup(&self, hit: bool) {
        if hit { &self.hits } else { &self.misses }.inc();
    }

    /// Adds the counters to `registry`.
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "mcp_oauth_token_validations",
            "Bearer tokens checked by the resource server, by outcome (accepted, refused) and \
             refusal reason (missing, invalid_request, invalid_token, issuer_unavailable, \
             insufficient_scope: a valid token lacking the scope a message needs)",
            self.validations.clone(),
        );
        registry.register(
            "mcp_oauth_token_cache_lookups",
            "Bearer tokens looked up in the verified-token cache, by result (hit, miss)",
            self.cache.clone(),
        );
        registry.register(
            "mcp_oauth_jwks_fetches",
            "Fetches of a trusted issuer's signing keys (JWKS), by issuer",
            self.jwks_fetches.clone(),
        );
        registry.register(
            "mcp_oauth_jwks_fetch_failures",
            "Failed fetches of a trusted issuer's signing keys (JWKS), by issuer",
            self.jwks_failures.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rejection_has_its_own_reason() {
        let rejections = [
            TokenRejection::Missing,
            TokenRejection::InvalidRequest("x"),
            TokenRejection::InvalidToken("x".into()),
            TokenRejection::IssuerUnavailable,
            TokenRejection::InsufficientScope {
                required: "x".into(),
            },
        ];
        let indices: std::collections::BTreeSet<usize> =
            rejections.iter().map(refusal_index).collect();
        assert_eq!(indices.len(), REFUSAL_REASONS.len());
        assert_eq!(
            REFUSAL_REASONS[refusal_index(&TokenRejection::Missing)],
            "missing"
        );
    }
}
