#!/usr/bin/env bash
# Debian's Chromium for the page test (playwright-core drives it; Playwright's own browser downloads cannot
# reach their hosts here). Installs only when missing, and only where apt-get can (root).
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "install-chromium: /usr/bin/chromium is missing; install Debian's chromium package (sudo apt-get install chromium)" >&2
  exit 1
fi
