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
// with their message, since it asks SeparateHosts itself. Where it runs,
// every namespace and the bridge exist while the hosts are up, and Remove
// leaves none of them.
func TestSeparateHosts(t *testing.T) {
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
// skip message, a pass is silence, and a check that fails is said with its
// output. The script exits 0 in every case, so make test goes on to its
// tests, and asks for TestSeparateHosts alone.
func TestSeparateHostsScriptRelaysTheCheck(t *testing.T) {
	t.Parallel()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	const (
		why  = "needs root for network namespaces (uid 0; CAP_NET_ADMIN alone is not enough): run the tests as root, as CI does"
		ok   = "PASS\nok  \tgithub.com/votechain/votechain/scripts\t0.207s\n"
		skip = "=== RUN   TestSeparateHosts\n    hosts_test.go:18: " + why + "\n--- SKIP: TestSeparateHosts (0.01s)\n" + ok
		pass = "=== RUN   TestSeparateHosts\n--- PASS: TestSeparateHosts (0.81s)\n" + ok
		fail = "=== RUN   TestSeparateHosts\n    hosts_test.go:18: ip netns add vc21-commission: exit status 1\n--- FAIL: TestSeparateHosts (0.30s)\nFAIL\n"
	)
	for _, c := range []struct {
		name, out string
		rc        int
		want      string // on stderr; %s is the go stand-in's path
	}{
		{"skip", skip, 0, "separate-hosts: the tests on separate hosts (test-network/localnet, nettest.SeparateHosts) will be skipped here, though their package prints ok: " + why + "\n"},
		{"pass", pass, 0, ""},
		{"fail", fail, 1, "separate-hosts: could not tell whether the tests on separate hosts will run here: %s test -run '^TestSeparateHosts$' -v ./scripts exited 1:\n" +
			"  === RUN   TestSeparateHosts\n      hosts_test.go:18: ip netns add vc21-commission: exit status 1\n  --- FAIL: TestSeparateHosts (0.30s)\n  FAIL\n"},
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
