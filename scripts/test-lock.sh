#!/usr/bin/env bash
# Runs a command holding the machine's test lock, shared or exclusive:
#
#   scripts/test-lock.sh shared    CMD ARGS...   (make test)
#   scripts/test-lock.sh exclusive CMD ARGS...   (make test-heavy, each heavy test)
#
# make test's packages share the machine with each other anyway, so several
# make tests may run at once; a heavy test (scripts/test-heavy.sh) must have the
# machine to itself, so it waits until no make test or other heavy test runs,
# and they wait for it. The lock file sits beside the test networks' port-range
# locks (nettest.PortBase), in one folder for every checkout on the machine, so
# two checkouts' runs see each other too. It says so when it has to wait.
# The command does not inherit the lock's file descriptor: a process it leaves
# running cannot hold the lock after it ends. Exits with the command's status.
set -euo pipefail

want=${1:-}
case $want in
shared) mode=-s ;;
exclusive) mode=-x ;;
*)
  echo "usage: $0 shared|exclusive CMD ARGS..." >&2
  exit 2
  ;;
esac
shift
(($# > 0)) || { echo "usage: $0 shared|exclusive CMD ARGS..." >&2; exit 2; }

dir=${TMPDIR:-/tmp}/votechain-test-ports
mkdir -p "$dir"
lock=$dir/test-lanes.lock
exec 9>>"$lock"
if ! flock -n "$mode" 9; then
  waited=$SECONDS
  echo "test-lock: waiting to hold $lock ($want): a make test or make test-heavy runs on this machine" >&2
  flock "$mode" 9
  echo "test-lock: got it after $((SECONDS - waited)) s" >&2
fi
status=0
"$@" 9>&- || status=$?
exit "$status"
