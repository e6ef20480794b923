#!/usr/bin/env bash
# Runs the whole test suite. Installs the pinned Ayrshare SDKs the conformance tests drive
# (Python into target/sdk-venv, Node into tests/sdk/node/node_modules), then `cargo test`
# over both workspace packages (postgate and postgate-sandbox: libraries, the binary and
# every integration test), and prints the totals last.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x target/sdk-venv/bin/python ]; then
  python3 -m venv target/sdk-venv
fi
target/sdk-venv/bin/pip install --quiet --disable-pip-version-check -r tests/sdk/python/requirements.txt
npm ci --prefix tests/sdk/node --silent --no-audit --no-fund

# Unit and integration tests (not the benches: they are `cargo bench --bench gateway`).
mkdir -p target
cargo test --workspace --lib --bins --tests "$@" 2>&1 | tee target/test-output.log
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "%d passed, %d failed\n", passed, failed }' target/test-output.log
