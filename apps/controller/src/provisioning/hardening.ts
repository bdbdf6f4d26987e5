/**
 * The host hardening the provisioner applies, as bash scripts run as root on the target. Every script is
 * idempotent: run twice, it leaves the host as after the first run.
 */

/** Single-quotes a value for bash. */
export function shq(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Strict mode, a known PATH and locale, no prompts, and an apt install that refreshes the lists only when needed. */
export const PRELUDE = `
set -euo pipefail
export LC_ALL=C DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
apt_install() {
  local missing="" p
  for p in "$@"; do
    if ! dpkg-query -W -f='\${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then missing="$missing $p"; fi
  done
  if [ -z "$missing" ]; then echo "already installed: $*"; return 0; fi
  local opts=(-y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  echo "apt-get install$missing"
  # shellcheck disable=SC2086
  if ! apt-get install "\${opts[@]}" $missing; then
    echo "apt-get install failed; refreshing the package lists and trying again"
    apt-get update -o DPkg::Lock::Timeout=300
    apt-get install "\${opts[@]}" $missing
  fi
}
`;

/** sysctl settings written to /etc/sysctl.d and applied one by one; a value the host refuses is a warning. */
export const SYSCTL_SETTINGS: [string, string][] = [
  ['net.ipv4.tcp_syncookies', '1'],
  ['net.ipv4.tcp_rfc1337', '1'],
  ['net.ipv4.conf.all.rp_filter', '1'],
  ['net.ipv4.conf.default.rp_filter', '1'],
  ['net.ipv4.conf.all.accept_redirects', '0'],
  ['net.ipv4.conf.default.accept_redirects', '0'],
  ['net.ipv4.conf.all.secure_redirects', '0'],
  ['net.ipv4.conf.default.secure_redirects', '0'],
  ['net.ipv4.conf.all.send_redirects', '0'],
  ['net.ipv4.conf.default.send_redirects', '0'],
  ['net.ipv4.conf.all.accept_source_route', '0'],
  ['net.ipv4.conf.default.accept_source_route', '0'],
  ['net.ipv4.conf.all.log_martians', '1'],
  ['net.ipv4.conf.default.log_martians', '1'],
  ['net.ipv4.icmp_echo_ignore_broadcasts', '1'],
  ['net.ipv4.icmp_ignore_bogus_error_responses', '1'],
  ['net.ipv6.conf.all.accept_redirects', '0'],
  ['net.ipv6.conf.default.accept_redirects', '0'],
  ['net.ipv6.conf.all.accept_source_route', '0'],
  ['net.ipv6.conf.default.accept_source_route', '0'],
  ['kernel.kptr_restrict', '2'],
  ['kernel.dmesg_restrict', '1'],
  ['kernel.unprivileged_bpf_disabled', '1'],
  ['kernel.yama.ptrace_scope', '1'],
  ['net.core.bpf_jit_harden', '2'],
  ['fs.protected_hardlinks', '1'],
  ['fs.protected_symlinks', '1'],
  ['fs.protected_fifos', '2'],
  ['fs.protected_regular', '2'],
  ['fs.suid_dumpable', '0'],
];

export const SYSCTL_FILE = '/etc/sysctl.d/90-caddyfleet.conf';

/**
 * Writes the file (every key prefixed with `-`, so systemd-sysctl at boot skips what the host refuses instead of
 * failing) and applies each key now; prints `refused key: reason` for each refusal.
 */
export function sysctlScript(): string {
  const file = SYSCTL_SETTINGS.map(([k, v]) => `-${k} = ${v}`).join('\n');
  const apply = SYSCTL_SETTINGS.map(([k, v]) => `apply ${shq(k)} ${shq(v)}`).join('\n');
  return `${PRELUDE}
cat >${SYSCTL_FILE}.tmp <<'EOF'
# Written by the caddyfleet provisioner. A leading "-" lets systemd-sysctl skip a key the host refuses.
${file}
EOF
mv ${SYSCTL_FILE}.tmp ${SYSCTL_FILE}
apply() {
  local out
  if out=$(sysctl -q -w "$1=$2" 2>&1) && [ "$(sysctl -n "$1" 2>/dev/null)" = "$2" ]; then echo "set $1 = $2"
  else echo "refused $1: $(echo "\${out:-value did not stick}" | tail -n 1)"; fi
}
${apply}
`;
}

export const FIREWALL_CONF = '/etc/caddyfleet-firewall.conf';
export const FIREWALL_SYNC = '/usr/local/sbin/caddyfleet-firewall-sync';
export const FIREWALL_STATE_DIR = '/var/lib/caddyfleet-firewall';
/** Ports of the node's stream routes, one `PORT/PROTO` a line: written by the agent, read by the root sync. */
export const STREAM_PORTS_FILE = '/var/lib/caddyfleet-agent/stream-ports';
export const BASE_PORTS = ['80/tcp', '443/tcp', '443/udp'];

/**
 * Run as root by a systemd path unit whenever the agent rewrites the ports file: opens what is listed, closes
 * what it opened before and is no longer listed, never touches SSH, 80 or 443. The file is written by an
 * unprivileged user, so only well-formed lines count and nothing of it is echoed.
 */
export const FIREWALL_SYNC_SCRIPT = `#!/bin/bash
# caddyfleet-firewall-sync: keeps UFW open for this node's stream routes (written by the caddyfleet provisioner).
set -euo pipefail
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PORTS_FILE=${STREAM_PORTS_FILE}
STATE=${FIREWALL_STATE_DIR}/applied
SSH_PORT=22
# shellcheck disable=SC1091
. ${FIREWALL_CONF}
mkdir -p -m 0700 ${FIREWALL_STATE_DIR}
want=""
if [ -f "$PORTS_FILE" ] && [ ! -L "$PORTS_FILE" ]; then
  bad=0
  while IFS= read -r line; do
    if [[ "$line" =~ ^([0-9]{1,5})/(tcp|udp)$ ]] && (( 10#\${BASH_REMATCH[1]} >= 1 && 10#\${BASH_REMATCH[1]} <= 65535 )); then
      p="$((10#\${BASH_REMATCH[1]}))/\${BASH_REMATCH[2]}"
      case " $want " in *" $p "*) ;; *) want="$want $p" ;; esac
    elif [ -n "$line" ]; then
      bad=$((bad + 1))
    fi
  done < <(head -c 65536 "$PORTS_FILE" | head -n 2000)
  [ "$bad" -eq 0 ] || echo "ignored $bad malformed line(s) in $PORTS_FILE" >&2
fi
keep=" $SSH_PORT/tcp ${BASE_PORTS.join(' ')} "
have="$(cat "$STATE" 2>/dev/null || true)"
for p in $have; do
  case " $want " in *" $p "*) continue ;; esac
  case "$keep" in *" $p "*) continue ;; esac
  ufw delete allow "$p" >/dev/null && echo "closed stream port $p"
done
for p in $want; do
  case "$keep" in *" $p "*) continue ;; esac
  ufw allow "$p" comment 'caddyfleet stream' >/dev/null
  case " $have " in *" $p "*) ;; *) echo "opened stream port $p" ;; esac
done
printf '%s\n' $want >"$STATE.tmp"
mv "$STATE.tmp" "$STATE"
`;

const FIREWALL_PATH_UNIT = `[Unit]
Description=caddyfleet: watch the node's stream ports for the firewall

[Path]
PathChanged=${STREAM_PORTS_FILE}
Unit=caddyfleet-firewall.service

[Install]
WantedBy=multi-user.target
`;

const FIREWALL_SERVICE_UNIT = `[Unit]
Description=caddyfleet: open the node's stream ports in UFW
After=ufw.service

[Service]
Type=oneshot
ExecStart=${FIREWALL_SYNC}
`;

/**
 * UFW: deny incoming by default; allow the SSH port this job came in on, HTTP, HTTPS (and HTTP/3), and the node's
 * stream ports (now, and again whenever the agent rewrites the ports file). Rules are added before UFW is
 * enabled, so the running session is never cut.
 */
export function firewallScript(sshPort: number, streamPorts: string[]): string {
  return `${PRELUDE}
apt_install ufw
printf '# Written by the caddyfleet provisioner: the SSH port kept open whatever the stream routes say.\\nSSH_PORT=%s\\n' ${sshPort} >${FIREWALL_CONF}
cat >${FIREWALL_SYNC}.tmp <<'CADDYFLEET_EOF'
${FIREWALL_SYNC_SCRIPT}CADDYFLEET_EOF
chmod 0755 ${FIREWALL_SYNC}.tmp && mv ${FIREWALL_SYNC}.tmp ${FIREWALL_SYNC}
ufw allow ${sshPort}/tcp comment 'caddyfleet ssh'
${BASE_PORTS.map((p) => `ufw allow ${p} comment 'caddyfleet web'`).join('\n')}
ufw default deny incoming
ufw default allow outgoing
ufw --force enable
if [ ! -s ${STREAM_PORTS_FILE} ] && [ -d ${STREAM_PORTS_FILE.replace(/\/[^/]+$/, '')} ]; then
  printf '%s\\n' ${streamPorts.map(shq).join(' ')} >${STREAM_PORTS_FILE}
fi
${FIREWALL_SYNC}
cat >/etc/systemd/system/caddyfleet-firewall.path <<'EOF'
${FIREWALL_PATH_UNIT}EOF
cat >/etc/systemd/system/caddyfleet-firewall.service <<'EOF'
${FIREWALL_SERVICE_UNIT}EOF
systemctl daemon-reload
systemctl enable --now caddyfleet-firewall.path
ufw status verbose
`;
}

export const FAIL2BAN_JAIL = '/etc/fail2ban/jail.d/caddyfleet.local';

/**
 * fail2ban with an sshd jail that works on bookworm: it reads the journal (`backend = systemd`, which needs
 * python3-systemd) because there is no /var/log/auth.log without rsyslog. A `.local` file in jail.d is read
 * after every `.conf`, so Debian's defaults-debian.conf cannot override it. The controller's own address is
 * never banned, so a mistyped password cannot lock the controller out of re-provisioning.
 */
export function fail2banScript(sshPort: number, controllerIp: string | null): string {
  const ignore = ['127.0.0.1/8', '::1', ...(controllerIp ? [controllerIp] : [])].join(' ');
  return `${PRELUDE}
apt_install fail2ban python3-systemd
cat >${FAIL2BAN_JAIL}.tmp <<'EOF'
# Written by the caddyfleet provisioner.
[sshd]
enabled = true
backend = systemd
port = ${sshPort}
maxretry = 5
findtime = 10m
bantime = 1h
ignoreip = ${ignore}
EOF
mv ${FAIL2BAN_JAIL}.tmp ${FAIL2BAN_JAIL}
systemctl enable fail2ban >/dev/null 2>&1
systemctl restart fail2ban
for _ in $(seq 1 60); do
  if fail2ban-client status sshd >/dev/null 2>&1; then break; fi
  sleep 0.5
done
fail2ban-client status sshd
`;
}

export const AUTO_UPGRADES_FILE = '/etc/apt/apt.conf.d/20auto-upgrades';

export function unattendedUpgradesScript(): string {
  return `${PRELUDE}
apt_install unattended-upgrades
cat >${AUTO_UPGRADES_FILE} <<'EOF'
// Written by the caddyfleet provisioner: refresh the lists and install security updates every day.
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
EOF
systemctl enable --now apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1 || true
systemctl enable unattended-upgrades.service >/dev/null 2>&1 || true
apt-config dump | grep -E '^APT::Periodic::(Update-Package-Lists|Unattended-Upgrade) '
`;
}
