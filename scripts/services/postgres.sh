# shellcheck shell=bash
# PostgreSQL, for the store tests of the authorization server on PostgreSQL
# (crates/authorization-server/tests/store.rs). Source this file, then:
#
#   postgres_install   # the Debian package `postgresql`, unless initdb and pg_ctl are there
#   postgres_start     # exports MCP_OAUTH_POSTGRES_URL (and MCP_OAUTH_POSTGRES_DATA, _PORT, _LOG)
#   trap postgres_stop EXIT
#   MCP_OAUTH_REQUIRE_SERVICES=1 cargo nextest run -p mcp-oauth-authorization-server --test store
#   postgres_stop      # safe to call twice, or without postgres_start
#
# The cluster is a throwaway for tests: kept between runs (a restart takes well under a second,
# initdb a few), durability traded for speed (fsync off), reachable only on 127.0.0.1 and
# through a socket in its own directory. Each test makes its own schema in the database
# `mcp_oauth`, owned by the role `mcp_oauth` (password `mcp_oauth`).
#
# Settings (environment): MCP_OAUTH_CACHE (default ~/.cache/mcp-oauth) holds the cluster in
# postgres/ (pgdata/ and socket/), unless the server's user cannot reach it (root's home is
# private), in which case it goes to /var/tmp/mcp-oauth-postgres; MCP_OAUTH_POSTGRES_DIR sets
# that directory outright. ARTIFACTS_DIR, when set, gets the server log (else the cache).
# POSTGRES_START_TIMEOUT is the number of seconds the server gets to accept connections
# (default 30).
#
# Run as root, the server runs as the `postgres` user (which the Debian package creates), since
# PostgreSQL refuses to run as root; otherwise as the calling user.
#
# The functions change no shell options and work under `set -euo pipefail`; every failure is
# reported on stderr and returned as a non-zero status. Progress lines go to stderr.

_pg_say() { printf 'postgres: %s\n' "$*" >&2; }
_pg_fail() { printf 'postgres: error: %s\n' "$*" >&2; return 1; }
_pg_cache() { printf '%s\n' "${MCP_OAUTH_CACHE:-$HOME/.cache/mcp-oauth}"; }
_pg_now_ms() { date +%s%3N; }

# Prints the directory holding initdb and pg_ctl: the newest /usr/lib/postgresql/<ver>/bin
# (Debian keeps them off the PATH), else wherever the PATH has them.
_pg_bindir() {
    local dir best="" version best_version=-1
    for dir in /usr/lib/postgresql/*/bin; do
        [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] || continue
        version="${dir#/usr/lib/postgresql/}"
        version="${version%%/*}"
        [[ "$version" =~ ^[0-9]+$ ]] || continue
        if ((version > best_version)); then
            best="$dir"
            best_version="$version"
        fi
    done
    if [[ -z "$best" ]] && command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        best="$(dirname "$(command -v pg_ctl)")"
    fi
    [[ -n "$best" ]] || return 1
    printf '%s\n' "$best"
}

# Runs a command as the server's user: `postgres` when we are root, else ourselves.
_pg_as_server() {
    if ((EUID == 0)); then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Installs the Debian package when the server programs are missing. Serialised with flock, so
# parallel test runs do not run apt-get together.
postgres_install() {
    local cache started
    if _pg_bindir >/dev/null; then
        _pg_say "installed ($(_pg_bindir)/postgres)"
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 \
        || _pg_fail "initdb and pg_ctl not found, and no apt-get to install PostgreSQL with" || return 1
    ((EUID == 0)) || _pg_fail "installing PostgreSQL needs root (apt-get install postgresql)" || return 1
    cache="$(_pg_cache)"
    mkdir -p "$cache" || _pg_fail "cannot create the cache directory $cache" || return 1
    started="$(_pg_now_ms)"
    if command -v flock >/dev/null 2>&1; then
        (
            exec 9>"$cache/postgres-install.lock"
            flock -w 900 9 || _pg_fail "timed out waiting for $cache/postgres-install.lock" || exit 1
            _pg_install_locked
        ) || return 1
    else
        _pg_install_locked || return 1
    fi
    _pg_say "installed in $(($(_pg_now_ms) - started)) ms ($(_pg_bindir)/postgres)"
}

_pg_install_locked() {
    local candidate
    _pg_bindir >/dev/null && return 0
    # Without package lists (a fresh machine), apt-get knows no candidate: update them first.
    candidate="$(apt-cache policy postgresql 2>/dev/null | sed -n 's/^ *Candidate: *//p')"
    if [[ -z "$candidate" || "$candidate" == "(none)" ]]; then
        _pg_say "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 \
            || _pg_fail "apt-get update failed" || return 1
    fi
    _pg_say "apt-get install postgresql"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2 \
        || _pg_fail "apt-get install postgresql failed (see its output above)" || return 1
    _pg_bindir >/dev/null || _pg_fail "postgresql is installed but initdb and pg_ctl are not found" || return 1
}

# Prints the directory of the cluster: one the server's user can reach.
_pg_dir() {
    local cache
    if [[ -n "${MCP_OAUTH_POSTGRES_DIR:-}" ]]; then
        printf '%s\n' "$MCP_OAUTH_POSTGRES_DIR"
        return 0
    fi
    cache="$(_pg_cache)"
    mkdir -p "$cache" || return 1
    if _pg_as_server test -x "$cache" 2>/dev/null; then
        printf '%s\n' "$cache/postgres"
    else
        printf '%s\n' "/var/tmp/mcp-oauth-postgres"
    fi
}

