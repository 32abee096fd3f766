#!/usr/bin/env bash
# The heavy lane. Heavy tests are the Test functions of the _test.go files that
# only the `heavy` build tag adds (`//go:build heavy`): tests whose load starves
# the other packages' tests in make test, and is starved by them (docs/ledger.md,
# "SmartBFT under roll-sized load"). go test ./... leaves them out; make test
# and make test-unit compile and vet them with `--vet`; make test-heavy runs
# them, each alone:
#
#   scripts/test-heavy.sh                    run every heavy test, one go test each
#                                            (-p 1), under the exclusive test lock
#   scripts/test-heavy.sh --vet [FLAGS...]   go vet -tags heavy [FLAGS] of their packages
#
# GO (default go) and TEST_HEAVY_TIMEOUT (default 30m, per test) as in the Makefile.
# Fails if there is no heavy test: a lane that runs nothing passes nothing.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
GO=${GO:-go}

# heavy_files prints the test files that -tags heavy adds to the module's
# packages, relative to the repository root.
heavy_files() {
  local list='{{$d := .Dir}}{{range .TestGoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .XTestGoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}'
  local without with
  without=$("$GO" list -f "$list" ./... | sort)
  with=$("$GO" list -tags heavy -f "$list" ./... | sort)
  comm -13 <(echo "$without") <(echo "$with") | sed "s|^$PWD/||"
}

listed=$(heavy_files)
mapfile -t files < <(echo -n "$listed" | grep .)
if ((${#files[@]} == 0)); then
  echo "test-heavy: no heavy tests (no _test.go file with //go:build heavy)" >&2
  exit 1
fi
mapfile -t pkgs < <(for f in "${files[@]}"; do echo "./$(dirname "$f")"; done | sort -u)

if [[ ${1:-} == --vet ]]; then
  shift
  vet=("$GO" vet -tags heavy "$@" "${pkgs[@]}")
  echo "${vet[*]}"
  exec "${vet[@]}"
fi
(($# == 0)) || { echo "usage: $0 [--vet [FLAGS...]]" >&2; exit 2; }

# Compile and vet first, before the lock: only the runs need the machine alone.
"$GO" vet -tags heavy "${pkgs[@]}"

timeout=${TEST_HEAVY_TIMEOUT:-30m}
failed=()
ran=0
began=$SECONDS
for f in "${files[@]}"; do
  pkg=./$(dirname "$f")
  for test in $(sed -nE 's/^func (Test[^a-z][A-Za-z0-9_]*)\([A-Za-z_][A-Za-z0-9_]* \*testing\.T\).*/\1/p' "$f"); do
    ran=$((ran + 1))
    echo "=== heavy $pkg $test (-tags heavy -p 1, alone)"
    start=$SECONDS
    status=0
    scripts/test-lock.sh exclusive \
      "$GO" test -tags heavy -p 1 -count=1 -v -timeout "$timeout" -run "^$test\$" "$pkg" || status=$?
    if ((status == 0)); then
      echo "=== heavy $pkg $test: passed in $((SECONDS - start)) s"
    else
      echo "=== heavy $pkg $test: FAILED in $((SECONDS - start)) s"
      failed+=("$pkg $test")
    fi
  done
done
if ((ran == 0)); then
  echo "test-heavy: no Test function in ${files[*]}" >&2
  exit 1
fi
if ((${#failed[@]} > 0)); then
  echo "test-heavy: ${#failed[@]} failed in $((SECONDS - began)) s: ${failed[*]}" >&2
  exit 1
fi
echo "test-heavy: $ran passed in $((SECONDS - began)) s"
