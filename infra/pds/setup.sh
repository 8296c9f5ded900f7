#!/usr/bin/env bash
# Installs the local Bluesky PDS used by the Bluesky adapter's tests (infra/pds/launch.mjs).
# Idempotent: when node_modules matches the lock file and better-sqlite3's native module
# loads, it returns at once.
set -euo pipefail
cd "$(dirname "$0")"

native_module_loads() {
  node -e "const Database = require('better-sqlite3'); new Database(':memory:').close()" \
    >/dev/null 2>&1
}

if [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] \
    && native_module_loads; then
  echo "infra/pds: already installed"
  exit 0
fi

if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi
# npm 11 may not run install scripts; build better-sqlite3's native module when missing.
if ! native_module_loads; then
  npm rebuild better-sqlite3
fi
native_module_loads
echo "infra/pds: installed"
