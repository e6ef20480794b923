#!/usr/bin/env bash
# Contract fuzzing: Schemathesis (pinned in tests/fuzz/requirements.txt, in the venv
# scripts/test.sh creates) drives every operation of GET /api/openapi.json against a gateway
# on `postgate sandbox` (temporary store, loopback only): no 5xx, every status documented,
# every answer of the documented content type and schema. Bounded: a few examples per
# operation, well under two minutes. Exits non-zero on any failure.
#
# Left out: POST /api/hook/webhook, which would register fuzzed https receivers and make the
# gateway deliver to hosts off this machine (tests/api/webhooks.rs covers it on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/sdk-venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/fuzz/requirements.txt
cargo build --quiet --bin postgate

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
TP=$(free_port); XP=$(free_port); BP=$(free_port); GP=$(free_port)
KEY=fuzz-key-0123456789abcdef

target/debug/postgate sandbox --threads-port "$TP" --x-port "$XP" --bluesky-port "$BP" \
  >"$WORK/sandbox.log" 2>&1 &
PIDS+=($!)
POSTGATE__SERVER__PORT=$GP POSTGATE__STORE__PATH="$WORK/db" POSTGATE__AUTH__API_KEYS=$KEY \
POSTGATE__THREADS__BASE_URL=http://127.0.0.1:$TP/v1.0 POSTGATE__X__BASE_URL=http://127.0.0.1:$XP \
POSTGATE__BLUESKY__BASE_URL=http://127.0.0.1:$BP \
POSTGATE__X__CONSUMER_KEY=sandbox-x-consumer-key POSTGATE__X__CONSUMER_SECRET=sandbox-x-consumer-secret \
POSTGATE__LOG__LEVEL=warn \
  target/debug/postgate serve >"$WORK/gateway.log" 2>&1 &
PIDS+=($!)

BASE=http://127.0.0.1:$GP
for _ in $(seq 100); do
  curl -sf "$BASE/health" >/dev/null && curl -sf "http://127.0.0.1:$TP/__sandbox/stats" >/dev/null && break
  sleep 0.1
done
curl -sf "$BASE/health" >/dev/null || { cat "$WORK/gateway.log"; exit 1; }

# Something to find: linked accounts and a published post.
H=(-sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json')
curl "${H[@]}" -X POST "$BASE/api/profiles/social" -o /dev/null \
  -d '{"platform":"threads","userId":"17841400000000001","accessToken":"sandbox-threads-token"}'
curl "${H[@]}" -X POST "$BASE/api/profiles/social" -o /dev/null \
  -d '{"platform":"twitter","userId":"1700000000000000001","accessToken":"sandbox-x-token","accessTokenSecret":"sandbox-x-token-secret"}'
curl "${H[@]}" -X POST "$BASE/api/post" -o /dev/null \
  -d '{"post":"fuzzing starts here","platforms":["threads","twitter"]}'

status=0
"$VENV/bin/schemathesis" run "$BASE/api/openapi.json" \
  --header "Authorization: Bearer $KEY" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --exclude-operation-id hook_register \
  --phases examples,coverage,fuzzing \
  --max-examples "${FUZZ_EXAMPLES:-15}" \
  --max-time "${FUZZ_MAX_SECS:-90}" \
  --seed "${FUZZ_SEED:-20261126}" \
  --workers 2 \
  --request-timeout 10 \
  --max-redirects 0 \
  --suppress-health-check all \
  --output-truncate true \
  || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- gateway log (last 50 lines)"
  grep -v "tracing_actix_web" "$WORK/gateway.log" | tail -n 30
fi
exit "$status"
