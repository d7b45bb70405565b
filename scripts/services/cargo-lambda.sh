# shellcheck shell=bash
# cargo-lambda, whose local Lambda emulator serves the `lambda` build of mcp-oauth in the
# tests (crates/cli/tests/lambda_emulator.rs). Source this file, then:
#
#   cargo_lambda_install   # venv $MCP_OAUTH_CACHE/venv-cargo-lambda with the pinned wheel;
#                          # exports CARGO_LAMBDA (the binary's path)
#
# The emulator itself is started by each test (a port of its own). Only the binary is
# installed (`--no-deps`): zig, which cross-compiling needs, comes with scripts/lambda-build.
# Idempotent and serialised with flock; the functions change no shell options and work under
# `set -euo pipefail`. Progress lines go to stderr.

_CARGO_LAMBDA_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

_cargo_lambda_say() { printf 'cargo-lambda: %s\n' "$*" >&2; }
_cargo_lambda_fail() { printf 'cargo-lambda: error: %s\n' "$*" >&2; return 1; }

# Creates or updates the venv; exports CARGO_LAMBDA.
cargo_lambda_install() {
    local cache="${MCP_OAUTH_CACHE:-$HOME/.cache/mcp-oauth}"
    mkdir -p "$cache" || _cargo_lambda_fail "cannot create the cache directory $cache" || return 1
    if command -v flock >/dev/null 2>&1; then
        (
            exec 9>"$cache/venv-cargo-lambda.lock"
            flock -w 900 9 || _cargo_lambda_fail "timed out waiting for $cache/venv-cargo-lambda.lock" || exit 1
            _cargo_lambda_install_locked "$cache"
        ) || return 1
    else
        _cargo_lambda_install_locked "$cache" || return 1
    fi
    export CARGO_LAMBDA="$cache/venv-cargo-lambda/bin/cargo-lambda"
    _cargo_lambda_say "$("$CARGO_LAMBDA" lambda --version) at $CARGO_LAMBDA"
}

_cargo_lambda_install_locked() {
    local cache="$1"
    local venv="$cache/venv-cargo-lambda"
    local requirements="$_CARGO_LAMBDA_SCRIPT_DIR/cargo-lambda-requirements.txt"
    local stamp="$venv/.requirements.sha256"
    local python="${CARGO_LAMBDA_PYTHON:-python3}"
    local wanted

    [[ -f "$requirements" ]] || _cargo_lambda_fail "missing $requirements" || return 1
    wanted="$(sha256sum "$requirements")" || return 1
    wanted="${wanted%% *}"
    if [[ -d "$venv" ]] && ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
        _cargo_lambda_say "the venv at $venv is broken; recreating it"
        rm -rf "$venv" || return 1
    fi
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" && -x "$venv/bin/cargo-lambda" ]]; then
        _cargo_lambda_say "venv up to date ($venv)"
        return 0
    fi
    if [[ ! -x "$venv/bin/python" ]]; then
        command -v "$python" >/dev/null 2>&1 \
            || _cargo_lambda_fail "$python not found (set CARGO_LAMBDA_PYTHON)" || return 1
        _cargo_lambda_say "creating venv $venv"
        "$python" -m venv "$venv" >&2 || _cargo_lambda_fail "python -m venv $venv failed" || return 1
    fi
    _cargo_lambda_say "installing $requirements (without dependencies)"
    rm -f "$stamp"
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q --no-deps \
        -r "$requirements" >&2 \
        || _cargo_lambda_fail "pip install -r $requirements failed (see pip's output above)" || return 1
    printf '%s\n' "$wanted" >"$stamp" || return 1
}
