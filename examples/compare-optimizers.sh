#!/usr/bin/env sh
# Trains the same seeded job once per optimizer and prints final loss and epochs-to-threshold.
# Needs only curl and a POSIX shell: DESCENT_URL=http://host:3000 sh examples/compare-optimizers.sh
set -eu
URL="${DESCENT_URL:-http://127.0.0.1:3000}"
EPOCHS="${EPOCHS:-100}"
THRESHOLD="${THRESHOLD:-0.3}"

# optimizer:learningRate — rates that suit each rule on this problem
RUNS="sgd:0.1 momentum:0.05 nesterov:0.05 adagrad:0.1 adadelta:1.0 rmsprop:0.01 adam:0.01 adamax:0.02 adamw:0.01 amsgrad:0.01 nadam:0.01 lion:0.001"

submit() {
  curl -sf -X POST "$URL/v1/jobs" -H 'content-type: application/json' -d "{
    \"name\": \"compare-$1\",
    \"dataset\": { \"builtin\": \"moons\", \"samples\": 200, \"noise\": 0.1 },
    \"model\": { \"inputShape\": [2], \"layers\": [
      { \"type\": \"dense\", \"units\": 16, \"activation\": \"tanh\" },
      { \"type\": \"dense\", \"units\": 16, \"activation\": \"tanh\" },
      { \"type\": \"dense\", \"units\": 1, \"activation\": \"sigmoid\" } ] },
    \"loss\": \"binaryCrossentropy\",
    \"metrics\": [\"accuracy\"],
    \"optimizer\": { \"name\": \"$1\", \"learningRate\": $2 },
    \"training\": { \"epochs\": $EPOCHS, \"batchSize\": 32, \"seed\": 1 }
  }" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p'
}

ids=""
for run in $RUNS; do
  name="${run%%:*}"; lr="${run#*:}"
  id=$(submit "$name" "$lr")
  [ -n "$id" ] || { echo "submit failed for $name" >&2; exit 1; }
  ids="$ids $name:$lr:$id"
done

printf '%-10s %8s %12s %10s %s\n' optimizer lr final_loss accuracy "epochs_to_loss<$THRESHOLD"
for entry in $ids; do
  name="${entry%%:*}"; rest="${entry#*:}"; lr="${rest%%:*}"; id="${rest#*:}"
  # The event stream replays from the start and ends after the terminal event.
  curl -sN "$URL/v1/jobs/$id/events" | awk -v name="$name" -v lr="$lr" -v th="$THRESHOLD" '
    /^event: / { ev = $2 }
    /^data: / && ev == "epoch" {
      match($0, /"epoch":[0-9]+/);            e = substr($0, RSTART + 8, RLENGTH - 8) + 0
      match($0, /"loss":[-0-9.eE+]+/);        l = substr($0, RSTART + 7, RLENGTH - 7) + 0
      match($0, /"accuracy":[-0-9.eE+]+/);    a = substr($0, RSTART + 11, RLENGTH - 11) + 0
      if (!hit && l < th) hit = e
    }
    /^data: / && (ev == "failed" || ev == "cancelled") { status = ev }
    END { printf "%-10s %8s %12.5f %10.3f %s\n", name, lr, l, a, (status ? status : (hit ? hit : "-")) }'
done
