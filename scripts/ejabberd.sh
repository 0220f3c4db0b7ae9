#!/usr/bin/env bash
# A private ejabberd for tests, CI and development: loopback only, no TLS, its own state
# directory. Installs Debian's ejabberd if it is missing. Every command is idempotent.
#
#   scripts/ejabberd.sh start    start, or reuse the instance this script started from the same
#                                WSC_EJABBERD_DIR and ports ("already running"); prints its API.
#                                Fails if another instance (another directory, e.g. the tests')
#                                answers on the API port: its settings are not ours.
#   scripts/ejabberd.sh stop     stop the instance this script started from WSC_EJABBERD_DIR
#   scripts/ejabberd.sh status   exit 0 if the API answers (whoever started it), 3 if not
#
# Environment (defaults in brackets):
#   WSC_EJABBERD_DIR            state: config, mnesia spool, logs, pid [${TMPDIR:-/tmp}/wschats-ejabberd]
#   WSC_EJABBERD_C2S_PORT       XMPP client port on 127.0.0.1 [15222]
#   WSC_EJABBERD_HTTP_PORT      HTTP API (/api) and websocket (/ws) port on 127.0.0.1 [15280]
#   WSC_EJABBERD_START_TIMEOUT  seconds to wait for the API after starting [60]
#   WSC_EJABBERD_FRESH          1: a throw-away instance, its state (users, rooms, archives)
#                               wiped at start (tests); otherwise the state is kept [0]
#   WSC_*                       the wschats settings (database, data dir, identity, domain) that
#                               sign-in uses, as for `wschats serve`
#
# People sign in with wschats credentials: ejabberd runs `wschats xmpp-auth` (the one on PATH,
# else this project's .venv/bin/wschats) through a wrapper written to <dir>/conf/xmpp-auth that
# carries the WSC_* settings and the current directory of the caller (docs/xmpp-sign-in.md).
#
# How it runs (docs/ejabberd.md, "mode B"): erl is started directly with no Erlang
# distribution, so there is no epmd, no cookie, no distribution port and no su/chown; only the
# two ports above are opened, both on 127.0.0.1. The packaged ports (5222/5280) are avoided.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${WSC_EJABBERD_DIR:-${TMPDIR:-/tmp}/wschats-ejabberd}
case "$DIR" in /*) ;; *) DIR="$PWD/$DIR" ;; esac  # erl runs from the spool directory
C2S_PORT=${WSC_EJABBERD_C2S_PORT:-15222}
HTTP_PORT=${WSC_EJABBERD_HTTP_PORT:-15280}
START_TIMEOUT=${WSC_EJABBERD_START_TIMEOUT:-60}
STOP_TIMEOUT=15
API="http://127.0.0.1:${HTTP_PORT}/api"
PIDFILE="$DIR/ejabberd.pid"
TEMPLATE="$ROOT/deploy/ejabberd/ejabberd.yml"
# Erlang run after ejabberd's start: MAM archives and offline queues as disc_copies.
IN_MEMORY_TABLES='[{atomic, ok} = mnesia:change_table_copy_type(T, node(), disc_copies)
    || T <- [archive_msg, offline_msg], mnesia:table_info(T, storage_type) =/= disc_copies].'

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

# Whether our running instance was configured with the requested ports (its configuration
# is only rewritten by a start that finds it not running).
same_ports() {
    local conf="$DIR/conf/ejabberd.yml"
    grep -Eq "^[[:space:]]*- port: $C2S_PORT[[:space:]]*\$" "$conf" 2>/dev/null \
        && grep -Eq "^[[:space:]]*- port: $HTTP_PORT[[:space:]]*\$" "$conf" 2>/dev/null
}

# Best effort, for the message when another instance holds the API port: the state directory
# of the process listening on it (its `-mnesia dir "<dir>/spool"`), if we may read its /proc.
listener_dir() {
    local inode fd pid arg previous=""
    inode=$(awk -v port="$(printf ':%04X' "$HTTP_PORT")" \
        '$4 == "0A" && substr($2, length($2) - 4) == port { print $10; exit }' \
        /proc/net/tcp 2>/dev/null) || true
    [ -n "$inode" ] || return 0
    fd=$(find /proc/[0-9]*/fd -lname "socket:\[$inode\]" -print -quit 2>/dev/null) || true
    [ -n "$fd" ] || return 0
    pid=${fd#/proc/}
    pid=${pid%%/*}
    [ -r "/proc/$pid/cmdline" ] || return 0
    while IFS= read -r -d '' arg; do
        if [ "$previous" = dir ]; then
            arg=${arg//\"/}
            echo "${arg%/spool}"
            return 0
        fi
        previous=$arg
    done <"/proc/$pid/cmdline"
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo -n "$@"
    else die "root is needed to install ejabberd (or install the 'ejabberd' package first)"
    fi
}

# Debian's package enables a system-wide ejabberd (packaged config, all interfaces). We only
# want its files: its service must neither start during the install nor at boot.
ensure_installed() {
    [ -n "$(ejabberd_libs)" ] && [ -x /usr/bin/erl ] && return 0
    command -v apt-get >/dev/null || die "ejabberd is not installed and there is no apt-get to install it"
    log "installing Debian's ejabberd (about 20 s, 55 MB); its system service stays disabled"
    # A policy-rc.d that denies service starts keeps the maintainer scripts from starting it;
    # ours is removed again if we had to create it.
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
    disable_system_service
    [ -n "$(ejabberd_libs)" ] || die "ejabberd installed but its ebin directory was not found"
}

disable_system_service() {
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        as_root systemctl disable --now ejabberd.service >/dev/null 2>&1 || true
    else
        as_root rm -f /etc/systemd/system/multi-user.target.wants/ejabberd.service
        # Only if a policy-rc.d of the machine's own let the maintainer scripts start it.
        if [ -x /etc/init.d/ejabberd ] && pgrep -u ejabberd -f beam >/dev/null 2>&1; then
            as_root /etc/init.d/ejabberd stop >/dev/null 2>&1 || true
        fi
    fi
    if command -v update-rc.d >/dev/null; then
        as_root update-rc.d ejabberd disable >/dev/null 2>&1 || true
    fi
}

# The wschats whose `xmpp-auth` ejabberd runs: the one on PATH, else this project's .venv.
wschats_program() {
    local found
    if found=$(command -v wschats); then
        echo "$found"
    else
        echo "$ROOT/.venv/bin/wschats"
    fi
}

write_auth_wrapper() {
    local program wrapper="$DIR/conf/xmpp-auth" name
    program=$(wschats_program)
    [ -x "$program" ] || log "warning: $program not found: nobody can sign in until wschats is installed there"
    {
        echo "#!/bin/bash"
        echo "# Written by scripts/ejabberd.sh: ejabberd's sign-in program with the wschats settings."
        printf 'cd %q || exit 1\n' "$PWD"
        while IFS= read -r name; do
            case "$name" in WSC_EJABBERD_*) continue ;; esac
            printf 'export %s=%q\n' "$name" "${!name}"
        done < <(compgen -e | grep '^WSC_' || true)
        # Resolved when ejabberd runs it: a wschats installed after ejabberd started is used
        # from the next start of the program. Until one exists, a stand-in refuses every
        # request: ejabberd treats a program that exits as a failure of each call (room
        # affiliations included), but a refusal only as "no such password or user".
        printf 'if [ -x %q ]; then exec %q xmpp-auth; fi\n' "$program" "$program"
        printf 'echo "xmpp-auth: %s not found: every sign-in is refused" >&2\n' "$program"
        echo "exec python3 -c 'import sys"
        echo "i, o = sys.stdin.buffer, sys.stdout.buffer"
        echo "while len(head := i.read(2)) == 2:"
        echo "    i.read(int.from_bytes(head, \"big\"))"
        echo "    o.write(b\"\\x00\\x02\\x00\\x00\")"
        echo "    o.flush()'"
    } >"$wrapper"
    chmod 700 "$wrapper"
    echo "$wrapper"
}

wait_ready() {
    local pid=$1 what=${2:-ejabberd running} deadline=$((SECONDS + START_TIMEOUT))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if api_ready; then
            echo "$what: api=$API c2s=127.0.0.1:$C2S_PORT dir=$DIR pid=$pid"
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
    local pid
    if pid=$(our_pid); then
        same_ports || die "the ejabberd started from $DIR (pid $pid) listens on other ports" \
            "than $C2S_PORT/$HTTP_PORT; stop it first (WSC_EJABBERD_DIR=$DIR $0 stop)"
        wait_ready "$pid" "ejabberd already running"
        return 0
    fi
    # Whatever answers here was started from elsewhere, with other settings (sign-in, state):
    # reusing it would silently serve the wrong configuration.
    if api_ready; then
        local other
        other=$(listener_dir)
        die "an ejabberd not started from $DIR already answers on port $HTTP_PORT" \
            "${other:+(started from $other) }with settings of its own, so it is not reused." \
            "Stop it (WSC_EJABBERD_DIR=${other:-<its directory>} $0 stop) or choose other" \
            "ports with WSC_EJABBERD_C2S_PORT and WSC_EJABBERD_HTTP_PORT."
    fi
    ensure_installed
    # The state (users, rooms, archives) is kept across stop and start; a caller that wants a
    # throw-away instance (the tests) asks for a fresh one. The configuration is always new.
    if [ "${WSC_EJABBERD_FRESH:-0}" = 1 ]; then
        rm -rf "$DIR/spool" "$DIR/conf"
    else
        rm -rf "$DIR/conf"
    fi
    mkdir -p "$DIR/conf" "$DIR/spool" "$DIR/logs"
    local wrapper
    wrapper=$(write_auth_wrapper)
    sed -e "s/__C2S_PORT__/$C2S_PORT/g" -e "s/__HTTP_PORT__/$HTTP_PORT/g" \
        -e "s|__EXTAUTH_PROGRAM__|$wrapper|g" "$TEMPLATE" >"$DIR/conf/ejabberd.yml"
    [ -f /etc/ejabberd/inetrc ] && cp /etc/ejabberd/inetrc "$DIR/conf/"
    local libs
    libs=$(ejabberd_libs)
    (
        cd "$DIR/spool"
        export HOME="$DIR" EJABBERD_CONFIG_PATH="$DIR/conf/ejabberd.yml" \
            EJABBERD_LOG_PATH="$DIR/logs/ejabberd.log" ERL_LIBS="$libs" ERL_CRASH_DUMP_BYTES=0
        [ -f "$DIR/conf/inetrc" ] && export ERL_INETRC="$DIR/conf/inetrc"
        # erl execs beam.smp, so $! below is the server process itself. Once ejabberd has
        # started, the message tables move from disk-only (dets) to memory logged to disk: as
        # dets bags keyed by their owner, a room's archive fills in quadratic time and each
        # page read loads all of it (docs/ejabberd.md#mnesia).
        exec setsid /usr/bin/erl -noinput -noshell +K true \
            -mnesia dir "\"$DIR/spool\"" -s ejabberd -eval "$IN_MEMORY_TABLES"
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
