#!/usr/bin/env bash
# Builds the web client (web/ -> web/dist) when Node.js 18+ and npm are there, or can be
# installed from Debian/Ubuntu packages as root. Otherwise it says so and exits 0: the API
# runs without the client, and its start page says how to build it.
set -euo pipefail
cd "$(dirname "$0")/../web"

node_ok() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
    [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge 18 ]
}

if ! node_ok && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "build-web: installing Node.js and npm from the distribution's packages"
  if ! { apt-get install -y -q nodejs npm >/dev/null 2>&1 ||
         { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q nodejs npm >/dev/null 2>&1; }; }; then
    echo "build-web: could not install nodejs/npm with apt-get"
  fi
fi
if ! node_ok; then
  echo "build-web: Node.js 18+ with npm is not available; the web client is not built."
  echo "build-web: install Node.js, then run: cd web && npm ci && npm run build"
  exit 0
fi
if [ -f dist/index.html ] && [ -z "$(find src index.html package-lock.json vite.config.ts -newer dist/index.html 2>/dev/null | head -1)" ]; then
  echo "build-web: web/dist is up to date"
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
echo "build-web: built web/dist"
