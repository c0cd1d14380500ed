#!/usr/bin/env bash
# `npm run bench:proxy` compares the dispatcher with nginx and HAProxy under wrk. They come from
# the distribution's packages, never from npm: this installs what is missing (nginx-light,
# haproxy, wrk) with apt-get when it can, and otherwise says why. It never fails: the bench skips
# what is still missing, with a line saying so. In a container Debian's policy-rc.d keeps the
# packages' services from starting; on a host with systemd, installing nginx-light also starts
# the distribution's nginx on port 80 (stop it with `systemctl disable --now nginx`).
set -uo pipefail
declare -A package=([nginx]=nginx-light [haproxy]=haproxy [wrk]=wrk)
missing=()
for tool in nginx haproxy wrk; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${package[$tool]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-proxies: no apt-get here; install ${missing[*]} by hand to compare with them" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-proxies: not root; run: sudo apt-get install -y ${missing[*]}" >&2
  exit 0
fi
echo "ensure-proxies: apt-get install ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
  || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; } \
  || echo "ensure-proxies: apt-get could not install ${missing[*]}" >&2
exit 0
