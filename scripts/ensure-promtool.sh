#!/usr/bin/env bash
# Puts Debian's prometheus binaries (prometheus, promtool) under .cache/prometheus/ without
# installing the package (which would also register a service). Prints the bin directory.
# Used by the metrics tests (promtool check metrics) and by the compose test's Prometheus image.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/prometheus"
if [ -x "$dest/usr/bin/promtool" ] && [ -x "$dest/usr/bin/prometheus" ]; then echo "$dest/usr/bin"; exit 0; fi
mkdir -p "$dest"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(
  cd "$tmp"
  apt-get download prometheus >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get download prometheus >/dev/null; }
  dpkg-deb -x prometheus_*.deb "$dest"
) >&2
echo "$dest/usr/bin"
