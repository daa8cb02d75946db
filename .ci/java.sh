#!/usr/bin/env bash
# Install (if needed) a Java runtime for the Spark processing tests (PySparkProcessor runs a real Spark in
# local mode; pyspark itself comes from the lock with `make test`). Safe to run repeatedly.
set -euo pipefail
if command -v java >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null
else
  echo "java is not installed and cannot be installed here" >&2
  exit 1
fi
