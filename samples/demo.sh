#!/usr/bin/env bash
# The main job end to end on the sample files, against the built-in sandbox, in demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=demo-out
rm -rf "$out" && mkdir -p "$out"
export BATCHQUEUE_DB="$out/demo.db"

batchqueue sandbox --port 0 --port-file "$out/sandbox.port" > "$out/sandbox.log" 2>&1 &
sandbox_pid=$!
trap 'kill $sandbox_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$out/sandbox.port" ] && break; sleep 0.1; done
[ -s "$out/sandbox.port" ] || { echo "the sandbox did not start:"; cat "$out/sandbox.log"; exit 1; }
export BATCHQUEUE_BASE_URL="http://127.0.0.1:$(cat "$out/sandbox.port")/api"
export BATCHQUEUE_USER=demo@example.com BATCHQUEUE_API_KEY=sandbox-key
echo "sandbox: $BATCHQUEUE_BASE_URL"

set -x
batchqueue check samples/contacts.csv --errors-out "$out/contacts-errors.csv" || true
batchqueue import samples/contacts.csv --survey 4242 --instance 1
batchqueue import samples/contacts.xlsx --survey 4242 --instance 1 --mapping samples/mapping.toml
batchqueue import samples/contacts.xlsx --survey 4242 --instance 1 --mapping samples/mapping.toml
batchqueue run 1 --rate 20
batchqueue run 2 --rate 20
batchqueue status
batchqueue status 2
