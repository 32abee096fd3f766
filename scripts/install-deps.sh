#!/usr/bin/env bash
# Installs the Debian packages Votechain needs, if missing. Usage:
#   install-deps.sh            what `make test` needs (`make deps`): the runtime set and the browser set
#   install-deps.sh --runtime  what `make up` needs (`make deps-run`): the runtime set alone
# The runtime set: redis-server (the vote queue and dedup store), prometheus
# (with promtool) and prometheus-redis-exporter (the monitoring `make up`
# runs; promtool checks the alert rules in the tests), haproxy (the load
# balancer in front of several gateways, `make up GATEWAYS=2` and the
# scale-out e2e test), patch (applies network/fabricbin's patches when `make
# fabric-bin` builds Fabric). The browser set: chromium, for the browser
# tests alone (the web pages' tests in `make test`), which chromedp starts
# and drives itself over the DevTools protocol (no chromedriver).
# Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

browser=1
case "${1:-}" in
  "") ;;
  --runtime) browser=0 ;;
  *) echo "usage: $0 [--runtime]" >&2; exit 2 ;;
esac

# Each wanted command and the Debian package that provides it.
cmds=(redis-server prometheus promtool prometheus-redis-exporter patch haproxy)
pkgs=(redis-server prometheus prometheus prometheus-redis-exporter patch haproxy)
if ((browser)); then
  cmds+=(chromium)
  pkgs+=(chromium)
fi

# has CMD: the command is on PATH (Debian puts haproxy in /usr/sbin, often
# not on a user's PATH).
has() { command -v "$1" >/dev/null 2>&1 || [[ $1 == haproxy && -x /usr/sbin/haproxy ]]; }

need=()
for i in "${!cmds[@]}"; do
  if ! has "${cmds[i]}" && [[ " ${need[*]} " != *" ${pkgs[i]} "* ]]; then
    need+=("${pkgs[i]}")
  fi
done

if ((${#need[@]} == 0)); then
  exit 0
fi

echo "installing Debian packages: ${need[*]}"
sudo=""
if [[ $(id -u) != 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: need root to install ${need[*]}; run: apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  sudo="sudo"
fi
# Keep package scripts from starting system services (the project starts its
# own redis-server and Prometheus on 127.0.0.1 with their own data folders).
export DEBIAN_FRONTEND=noninteractive RUNLEVEL=1
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
for cmd in "${cmds[@]}"; do
  has "$cmd" || { echo "install-deps: $cmd still missing after install" >&2; exit 1; }
done
