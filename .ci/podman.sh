#!/usr/bin/env bash
# Install (if needed) podman, runc, mmdebstrap and uidmap for the container tests (tests/containers: bring
# your own container). The tests build their base image from Debian packages with mmdebstrap and import
# it into podman (no registry), and run podman with a containers.conf of their own (runc, lower rlimits).
# Safe to run repeatedly.
set -euo pipefail
if command -v podman >/dev/null 2>&1 && command -v runc >/dev/null 2>&1 && command -v mmdebstrap >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc mmdebstrap uidmap >/dev/null
else
  echo "podman/runc/mmdebstrap are not installed and cannot be installed here" >&2
  exit 1
fi
