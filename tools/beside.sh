#!/bin/sh
# beside.sh LOG BACKGROUND FOREGROUND: run the shell command BACKGROUND
# with its output in the file LOG while FOREGROUND runs with its output
# here; then print LOG, and fail when either failed.
#
# make test runs the Autobahn suites beside the rest of the test suite:
# those wait on the fuzzing peer, the rest mostly on the timeouts it tests,
# so side by side they take about as long as the longer of the two instead
# of their sum. An interrupt or TERM stops both: BACKGROUND runs in a
# process group of its own (setsid), which gets TERM as a whole, since a
# background job of a shell ignores INT.
set -u
log=$1
mkdir -p "$(dirname "$log")"
setsid sh -c "$2" > "$log" 2>&1 &
background=$!
trap 'kill -TERM "-$background" 2>/dev/null; wait "$background"; exit 130' INT TERM
sh -c "$3"
foreground_status=$?
wait "$background"
background_status=$?
trap - INT TERM
echo "---- $log"
cat "$log"
[ "$foreground_status" -eq 0 ] && [ "$background_status" -eq 0 ]
