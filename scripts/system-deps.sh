#!/usr/bin/env bash
# Debian packages the tests drive: chromium (the viewer's headless browser tests, run by Playwright
# against the system browser; nothing is downloaded by Playwright). Installed when missing and when
# this user may install packages; otherwise the browser tests say they were skipped and why.
set -euo pipefail
command -v chromium >/dev/null && exit 0
if [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "chromium is not installed and this user cannot install it: the browser tests will be skipped" >&2
fi
