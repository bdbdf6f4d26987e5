/**
 * The one-line install command and the POSIX sh installer behind it (`GET /install.sh`). The controller's
 * public URL is baked into the script, which downloads the agent from that controller, checks its SHA-256 and
 * runs `caddyfleet-agent install`. The enrollment token travels in the environment and then on the agent's
 * stdin, never in an argv that `ps` shows (unless the user passes --token, which the script warns about).
 */
import { SHELL_SAFE_URL } from '../config';

export const AGENT_ARTIFACT_NAME = 'caddyfleet-agent-linux-x64';
export const AGENT_DOWNLOAD_PATH = `/downloads/${AGENT_ARTIFACT_NAME}`;
export const INSTALL_SCRIPT_PATH = '/install.sh';

function assertShellSafe(publicUrl: string): void {
  // publicUrlSchema guarantees this; a URL built from a request is checked the same way before use.
  if (!SHELL_SAFE_URL.test(publicUrl)) throw new Error(`public URL ${JSON.stringify(publicUrl)} is not shell-safe`);
}

/** `curl … | CADDYFLEET_ENROLLMENT_TOKEN=… sh`: what to paste as root on the new host. */
export function installCommand(publicUrl: string, token: string): string {
  assertShellSafe(publicUrl);
  // Tokens are `cfe_` + base64url: nothing a shell interprets. Anything else is quoted.
  const value = /^[A-Za-z0-9_-]+$/.test(token) ? token : `'${token.replace(/'/g, `'\\''`)}'`;
  // Brackets (an IPv6 literal) are a glob to both sh and curl.
  const url = publicUrl.includes('[') ? `-g '${publicUrl}${INSTALL_SCRIPT_PATH}'` : `${publicUrl}${INSTALL_SCRIPT_PATH}`;
  return `curl -fsSL ${url} | CADDYFLEET_ENROLLMENT_TOKEN=${value} sh`;
}

export function renderInstallScript(publicUrl: string): string {
  assertShellSafe(publicUrl);
  return `#!/bin/sh
# caddyfleet agent installer, served by the controller at ${publicUrl}${INSTALL_SCRIPT_PATH}
#
# As root on a Debian or Ubuntu host (linux-x64):
#   curl -fsSL ${publicUrl}${INSTALL_SCRIPT_PATH} | CADDYFLEET_ENROLLMENT_TOKEN=cfe_... sh
#   curl -fsSL ${publicUrl}${INSTALL_SCRIPT_PATH} | CADDYFLEET_ENROLLMENT_TOKEN=cfe_... sh -s -- --name edge-1 --http-listen :8080
# Downloads the agent from this controller, checks its SHA-256 and runs \`caddyfleet-agent install\`, which
# installs Caddy if missing, a systemd service, enrolls with the token and waits until the node is online.
# Options after \`sh -s --\` go to \`caddyfleet-agent install\` (see its --help). \`--token T\` works too, but
# the token is then visible in the process list. Without a token, an already enrolled host is upgraded.
set -eu

CONTROLLER='${publicUrl}'
ARTIFACT='${AGENT_ARTIFACT_NAME}'

say() { printf 'caddyfleet install: %s\\n' "$*" >&2; }
die() { printf 'caddyfleet install: error: %s\\n' "$*" >&2; exit 1; }

# download URL FILE
download() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL -g --retry 3 -o "$2" "$1" || die "downloading $1 failed (curl exit $?)"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1" || die "downloading $1 failed (wget exit $?)"
  else
    die "neither curl nor wget is installed"
  fi
}

main() {
  # The token: from the environment, or --token (taken out of the arguments passed on).
  token=\${CADDYFLEET_ENROLLMENT_TOKEN-}
  unset CADDYFLEET_ENROLLMENT_TOKEN
  token_in_argv=
  n=$#
  i=0
  while [ "$i" -lt "$n" ]; do
    arg=$1
    shift
    i=$((i + 1))
    case $arg in
      --token)
        [ "$i" -lt "$n" ] || die "--token needs a value"
        token=$1
        shift
        i=$((i + 1))
        token_in_argv=1
        ;;
      --token=*)
        token=\${arg#--token=}
        token_in_argv=1
        ;;
      --token-stdin)
        die "--token-stdin does not work here (this script is read from stdin): use CADDYFLEET_ENROLLMENT_TOKEN=... sh"
        ;;
      *)
        set -- "$@" "$arg"
        ;;
    esac
  done
  if [ -n "$token_in_argv" ]; then
    say "warning: --token is visible in the process list while this runs; prefer: curl ... | CADDYFLEET_ENROLLMENT_TOKEN=... sh"
  fi

  [ "$(id -u)" = 0 ] || die "run this as root (for example: curl -fsSL ${publicUrl}${INSTALL_SCRIPT_PATH} | sudo CADDYFLEET_ENROLLMENT_TOKEN=... sh)"
  os=$(uname -s)
  arch=$(uname -m)
  [ "$os" = Linux ] && [ "$arch" = x86_64 ] || die "the agent is built for linux-x64; this host is $os-$arch"
  command -v sha256sum >/dev/null 2>&1 || die "sha256sum is missing (package coreutils)"

  dir=$(mktemp -d "\${TMPDIR:-/tmp}/caddyfleet-agent.XXXXXX") || die "cannot create a temporary directory"
  trap 'rm -rf "$dir"' EXIT
  trap 'exit 130' INT TERM
  bin=$dir/caddyfleet-agent

  say "downloading the agent from $CONTROLLER"
  download "$CONTROLLER/downloads/$ARTIFACT.sha256" "$dir/sha256"
  download "$CONTROLLER/downloads/$ARTIFACT" "$bin"
  expected=$(cut -d ' ' -f 1 < "$dir/sha256")
  actual=$(sha256sum "$bin" | cut -d ' ' -f 1)
  case $expected in
    *[!0-9a-f]* | '') die "the controller sent no valid checksum for $ARTIFACT" ;;
  esac
  [ "\${#expected}" -eq 64 ] || die "the controller sent no valid checksum for $ARTIFACT"
  [ "$expected" = "$actual" ] || die "checksum mismatch for $ARTIFACT: expected $expected, got $actual (download corrupted or tampered with)"
  chmod 0700 "$bin"
  version=$("$bin" --version 2>/dev/null) || die "cannot run the downloaded agent (is $dir on a noexec mount? set TMPDIR to another directory)"
  say "caddyfleet-agent $version, checksum verified"

  if [ -n "$token" ]; then
    printf '%s\\n' "$token" | "$bin" install --controller "$CONTROLLER" --token-stdin "$@"
  else
    "$bin" install --controller "$CONTROLLER" "$@" </dev/null
  fi
}

main "$@"
`;
}
