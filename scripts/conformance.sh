#!/usr/bin/env bash
# Contract conformance: schemathesis (from PyPI) generates requests from the OpenAPI document and
# sends them to a running Descent (API and one worker, built as `npm start` runs them). It fails
# on any 5xx and on any status code the document does not list for the operation.
# Needs REDIS_URL (a Redis that answers); bounded by CONFORMANCE_EXAMPLES per operation and
# CONFORMANCE_SECONDS overall.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
examples=${CONFORMANCE_EXAMPLES:-30}
seconds=${CONFORMANCE_SECONDS:-600}
venv=${CONFORMANCE_VENV:-$HOME/.cache/descent/schemathesis-$SCHEMATHESIS_VERSION}

if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "conformance: installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

work=$(mktemp -d)
port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
base="http://127.0.0.1:$port"
# Cheap limits: generated specs are real jobs the worker trains. No rate limit and a large job
# quota: one client sends every request, and a 429 would stand in for the route it tests.
PORT=$port DATA_DIR="$work/data" REDIS_PREFIX="conformance-$port" WORKERS=1 LOG_LEVEL=warn \
  RATE_LIMIT_MAX=0 QUOTA_ACTIVE_JOBS=100000 \
  MAX_EPOCHS=20 EVENT_STREAM_MAXLEN=200 MAX_UNITS=64 MAX_LAYERS=8 MAX_PARAMS=100000 MAX_TRAINING_MEMORY_MB=64 \
  MAX_SAMPLE_EPOCHS=20000 MAX_BUILTIN_SAMPLES=1000 MAX_INLINE_SAMPLES=1000 MAX_RUNTIME_SECONDS=30 PREDICT_TIMEOUT_MS=5000 \
  node dist/src/cli/start.js >"$work/service.log" 2>&1 &
service=$!
stop() {
  kill "$service" 2>/dev/null || true
  wait "$service" 2>/dev/null || true
  rm -rf "$work"
}
trap stop EXIT
for _ in $(seq 1 300); do
  if curl -sf "$base/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$service" 2>/dev/null; then cat "$work/service.log"; echo "conformance: the service did not start"; exit 1; fi
  sleep 0.2
done
curl -sf "$base/readyz" >/dev/null || { cat "$work/service.log"; echo "conformance: the service is not ready"; exit 1; }

# The document the API serves when it serves one; else the committed one (a test keeps it equal
# to what the routes generate).
schema=openapi.yaml
if curl -sf "$base/openapi.json" -o "$work/openapi.json"; then schema="$work/openapi.json"; fi
echo "conformance: schemathesis against $base ($schema), $examples examples per operation"
status=0
timeout "$seconds" "$venv/bin/schemathesis" run "$schema" --url "$base" \
  --checks not_a_server_error,status_code_conformance \
  --max-examples "$examples" --request-timeout 20 --seed 1 --no-color \
  --suppress-health-check all || status=$?
if [ "$status" -ne 0 ]; then
  echo "conformance: schemathesis failed (exit $status); service log:"
  tail -50 "$work/service.log"
fi
exit "$status"
