# shellcheck shell=bash
# oidc-provider (npm, a certified OpenID provider), as the upstream identity provider of the
# federation tests (crates/authorization-server/tests/federation_*.rs). Source this file (and
# node.sh, whose Node 22 it runs on), then:
#
#   node_install; oidc_provider_install  # npm ci of tests/oidc-provider into the cache
#   oidc_provider_start    # exports MCP_OAUTH_OIDC_PROVIDER_URL and MCP_OAUTH_OIDC_PROVIDER_SECOND_URL
#   trap oidc_provider_stop EXIT
#   MCP_OAUTH_REQUIRE_SERVICES=1 cargo nextest run -p mcp-oauth-authorization-server federation
#   oidc_provider_stop     # safe to call twice, or without oidc_provider_start
#
# Two providers run in one Node process on free loopback ports (issuers http://127.0.0.1:<port>),
# each with the client `mcp-oauth` / `mcp-oauth-test-secret` whose redirect URI is
# http://127.0.0.1/login/callback on any port (see tests/oidc-provider/server.js).
#
# Settings (environment): MCP_OAUTH_CACHE (default ~/.cache/mcp-oauth) holds the install in
# oidc-provider/; ARTIFACTS_DIR, when set, gets the log (else the cache).
# OIDC_PROVIDER_START_TIMEOUT is the number of seconds the providers get (default 30).
#
# The functions change no shell options and work under `set -euo pipefail`; every failure is
# reported on stderr and returned as a non-zero status. Progress lines go to stderr.

_OIDCP_PROJECT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests/oidc-provider" && pwd)"

_oidcp_say() { printf 'oidc-provider: %s\n' "$*" >&2; }
_oidcp_fail() { printf 'oidc-provider: error: %s\n' "$*" >&2; return 1; }
_oidcp_cache() { printf '%s\n' "${MCP_OAUTH_CACHE:-$HOME/.cache/mcp-oauth}"; }
_oidcp_dir() { printf '%s/oidc-provider\n' "$(_oidcp_cache)"; }
_oidcp_node() { printf '%s/node%s/node_modules/.bin\n' "$(_oidcp_cache)" "${NODE_MAJOR:-22}"; }

# Installs the project's locked dependencies into the cache with Node 22's npm (`npm ci`),
# unless the installed lockfile is the project's.
oidc_provider_install() {
    local dir bin
    dir="$(_oidcp_dir)"
    bin="$(_oidcp_node)"
    [[ -x "$bin/node" ]] || _oidcp_fail "Node 22 is missing in $bin: run node_install first" || return 1
    if cmp -s "$_OIDCP_PROJECT/package-lock.json" "$dir/package-lock.json" \
        && [[ -f "$dir/node_modules/oidc-provider/package.json" ]]; then
        _oidcp_say "up to date ($dir)"
        return 0
    fi
    mkdir -p "$dir" || return 1
    cp "$_OIDCP_PROJECT/package.json" "$_OIDCP_PROJECT/package-lock.json" "$dir/" || return 1
    (cd "$dir" && PATH="$bin:$PATH" npm ci --no-audit --no-fund --loglevel=error >&2) \
        || _oidcp_fail "npm ci in $dir failed (see npm's output above)" || return 1
    _oidcp_say "installed in $dir"
}

# Starts two providers on free ports and waits until both announce their issuer.
oidc_provider_start() {
    local dir bin log pid deadline issuers
    if [[ -n "${OIDC_PROVIDER_PID:-}" ]] && kill -0 "$OIDC_PROVIDER_PID" 2>/dev/null; then
        _oidcp_say "already running at ${MCP_OAUTH_OIDC_PROVIDER_URL:-?} (pid $OIDC_PROVIDER_PID)"
        return 0
    fi
    dir="$(_oidcp_dir)"
    bin="$(_oidcp_node)"
    [[ -d "$dir/node_modules/oidc-provider" ]] \
        || _oidcp_fail "not installed in $dir: run oidc_provider_install first" || return 1
    log="${ARTIFACTS_DIR:-$(_oidcp_cache)}/oidc-provider.log"
    mkdir -p "$(dirname "$log")" || return 1
    : >"$log" || return 1
    # The server is run from the cache (where its node_modules are), the source from the project.
    cp "$_OIDCP_PROJECT/server.js" "$dir/server.js" || return 1
    (cd "$dir" && OIDC_PROVIDER_PORTS=0,0 exec "$bin/node" server.js </dev/null >>"$log" 2>&1) &
    pid=$!
    deadline=$((SECONDS + ${OIDC_PROVIDER_START_TIMEOUT:-30}))
    while (($(grep -c '^ready ' "$log") < 2)); do
        if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
            kill -TERM "$pid" 2>/dev/null || true
            tail -n 20 "$log" >&2 || true
            _oidcp_fail "the providers did not start (log: $log)"
            return 1
        fi
        sleep 0.1
    done
    mapfile -t issuers < <(sed -n 's/^ready //p' "$log")
    export OIDC_PROVIDER_PID="$pid"
    export MCP_OAUTH_OIDC_PROVIDER_URL="${issuers[0]}"
    export MCP_OAUTH_OIDC_PROVIDER_SECOND_URL="${issuers[1]}"
    _oidcp_say "ready at $MCP_OAUTH_OIDC_PROVIDER_URL and $MCP_OAUTH_OIDC_PROVIDER_SECOND_URL (pid $pid, log $log)"
}

# Stops the providers started by oidc_provider_start; does nothing when none is running.
oidc_provider_stop() {
    local pid="${OIDC_PROVIDER_PID:-}"
    unset OIDC_PROVIDER_PID MCP_OAUTH_OIDC_PROVIDER_URL MCP_OAUTH_OIDC_PROVIDER_SECOND_URL
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    _oidcp_say "stopped (pid $pid)"
}