# Prints a TCP port on 127.0.0.1 that nothing was listening on a moment ago.
_pg_free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    return 1
}

# Runs SQL as the superuser, over the cluster's socket.
_pg_psql() {
    local bindir="$1" socket="$2" port="$3"
    shift 3
    _pg_as_server "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$socket" -p "$port" -U postgres -d postgres "$@"
}

# Creates the cluster if missing, starts it on a free loopback port, waits until it accepts
# connections, and makes the test role and database.
postgres_start() {
    local bindir dir data socket log_dir log port started attempt owner
    bindir="$(_pg_bindir)" || _pg_fail "PostgreSQL is not installed: run postgres_install first" || return 1
    dir="$(_pg_dir)" || _pg_fail "cannot choose a directory for the cluster" || return 1
    data="$dir/pgdata"
    socket="$dir/socket"
    log_dir="${ARTIFACTS_DIR:-$(_pg_cache)}"
    mkdir -p "$dir" "$socket" "$log_dir" || return 1
    # Only the server's user may use the socket (local connections need no password).
    chmod 700 "$socket" || return 1
    log="$log_dir/postgres.log"
    if ((EUID == 0)); then
        id postgres >/dev/null 2>&1 \
            || _pg_fail "no user 'postgres' to run the server as (root may not)" || return 1
        owner="postgres"
        chown postgres: "$dir" "$socket" || return 1
    else
        owner="$(id -un)"
    fi

    if _pg_as_server "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        port="$(sed -n 4p "$data/postmaster.pid" 2>/dev/null)"
        [[ "$port" =~ ^[0-9]+$ ]] || _pg_fail "a server runs on $data but its port is unknown" || return 1
        _pg_say "already running on 127.0.0.1:$port ($data)"
        _pg_ready "$bindir" "$data" "$socket" "$port" "$log"
        return
    fi

    if [[ ! -s "$data/PG_VERSION" ]]; then
        started="$(_pg_now_ms)"
        rm -rf "$data" || return 1
        _pg_as_server "$bindir/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
            --auth-local=trust --auth-host=scram-sha-256 >/dev/null \
            || _pg_fail "initdb of $data failed" || return 1
        # A disposable test cluster: durability is not wanted, speed is.
        _pg_as_server tee -a "$data/postgresql.conf" >/dev/null <<EOF || return 1

# mcp-oauth test cluster (scripts/services/postgres.sh)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$socket'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
        _pg_say "created the cluster $data (owner $owner) in $(($(_pg_now_ms) - started)) ms"
    fi

    : >>"$log" || return 1
    for attempt in 1 2 3; do
        port="$(_pg_free_port)" || _pg_fail "cannot find a free port" || return 1
        printf '=== postgres on 127.0.0.1:%s, %s\n' "$port" "$(date -u +%FT%TZ)" >>"$log"
        started="$(_pg_now_ms)"
        # pg_ctl hands the server our stdout: the log, opened here (the server's user may not
        # be able to open it).
        if _pg_as_server "$bindir/pg_ctl" -D "$data" -o "-p $port" -w -t "${POSTGRES_START_TIMEOUT:-30}" \
            start >>"$log" 2>&1 </dev/null; then
            _pg_say "started on 127.0.0.1:$port in $(($(_pg_now_ms) - started)) ms (log $log)"
            _pg_ready "$bindir" "$data" "$socket" "$port" "$log"
            return
        fi
        if tail -n 20 "$log" | grep -q 'could not bind\|Address already in use'; then
            _pg_say "port $port was taken meanwhile; trying another (attempt $attempt)"
            continue
        fi
        tail -n 20 "$log" >&2 || true
        _pg_fail "the server did not start (log: $log)"
        return 1
    done
    _pg_fail "could not start the server: every port tried was taken (log: $log)"
}

# Makes the test role and database if missing, and exports where they are.
_pg_ready() {
    local bindir="$1" data="$2" socket="$3" port="$4" log="$5"
    _pg_psql "$bindir" "$socket" "$port" <<'EOF' || _pg_fail "cannot create the test role and database" || return 1
SELECT 'CREATE ROLE mcp_oauth LOGIN PASSWORD ''mcp_oauth'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mcp_oauth') \gexec
SELECT 'CREATE DATABASE mcp_oauth OWNER mcp_oauth'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'mcp_oauth') \gexec
EOF
    export MCP_OAUTH_POSTGRES_DATA="$data"
    export MCP_OAUTH_POSTGRES_PORT="$port"
    export MCP_OAUTH_POSTGRES_LOG="$log"
    export MCP_OAUTH_POSTGRES_URL="postgres://mcp_oauth:mcp_oauth@127.0.0.1:$port/mcp_oauth"
    _pg_say "ready: MCP_OAUTH_POSTGRES_URL=$MCP_OAUTH_POSTGRES_URL"
}

# Stops the server started by postgres_start; does nothing when none is running.
postgres_stop() {
    local data="${MCP_OAUTH_POSTGRES_DATA:-}" bindir
    unset MCP_OAUTH_POSTGRES_URL MCP_OAUTH_POSTGRES_PORT MCP_OAUTH_POSTGRES_DATA
    [[ -n "$data" ]] || return 0
    bindir="$(_pg_bindir)" || return 0
    if _pg_as_server "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        _pg_as_server "$bindir/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null \
            || _pg_fail "pg_ctl stop failed for $data" || return 1
        _pg_say "stopped ($data)"
    fi
}
