#!/usr/bin/env bash
# Says, in one line on stderr, whether make test's tests on separate hosts
# (test-network/localnet's, on network namespaces: nettest.SeparateHosts)
# will be skipped on this machine, and why: go test ./... prints only "ok"
# for their package, run or skipped. Silent when they will run.
#
# The verdict is SeparateHosts's own: this runs TestSeparateHosts
# (scripts/hosts_test.go), which calls it, and relays its skip message
# (needs root, the ip command, CAP_NET_ADMIN and CAP_SYS_ADMIN, each with
# its fix). Where the hosts can be made, the check makes and removes them
# (about a second).
#
# Always exits 0: it only informs, and changes nothing that passes or fails.
# A check that fails says the tests on separate hosts will fail too, with
# its output.
# GO (default go) as in the Makefile.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
test=TestSeparateHosts

args=(test -count=1 -timeout 2m -run "^$test\$" -v ./scripts)
out=$("$GO" "${args[@]}" 2>&1)
rc=$?
if ((rc == 0)) && grep -q "^--- PASS: $test " <<<"$out"; then
  exit 0
fi
if ((rc == 0)) && grep -q "^--- SKIP: $test " <<<"$out"; then
  # The skip message: the test's log lines ("    file.go:N: ..."), joined.
  why=$(sed -n "/^=== RUN   $test\$/,/^--- SKIP: $test /{s/^    [^ ]*\.go:[0-9]*: //p}" <<<"$out" | awk 'NR > 1 { printf "; " } { printf "%s", $0 }')
  echo "separate-hosts: the tests on separate hosts (test-network/localnet, nettest.SeparateHosts) will be skipped here, though their package prints ok: ${why:-no reason given}" >&2
  exit 0
fi
if ((rc != 0)); then
  echo "separate-hosts: the tests on separate hosts (test-network/localnet, nettest.SeparateHosts) will fail here: their check, $GO ${args[*]}, exited $rc:" >&2
else
  echo "separate-hosts: could not tell whether the tests on separate hosts will run here: $GO ${args[*]} neither passed nor skipped $test:" >&2
fi
sed 's/^/  /' <<<"$out" >&2
exit 0
