package nettest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/votechain/votechain/network"
)

// Machines stands in for separate machines on this one: a Linux network
// namespace per host of a network.Spread placement (each organisation's,
// then the clients'), each with its own address on a private bridge. The
// bridge has an address too, so the test process (the operators'
// workstation) reaches every host; the hosts reach each other only through
// the bridge.
type Machines struct {
	Hosts  network.Placement
	Netns  map[string]string // host name → namespace
	Bridge string            // the bridge's name, e.g. "vcbr12"
	Subnet string            // e.g. "10.213.12.0/24"
	Prefix string            // every namespace and link of this set starts with it
}

// SeparateHosts creates the namespaces, bridge and links for a network on
// port base portBase (which nettest.PortBase keeps unique on this machine,
// so names and subnet are too) and removes them when the test ends, even
// if it fails. It skips t where SeparateHostsSkip says why: under -short,
// without root (euid 0), without the ip command, or as root without
// CAP_NET_ADMIN or CAP_SYS_ADMIN (both needed); it also skips t if the
// kernel refuses the bridge for want of permission. A step refused later
// (such as `ip netns add` under a security profile that denies its mount)
// fails t: the machine has what the tests need, yet cannot make the hosts.
func SeparateHosts(t testing.TB, portBase int) *Machines {
	t.Helper()
	if why := SeparateHostsSkip(); why != "" {
		t.Skip(why)
	}
	k := portBase / 1000 // 10..31, one per test port range
	m := &Machines{Netns: map[string]string{}, Bridge: fmt.Sprintf("vcbr%d", k),
		Subnet: fmt.Sprintf("10.213.%d.0/24", k), Prefix: fmt.Sprintf("vc%d", k)}
	names := []string{}
	for _, o := range network.PeerOrgs() {
		names = append(names, o.HostName())
	}
	names = append(names, network.ClientsHost)
	var addrs []string
	for j := range names {
		addrs = append(addrs, fmt.Sprintf("10.213.%d.%d", k, j+2))
	}
	hosts, err := network.Spread(addrs...)
	if err != nil {
		t.Fatal(err)
	}
	m.Hosts = hosts
	m.remove() // what a killed run with this port range left behind
	t.Cleanup(func() {
		if err := m.Remove(); err != nil {
			t.Errorf("remove namespaces: %v", err)
		}
	})
	if err := ipCmd("link", "add", m.Bridge, "type", "bridge"); err != nil {
		if strings.Contains(err.Error(), "Operation not permitted") {
			t.Skipf("%s: %v", noCaps, err)
		}
		t.Fatal(err)
	}
	steps := [][]string{
		{"addr", "add", fmt.Sprintf("10.213.%d.1/24", k), "dev", m.Bridge},
		{"link", "set", m.Bridge, "up"},
	}
	for j, name := range names {
		ns := fmt.Sprintf("%s-%s", m.Prefix, name)
		host, peer := fmt.Sprintf("%sh%d", m.Prefix, j), fmt.Sprintf("%sn%d", m.Prefix, j)
		m.Netns[name] = ns
		steps = append(steps,
			[]string{"netns", "add", ns},
			[]string{"link", "add", host, "type", "veth", "peer", "name", peer},
			[]string{"link", "set", peer, "netns", ns},
			[]string{"link", "set", host, "master", m.Bridge, "up"},
			[]string{"-n", ns, "link", "set", peer, "name", "eth0"},
			[]string{"-n", ns, "addr", "add", addrs[j] + "/24", "dev", "eth0"},
			[]string{"-n", ns, "link", "set", "eth0", "up"},
			[]string{"-n", ns, "link", "set", "lo", "up"},
		)
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// SeparateHostsSkip says why SeparateHosts would skip its test on this
// machine, with the fix, or "" if it goes on to make the hosts. A test
// calls it before it reserves ports (PortBase) it would only skip with.
func SeparateHostsSkip() string {
	switch {
	case testing.Short():
		return shortSkip("makes network namespaces for an integration test")
	case os.Geteuid() != 0:
		return "needs root (euid 0) for network namespaces: run make test as root (CI does), e.g. in a container or VM"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "needs the ip command for network namespaces: apt-get install iproute2"
	}
	if !effectiveCaps(capNetAdmin, capSysAdmin) {
		return noCaps
	}
	return ""
}

// noCaps is the skip message of root without the capabilities that network
// namespaces need: a bridge and veths need CAP_NET_ADMIN, `ip netns add`
// (a mount) CAP_SYS_ADMIN.
const noCaps = "root without CAP_NET_ADMIN or CAP_SYS_ADMIN (a container?): network namespaces need both, e.g. docker run --privileged"

// The capabilities' numbers (linux/capability.h).
const (
	capNetAdmin = 12
	capSysAdmin = 21
)

// effectiveCaps reports whether this process has every one of caps in its
// effective set (CapEff in /proc/self/status); true if it cannot tell, so
// the kernel's own refusal decides.
func effectiveCaps(caps ...uint) bool {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return true
	}
	for line := range strings.Lines(string(status)) {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			eff, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				return true
			}
			for _, c := range caps {
				if eff&(1<<c) == 0 {
					return false
				}
			}
			return true
		}
	}
	return true
}

// Remove deletes the namespaces (which takes their veth ends with them),
// the bridge and the host-side links. Processes still running in a
// namespace keep it alive unnamed: stop them first. Removing twice is fine.
func (m *Machines) Remove() error {
	m.remove()
	var errs []error
	for _, name := range m.Leftovers() {
		errs = append(errs, fmt.Errorf("still there after removal: %s", name))
	}
	return errors.Join(errs...)
}

func (m *Machines) remove() {
	for _, ns := range m.namespaces() {
		_ = ipCmd("netns", "del", ns)
	}
	for _, link := range m.ownLinks() {
		_ = ipCmd("link", "del", link)
	}
}

// Leftovers lists this set's namespaces and links that exist (`ip netns
// list`, `ip link`): after Remove, none.
func (m *Machines) Leftovers() []string {
	return append(m.namespaces(), m.ownLinks()...)
}

func (m *Machines) namespaces() []string {
	out, _ := exec.Command("ip", "netns", "list").Output()
	var found []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], m.Prefix+"-") {
			found = append(found, f[0])
		}
	}
	return found
}

func (m *Machines) ownLinks() []string {
	out, _ := exec.Command("ip", "-o", "link", "show").Output()
	var found []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if name == m.Bridge || strings.HasPrefix(name, m.Prefix+"h") || strings.HasPrefix(name, m.Prefix+"n") {
			found = append(found, name)
		}
	}
	return found
}

// Namespace is the network namespace process pid runs in, by name (`ip
// netns identify`); empty for the initial one.
func Namespace(pid int) (string, error) {
	out, err := exec.Command("ip", "netns", "identify", fmt.Sprint(pid)).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ip netns identify %d: %v: %s", pid, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
