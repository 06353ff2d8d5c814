#!/usr/bin/env bash
# Debian packages Tiangong uses: bubblewrap (the code sandbox). Needs root and apt; without
# them it says what is missing and carries on (code tools then refuse to run, never unsandboxed).
set -uo pipefail

if command -v bwrap >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing bubblewrap"
  (apt-get install -y -q bubblewrap >/dev/null 2>&1) || \
    (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q bubblewrap >/dev/null 2>&1)
fi
if ! command -v bwrap >/dev/null 2>&1; then
  echo "warning: bubblewrap (bwrap) is not installed; code execution will be refused" >&2
  exit 1
fi
