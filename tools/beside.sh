#!/bin/sh
# beside.sh LOG BACKGROUND FOREGROUND: run the shell command BACKGROUND
# with its output in the file LOG while FOREGROUND runs with its output
# here; then print LOG, and fail when either failed.
#
# make test runs the Autobahn suites and the core's bounded fuzzing beside
# the rest of the test suite: those wait on the fuzzing peer and the
# fuzzers' clocks, the rest mostly on the timeouts it tests, so side by
# side they take about as long as the longer of the two instead of their
# sum. An interrupt stops both.
set -u
log=$1
mkdir -p "$(dirname "$log")"
sh -c "$2" > "$log" 2>&1 &
background=$!
trap 'kill "$background" 2>/dev/null; wait "$background"; exit 130' INT TERM
sh -c "$3"
foreground_status=$?
wait "$background"
background_status=$?
trap - INT TERM
echo "---- $log"
cat "$log"
[ "$foreground_status" -eq 0 ] && [ "$background_status" -eq 0 ]
