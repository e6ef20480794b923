#!/usr/bin/env bash
# Runs the whole test suite. Installs the pinned Ayrshare SDKs the conformance tests drive
# (Python into target/sdk-venv, Node into tests/sdk/node/node_modules), then `cargo test`
# over both workspace packages (postgate and postgate-sandbox: libraries, the binary and
# every integration test), then the contract fuzzer (scripts/fuzz.sh, counted as one test),
# and prints the totals last.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x target/sdk-venv/bin/python ]; then
  python3 -m venv target/sdk-venv
fi
# `python -m pip`, not the venv's `pip` script: a target directory copied from elsewhere keeps
# a `pip` whose first line names the other venv.
target/sdk-venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/sdk/python/requirements.txt
npm ci --prefix tests/sdk/node --silent --no-audit --no-fund

# shellcheck source=scripts/pg.sh
. scripts/pg.sh

# Headless Chromium and its WebDriver for the real-browser linking test (tests/browser.rs),
# Debian's packages, installed when missing. That test fails without them when CI is set.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  apt_install chromium chromium-driver
fi

# A real PostgreSQL for the PostgreSQL store tests (scripts/pg.sh: Debian's package, installed
# when missing; a throwaway cluster under target/pg owned by an unprivileged user, on a free
# port, stopped when this script exits; fsync off, the tests need no durability from it). The
# tests read POSTGATE_TEST_PG_URL and fail without it when CI is set.
start_pg "$PWD/target/pg" fsync=off
export POSTGATE_TEST_PG_URL=$PG_URL

# Unit and integration tests (not the benches: they are `cargo bench --bench gateway`).
mkdir -p target
cargo test --workspace --lib --bins --tests "$@" 2>&1 | tee target/test-output.log

# Schemathesis against a gateway on the sandbox: any failure fails the run. Skipped for a
# targeted run (extra arguments) or with FUZZ=0.
fuzz_ok=1 fuzz_ran=0
if [ $# -eq 0 ] && [ "${FUZZ:-1}" != 0 ]; then
  fuzz_ran=1
  bash scripts/fuzz.sh 2>&1 | tee target/fuzz-output.log || fuzz_ok=0
fi
awk -v ran="$fuzz_ran" -v ok="$fuzz_ok" '/^test result:/ { passed += $4; failed += $6 }
  END { passed += ran * ok; failed += ran * (1 - ok); printf "%d passed, %d failed\n", passed, failed }' target/test-output.log
[ "$fuzz_ok" = 1 ] || { echo "contract fuzzing failed: see target/fuzz-output.log" >&2; exit 1; }
