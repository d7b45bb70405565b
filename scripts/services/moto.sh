# shellcheck shell=bash
# moto, the AWS Cognito IdP emulator, for the integration tests of the Cognito profile
# (crates/resource/tests/cognito_moto.rs). Source this file, then:
#
#   moto_install   # venv with the pinned moto-requirements.txt, and moto's signing key as PEM
#   moto_start     # exports MOTO_ENDPOINT, MOTO_COGNITO_KEY_PEM (and MOTO_PID, MOTO_LOG)
#   trap moto_stop EXIT
#   MCP_OAUTH_REQUIRE_SERVICES=1 cargo nextest run -p mcp-oauth-resource --test cognito_moto
#   moto_stop      # safe to call twice, or without moto_start
#
# Settings (environment): MCP_OAUTH_CACHE (default ~/.cache/mcp-oauth) holds the venv, the key
# and the log; ARTIFACTS_DIR, when set, gets the log instead; MOTO_PYTHON picks the interpreter
# the venv is made from (default python3, at least 3.10); MOTO_START_TIMEOUT is the number of
# seconds moto_server gets to answer (default 30).
#
# The functions change no shell options and work under `set -euo pipefail`; every failure is
# reported on stderr and returned as a non-zero status. Progress lines go to stderr.

_MOTO_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

_moto_say() { printf 'moto: %s\n' "$*" >&2; }
_moto_fail() { printf 'moto: error: %s\n' "$*" >&2; return 1; }
_moto_cache() { printf '%s\n' "${MCP_OAUTH_CACHE:-$HOME/.cache/mcp-oauth}"; }
_moto_now_ms() { date +%s%3N; }

# Writes moto's Cognito signing key (a JWK holding only n, e and d, shipped gzipped inside the
# moto package) as an unencrypted PKCS#8 PEM to the path in argv[1]; prints the key id. The
# primes are recovered from (n, e, d) because PEM private keys need them. The key is public and
# the same in every moto install: it is only good for signing test tokens.
_MOTO_KEY_TO_PEM='
import base64, gzip, json, sys
from importlib import resources
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

def number(member):
    text = jwk[member]
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")

folder = resources.files("moto") / "cognitoidp" / "resources"
packed = folder / "jwks-private.json.gz"
if packed.is_file():
    jwk = json.loads(gzip.decompress(packed.read_bytes()))
else:
    jwk = json.loads((folder / "jwks-private.json").read_bytes())
if "keys" in jwk:
    jwk = jwk["keys"][0]
