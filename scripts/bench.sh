#!/usr/bin/env bash
# The benchmarks with every row: starts a throwaway PostgreSQL under target/bench-pg with
# PostgreSQL's default durability (fsync and synchronous_commit on, as sled's flushes are
# real too), exports BENCH_PG_URL for the sled/PostgreSQL rows, then runs
# `cargo bench --bench gateway` with this script's arguments (a scenario name such as
# `stores` or `drain`, and/or `--quick`). See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pg.sh
. scripts/pg.sh
start_pg "$PWD/target/bench-pg"
export BENCH_PG_URL=$PG_URL
cargo bench --bench gateway -- "$@"
