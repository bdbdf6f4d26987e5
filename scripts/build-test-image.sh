#!/usr/bin/env bash
# Builds (once) the Debian bookworm base directory that tests boot as a "second host" with systemd-nspawn
# (tests/helpers/target-host.ts). The image has systemd, sshd and sudo but no Node.js, and its apt cache already
# holds what the agent installer and the SSH provisioner install later, so `apt-get install` works inside the
# target with no network (the target reaches no mirror).
#
# Cached under ${XDG_CACHE_HOME:-$HOME/.cache}/caddyfleet/images/bookworm-<key>; the key changes with this script
# and with the host's apt sources, so an edit here rebuilds. Built into a temp dir and renamed atomically;
# concurrent runs wait for each other (flock). Progress goes to stderr; the last line on stdout is the image path.
#
#   bash scripts/build-test-image.sh          build when missing, print the path
#   bash scripts/build-test-image.sh --path   only print the path it would have (exit 0 even when not built)
# Needs root and mmdebstrap (apt-get install mmdebstrap).
set -euo pipefail

SUITE=bookworm
MIRROR=/etc/apt/sources.list.d/debian.sources
# Installed in the image. No nodejs: the target must run the self-contained agent without it.
INCLUDE=systemd,systemd-sysv,dbus,openssh-server,openssh-sftp-server,iproute2,sudo,ca-certificates,procps,curl
# Only downloaded into the apt cache (with their dependencies and recommends, as a plain apt-get install wants), for the installer/provisioner to install offline.
PREFETCH=(caddy ufw fail2ban python3-systemd unattended-upgrades)

log() { printf 'build-test-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

self="$(readlink -f "${BASH_SOURCE[0]}")"
[[ -r "$MIRROR" ]] || die "$MIRROR is missing: the image's apt sources are copied from the host's"
key="$(cat "$self" "$MIRROR" | sha256sum | cut -c1-12)"
images="${XDG_CACHE_HOME:-$HOME/.cache}/caddyfleet/images"
image="$images/$SUITE-$key"

if [[ "${1:-}" == "--path" ]]; then
  echo "$image"
  exit 0
fi
[[ $# -eq 0 ]] || die "unknown argument: $1 (only --path)"

if [[ -f "$image/.caddyfleet-image" ]]; then
  log "cached: $image"
  echo "$image"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "needs root (mmdebstrap --mode=root)"
command -v mmdebstrap >/dev/null || die "mmdebstrap not found (apt-get install mmdebstrap)"
mkdir -p "$images"

exec 9>"$images/.$SUITE-$key.lock"
log "waiting for the build lock (another build of the same image may be running)…"
flock -w 1200 9 || die "timed out waiting for $images/.$SUITE-$key.lock"
if [[ -f "$image/.caddyfleet-image" ]]; then
  log "built meanwhile by another run: $image"
  echo "$image"
  exit 0
fi

work="$(mktemp -d "$images/.$SUITE-$key.tmp.XXXXXX")"
hook="$(mktemp "${TMPDIR:-/tmp}/caddyfleet-image-hook.XXXXXX")"
trap 'rm -rf --one-file-system "$work" "$hook"' EXIT

cat >"$hook" <<HOOK
#!/bin/sh
set -eu
root="\$1"
chroot "\$root" apt-get install --download-only -y -o APT::Install-Recommends=true ${PREFETCH[*]}
# Each booted target gets its own host keys (ssh-keygen -A before boot), so none may come from the image.
rm -f "\$root"/etc/ssh/ssh_host_*
# Issue tests log in as root with a key and with a password.
cat >"\$root/etc/ssh/sshd_config.d/caddyfleet-test.conf" <<'EOF'
PermitRootLogin yes
PasswordAuthentication yes
PubkeyAuthentication yes
UseDNS no
EOF
echo caddyfleet-target >"\$root/etc/hostname"
# No /etc/hosts would make "localhost" a DNS lookup (Caddy's admin listener fails on it). No resolver either: the
# target's only link is the test veth, and the host's resolver address means nothing there.
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tcaddyfleet-target\n' >"\$root/etc/hosts"
rm -f "\$root/etc/resolv.conf"
echo '# the test target has no DNS: its only network is the test link' >"\$root/etc/resolv.conf"
HOOK
chmod 0755 "$hook"

log "mmdebstrap $SUITE into $work (include: $INCLUDE; prefetch: ${PREFETCH[*]})"
start=$SECONDS
mmdebstrap --variant=apt --mode=root --format=directory --skip=cleanup/apt \
  --include="$INCLUDE" \
  --customize-hook="sh $(printf '%q' "$hook") \"\$1\"" \
  "$SUITE" "$work" "$MIRROR" >&2
built=$((SECONDS - start))

debs=$(find "$work/var/cache/apt/archives" -maxdepth 1 -name '*.deb' | wc -l)
for pkg in "${PREFETCH[@]}"; do
  compgen -G "$work/var/cache/apt/archives/${pkg}_*.deb" >/dev/null || die "$pkg was not downloaded into the image"
done
[[ ! -e "$work/usr/bin/node" && ! -e "$work/usr/bin/nodejs" ]] || die "Node.js ended up in the image"

printf 'suite=%s\nkey=%s\nbuilt=%s\ninclude=%s\nprefetch=%s\n' \
  "$SUITE" "$key" "$(date -u +%FT%TZ)" "$INCLUDE" "${PREFETCH[*]}" >"$work/.caddyfleet-image"
mv -T "$work" "$image"
trap 'rm -f "$hook"' EXIT

log "built in ${built}s: $(du -sh --one-file-system "$image" | cut -f1), $debs packages pre-downloaded"
echo "$image"
