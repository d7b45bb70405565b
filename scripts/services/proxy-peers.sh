# shellcheck shell=bash
# MCP servers nobody here wrote, as upstreams of `mcp-oauth proxy` (crates/proxy/tests/peers.rs,
# crates/cli/tests/proxy_command.rs, tests/interop/proxy.test.mjs): the MCP TypeScript SDK's
# `@modelcontextprotocol/server-everything` (npm, tests/proxy-peers/package-lock.json) and the
# Python MCP SDK's FastMCP (PyPI, proxy-peers-requirements.txt). Source this file (and
# node.sh, whose Node 22 runs the npm one), then:
#
#   node_install; proxy_peers_install  # npm ci and a venv in the cache; fast when up to date
#   proxy_peers_env                    # exports what the tests read:
#       MCP_OAUTH_EVERYTHING_SERVER    the server-everything entry point (run with node: `stdio`
#                                      or `streamableHttp`, which listens on $PORT at /mcp)
#       MCP_OAUTH_NODE                 Node 22
#       MCP_OAUTH_PYTHON_MCP           the venv's python, which has the `mcp` package
#   MCP_OAUTH_REQUIRE_SERVICES=1 cargo nextest run -p mcp-oauth-proxy --test peers
#
# Settings (environment): MCP_OAUTH_CACHE (default ~/.cache/mcp-oauth) holds proxy-peers/ and
# venv-proxy-peers/; PROXY_PEERS_PYTHON picks the interpreter the venv is made from (default
# python3, at least 3.10). The functions change no shell options and work under
# `set -euo pipefail`; failures are reported on stderr and returned as a non-zero status.

_PROXY_PEERS_PROJECT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests/proxy-peers" && pwd)"
_PROXY_PEERS_REQUIREMENTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/proxy-peers-requirements.txt"

_proxy_peers_say() { printf 'proxy-peers: %s\n' "$*" >&2; }
_proxy_peers_fail() { printf 'proxy-peers: error: %s\n' "$*" >&2; return 1; }
_proxy_peers_cache() { printf '%s\n' "${MCP_OAUTH_CACHE:-$HOME/.cache/mcp-oauth}"; }
_proxy_peers_node_bin() { printf '%s/node%s/node_modules/.bin\n' "$(_proxy_peers_cache)" "${NODE_MAJOR:-22}"; }

# Installs both peers, serialised with flock so parallel runs sharing a cache do not collide.
proxy_peers_install() {
    local cache
    cache="$(_proxy_peers_cache)"
    mkdir -p "$cache" || return 1
    if command -v flock >/dev/null 2>&1; then
        (
            exec 9>"$cache/proxy-peers.lock"
            flock -w 900 9 || _proxy_peers_fail "timed out waiting for $cache/proxy-peers.lock" || exit 1
            _proxy_peers_install_npm && _proxy_peers_install_python
        )
    else
        _proxy_peers_install_npm && _proxy_peers_install_python
    fi
}

# `npm ci` of tests/proxy-peers into the cache, unless the installed lockfile is the project's.
_proxy_peers_install_npm() {
    local dir bin
    dir="$(_proxy_peers_cache)/proxy-peers"
    bin="$(_proxy_peers_node_bin)"
    [[ -x "$bin/node" ]] || _proxy_peers_fail "Node 22 is missing in $bin: run node_install first" || return 1
    if cmp -s "$_PROXY_PEERS_PROJECT/package-lock.json" "$dir/package-lock.json" \
        && [[ -f "$dir/node_modules/@modelcontextprotocol/server-everything/package.json" ]]; then
        _proxy_peers_say "server-everything up to date ($dir)"
        return 0
    fi
    mkdir -p "$dir" || return 1
    cp "$_PROXY_PEERS_PROJECT/package.json" "$_PROXY_PEERS_PROJECT/package-lock.json" "$dir/" || return 1
    (cd "$dir" && PATH="$bin:$PATH" npm ci --no-audit --no-fund --loglevel=error >&2) \
        || _proxy_peers_fail "npm ci in $dir failed (see npm's output above)" || return 1
    _proxy_peers_say "installed server-everything in $dir"
}

# A venv with the pinned requirements, rebuilt when they change.
_proxy_peers_install_python() {
    local venv stamp wanted python
    venv="$(_proxy_peers_cache)/venv-proxy-peers"
    stamp="$venv/.requirements.sha256"
    python="${PROXY_PEERS_PYTHON:-python3}"
    wanted="$(sha256sum "$_PROXY_PEERS_REQUIREMENTS")" || return 1
    wanted="${wanted%% *}"
    if [[ -d "$venv" ]] && ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
        rm -rf "$venv" || return 1
    fi
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
        _proxy_peers_say "Python MCP SDK up to date ($venv)"
        return 0
    fi
    if [[ ! -x "$venv/bin/python" ]]; then
        command -v "$python" >/dev/null 2>&1 || _proxy_peers_fail "$python not found (set PROXY_PEERS_PYTHON)" || return 1
        "$python" -m venv "$venv" >&2 || _proxy_peers_fail "python -m venv $venv failed" || return 1
    fi
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q \
        -r "$_PROXY_PEERS_REQUIREMENTS" >&2 \
        || _proxy_peers_fail "pip install -r $_PROXY_PEERS_REQUIREMENTS failed" || return 1
    printf '%s\n' "$wanted" >"$stamp" || return 1
    _proxy_peers_say "installed the Python MCP SDK in $venv"
}

# Exports where the peers are (see the top of this file).
proxy_peers_env() {
    local cache
    cache="$(_proxy_peers_cache)"
    export MCP_OAUTH_EVERYTHING_SERVER="$cache/proxy-peers/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
    export MCP_OAUTH_NODE="$(_proxy_peers_node_bin)/node"
    export MCP_OAUTH_PYTHON_MCP="$cache/venv-proxy-peers/bin/python"
    [[ -f "$MCP_OAUTH_EVERYTHING_SERVER" && -x "$MCP_OAUTH_PYTHON_MCP" ]] \
        || _proxy_peers_fail "not installed: run proxy_peers_install first" || return 1
}
