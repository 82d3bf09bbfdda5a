#!/bin/sh
# Install the browser the web console's browser tests (tests/web_browser/) drive: Debian's
# chromium, through Playwright for Python (installed by pip with the test extra). Playwright's
# own browser download (`playwright install`) is never used: the tests point Playwright at
# /usr/bin/chromium. chromium-driver is installed too so Selenium users have a matching driver.
#
# Idempotent; Debian/Ubuntu only.
set -eu

PACKAGES="chromium chromium-driver fonts-liberation"

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-browser.sh: need root (or sudo) to run apt-get" >&2
    exit 1
fi

$SUDO apt-get update
# shellcheck disable=SC2086  # word splitting of the package list is intended
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $PACKAGES

command -v chromium >/dev/null 2>&1 || { echo "install-browser.sh: chromium missing" >&2; exit 1; }
