#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver (the web pages' end-to-end tests drive them) when missing; quiet.
# Idempotent: does nothing when /usr/bin/chromium is already there. Browser builds cannot be downloaded here, so
# Playwright launches this Debian build (executable_path) instead of running `playwright install`.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/browser.sh: chromium is missing and installing it needs root (apt-get install chromium chromium-driver)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
