package scripts

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/test-network/nettest"
)

// TestSeparateHosts is nettest.SeparateHosts on its own, and the check
// separate-hosts.sh runs before make test's go test ./...: it skips
// exactly when the tests on separate hosts (test-network/localnet) will,
// with their message, since it asks SeparateHosts's rule
// (nettest.SeparateHostsSkip), before it reserves a port range, and then
// SeparateHosts itself. Where it runs, every namespace and the bridge
// exist while the hosts are up, and Remove leaves none of them.
func TestSeparateHosts(t *testing.T) {
	if why := nettest.SeparateHostsSkip(); why != "" {
		t.Skip(why)
	}
	m := nettest.SeparateHosts(t, nettest.PortBase(t))
	up := m.Leftovers()
	for _, name := range append([]string{m.Bridge}, slices.Collect(maps.Values(m.Netns))...) {
		if !slices.Contains(up, name) {
			t.Errorf("%s missing while the hosts are up; there are: %v", name, up)
		}
	}
	if err := m.Remove(); err != nil {
		t.Error(err)
	}
}

// TestSeparateHostsScriptRelaysTheCheck runs separate-hosts.sh with a go
// stand-in that answers as go test -v does for TestSeparateHosts (its
// output as real runs print it): a skip is one line on stderr with the
// skip message, a pass is silence, a check that fails says the tests on
// separate hosts will fail, with its output, and one that neither passes
// nor skips (no such test) says it could not tell. The script exits 0 in every case, so make test goes on to its
// tests, and asks for TestSeparateHosts alone.
func TestSeparateHostsScriptRelaysTheCheck(t *testing.T) {
	t.Parallel()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	const (
		why  = "needs root (euid 0) for network namespaces: run make test as root (CI does), e.g. in a container or VM"
		ok   = "PASS\nok  \tgithub.com/votechain/votechain/scripts\t0.207s\n"
		skip = "=== RUN   TestSeparateHosts\n    hosts_test.go:25: " + why + "\n--- SKIP: TestSeparateHosts (0.01s)\n" + ok
		pass = "=== RUN   TestSeparateHosts\n--- PASS: TestSeparateHosts (0.81s)\n" + ok
		none = "testing: warning: no tests to run\n" + ok
		fail = "=== RUN   TestSeparateHosts\n    hosts_test.go:27: ip netns add vc21-commission: exit status 1\n--- FAIL: TestSeparateHosts (0.30s)\nFAIL\n"
	)
	for _, c := range []struct {
		name, out string
		rc        int
		want      string // on stderr; %s is the go stand-in's path
	}{
		{"skip", skip, 0, "separate-hosts: the tests on separate hosts (test-network/localnet, nettest.SeparateHosts) will be skipped here, though their package prints ok: " + why + "\n"},
		{"pass", pass, 0, ""},
		{"none", none, 0, "separate-hosts: could not tell whether the tests on separate hosts will run here: %s test -count=1 -timeout 2m -run ^TestSeparateHosts$ -v ./scripts neither passed nor skipped TestSeparateHosts:\n" +
			"  testing: warning: no tests to run\n  PASS\n  ok  \tgithub.com/votechain/votechain/scripts\t0.207s\n"},
		{"fail", fail, 1, "separate-hosts: the tests on separate hosts (test-network/localnet, nettest.SeparateHosts) will fail here: their check, %s test -count=1 -timeout 2m -run ^TestSeparateHosts$ -v ./scripts, exited 1:\n" +
			"  === RUN   TestSeparateHosts\n      hosts_test.go:27: ip netns add vc21-commission: exit status 1\n  --- FAIL: TestSeparateHosts (0.30s)\n  FAIL\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			goCmd, args, out := filepath.Join(dir, "go"), filepath.Join(dir, "args"), filepath.Join(dir, "out")
			if err := os.WriteFile(out, []byte(c.out), 0o644); err != nil {
				t.Fatal(err)
			}
			stub := fmt.Sprintf("#!%s\necho \"$*\" > %s\ncat %s\nexit %d\n", bash, args, out, c.rc)
			if err := os.WriteFile(goCmd, []byte(stub), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bash, "separate-hosts.sh")
			cmd.Env = append(os.Environ(), "GO="+goCmd)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Errorf("separate-hosts.sh: %v; want exit status 0", err)
			}
			if stdout.Len() > 0 {
				t.Errorf("separate-hosts.sh printed on stdout %q; want nothing", stdout.String())
			}
			if want := strings.ReplaceAll(c.want, "%s", goCmd); stderr.String() != want {
				t.Errorf("separate-hosts.sh said on stderr:\n%s\nwant:\n%s", stderr.String(), want)
			}
			asked, _ := os.ReadFile(args)
			if want := "test -count=1 -timeout 2m -run ^TestSeparateHosts$ -v ./scripts\n"; string(asked) != want {
				t.Errorf("separate-hosts.sh ran go %q; want %q", asked, want)
			}
		})
	}
}

