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

# A real PostgreSQL for the PostgreSQL store tests: Debian's package (installed when missing),
# a throwaway cluster under target/pg owned by an unprivileged user (initdb refuses root), on a
# free port with its socket under target/, stopped when this script exits. The tests read
# POSTGATE_TEST_PG_URL and fail without it when CI is set.
APT_UPDATED=
apt_install() {
  [ -n "$APT_UPDATED" ] || { apt-get update -qq; APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Headless Chromium and its WebDriver for the real-browser linking test (tests/browser.rs),
# Debian's packages, installed when missing. That test fails without them when CI is set.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  apt_install chromium chromium-driver
fi

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$PG_BIN" ]; then
  apt_install postgresql
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
PG_DIR="$PWD/target/pg"
PG_AS=()
rm -rf "$PG_DIR"
mkdir -p "$PG_DIR/sock"
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --user-group --no-create-home postgres
  chown -R postgres "$PG_DIR"
  PG_AS=(runuser -u postgres --)
fi
PG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgate --auth=trust -E UTF8 --no-locale >"$PG_DIR/initdb.log"
"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
  -o "-p $PG_PORT -k $PG_DIR/sock -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" \
  start >/dev/null
trap '"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true' EXIT
export POSTGATE_TEST_PG_URL="postgres://postgate@127.0.0.1:$PG_PORT/postgres"

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