n, e, d = number("n"), number("e"), number("d")
p, q = rsa.rsa_recover_prime_factors(n, e, d)
private = rsa.RSAPrivateNumbers(
    p=p, q=q, d=d,
    dmp1=rsa.rsa_crt_dmp1(d, p), dmq1=rsa.rsa_crt_dmq1(d, q), iqmp=rsa.rsa_crt_iqmp(p, q),
    public_numbers=rsa.RSAPublicNumbers(e, n),
).private_key()
with open(sys.argv[1], "wb") as out:
    out.write(private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
print(jwk.get("kid", "(no kid)"))
'

# Creates or updates the venv and the key PEM. Serialised with flock, so parallel test runs
# sharing one cache do not install over each other.
moto_install() {
    local cache
    cache="$(_moto_cache)"
    mkdir -p "$cache" || _moto_fail "cannot create the cache directory $cache" || return 1
    if command -v flock >/dev/null 2>&1; then
        (
            exec 9>"$cache/venv-moto.lock"
            flock -w 900 9 || _moto_fail "timed out waiting for $cache/venv-moto.lock" || exit 1
            _moto_install_locked "$cache"
        )
    else
        _moto_install_locked "$cache"
    fi
}

_moto_install_locked() {
    local cache="$1"
    local venv="$cache/venv-moto"
    local requirements="$_MOTO_SCRIPT_DIR/moto-requirements.txt"
    local stamp="$venv/.requirements.sha256"
    local pem="$cache/moto-cognito-key.pem"
    local python="${MOTO_PYTHON:-python3}"
    local wanted started kid

    [[ -f "$requirements" ]] || _moto_fail "missing $requirements" || return 1
    wanted="$(sha256sum "$requirements")" || return 1
    wanted="${wanted%% *}"

    # A venv whose interpreter no longer runs (the base Python moved or was upgraded) is rebuilt.
    if [[ -d "$venv" ]] && ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
        _moto_say "the venv at $venv is broken; recreating it"
        rm -rf "$venv" || return 1
    fi
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" && -x "$venv/bin/moto_server" ]]; then
        _moto_say "venv up to date ($venv)"
    else
        started="$(_moto_now_ms)"
        if [[ ! -x "$venv/bin/python" ]]; then
            command -v "$python" >/dev/null 2>&1 \
                || _moto_fail "$python not found (set MOTO_PYTHON to a Python >= 3.10)" || return 1
            "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
                || _moto_fail "$python is older than 3.10, which moto 5 requires (set MOTO_PYTHON)" \
                || return 1
            _moto_say "creating venv $venv"
            "$python" -m venv "$venv" >&2 || _moto_fail "python -m venv $venv failed" || return 1
        fi
        _moto_say "installing pinned requirements from $requirements"
        rm -f "$stamp" "$pem"
        "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q \
            -r "$requirements" >&2 \
            || _moto_fail "pip install -r $requirements failed (see pip's output above)" || return 1
        printf '%s\n' "$wanted" >"$stamp" || return 1
        _moto_say "installed in $(($(_moto_now_ms) - started)) ms"
    fi

    if [[ ! -s "$pem" ]]; then
        kid="$("$venv/bin/python" -c "$_MOTO_KEY_TO_PEM" "$pem.tmp.$$")" \
            || { rm -f "$pem.tmp.$$"; _moto_fail "cannot export moto's signing key"; return 1; }
        mv -f "$pem.tmp.$$" "$pem" || return 1
        _moto_say "wrote moto's signing key (kid $kid) to $pem"
    fi
}

# Prints a TCP port that was free on 127.0.0.1 a moment ago.
_moto_free_port() {
    "$1" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Starts moto_server on a free loopback port and waits until it answers.
moto_start() {
    local cache venv pem log_dir log port pid started deadline attempt
    if [[ -n "${MOTO_PID:-}" ]] && kill -0 "$MOTO_PID" 2>/dev/null; then
        _moto_say "already running at ${MOTO_ENDPOINT:-?} (pid $MOTO_PID)"
        return 0
    fi
    cache="$(_moto_cache)"
    venv="$cache/venv-moto"
    pem="$cache/moto-cognito-key.pem"
    [[ -x "$venv/bin/moto_server" && -s "$pem" ]] \
        || _moto_fail "moto is not installed in $venv: run moto_install first" || return 1
    command -v curl >/dev/null 2>&1 || _moto_fail "curl is needed to see when moto is ready" || return 1
    log_dir="${ARTIFACTS_DIR:-$cache}"
    mkdir -p "$log_dir" || return 1
    log="$log_dir/moto-server.log"
    : >"$log" || return 1

    for attempt in 1 2 3; do
        port="$(_moto_free_port "$venv/bin/python")" || _moto_fail "cannot find a free port" || return 1
        printf '=== moto_server on 127.0.0.1:%s, %s\n' "$port" "$(date -u +%FT%TZ)" >>"$log"
        started="$(_moto_now_ms)"
        deadline=$((SECONDS + ${MOTO_START_TIMEOUT:-30}))
        "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" </dev/null >>"$log" 2>&1 &
        pid=$!
        while ! curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/moto-api/data.json"; do
            if ! kill -0 "$pid" 2>/dev/null; then
                wait "$pid" 2>/dev/null || true
                if grep -q "Port $port is in use" "$log"; then
                    _moto_say "port $port was taken meanwhile; trying another (attempt $attempt)"
                    continue 2
                fi
                tail -n 20 "$log" >&2 || true
                _moto_fail "moto_server exited before it was ready (log: $log)"
                return 1
            fi
            if ((SECONDS >= deadline)); then
                kill -TERM "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
                tail -n 20 "$log" >&2 || true
                _moto_fail "moto_server did not answer on port $port within ${MOTO_START_TIMEOUT:-30} s (log: $log)"
                return 1
            fi
            sleep 0.1
        done
        export MOTO_PID="$pid"
        export MOTO_ENDPOINT="http://127.0.0.1:$port"
        export MOTO_COGNITO_KEY_PEM="$pem"
        export MOTO_LOG="$log"
        _moto_say "ready at $MOTO_ENDPOINT in $(($(_moto_now_ms) - started)) ms (pid $pid, log $log)"
        return 0
    done
    _moto_fail "could not start moto_server: every port tried was taken (log: $log)"
}

# Stops the moto_server started by moto_start; does nothing when none is running.
moto_stop() {
    local pid="${MOTO_PID:-}" tries=0
    unset MOTO_PID MOTO_ENDPOINT MOTO_COGNITO_KEY_PEM
    [[ -n "$pid" ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null && ((tries < 50)); do
            sleep 0.1
            tries=$((tries + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            _moto_say "pid $pid ignored SIGTERM for 5 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
    _moto_say "stopped (pid $pid)"
}
