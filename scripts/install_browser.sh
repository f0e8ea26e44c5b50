#!/bin/sh
# Chromium for the browser tests (tests/e2e): Debian's package, at /usr/bin/chromium.
# Installed when missing and we may (root with apt-get); otherwise the browser tests are
# skipped with a message saying so. CHROMIUM_PATH points the tests at another binary.
path="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$path" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Chromium for the browser tests (apt-get install chromium)"
  if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/tmp/conveyor-chromium.log 2>&1 \
     || { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/tmp/conveyor-chromium.log 2>&1; }; then
    exit 0
  fi
  echo "could not install Chromium (see /tmp/conveyor-chromium.log); browser tests will be skipped"
else
  echo "Chromium is not installed at $path and cannot be installed here (needs root and apt-get):"
  echo "browser tests will be skipped. Install it with: sudo apt-get install chromium"
fi
exit 0
