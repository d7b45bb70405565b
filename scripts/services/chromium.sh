# shellcheck shell=bash
# Chromium for the browser tests, and the runner of the two Node test suites that drive the
# real mcp-oauth stack: tests/browser (headless Chromium through playwright-core) and
# tests/interop (the official MCP TypeScript SDK client). Source node.sh (Node 22, and the
# install location this file uses) and this file, then:
#
#   node_install                  # Node 22 (node.sh)
#   chromium_install              # the Debian package `chromium`, unless /usr/bin/chromium is there
#   node_suite_run tests/interop "$CARGO_TARGET_DIR/debug/mcp-oauth"
#   node_suite_run tests/browser "$CARGO_TARGET_DIR/debug/mcp-oauth"
#
# node_suite_run installs the suite's locked dependencies (`npm ci`, skipped while
# node_modules matches package-lock.json), runs its `npm test` with Node 22 first on the PATH,
# MCP_OAUTH_BIN set to the binary and ARTIFACTS_DIR passed on, saves the output in
# $ARTIFACTS_DIR/<suite>/output.txt and closes with `<suite>: N passed, M failed`.
# Playwright drives Chromium over the DevTools protocol, so chromedriver is not needed.
#
# The functions change no shell options and work under `set -euo pipefail`; every failure is
# reported on stderr and returned as a non-zero status. Progress lines go to stderr.

# Where the browser tests expect Chromium (CHROMIUM_BIN overrides, for other systems).
CHROMIUM_BIN="${CHROMIUM_BIN:-/usr/bin/chromium}"

_chromium_say() { printf 'chromium: %s\n' "$*" >&2; }
_chromium_fail() { printf 'chromium: error: %s\n' "$*" >&2; return 1; }
_chromium_cache() { printf '%s\n' "${MCP_OAUTH_CACHE:-$HOME/.cache/mcp-oauth}"; }
_chromium_now_ms() { date +%s%3N; }

# Installs Chromium (and a font family, so screenshots have readable text) with apt-get when
# $CHROMIUM_BIN is missing. Serialised with flock, so parallel test runs do not run apt-get
# together.
chromium_install() {
    local cache started
    if [[ -x "$CHROMIUM_BIN" ]]; then
        _chromium_say "installed ($("$CHROMIUM_BIN" --version 2>/dev/null || echo "$CHROMIUM_BIN"))"
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 \
        || _chromium_fail "$CHROMIUM_BIN not found, and no apt-get to install Chromium with" || return 1
    ((EUID == 0)) || _chromium_fail "installing Chromium needs root (apt-get install chromium)" || return 1
    cache="$(_chromium_cache)"
    mkdir -p "$cache" || _chromium_fail "cannot create the cache directory $cache" || return 1
    started="$(_chromium_now_ms)"
    if command -v flock >/dev/null 2>&1; then
        (
            exec 9>"$cache/chromium-install.lock"
            flock -w 900 9 || _chromium_fail "timed out waiting for $cache/chromium-install.lock" || exit 1
            _chromium_install_locked
        ) || return 1
    else
        _chromium_install_locked || return 1
    fi
    _chromium_say "installed in $(($(_chromium_now_ms) - started)) ms ($("$CHROMIUM_BIN" --version 2>/dev/null))"
}

_chromium_install_locked() {
    local candidate
    [[ -x "$CHROMIUM_BIN" ]] && return 0
    # Without package lists (a fresh machine), apt-get knows no candidate: update them first.
    candidate="$(apt-cache policy chromium 2>/dev/null | sed -n 's/^ *Candidate: *//p')"
    if [[ -z "$candidate" || "$candidate" == "(none)" ]]; then
        _chromium_say "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 \
            || _chromium_fail "apt-get update failed" || return 1
    fi
    _chromium_say "apt-get install chromium fonts-liberation"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-liberation >&2 \
        || _chromium_fail "apt-get install chromium failed (see its output above)" || return 1
    [[ -x "$CHROMIUM_BIN" ]] || _chromium_fail "chromium is installed but $CHROMIUM_BIN is missing" || return 1
}

# Installs the suite's dependencies from its lockfile unless node_modules already holds
# exactly them (a stamp with the lockfile's hash, written after a successful `npm ci`).
_node_suite_install() {
    local dir="$1" lock_hash stamp
    lock_hash="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)" \
        || _chromium_fail "no package-lock.json in $dir" || return 1
    stamp="$dir/node_modules/.mcp-oauth-lock-sha256"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$lock_hash" ]]; then
        _chromium_say "$(basename "$dir"): dependencies up to date"
        return 0
    fi
    _chromium_say "$(basename "$dir"): npm ci"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2) \
        || _chromium_fail "npm ci in $dir failed (see npm's output above)" || return 1
    mkdir -p "$dir/node_modules" && printf '%s\n' "$lock_hash" >"$stamp"
}

# Runs one Node suite (a directory with package.json and package-lock.json) against the
# mcp-oauth binary $2; extra arguments go to `node --test` (`--test-name-pattern cimd`).
node_suite_run() {
    local dir="${1:-}" binary="${2:-}"
    [[ -n "$dir" && -n "$binary" ]] \
        || _chromium_fail "usage: node_suite_run SUITE_DIR PATH_TO_MCP_OAUTH [NODE TEST ARGS...]" || return 1
    shift 2
    [[ -x "$binary" ]] || _chromium_fail "$binary is not an executable (build it first)" || return 1
    local prefix
    prefix="$(_node_prefix)"
    [[ -x "$prefix/node_modules/.bin/node" ]] \
        || _chromium_fail "Node is not installed in $prefix: run node_install first" || return 1
    (
        set -euo pipefail
        export PATH="$prefix/node_modules/.bin:$PATH"
        dir="$(cd "$dir" && pwd)"
        suite="$(basename "$dir")"
        if command -v flock >/dev/null 2>&1; then
            lock="$(_chromium_cache)/$suite-install.lock"
            exec 9>"$lock"
            flock -w 900 9 || _chromium_fail "timed out waiting for $lock" || exit 1
        fi
        _node_suite_install "$dir"
        export MCP_OAUTH_BIN
        MCP_OAUTH_BIN="$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")"
        export ARTIFACTS_DIR="${ARTIFACTS_DIR:-$(_chromium_cache)/artifacts}"
        results="$ARTIFACTS_DIR/$suite"
        mkdir -p "$results"
        started="$(_chromium_now_ms)"
        set +e
        (cd "$dir" && npm test --silent -- "$@") 2>&1 | tee "$results/output.txt"
        status="${PIPESTATUS[0]}"
        set -e
        passed="$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$results/output.txt" | tail -n 1)"
        failed="$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$results/output.txt" | tail -n 1)"
        _chromium_say "$suite ran in $(($(_chromium_now_ms) - started)) ms; output and artifacts in $results"
        ((status == 0)) || _chromium_fail "the $suite suite failed (exit $status)" || true
        printf '%s: %s passed, %s failed\n' "$suite" "${passed:-0}" "${failed:-?}"
        exit "$status"
    )
}
