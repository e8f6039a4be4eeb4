#!/usr/bin/env bash
# Start the kit's servers in the background on 127.0.0.1: memcached, account,
# container and object servers, the tempauth proxy; wait until GET /info
# answers and a tempauth login works. What already runs is left alone.
#
#   start.sh [--state DIR] [--keystone]
#     --keystone  also start the keystone proxy on $SWIFT_KS_PORT (the
#                 keystone kit must be running), register it in keystone's
#                 catalog as 'swift' (object-store) and check that a
#                 keystone token is accepted
set -euo pipefail
KIT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$KIT/lib.sh"
kit_init "$@"
keystone=""
for a in ${ARGS[@]+"${ARGS[@]}"}; do
    case $a in
        --keystone) keystone=1 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) die "unknown argument: $a (see --help)" ;;
    esac
done
export PYTHONDONTWRITEBYTECODE=1
[ -s "$SETUP_STAMP" ] && [ -s "$ETC/object.ring.gz" ] && [ -s "$ETC/proxy.conf" ] ||
    die "not set up in $STATE: run $KIT/setup.sh first"
if [ "$(cat "$PORTS_FILE" 2>/dev/null)" != "$OBJECT_PORT $CONTAINER_PORT $ACCOUNT_PORT" ]; then
    die "$STATE was set up for backend ports $(cat "$PORTS_FILE" 2>/dev/null), not $OBJECT_PORT-$ACCOUNT_PORT: rerun setup.sh with this SWIFT_BACKEND_PORT"
fi
for f in proxy proxy-keystone; do
    grep -qx "bind_port = $(port_of $f)" "$ETC/$f.conf" ||
        die "$ETC/$f.conf is not for port $(port_of $f): rerun setup.sh with these ports"
done
mkdir -p "$LOGS" "$RUN"
t0=$SECONDS
started=()

fail() {
    local s out
    for s in ${started[@]+"${started[@]}"}; do
        # the last 15 lines this start logged (after its "== ... start.sh:" line)
        out=$(awk '/^== .* start\.sh: /{n=0; delete l; next} {l[++n]=$0}
                   END{for (i = (n > 15 ? n - 14 : 1); i <= n; i++) print "  " l[i]}' \
              "$LOGS/$s.log" 2>/dev/null) || true
        [ -z "$out" ] || printf -- '--- %s (this start)\n%s\n' "$LOGS/$s.log" "$out" >&2
    done
    # only what this run started
    [ ${#started[@]} -eq 0 ] || "$KIT/stop.sh" "${started[@]}" >/dev/null 2>&1 || true
    die "$*"
}

# launch NAME: start one server in its own session (nothing the calling
# shell does to its process group reaches it); the pid file holds the pid of
# the server itself (bash execs it).
launch() {
    local name=$1 port pid
    if pid=$(running_pid "$name"); then
        say "$name already running (pid $pid)"
        return 0
    fi
    rm -f "$RUN/$name.pid"
    port=$(port_of "$name")
    if port_in_use "$port"; then
        fail "127.0.0.1:$port ($name) is in use by another process (see README: ports)"
    fi
    server_cmd "$name"
    echo "== $(date -u +%FT%TZ) start.sh: ${CMD[*]}" >>"$LOGS/$name.log"
    SWIFT_KIT_PROC="$STATE:$name" NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost" \
        setsid bash -c 'echo $$ >"$0"; exec "$@"' "$RUN/$name.pid" "${CMD[@]}" \
        </dev/null >>"$LOGS/$name.log" 2>&1 &
    started+=("$name")
}

# wait_for NAME CHECK...: poll CHECK until it succeeds (up to 60 s) while
# the server lives.
wait_for() {
    local name=$1; shift
    local i
    for i in $(seq 1 240); do
        if "$@"; then return 0; fi
        if [ "$i" -gt 4 ] && ! running_pid "$name" >/dev/null; then
            fail "$name exited during start (log: $LOGS/$name.log)"
        fi
        sleep 0.25
    done
    fail "$name did not come up in 60 s (log: $LOGS/$name.log)"
}
healthy() { [ "$(http_code "http://$SWIFT_HOST:$1/healthcheck")" = 200 ]; }
mc_up() { port_in_use "$SWIFT_MEMCACHE_PORT"; }
info_up() { [ "$(http_code "http://$SWIFT_HOST:$1/info")" = 200 ]; }
# a tempauth token that the proxy accepts: HEAD of the account answers 2xx
# (204, or 200 while the account does not exist yet; HEAD creates nothing)
login_works() {
    local st
    st=$(tempauth_login "$SWIFT_USER" "$SWIFT_KEY" "$SWIFT_URL") || return 1
    case $(http_code -I -H "X-Auth-Token: ${st#* }" "${st%% *}") in 2??) ;; *) return 1 ;; esac
}

if [ -n "$keystone" ]; then
    grep -qx "auth_url = ${SWIFT_KS_AUTH_URL%/v3}" "$ETC/proxy-keystone.conf" ||
        die "$ETC/proxy-keystone.conf is not for keystone at $SWIFT_KS_AUTH_URL: rerun setup.sh"
    [ "$(http_code "$SWIFT_KS_AUTH_URL")" = 200 ] ||
        die "--keystone: keystone does not answer at $SWIFT_KS_AUTH_URL (run tests/keystone/start.sh first)"
fi

# all at once: a proxy needs its backends only when a request comes
for s in memcached account container object proxy; do launch "$s"; done
[ -z "$keystone" ] || launch proxy-keystone
wait_for memcached mc_up
wait_for account healthy "$ACCOUNT_PORT"
wait_for container healthy "$CONTAINER_PORT"
wait_for object healthy "$OBJECT_PORT"
wait_for proxy info_up "$SWIFT_PORT"
wait_for proxy login_works
if [ -n "$keystone" ]; then
    wait_for proxy-keystone info_up "$SWIFT_KS_PORT"
    "$SWIFT_PY" "$KIT/ks_swift.py" register ||
        fail "registering the object-store endpoints in keystone failed"
    url=$("$SWIFT_PY" "$KIT/ks_swift.py" check) ||
        fail "the keystone proxy did not accept a keystone token (log: $LOGS/proxy-keystone.log)"
    say "keystone proxy $SWIFT_KS_URL: $SWIFT_KS_USER's token opens $url"
fi
pids=""
for s in "${SERVERS[@]}"; do
    if p=$(running_pid "$s"); then pids+=" $s=$p"; fi
done
say "up in $((SECONDS - t0)) s: $SWIFT_URL (auth $SWIFT_AUTH_URL);$pids"
