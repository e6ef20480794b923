#!/usr/bin/env bash
# Runs the whole test suite. Installs the pinned Ayrshare SDKs the conformance tests drive
# (Python into target/sdk-venv, Node into tests/sdk/node/node_modules), then `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x target/sdk-venv/bin/python ]; then
  python3 -m venv target/sdk-venv
fi
target/sdk-venv/bin/pip install --quiet --disable-pip-version-check -r tests/sdk/python/requirements.txt
npm ci --prefix tests/sdk/node --silent --no-audit --no-fund

cargo test "$@"
