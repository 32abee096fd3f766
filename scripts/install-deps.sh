#!/usr/bin/env bash
# Installs the Debian packages Votechain's tests and `make up` need, if missing:
# redis-server (the vote queue and dedup store), prometheus (with promtool) and
# prometheus-redis-exporter (the monitoring `make up` runs; promtool checks the
# alert rules in `make test`), chromium and chromium-driver (the browser
# tests), haproxy (the load balancer in front of several gateways, `make up
# GATEWAYS=2` and the scale-out e2e test), patch (applies network/fabricbin's
# patches when `make fabric-bin` builds Fabric). Idempotent; needs root (or sudo).
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-redis-exporter >/dev/null 2>&1 || need+=(prometheus-redis-exporter)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v patch >/dev/null 2>&1 || need+=(patch)
# Debian puts haproxy in /usr/sbin, often not on a user's PATH.
command -v haproxy >/dev/null 2>&1 || [[ -x /usr/sbin/haproxy ]] || need+=(haproxy)

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
for bin in redis-server prometheus promtool prometheus-redis-exporter chromium chromedriver patch; do
  command -v "$bin" >/dev/null 2>&1 || { echo "install-deps: $bin still missing after install" >&2; exit 1; }
done
command -v haproxy >/dev/null 2>&1 || [[ -x /usr/sbin/haproxy ]] || { echo "install-deps: haproxy still missing after install" >&2; exit 1; }
