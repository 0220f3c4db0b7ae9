#!/usr/bin/env bash
# A private ejabberd for tests, CI and development: loopback only, no TLS, its own state
# directory. Installs Debian's ejabberd if it is missing. Every command is idempotent.
#
#   scripts/ejabberd.sh start    start (or reuse the instance already answering); prints its API
#   scripts/ejabberd.sh stop     stop the instance this script started from WSC_EJABBERD_DIR
#   scripts/ejabberd.sh status   exit 0 if the API answers, 3 if not
#
# Environment (defaults in brackets):
#   WSC_EJABBERD_DIR            state: config, mnesia spool, logs, pid [${TMPDIR:-/tmp}/wschats-ejabberd]
#   WSC_EJABBERD_C2S_PORT       XMPP client port on 127.0.0.1 [15222]
#   WSC_EJABBERD_HTTP_PORT      HTTP API (/api) and websocket (/ws) port on 127.0.0.1 [15280]
#   WSC_EJABBERD_START_TIMEOUT  seconds to wait for the API after starting [60]
#   WSC_EJABBERD_KEEP_SPOOL     1: start with the state (users, rooms) of the last run [0]
#
# How it runs (docs/ejabberd.md, "mode B"): erl is started directly with no Erlang
# distribution, so there is no epmd, no cookie, no distribution port and no su/chown; only the
# two ports above are opened, both on 127.0.0.1. The packaged ports (5222/5280) are avoided.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${WSC_EJABBERD_DIR:-${TMPDIR:-/tmp}/wschats-ejabberd}
C2S_PORT=${WSC_EJABBERD_C2S_PORT:-15222}
HTTP_PORT=${WSC_EJABBERD_HTTP_PORT:-15280}
START_TIMEOUT=${WSC_EJABBERD_START_TIMEOUT:-60}
STOP_TIMEOUT=15
API="http://127.0.0.1:${HTTP_PORT}/api"
PIDFILE="$DIR/ejabberd.pid"
TEMPLATE="$ROOT/deploy/ejabberd/ejabberd.yml"

log() { echo "ejabberd.sh: $*" >&2; }
die() { log "$*"; exit 1; }

api_ready() {
    curl -fsS -m 2 -X POST -H 'Content-Type: application/json' -d '{}' "$API/status" 2>/dev/null \
        | grep -q 'is running'
}

# The directory holding ejabberd-<version>/ebin, i.e. what ERL_LIBS needs (arch-specific).
ejabberd_libs() {
    local app
    app=$(ls -d /usr/lib/*/ejabberd-*/ebin/ejabberd.app /usr/lib/ejabberd-*/ebin/ejabberd.app \
        2>/dev/null | head -n 1) || true
    [ -n "$app" ] && dirname "$(dirname "$(dirname "$app")")"
}

# The pid in the pid file if it is still our beam process (not a recycled pid).
our_pid() {
    local pid
    [ -f "$PIDFILE" ] || return 1
    pid=$(cat "$PIDFILE")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$DIR/spool" || return 1
    echo "$pid"
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo -n "$@"
    else die "root is needed to install ejabberd (or install the 'ejabberd' package first)"
    fi
}

ensure_installed() {
    [ -n "$(ejabberd_libs)" ] && [ -x /usr/bin/erl ] && return 0
    log "installing Debian's ejabberd"
    # The package's maintainer scripts would start the system service with the packaged
    # config, which listens on all interfaces (5222, 5269, 5280, ...). A policy-rc.d that
    # denies service starts prevents that; ours is removed again if we had to create it.
    local policy=/usr/sbin/policy-rc.d created=""
    if [ ! -e "$policy" ]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
        created=1
    fi
    local rc=0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q || rc=$?
    if [ "$rc" = 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q ejabberd || rc=$?
    fi
    [ -n "$created" ] && as_root rm -f "$policy"
    [ "$rc" = 0 ] || die "apt-get failed (exit $rc)"
    [ -n "$(ejabberd_libs)" ] || die "ejabberd installed but its ebin directory was not found"
}

wait_ready() {
    local pid=$1 deadline=$((SECONDS + START_TIMEOUT))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if api_ready; then
            echo "ejabberd running: api=$API c2s=127.0.0.1:$C2S_PORT dir=$DIR pid=$pid"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$DIR/logs/erl.out" "$DIR/logs/ejabberd.log" >&2 2>/dev/null || true
            rm -f "$PIDFILE"
            die "ejabberd exited during start-up (a port in use? see $DIR/logs)"
        fi
        sleep 0.2
    done
    die "ejabberd did not answer on $API within ${START_TIMEOUT}s (see $DIR/logs)"
}

start() {
    mkdir -p "$DIR"
    # One starter at a time: parallel test runs share the instance instead of racing for ports.
    exec 9>"$DIR/.lock"
    flock -w 900 9 || die "timed out waiting for another ejabberd.sh"
    if api_ready; then
        echo "ejabberd already running: api=$API c2s=127.0.0.1:$C2S_PORT"
        return 0
    fi
    local pid
    if pid=$(our_pid); then
        wait_ready "$pid"
        return 0
    fi
    ensure_installed
    # A fresh spool per start: rooms, users and subscriptions of earlier runs do not leak in
    # (unless asked to keep them, to restart a server with its state).
    if [ "${WSC_EJABBERD_KEEP_SPOOL:-0}" = 1 ]; then
        rm -rf "$DIR/conf"
    else
        rm -rf "$DIR/spool" "$DIR/conf"
    fi
    mkdir -p "$DIR/conf" "$DIR/spool" "$DIR/logs"
    sed -e "s/__C2S_PORT__/$C2S_PORT/g" -e "s/__HTTP_PORT__/$HTTP_PORT/g" \
        "$TEMPLATE" >"$DIR/conf/ejabberd.yml"
    [ -f /etc/ejabberd/inetrc ] && cp /etc/ejabberd/inetrc "$DIR/conf/"
    local libs
    libs=$(ejabberd_libs)
    (
        cd "$DIR/spool"
        export HOME="$DIR" EJABBERD_CONFIG_PATH="$DIR/conf/ejabberd.yml" \
            EJABBERD_LOG_PATH="$DIR/logs/ejabberd.log" ERL_LIBS="$libs" ERL_CRASH_DUMP_BYTES=0
        [ -f "$DIR/conf/inetrc" ] && export ERL_INETRC="$DIR/conf/inetrc"
        # erl execs beam.smp, so $! below is the server process itself.
        exec setsid /usr/bin/erl -noinput -noshell +K true \
            -mnesia dir "\"$DIR/spool\"" -s ejabberd
    ) </dev/null >"$DIR/logs/erl.out" 2>&1 9>&- &
    pid=$!
    echo "$pid" >"$PIDFILE"
    wait_ready "$pid"
}

stop() {
    local pid
    if ! pid=$(our_pid); then
        rm -f "$PIDFILE"
        echo "ejabberd not running from $DIR"
        return 0
    fi
    kill -TERM "$pid"
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
        log "ejabberd (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT}s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
    echo "ejabberd stopped"
}

status() {
    if api_ready; then
        local pid
        pid=$(our_pid) || pid="not started from $DIR"
        echo "ejabberd running: api=$API c2s=127.0.0.1:$C2S_PORT pid=$pid"
        return 0
    fi
    echo "ejabberd not answering on $API"
    return 3
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
