#!/usr/bin/env bash
# Quick start: installs what is missing (npm dependencies; Caddy from Debian's packages), builds the dashboard
# once, then runs `caddyfleet standalone` — the controller with its own local node — on the embedded defaults.
# Any argument is passed on, e.g. `bash scripts/start.sh --http-listen 127.0.0.1:8081`; a first argument `server`
# runs a fleet server instead (`bash scripts/start.sh server --public-url http://fleet.example.com:8080`).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'caddyfleet: %s\n' "$*"; }

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "installing npm dependencies (npm ci)…"
  npm ci --no-audit --no-fund --loglevel=error
fi

if ! command -v caddy >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "Caddy is not installed; installing it from Debian's packages: apt-get install -y caddy"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq caddy >/dev/null
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet caddy 2>/dev/null; then
      say "note: Debian started its own caddy.service on :80; stop it (systemctl disable --now caddy) or pass --http-listen"
    fi
  else
    say "Caddy is not installed. Install it (Debian/Ubuntu: sudo apt-get install caddy) and run this again."
    exit 1
  fi
fi

if [[ ! -f apps/web/dist/index.html ]] || [[ -n "$(find apps/web/src apps/web/index.html -newer apps/web/dist/index.html -print -quit 2>/dev/null)" ]]; then
  say "building the dashboard (vite build)…"
  npm run build -w apps/web --silent
fi

# The agent that /install.sh hands to new hosts; the build script skips itself when its inputs did not change.
say "building the self-contained agent for other hosts (skipped when up to date)…"
node scripts/build-agent.mjs >/dev/null

# `bash scripts/start.sh server --public-url …` runs a fleet server instead of the standalone default.
role=standalone
if [[ ${1:-} == server || ${1:-} == standalone ]]; then
  role=$1
  shift
fi
exec node bin/caddyfleet.mjs "$role" "$@"
