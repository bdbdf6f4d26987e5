#!/usr/bin/env bash
# Builds Caddy with the layer4 module (TCP/UDP stream hosts) and the rate_limit handler via xcaddy, once per version set: the binary is
# cached under ${XDG_CACHE_HOME:-~/.cache}/caddyfleet/caddy/<versions>/caddy and rebuilt only when missing.
# Progress goes to stderr; the last line on stdout is the binary's path, so `CADDY=$(scripts/build-caddy.sh)`.
# Versions are exact on purpose: caddy-l4 refuses `@latest`, and the cache key must name what is inside.
#   --cached-only   print the cached binary's path, or exit 3 without building (the tests use this locally)
set -euo pipefail

cached_only=false
case "${1:-}" in
  --cached-only) cached_only=true ;;
  '') ;;
  *) echo "usage: $0 [--cached-only]" >&2; exit 2 ;;
esac

CADDY_VERSION=v2.11.9
XCADDY_VERSION=v0.4.5
PLUGINS=(
  github.com/mholt/caddy-l4@v0.1.2
  # The only tagged release; the module proxy here serves no newer pseudo-version. Builds against v2.11.9.
  github.com/mholt/caddy-ratelimit@v0.1.0
)
# Modules the built binary must list (checked before it enters the cache).
REQUIRED_MODULES=(layer4 layer4.handlers.proxy layer4.matchers.tls http.handlers.rate_limit)

say() { printf 'build-caddy: %s\n' "$*" >&2; }

key="caddy-${CADDY_VERSION}"
for p in "${PLUGINS[@]}"; do key+="+${p##*/}"; done
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/caddyfleet/caddy"
dir="$cache_root/$key"
bin="$dir/caddy"

if [[ -x "$bin" ]]; then
  say "cached: $key"
  echo "$bin"
  exit 0
fi
if $cached_only; then
  say "not built yet: $bin (run scripts/build-caddy.sh)"
  exit 3
fi

if ! command -v go >/dev/null 2>&1; then
  if [[ -x /usr/local/go/bin/go ]]; then
    export PATH="/usr/local/go/bin:$PATH"
  else
    say "Go is not installed (need Go >= 1.25.1 and the Go module proxy); see https://go.dev/doc/install"
    exit 1
  fi
fi

mkdir -p "$cache_root/tools" "$dir"
xcaddy="$cache_root/tools/xcaddy-$XCADDY_VERSION"
start=$SECONDS
if [[ ! -x "$xcaddy" ]]; then
  say "installing xcaddy $XCADDY_VERSION ($(go version))"
  gobin=$(mktemp -d "$cache_root/tools/.gobin.XXXXXX")
  GOBIN="$gobin" go install "github.com/caddyserver/xcaddy/cmd/xcaddy@$XCADDY_VERSION" >&2
  mv -f "$gobin/xcaddy" "$xcaddy"
  rmdir "$gobin"
fi

# Built beside the final path and renamed, so a concurrent or interrupted build never leaves a half binary.
tmp="$dir/.caddy.$$.tmp"
trap 'rm -f "$tmp"' EXIT
with=()
for p in "${PLUGINS[@]}"; do with+=(--with "$p"); done
say "building $key (cold: 2–6 min on 2 cores)"
"$xcaddy" build "$CADDY_VERSION" "${with[@]}" --output "$tmp" >&2

modules=$("$tmp" list-modules 2>/dev/null)
for m in "${REQUIRED_MODULES[@]}"; do
  if ! grep -qx "$m" <<<"$modules"; then
    say "the built binary lacks module $m"
    exit 1
  fi
done
mv -f "$tmp" "$bin"
trap - EXIT
say "built $key in $((SECONDS - start)) s"
echo "$bin"
