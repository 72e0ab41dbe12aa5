#!/usr/bin/env bash
# The main job end to end on the sample files, against the built-in sandbox, in demo-out/:
# check → import → run → outcomes arrive by result_url callbacks → survey answers → status → report.
set -euo pipefail
cd "$(dirname "$0")/.."
out=demo-out
rm -rf "$out" && mkdir -p "$out"
export BATCHQUEUE_DB="$out/demo.db"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

wait_for_file() {
  for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done
  echo "$2 did not start:"; cat "$3"; exit 1
}

set -x
batchqueue check samples/contacts.csv --errors-out "$out/contacts-errors.csv" || true
batchqueue import samples/contacts.csv --survey 4242 --instance 1
batchqueue import samples/contacts.xlsx --survey 4242 --instance 1 --mapping samples/mapping.toml
batchqueue import samples/contacts.xlsx --survey 4242 --instance 1 --mapping samples/mapping.toml
{ set +x; } 2>/dev/null

# The Insight stand-in: calls end 1 s after they are queued, and it posts their callbacks.
batchqueue sandbox --port 0 --port-file "$out/sandbox.port" --complete-after 1 > "$out/sandbox.log" 2>&1 &
pids+=($!)
# The callback receiver Insight posts results to.
batchqueue serve --port 0 --port-file "$out/serve.port" > "$out/serve.log" 2>&1 &
pids+=($!)
wait_for_file "$out/sandbox.port" "the sandbox" "$out/sandbox.log"
wait_for_file "$out/serve.port" "the callback receiver" "$out/serve.log"
export BATCHQUEUE_BASE_URL="http://127.0.0.1:$(cat "$out/sandbox.port")/api"
export BATCHQUEUE_USER=demo@example.com BATCHQUEUE_API_KEY=sandbox-key
public_url="http://127.0.0.1:$(cat "$out/serve.port")"
echo "sandbox: $BATCHQUEUE_BASE_URL   callbacks: $public_url"

set -x
batchqueue run 1 --rate 20 --public-url "$public_url"
batchqueue run 2 --rate 20 --public-url "$public_url"
{ set +x; } 2>/dev/null
echo "waiting for the sandbox's callbacks..."
for _ in $(seq 100); do
  pending=$(batchqueue status --json | python3 -c '
import json, sys
jobs = json.load(sys.stdin)["jobs"]
print(sum(j["counts"]["queued"] - sum(j["outcomes"].values()) for j in jobs))' 2>/dev/null || echo 1)
  [ "$pending" = "0" ] && break
  sleep 0.3
done
# The survey's answers: the sandbox's saved report 4242 (its Reporting API URL ends /report/4242)
# holds a visit for every completed call, a few web visits and an inbound call. Whoever pressed 9
# goes on the survey-opt-outs do-not-call list, and no later job calls them. The two sample files
# share five people, called by both jobs within a minute: their visits match two calls equally and
# are reported (a note in each row of the report), not guessed.
set -x
batchqueue answers 1 --report 4242 --opt-out-when 'Press 9 if you do not want to receive these calls=9'
batchqueue answers 2 --report 4242
batchqueue dnc list
batchqueue status 1
batchqueue status 2
batchqueue export 1 -o "$out/report-contacts.xlsx"
batchqueue export 2 -o "$out/report-contacts-xlsx.csv"
batchqueue export 1 -o "$out/fix-and-reimport.csv" --as-input
{ set +x; } 2>/dev/null
echo "reports written to $out/"
