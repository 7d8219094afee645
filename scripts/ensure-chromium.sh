#!/usr/bin/env bash
# Installs Debian's Chromium (and an emoji font for the chat page's 👍/👎) for the browser tests
# when missing; does nothing otherwise.
# Playwright's own browser download is never used: the tests point it at /usr/bin/chromium.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && dpkg -s fonts-noto-color-emoji >/dev/null 2>&1; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "chromium is missing and installing it needs root: run 'apt-get install -y chromium' as root" >&2
        exit 1
    fi
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when chromium is not known to apt yet.
if ! apt-cache show chromium >/dev/null 2>&1; then
    $SUDO apt-get update -qq
fi
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core fonts-noto-color-emoji >/dev/null
command -v chromium >/dev/null
echo "installed $(chromium --version 2>/dev/null || echo chromium)"
