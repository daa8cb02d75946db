#!/usr/bin/env bash
# Install (if needed) Chromium and its WebDriver for the web console's browser tests (selenium from the
# lock drives them). Safe to run repeatedly.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
else
  echo "chromium/chromedriver are not installed and cannot be installed here" >&2
  exit 1
fi
