#!/usr/bin/env bash
# Installs Debian's chromium (the browser the dashboard's browser test drives through
# playwright-core; nothing downloads a browser at npm install time). Idempotent; prints the path.
# Needs root (CI runs as root); where it cannot install, the browser test says so and skips.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then echo /usr/bin/chromium; exit 0; fi
export DEBIAN_FRONTEND=noninteractive
{
  apt-get install -y --no-install-recommends chromium || { apt-get update && apt-get install -y --no-install-recommends chromium; }
} >&2
echo /usr/bin/chromium
