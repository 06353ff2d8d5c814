#!/usr/bin/env bash
# Install and start Tiangong on the embedded default: SQLite in ./data, no other servers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/system-deps.sh || true
exec .venv/bin/tiangong serve "$@"
