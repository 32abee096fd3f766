#!/usr/bin/env bash
# Runs a command holding the machine's test lock, shared or exclusive:
#
#   scripts/test-lock.sh shared    CMD ARGS...   (make test)
#   scripts/test-lock.sh exclusive CMD ARGS...   (make test-heavy, each heavy test; make bench)
#   scripts/test-lock.sh notice    CMD ARGS...   (make test-unit, make test-race)
#
# notice takes no lock and never waits: it says who holds the lock, if
# anyone does (a bench or a heavy test measures, and this run shares the
# machine with it), then runs the command.
#
# make test's packages share the machine with each other anyway, so several
# make tests may run at once; a heavy test (scripts/test-heavy.sh) and a bench
# must have the machine to themselves, so they wait until no make test, heavy
# test or bench runs, and those wait for them. The lock file sits beside the
# test networks' port-range locks (nettest.PortBase), in one folder for every
# checkout on the machine, so two checkouts' runs see each other too. It says
# so when it has to wait, and which processes hold the lock.
#
# flock(2) alone would starve an exclusive waiter: a shared lock is granted
# while others are held, whoever waits, so make tests that overlap without a
# gap would keep a heavy test or a bench waiting for ever. So every caller
# first takes a second lock, the gate, exclusively, takes the test lock
# (waiting for it there if it must) and only then lets go of the gate: an
# exclusive waiter holds the gate, and a make test arriving after it waits
# at the gate until the exclusive run has started. Callers that wait at the
# gate together get it in the kernel's order, not necessarily first come.
#
# The command does not inherit the locks' file descriptors: a process it
# leaves running cannot hold a lock after it ends. Exits with the command's
# status.
set -euo pipefail

want=${1:-}
case $want in
shared) mode=-s ;;
exclusive) mode=-x ;;
notice) mode= ;;
*)
  echo "usage: $0 shared|exclusive|notice CMD ARGS..." >&2
  exit 2
  ;;
esac
shift
(($# > 0)) || { echo "usage: $0 shared|exclusive|notice CMD ARGS..." >&2; exit 2; }

# The folder and the lock files serve every user (a run as root must not
# leave them unusable to others): the folder is made 1777 like /tmp, the
# files 0666 past the umask, and they are opened read-only, all flock needs,
# so a file another user made serves as long as it may be read. A file is
# made 0666 at once under a umask of 0 (as internal/testport makes its port
# locks 0666 before they get their name), not made with the caller's umask
# and chmodded after: in between another user could not open it. A file of
# another mode (left by older versions) is given 0666 by its owner or root;
# a symbolic link is left alone (chmod would follow it to any file).
dir=${TMPDIR:-/tmp}/votechain-test-ports
mkdir -p "$dir"
[[ $(stat -c %a "$dir") == 1777 ]] || chmod 1777 "$dir" 2>/dev/null || true # its owner or root only
lock=$dir/test-lanes.lock
gate=$dir/test-lanes.gate
# Made with noclobber's O_EXCL (not >>, which another user's file refuses).
for f in "$lock" "$gate"; do
  (umask 0 && set -C && : >"$f") 2>/dev/null || [[ -L $f ]] ||
    [[ $(stat -c %a "$f" 2>/dev/null) == 666 ]] || chmod 666 "$f" 2>/dev/null || true # its owner or root only
done

# holding FILE: the processes that hold a flock on FILE, one line each: PID,
# elapsed time and command line; nothing if none does. An open file
# descriptor holds one if its /proc fdinfo lists a lock (one that waits for
# it lists none).
holding() {
  local fd pids=()
  for fd in /proc/[0-9]*/fd/*; do
    [[ $fd -ef $1 ]] || continue
    local pid=${fd#/proc/}
    pid=${pid%%/*}
    grep -qs '^lock:' "/proc/$pid/fdinfo/${fd##*/}" && pids+=("$pid")
  done
  ((${#pids[@]} > 0)) || return 0
  ps -o pid=,etime=,args= -p "$(printf '%s,' "${pids[@]}" | sed 's/,$//')" | cut -c1-200 | sed 's/^/  /' || true
}

# holders FILE: holding FILE, or "(none now)".
holders() {
  local h
  h=$(holding "$1")
  echo "${h:-  (none now)}"
}

if [[ -z $mode ]]; then
  [[ -e $lock ]] && h=$(holding "$lock") && [[ -n $h ]] &&
    printf 'test-lock: this run takes no lock and does not wait, but %s is held (a make test, test-heavy or bench runs: both share the machine, and a bench measures it) by:\n%s\n' "$lock" "$h" >&2
  exec "$@"
fi

waited=
# take FD MODE FILE WHAT: flock MODE on FD, saying what it waits for if it must.
take() {
  local fd=$1 m=$2 file=$3 what=$4
  flock -n "$m" "$fd" && return
  [[ -n $waited ]] || waited=$SECONDS
  echo "test-lock: waiting ($want) for $what; held by:" >&2
  holders "$file" >&2
  flock "$m" "$fd"
}

exec 8<"$gate" 9<"$lock" || {
  echo "test-lock: cannot read $gate or $lock: a run as another user (root?) left them so: as root, chmod 1777 $dir and 0666 its files, or remove it" >&2
  exit 1
}
take 8 -x "$gate" "another make test, make test-heavy or make bench waiting before this one to hold $lock"
take 9 "$mode" "$lock" "$lock: a make test (shared), make test-heavy or make bench (exclusive) runs on this machine"
flock -u 8
exec 8>&-
[[ -z $waited ]] || echo "test-lock: got it after $((SECONDS - waited)) s" >&2
status=0
"$@" 9>&- || status=$?
exit "$status"
