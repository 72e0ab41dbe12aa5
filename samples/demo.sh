#!/usr/bin/env bash
# The main job end to end on the sample files, in a throw-away ledger under demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=demo-out
rm -rf "$out" && mkdir -p "$out"
export BATCHQUEUE_DB="$out/demo.db"
set -x
batchqueue check samples/contacts.csv --errors-out "$out/contacts-errors.csv" || true
batchqueue check samples/contacts.xlsx --mapping samples/mapping.toml || true
batchqueue import samples/contacts.csv --survey 4242 --instance 1
batchqueue import samples/contacts.xlsx --survey 4242 --instance 1 --mapping samples/mapping.toml
batchqueue import samples/contacts.xlsx --survey 4242 --instance 1 --mapping samples/mapping.toml
batchqueue status
batchqueue status 2
