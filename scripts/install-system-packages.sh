#!/usr/bin/env bash
# Debian packages the tests need: Chromium for the page test (playwright-core drives it; Playwright's own browser
# downloads cannot reach their hosts here) and iproute2 for the multi-host test's network namespaces. Installs only
# what is missing, and only where apt-get can (root); otherwise says what to install.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v ip >/dev/null || missing+=(iproute2)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "install-system-packages: missing ${missing[*]}; install Debian's packages: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