// TestMakeTestChecksTheHostsUnderTheLock runs make test's recipe (its
// prerequisites left out, -o) with a go stand-in that notes each call and
// whether the machine's test lock is held then: the separate-hosts check
// runs inside scripts/test-lock.sh shared, before go test ./..., its skip
// line reaches make's output, and make test fails exactly when go test
// does.
func TestMakeTestChecksTheHostsUnderTheLock(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("needs flock (util-linux), as scripts/test-lock.sh does")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	const skip = "=== RUN   TestSeparateHosts\n    hosts_test.go:25: no hosts here\n--- SKIP: TestSeparateHosts (0.01s)\nPASS\n"
	for _, code := range []int{0, 3} {
		dir := t.TempDir()
		goCmd, log := filepath.Join(dir, "go"), filepath.Join(dir, "go.log")
		// list and vet answer test-heavy.sh --vet: one heavy test file. The
		// lock is held (flock -E's status), free, or none: no lock file.
		stub := fmt.Sprintf(`#!/bin/bash
case $1 in
list) [[ $2 == -tags ]] && echo "$PWD/x/heavy_test.go"; exit 0 ;;
vet) exit 0 ;;
esac
flock -n -E 10 -x %[1]s/votechain-test-ports/test-lanes.lock true 2>/dev/null
case $? in 0) held=free ;; 10) held=held ;; *) held=none ;; esac
echo "$held: $*" >> %[2]s
case $* in
*TestSeparateHosts*) printf '%%b' %[3]q; exit 0 ;;
esac
exit %[4]d
`, dir, log, skip, code)
		if err := os.WriteFile(goCmd, []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := runMake(t, root, []string{"TMPDIR=" + dir, "TEST_TIMEOUT=1m"},
			"-o", "deps", "-o", "fabric-bin", "-o", "build", "GO="+goCmd, "test")
		if (err != nil) != (code != 0) {
			t.Errorf("go test exiting %d: make test: %v; want failure exactly when go test fails:\n%s", code, err, out)
		}
		if code != 0 && !strings.Contains(string(out), fmt.Sprintf("Error %d", code)) {
			t.Errorf("go test exiting %d: make test said:\n%s\nwant make's Error %d", code, out, code)
		}
		got, _ := os.ReadFile(log)
		if want := "held: test -count=1 -timeout 2m -run ^TestSeparateHosts$ -v ./scripts\nheld: test -count=1 -timeout 1m ./...\n"; string(got) != want {
			t.Errorf("go test exiting %d: make test ran go (lock held, free or none):\n%swant:\n%s", code, got, want)
		}
		if !strings.Contains(string(out), "separate-hosts: the tests on separate hosts (test-network/localnet, nettest.SeparateHosts) will be skipped here, though their package prints ok: no hosts here\n") {
			t.Errorf("go test exiting %d: make test said:\n%s\nwant separate-hosts.sh's line", code, out)
		}
	}
}
