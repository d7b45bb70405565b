# shellcheck shell=bash
# cognito-local, an emulator of Cognito's user pool API and of its managed login's
# `/oauth2/authorize` and `/oauth2/token` (authorization code with PKCE S256), for the
# browser-less sign-in test of the Cognito gateway (crates/cognito/tests/bridge_cognito_local.rs).
# Source this file (after scripts/services/node.sh), then:
#
#   cognito_local_install  # cognito-local (pinned) from the npm registry into
#                          # $MCP_OAUTH_CACHE/cognito-local; fast when already there
#   cognito_local_start    # runs it with Node 22 on localhost:9229 (or reuses one already
#                          # answering there); exports COGNITO_LOCAL_ENDPOINT
#   cognito_local_stop     # stops the one cognito_local_start started; safe to call twice
#
# Why a fixed port, when the other services start on free ones: cognito-local's discovery
# document (`/<pool>/.well-known/openid-configuration`) names `http://localhost:9229` as the
# issuer and JWKS host whatever PORT it listens on, and the tests discover the pool through it.
# So it must listen on 9229; when another program holds that port, cognito_local_start says so
# and stops instead of starting an emulator whose discovery would point elsewhere.
#
# 5.3.0 is the first version with the /oauth2 endpoints (5.1.0 and earlier have none). Its
# access tokens always carry `scope: aws.cognito.signin.user.admin` (its token generator does
# not write the requested resource-server scopes), and it has no resource-server API.
#
# Settings (environment): MCP_OAUTH_CACHE (default ~/.cache/mcp-oauth) holds the install and
# the emulator's data; ARTIFACTS_DIR, when set, gets its log. The functions change no shell
# options and work under `set -euo pipefail`; failures are reported on stderr and returned as
# a non-zero status.

COGNITO_LOCAL_VERSION=5.3.0
COGNITO_LOCAL_PORT=9229

_cognito_local_say() { printf 'cognito-local: %s\n' "$*" >&2; }
_cognito_local_fail() { printf 'cognito-local: error: %s\n' "$*" >&2; return 1; }
_cognito_local_cache() { printf '%s\n' "${MCP_OAUTH_CACHE:-$HOME/.cache/mcp-oauth}"; }
_cognito_local_prefix() { printf '%s/cognito-local\n' "$(_cognito_local_cache)"; }

_cognito_local_ready() {
    local package="$1/node_modules/cognito-local/package.json"
    [[ -f "$package" ]] && grep -q "\"version\": \"$COGNITO_LOCAL_VERSION\"" "$package"
}

# Whether something answers Cognito's API on the port (an empty ListUserPools request).
_cognito_local_answers() {
    curl -sf -o /dev/null --max-time 2 -X POST "http://localhost:$COGNITO_LOCAL_PORT/" \
        -H 'content-type: application/x-amz-json-1.1' \
        -H 'x-amz-target: AWSCognitoIdentityProviderService.ListUserPools' \
        -d '{"MaxResults": 1}'
}

# Installs the pinned cognito-local, serialised with flock like the other installs.
cognito_local_install() {
    local cache prefix
    cache="$(_cognito_local_cache)"
    prefix="$(_cognito_local_prefix)"
    mkdir -p "$cache" || _cognito_local_fail "cannot create $cache" || return 1
    (
        exec 9>"$cache/cognito-local.lock"
        flock -w 900 9 || _cognito_local_fail "timed out waiting for $cache/cognito-local.lock" || exit 1
        if _cognito_local_ready "$prefix"; then
            _cognito_local_say "cognito-local $COGNITO_LOCAL_VERSION up to date ($prefix)"
            exit 0
        fi
        command -v npm >/dev/null 2>&1 || _cognito_local_fail "npm is needed to install cognito-local" || exit 1
        _cognito_local_say "installing cognito-local@$COGNITO_LOCAL_VERSION into $prefix"
        mkdir -p "$prefix" || exit 1
        npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
            "cognito-local@$COGNITO_LOCAL_VERSION" >&2 \
            || _cognito_local_fail "npm install into $prefix failed (see npm's output above)" || exit 1
        _cognito_local_ready "$prefix" || _cognito_local_fail "the install in $prefix is incomplete"
    )
}

# Starts cognito-local with Node 22 on localhost:9229 and waits until it answers; reuses an
# emulator already answering there.
cognito_local_start() {
    local prefix node data log pid deadline
    if _cognito_local_answers; then
        _cognito_local_say "already answering on localhost:$COGNITO_LOCAL_PORT; reusing it"
        export COGNITO_LOCAL_ENDPOINT="http://localhost:$COGNITO_LOCAL_PORT"
        return 0
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$COGNITO_LOCAL_PORT") 2>/dev/null; then
        _cognito_local_fail "another program listens on localhost:$COGNITO_LOCAL_PORT and does not answer as \
cognito-local; cognito-local must use that port (its discovery document names it): stop that program \
(e.g. find it with: ss -ltnp 'sport = :$COGNITO_LOCAL_PORT')"
        return 1
    fi
    prefix="$(_cognito_local_prefix)"
    node="$(_node_prefix)/node_modules/.bin/node"
    _cognito_local_ready "$prefix" || _cognito_local_fail "not installed: run cognito_local_install" || return 1
    [[ -x "$node" ]] || _cognito_local_fail "Node 22 is not installed: run node_install" || return 1
    command -v curl >/dev/null 2>&1 || _cognito_local_fail "curl is needed to see when it is ready" || return 1
    # A fresh data directory per start: user pools from earlier runs are not kept.
    data="$(_cognito_local_cache)/cognito-local-data"
    rm -rf "$data" && mkdir -p "$data" || return 1
    log="${ARTIFACTS_DIR:-$(_cognito_local_cache)}/cognito-local.log"
    mkdir -p "$(dirname "$log")" || return 1
    (cd "$data" && PORT="$COGNITO_LOCAL_PORT" HOST=localhost \
        exec "$node" "$prefix/node_modules/cognito-local/lib/bin/start.js" </dev/null >"$log" 2>&1) &
    pid=$!
    deadline=$((SECONDS + 30))
    until _cognito_local_answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$log" >&2 || true
            _cognito_local_fail "it exited before it was ready (log: $log)"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            kill -TERM "$pid" 2>/dev/null || true
            _cognito_local_fail "it did not answer within 30 s (log: $log)"
            return 1
        fi
        sleep 0.2
    done
    export COGNITO_LOCAL_PID="$pid"
    export COGNITO_LOCAL_ENDPOINT="http://localhost:$COGNITO_LOCAL_PORT"
    _cognito_local_say "ready at $COGNITO_LOCAL_ENDPOINT (pid $pid, log $log)"
}

# Stops the emulator cognito_local_start started (not one it reused).
cognito_local_stop() {
    local pid="${COGNITO_LOCAL_PID:-}"
    unset COGNITO_LOCAL_PID COGNITO_LOCAL_ENDPOINT
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    _cognito_local_say "stopped (pid $pid)"
}
