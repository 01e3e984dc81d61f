#!/usr/bin/env bash
# Debian packages the tests drive as real clients: chromium (the viewer, through Playwright, which
# downloads no browser) and python3-qgis (QGIS itself, headless). Installed when missing and when this
# user may install packages; otherwise, or if the install fails, the tests that need them are skipped
# with the reason.
set -uo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
/usr/bin/python3 -c "import qgis.core" 2>/dev/null || missing+=(python3-qgis)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
  sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo=(sudo)
else
  echo "not installed, and this user cannot install them: ${missing[*]} (their tests will be skipped)" >&2
  exit 0
fi
"${sudo[@]}" apt-get update -qq >/dev/null &&
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
  echo "could not install ${missing[*]}: their tests will be skipped" >&2
exit 0
