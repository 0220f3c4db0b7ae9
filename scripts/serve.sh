#!/usr/bin/env bash
# Installs wschats into .venv and serves it on the embedded defaults: a SQLite database and
# local files under ./data, in-process events, and a private ejabberd (XMPP chat, bound to
# 127.0.0.1, its state in ./data/ejabberd) that starts and stops with wschats. Extra arguments
# go to `wschats serve` (e.g. --port 8080).
#
#   --no-xmpp                  no embedded ejabberd (same as WSC_EMBEDDED_XMPP=false)
#   WSC_EMBEDDED_XMPP          true|false [true]; off as well when WSC_XMPP names a server
#   WSC_EJABBERD_C2S_PORT      XMPP client port [15222]; WSC_EJABBERD_HTTP_PORT API port [15280]
#   WSC_SERVE_INSTALL          0: use .venv as it is, without reinstalling [1]
#
# ejabberd is installed when missing if this runs as root on Debian or Ubuntu (its system-wide
# service is left disabled); otherwise wschats runs without XMPP and says how to enable it.
set -euo pipefail
cd "$(dirname "$0")/.."

embedded=${WSC_EMBEDDED_XMPP:-true}
args=()
for arg in "$@"; do
    if [ "$arg" = --no-xmpp ]; then embedded=false; else args+=("$arg"); fi
done
case "${embedded,,}" in 0 | false | no | off) embedded=false ;; *) embedded=true ;; esac
if [ -n "${WSC_XMPP:-}" ] && [ "${WSC_XMPP}" != none ]; then
    embedded=false # an XMPP server is configured: use it
fi

say() { echo "serve.sh: $*" >&2; }

if [ "${WSC_SERVE_INSTALL:-1}" != 0 ]; then
    say "installing wschats into .venv (the versions pinned in requirements.lock)"
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet --require-hashes -r requirements.lock
    .venv/bin/python -m pip install --quiet --no-deps .
    say "building the web client (web/ -> web/dist)"
    bash scripts/build-web.sh >&2 || say "the web client was not built; the API runs without it"
fi
# The package is installed from a copy (not editable), so it cannot find web/ on its own.
export WSC_WEB_DIR=${WSC_WEB_DIR:-$PWD/web/dist}
port=${WSC_PORT:-10000}
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --port) port=${args[i + 1]:-$port} ;;
        --port=*) port=${args[i]#--port=} ;;
    esac
done
browse() { say "open http://${WSC_HOST:-127.0.0.1}:$port/ in a browser"; }
wschats=.venv/bin/wschats

ejabberd_available() {
    ls /usr/lib/*/ejabberd-*/ebin/ejabberd.app /usr/lib/ejabberd-*/ebin/ejabberd.app \
        >/dev/null 2>&1 && [ -x /usr/bin/erl ] && return 0
    # Installable: Debian or Ubuntu, as root.
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null
}

if [ "$embedded" = false ] || ! ejabberd_available; then
    if [ "$embedded" = true ]; then
        say "chat over XMPP is off: ejabberd is not installed; run this once as root" \
            "(Debian/Ubuntu) or 'apt-get install ejabberd' to enable it (README: Chat from any XMPP client)"
    fi
    browse
    exec "$wschats" serve "${args[@]}"
fi

data_dir=${WSC_DATA_DIR:-./data}
mkdir -p "$data_dir"
export WSC_EJABBERD_DIR=${WSC_EJABBERD_DIR:-$(cd "$data_dir" && pwd)/ejabberd}
export WSC_EJABBERD_C2S_PORT=${WSC_EJABBERD_C2S_PORT:-15222}
export WSC_EJABBERD_HTTP_PORT=${WSC_EJABBERD_HTTP_PORT:-15280}
say "starting the embedded ejabberd (state in $WSC_EJABBERD_DIR)"
# ejabberd signs people in with the `wschats xmpp-auth` of this installation.
if ! PATH="$PWD/.venv/bin:$PATH" scripts/ejabberd.sh start >&2; then
    say "chat over XMPP is off: the embedded ejabberd did not start (logs in $WSC_EJABBERD_DIR/logs)"
    browse
    exec "$wschats" serve "${args[@]}"
fi
say "XMPP clients: 127.0.0.1:$WSC_EJABBERD_C2S_PORT, no TLS, account <user id>@${WSC_XMPP_DOMAIN:-carbonio}"
export WSC_XMPP=ejabberd WSC_XMPP_URL="http://127.0.0.1:$WSC_EJABBERD_HTTP_PORT/api"

browse
stop_ejabberd() { scripts/ejabberd.sh stop >&2 || true; }
trap stop_ejabberd EXIT

"$wschats" serve "${args[@]}" &
server=$!
# Even if this script is killed outright, ejabberd stops with the server it serves.
setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec scripts/ejabberd.sh stop' \
    watch "$server" </dev/null >/dev/null 2>&1 &
# Ctrl-C reaches the server directly (same process group); a TERM, HUP or INT sent to this
# script alone is passed on as TERM, which the server takes as a graceful stop.
trap 'kill -TERM "$server" 2>/dev/null || true' TERM HUP INT
status=0
while kill -0 "$server" 2>/dev/null; do
    wait "$server" && status=0 || status=$?
done
exit "$status"
