#!/usr/bin/env bash
# Runs the Go client suites the way Testbed does, for a person:
#
#   SPARK_REMOTE=sc://127.0.0.1:15002 TESTBED_SPARK_VERSION=4.1.0 \
#   TESTBED_DATA=/path/with/trips-and-zones TESTBED_RESULTS=/tmp/go-results.jsonl \
#   tests/go/scripts/run_go_tests.sh [packages...] > go-test.json
#
# Packages default to ./smoke ./e2e ./load (and the unit tests of ./client).
# The go test -json event stream goes to stdout; with TESTBED_RESULTS set,
# every scenario also appends one result line there. See
# docs/go-client/README.md for all the variables.
set -euo pipefail
cd "$(dirname "$0")/.."

# e2e.json lives in the Python project's resources.
export TESTBED_E2E="${TESTBED_E2E:-$(cd ../.. && pwd)/resources/connect/e2e.json}"
# A port where nothing listens, for lifecycle_dead_server.
export TESTBED_DEAD_REMOTE="${TESTBED_DEAD_REMOTE:-sc://127.0.0.1:1}"

if [[ $# -eq 0 ]]; then
  set -- ./client ./smoke ./e2e ./load
fi

# -p 1: one test binary at a time, so the smoke socket counts and the load
# numbers are not disturbed by another suite hitting the same server.
# -count=1: never report cached results of a run against another server.
exec go test -json -count=1 -p 1 -timeout 30m "$@"
