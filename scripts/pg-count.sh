#!/usr/bin/env bash
# Counts what one single-id delete costs the PostgreSQL store (issue #13): commits
# (pg_stat_database.xact_commit), statements and round trips (pg_stat_statements), WAL
# flushes (pg_stat_wal), over N sequential deletes of 2-platform posts through one gateway on
# `postgate sandbox` at 0 ms, delete quotas off as in the benchmark.
#
#   scripts/pg-count.sh [N]         # N deletes (default 200); BIN=path/to/postgate to pick
#                                   # the binary (default target/debug/postgate: counts do not
#                                   # depend on the build profile)
#   QUOTA=1 scripts/pg-count.sh     # with local delete quotas on (a count per call)
#   P=50 scripts/pg-count.sh 1000   # 50 deletes at a time (shared statements and commits)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
BIN=${BIN:-target/debug/postgate}
# shellcheck source=scripts/pg.sh
. scripts/pg.sh
start_pg "$PWD/target/count-pg" shared_preload_libraries=pg_stat_statements \
  pg_stat_statements.track=all
port=${PG_URL##*:}; port=${port%%/*}
PSQL=("$PG_BIN/psql" -X -q -t -A -h 127.0.0.1 -p "$port" -U postgate)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE count"
"${PSQL[@]}" -d count -c "CREATE EXTENSION pg_stat_statements"
DB_URL="postgres://postgate@127.0.0.1:$port/count"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
free() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
tp=$(free); xp=$(free); bp=$(free); gp=$(free)
"$BIN" sandbox --host 127.0.0.1 --threads-port "$tp" --x-port "$xp" --bluesky-port "$bp" \
  --threads-delete-limit 0 --x-delete-limit 0 --threads-post-limit 0 --x-post-limit 0 \
  --x-read-limit 0 >"$work/sandbox.log" 2>&1 &
pids+=($!)
limit=0
[ -n "${QUOTA:-}" ] && limit=1000000
KEY=count-api-key-0123456789
(
  cd "$work"
  RUST_LOG=warn POSTGATE__LOG__LEVEL=warn POSTGATE__SERVER__HOST=127.0.0.1 \
    POSTGATE__SERVER__PORT=$gp POSTGATE__STORE__PATH="$work/store" \
    POSTGATE__STORE__BACKEND=postgres POSTGATE__STORE__URL="$DB_URL" \
    POSTGATE__AUTH__API_KEYS=$KEY \
    POSTGATE__THREADS__BASE_URL="http://127.0.0.1:$tp/v1.0" POSTGATE__X__BASE_URL="http://127.0.0.1:$xp" \
    POSTGATE__X__CONSUMER_KEY=sandbox-x-consumer-key POSTGATE__X__CONSUMER_SECRET=sandbox-x-consumer-secret \
    POSTGATE__THREADS__DELETE_LIMIT=$limit POSTGATE__X__DELETE_LIMIT=$limit \
    exec "$OLDPWD/$BIN" serve
) >"$work/gateway.log" 2>&1 &
pids+=($!)
G="http://127.0.0.1:$gp"
for _ in $(seq 100); do curl -sf "$G/health" >/dev/null && curl -sf "http://127.0.0.1:$tp/__sandbox/stats" >/dev/null && break; sleep 0.2; done
A=(-H "Authorization: Bearer $KEY" -H "Content-Type: application/json")
curl -sf "${A[@]}" "$G/api/profiles/social" -d '{"platform":"threads","userId":"17841400000000001","accessToken":"sandbox-threads-token"}' >/dev/null
curl -sf "${A[@]}" "$G/api/profiles/social" -d '{"platform":"twitter","userId":"1700000000000000001","accessToken":"sandbox-x-token","accessTokenSecret":"sandbox-x-token-secret"}' >/dev/null
t=$(curl -sf -X POST "http://127.0.0.1:$tp/__sandbox/seed?count=$N")
x=$(curl -sf -X POST "http://127.0.0.1:$xp/__sandbox/seed?count=$N")
body=$(python3 -c '
import json, sys
t = json.loads(sys.argv[1])["ids"]; x = json.loads(sys.argv[2])["ids"]
print(json.dumps({"posts": [{"post": "count", "postIds": [{"platform": "threads", "id": a},
      {"platform": "twitter", "id": b}]} for a, b in zip(t, x)]}))' "$t" "$x")
ids=$(curl -sf "${A[@]}" "$G/api/post/import" -d "$body" | python3 -c '
import json, sys
v = json.load(sys.stdin)
print("\n".join(p["id"] for p in v["posts"]))')
# One warm-up delete (connections, prepared statements), then reset and count.
first=$(echo "$ids" | head -n 1)
curl -sf "${A[@]}" -X DELETE "$G/api/post" -d "{\"id\":\"$first\"}" >/dev/null
sleep 0.5
"${PSQL[@]}" -d count -c "SELECT pg_stat_statements_reset(); SELECT pg_stat_reset(); SELECT pg_stat_reset_shared('wal');" >/dev/null
sleep 0.7 # the statistics collector's reset reaches every backend
n=$((N - 1))
echo "$ids" | tail -n +2 | xargs -P "${P:-1}" -I{} curl -sf "${A[@]}" -X DELETE "$G/api/post" \
  -d '{"id":"{}"}' -o /dev/null
sleep 0.7
"${PSQL[@]}" -d count -F ' | ' -c "
SELECT 'deletes', $n;
SELECT 'commits per delete', round(xact_commit::numeric / $n, 2) FROM pg_stat_database WHERE datname = 'count';
SELECT 'WAL flushes per delete', round(wal_sync::numeric / $n, 2) FROM pg_stat_wal;
SELECT 'statements per delete', round(sum(calls)::numeric / $n, 2) FROM pg_stat_statements
  WHERE query !~* 'pg_stat' AND dbid = (SELECT oid FROM pg_database WHERE datname = 'count');" | sed 's/^/  /'
echo "  statements (calls per delete, query):"
"${PSQL[@]}" -d count -F ' | ' -c "
SELECT round(calls::numeric / $n, 2), regexp_replace(left(query, 110), '\s+', ' ', 'g') FROM pg_stat_statements
  WHERE query !~* 'pg_stat' AND dbid = (SELECT oid FROM pg_database WHERE datname = 'count')
  ORDER BY calls DESC" | sed 's/^/    /'
