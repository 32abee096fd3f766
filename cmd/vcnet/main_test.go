package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/cli/clitest"
	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/internal/proc/proctest"
	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/stack"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestUsageErrors: no command, an unknown consensus and a port base out of
// range are usage errors (status 2) naming what to give, as votechain's
// (they exited 1); so are words after the command and a flag of one
// command given to another, named (they were ignored), while one set in
// the environment is ignored by the other commands.
func TestUsageErrors(t *testing.T) {
	clitest.UsageErrors(t, run, []string{"vcnet", "--dir", t.TempDir()}, []clitest.UsageCase{
		{Args: nil, Want: "no command given"},
		{Args: []string{"bogus"}, Want: `unknown command "bogus"`},
		{Args: []string{"status", "extra"}, Want: `status takes no arguments, but was given ["extra"]`},
		{Args: []string{"down", "up"}, Want: `down takes no arguments, but was given ["up"]`},
		{Args: []string{"status", "--wipe"}, Want: "--wipe goes with down, not with status"},
		{Args: []string{"up", "--force"}, Want: "--force goes with down, not with up"},
		{Args: []string{"--json", "down"}, Want: "--json goes with status, not with down"},
		{Args: []string{"status", "--profile", "admin.json"}, Want: "--profile goes with probe, not with status"},
		{Args: []string{"down", "--hosts", "commission=10.0.0.2", "--bundle-root", "/opt"}, Want: "--bundle-root goes with bundles, not with down\n--hosts goes with bundles, not with down"},
		{Args: []string{"probe", "--hosts", "commission=10.0.0.2"}, Want: "--hosts goes with bundles, not with probe"},
		{Args: []string{"bundles", "--json", "--profile", "admin.json"}, Want: "--json goes with status, not with bundles\n--profile goes with probe, not with bundles"},
		{Args: []string{"up", "--consensus", "paxos"}, Want: `--consensus: unknown consensus "paxos": choose "bft" or "raft"`},
		{Args: []string{"--port-base", "70000", "status"}, Want: "--port-base: port base 70000 out of range: choose 1025..65000"},
	})
	t.Setenv("VCNET_PROFILE", "admin.json") // probe's, set for every command: bundles ignores it
	clitest.UsageErrors(t, run, []string{"vcnet", "--dir", t.TempDir()}, []clitest.UsageCase{
		{Args: []string{"bundles"}, Want: "bundles needs --hosts"},
	})
	t.Setenv("VCNET_WIPE", "true") // deletion is asked on the command line alone
	clitest.UsageErrors(t, run, []string{"vcnet", "--dir", t.TempDir()}, []clitest.UsageCase{
		{Args: []string{"down"}, Want: "$VCNET_WIPE is set, but --wipe is taken from the command line only"},
	})
}

// TestProbeProfileRefusesAtOnce: probe --profile fails at once (status 1),
// naming the profile and what is wrong, for what no retry clears: a peer's
// address without a port (dialled at 443) or with one out of range (retried
// for 60 s), or a profile without the Commission's admin, such as the
// explorer's (it said "it holds )").
func TestProbeProfileRefusesAtOnce(t *testing.T) {
	dir := t.TempDir()
	admin := map[string]network.Identity{"Admin": {Cert: filepath.Join(dir, "admin-cert.pem"), Key: filepath.Join(dir, "admin-key.pem")}}
	for _, c := range []struct {
		name, addr string
		users      map[string]network.Identity
		want       string // after the profile's path
	}{
		{"no-port", "127.0.0.1", admin, `: the Commission peer's address "127.0.0.1" is not HOST:PORT`},
		{"port-out-of-range", "127.0.0.1:99999", admin, `: the Commission peer's address "127.0.0.1:99999" has port "99999": want 1..65535`},
		{"explorer", "127.0.0.1:27051", nil, `: user "Admin" of Commission is not in the connection profile (it holds no user of Commission): the probe needs the Commission's admin (a bundle's profiles/admin.json holds it)`},
	} {
		path := filepath.Join(dir, c.name+".json")
		p := network.Profile{Orgs: map[string]network.OrgProfile{
			"Commission": {MSPID: "CommissionMSP", Peer: network.Endpoint{Address: c.addr}, Users: c.users},
		}}
		if err := p.Save(path); err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		err := clitest.Run(t, run, "vcnet", "--dir", dir, "probe", "--profile", path)
		if err == nil || errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), path+c.want) {
			t.Errorf("%s: %v; want a failure (status 1) with %q", c.name, err, path+c.want)
		}
		if took := time.Since(began); took > 5*time.Second {
			t.Errorf("%s: took %s; want it refused at once", c.name, took)
		}
	}
}

// TestDownWipeOfAnUnreadableNetwork: with a state.json New refuses (an
// older version's: no consensus), down --wipe, as New's advice says, stops
// the orderer the record names and deletes the folder; it used to fail on
// the same file, leaving the orderer running. A state.json cut short names
// no process that can be found: down --wipe then says to stop them by
// hand, deleting nothing.
func TestDownWipeOfAnUnreadableNetwork(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "network")
	if err := rundir.Make(dir, nil, nil); err != nil {
		t.Fatal(err)
	}
	orderer := proctest.Sleeper(t, t.TempDir(), "orderer")
	state, _ := json.Marshal(map[string]any{"port_base": nettest.PortBase(t), "pids": map[string]proc.ID{"orderer0": orderer}})
	if err := os.WriteFile(filepath.Join(dir, "state.json"), state[:len(state)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	err := clitest.Run(t, run, "vcnet", "--dir", dir, "down", "--wipe")
	if err == nil || !strings.Contains(err.Error(), "stop them by hand") {
		t.Errorf("down --wipe with a state.json cut short: %v; want the advice to stop its processes by hand", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.json"), state, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := clitest.Run(t, run, "vcnet", "--dir", dir, "down", "--wipe"); err != nil {
		t.Fatalf("down --wipe of an older version's network: %v", err)
	}
	if proc.Running(orderer, "") {
		t.Error("the recorded orderer still runs")
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("the network's folder is left")
	}
}

// TestDownWipeRefusesMakeUpsNetwork: down --wipe of a network whose
// parent folder holds a system (shape.json or stack.json) is refused,
// pointing to the wipe of that system (votechain --dir SYSTEM down --wipe,
// not make down WIPE=1, which wipes make's .run), and deletes nothing: it
// used to delete the ledger and profiles under the system's running
// gateways and batchers.
func TestDownWipeRefusesMakeUpsNetwork(t *testing.T) {
	for _, record := range []string{"shape.json", "stack.json"} {
		system := t.TempDir()
		dir := filepath.Join(system, "network")
		if err := rundir.Make(dir, nil, nil); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{filepath.Join(system, record), filepath.Join(dir, "state.json")} {
			if err := os.WriteFile(f, []byte(`{}`), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		link := filepath.Join(t.TempDir(), "net")
		if err := os.Symlink(dir, link); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{dir, link} {
			err := clitest.Run(t, run, "vcnet", "--dir", d, "down", "--wipe")
			want := "`bin/votechain --dir " + system + " down --wipe`"
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "make down") {
				t.Errorf("down --wipe of %s beside %s: %v; want it refused, pointing to %s", d, record, err, want)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "state.json")); err != nil {
			t.Errorf("down --wipe beside %s deleted the network: %v", record, err)
		}
		// A network folder beside the system's, not its own (bundles
		// in .run/deploy), is wiped.
		other := filepath.Join(system, "deploy")
		if err := rundir.Make(other, nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := clitest.Run(t, run, "vcnet", "--dir", other, "down", "--wipe"); err != nil {
			t.Errorf("down --wipe of %s beside %s: %v; want it wiped", other, record, err)
		}
		if _, err := os.Stat(other); !os.IsNotExist(err) {
			t.Errorf("down --wipe of %s beside %s left it: %v", other, record, err)
		}
	}
}

// TestDownRefusesMakeUpsNetworkInUse: a plain down of the network whose
// parent folder holds a system, while a process of the system's
// stack.json runs, is refused, naming it and pointing to that system's
// down (votechain --dir SYSTEM down: make down stops make's .run), and
// stops nothing (it stopped the network under the running gateways and
// batchers); with --force it stops the network, leaving the system's
// process alone. With its stack.json damaged, the system's processes are
// found by their output in the system's logs folder: while the gateway
// runs, the down is refused, saying the record is damaged and naming the
// gateway's PID and log and the down --force of that folder (vcnet --dir,
// not make's FORCE=1, which acts on .run/network) with the network's
// recorded, not default, port base, and that --force, run as printed
// (the folder, whose name holds a space and a quote, unquoted as the shell
// does), stops the network; once the gateway is stopped, a plain down stops the network (it
// was refused, needing --force, whatever ran). With none of the system's
// processes running and its stack.json read, a plain down stops the
// network.
func TestDownRefusesMakeUpsNetworkInUse(t *testing.T) {
	system := filepath.Join(t.TempDir(), "the system's run")
	dir := filepath.Join(system, "network")
	if err := rundir.Make(dir, nil, nil); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	base := nettest.PortBase(t) // the network's recorded one, not the default
	portBase := strconv.Itoa(base)
	// The gateway's stand-in writes its log where make up puts it.
	gatewayLog := filepath.Join(system, "logs", "gateway.log")
	gateway, err := proc.Start(context.Background(), proc.Spec{Name: "gateway", Bin: proctest.CopySleep(t, bin, "gateway"), Args: []string{"30"}}, gatewayLog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Signal(gateway, "", syscall.SIGKILL) })
	record := func(path string, v any) {
		t.Helper()
		data, _ := json.Marshal(v)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	startOrderer := func() proc.ID {
		orderer := proctest.Sleeper(t, bin, "orderer")
		record(filepath.Join(dir, "state.json"), map[string]any{"port_base": base, "consensus": "bft", "pids": map[string]proc.ID{"orderer0": orderer}})
		return orderer
	}
	stopped := func(id proc.ID) bool {
		for end := time.Now().Add(5 * time.Second); proc.Running(id, "") && time.Now().Before(end); {
			time.Sleep(20 * time.Millisecond)
		}
		return !proc.Running(id, "")
	}
	// refusedThenForced: with the network's orderer running, a plain down
	// is refused with an error holding each of want and stops nothing;
	// down --force then stops the orderer: the down --force the refusal
	// names, run as printed, when it is advised (a refusal without the
	// advice then fails), else one with --port-base.
	refusedThenForced := func(why string, advised bool, want ...string) {
		t.Helper()
		orderer := startOrderer()
		err := clitest.Run(t, run, "vcnet", "--dir", dir, "--port-base", portBase, "down")
		if err == nil || slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(err.Error(), w) }) {
			t.Errorf("down of make up's network %s: %v; want a refusal naming %q", why, err, want)
		}
		if !proc.Running(orderer, "") {
			t.Errorf("the refused down %s stopped the network's orderer", why)
		}
		forced := []string{"vcnet", "--dir", dir, "--port-base", portBase, "down", "--force"}
		if advised {
			advice := regexp.MustCompile("`(vcnet [^`]* down --force)`").FindStringSubmatch(fmt.Sprint(err))
			if advice == nil {
				t.Fatalf("the refused down %s: %v; want it to advise a down --force", why, err)
			}
			forced = shellWords(advice[1])
		}
		if err := clitest.Run(t, run, forced...); err != nil {
			t.Fatalf("%q %s: %v", forced, why, err)
		}
		if !stopped(orderer) {
			t.Errorf("down --force %s left the network's orderer running", why)
		}
	}
	record(filepath.Join(system, "stack.json"), map[string]proc.ID{"gateway": gateway})
	quoted := func(path string) string { return "'" + strings.ReplaceAll(path, "'", `'\''`) + "'" }
	refusedThenForced("with its gateway running", false, "`bin/votechain --dir "+quoted(system)+" down`", "gateway (PID ", "--force")
	if !proc.Running(gateway, "") {
		t.Error("down --force stopped the system's gateway")
	}
	if err := os.WriteFile(filepath.Join(system, "stack.json"), []byte("{damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	realLog, err := filepath.EvalSymlinks(gatewayLog) // as /proc names it
	if err != nil {
		t.Fatal(err)
	}
	refusedThenForced("with its stack.json damaged and its gateway running", true, "stack.json is damaged",
		fmt.Sprintf("PID %d (output in %s)", gateway.PID, realLog), "`vcnet --dir "+quoted(dir)+" --port-base "+portBase+" down --force`", " --dir "+quoted(system)+" down` cannot read")

	if err := proc.Kill(gateway, ""); err != nil {
		t.Fatal(err)
	}
	// plainDownStops: with the network's orderer running, a plain down
	// stops it.
	plainDownStops := func(why string) {
		t.Helper()
		orderer := startOrderer()
		if err := clitest.Run(t, run, "vcnet", "--dir", dir, "--port-base", portBase, "down"); err != nil {
			t.Fatalf("down %s: %v", why, err)
		}
		if !stopped(orderer) {
			t.Errorf("down %s left the network's orderer running", why)
		}
	}
	plainDownStops("with its stack.json damaged and the system stopped")
	record(filepath.Join(system, "stack.json"), map[string]proc.ID{"gateway": gateway})
	plainDownStops("with the system stopped")
}

// TestIncompleteLogScanIsSaid: with the system's stack.json damaged and no
// process seen writing its logs, the down goes ahead with a warning that
// says none of its processes runs only when vcnet could look at every
// process that could be one of them (proc.FS.Writers, whose own cases are
// internal/proc's TestWriters); when it could not, the warning says why
// instead. A process of another user whose descriptors are denied counts
// by systemCommand: a gateway, or a prometheus with the system's
// configuration, is a gap, the machine's redis-server on 6379 is not. Such
// a gap is named with its user and what its command line shows (the
// address in a redis-server's title, its port in the plan's range), this
// user is named as the one that could not read it, and check= says how
// root sees where it writes and what to do: stop one writing the system's
// logs, leave the machine's own, and for a Redis titled with a port in the
// plan's range move it out, or wipe the system and create it on another
// base (the system keeps its own), naming both commands.
func TestIncompleteLogScanIsSaid(t *testing.T) {
	system := t.TempDir()
	logs := filepath.Join(system, "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	another := os.Geteuid() + 1 // the uid of another user
	// procs is a /proc of one process, PID 200, running the command line
	// cmdline as the user uid, its descriptors denied.
	procs := func(cmdline string, uid int) proc.FS {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "200", "fd"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "200", "cmdline"), []byte(cmdline), 0o444); err != nil {
			t.Fatal(err)
		}
		denied := func(link string) (string, error) {
			return "", &os.PathError{Op: "readlink", Path: link, Err: os.ErrPermission}
		}
		owner := func(path string) (int, error) {
			if path == filepath.Join(root, "200") {
				return uid, nil
			}
			return proc.FileOwner(path)
		}
		return proc.FS{Root: root, Readlink: denied, Owner: owner}
	}
	const complete = "so none of its processes runs"
	caller, anotherName := proc.UserName(os.Geteuid()), proc.UserName(another)
	checkFDs := "only root or a process's own user can see where its output goes: run `sudo ls -l /proc/200/fd/1 /proc/200/fd/2`"
	for _, c := range []struct {
		why     string
		procs   proc.FS
		written string // the warning says this
	}{
		{"a process of the logs' owner, descriptors not readable", procs("/usr/bin/sleep\x0030\x00", os.Geteuid()),
			`could not look at every process: stopping the network, under any of the system's processes it missed" system=` + system + ` logs=` + logs + ` err=damaged missed="the descriptors of 1 process running as the logs' owner could not be read"`},
		{"another user's gateway, descriptors not readable", procs("/opt/vote chain/bin/gateway\x00--port\x0027100\x00", another),
			`could not be read by this user (` + caller + `), so whether it writes the system's logs is not known: PID 200 (gateway, user ` + anotherName + `)" check="` + checkFDs},
		{"another user's prometheus with the system's configuration, descriptors not readable", procs("/usr/bin/prometheus\x00--config.file\x00"+filepath.Join(system, "prometheus", "prometheus.yml")+"\x00", another),
			`is not known: PID 200 (prometheus, user ` + anotherName + `)" check="` + checkFDs},
		{"another user's redis-server on 6379, descriptors not readable", procs("/usr/bin/redis-server 127.0.0.1:6379\x00\x00\x00", another), complete},
		{"another user's redis-server on the plan's port, descriptors not readable", procs("/usr/bin/redis-server 127.0.0.1:27379\x00\x00\x00", another),
			`is not known: PID 200 (redis-server titled 127.0.0.1:27379, a port in the range the port plan reserves (27000–27399), user ` + anotherName + `)" check="` + checkFDs + `; one whose output is in ` + logs + ` is the system's and runs on without the network: stop it (` + "`sudo kill PID`" + `); one whose output is elsewhere is the machine's own (such as a Redis run as a service: ` + "`systemctl status redis-server`" + `) and may be left running; but a Redis of the machine's own titled with a port in the range the port plan reserves (27000–27399) may take a port the system's processes need: move that Redis to a port outside that range; the system keeps the port base it was created with, so moving the system instead means wiping it (` + stack.Command(system, 0, "down", "--wipe") + `, which deletes its election and votes) and creating it again on a base whose range is free, such as ` + stack.Command(system, 27400, "up") + `"`},
	} {
		var out strings.Builder
		log := slog.New(slog.NewTextHandler(&out, nil))
		err := refuseWithoutStackRecord(filepath.Join(system, "network"), system, network.DefaultPortBase, errors.New("damaged"), c.procs, log)
		said := out.String() + fmt.Sprint(err)
		if !strings.Contains(said, c.written) || (c.written != complete) == strings.Contains(said, complete) {
			t.Errorf("%s: %q; want it to say %q (and %q only if so)", c.why, said, c.written, complete)
		}
		if redisInPlan := strings.Contains(c.written, "redis-server titled"); redisInPlan != strings.Contains(said, "--port-base") {
			t.Errorf("%s: %q; want another --port-base advised only for a Redis in the port plan", c.why, said)
		}
	}
}

// TestSystemCommand: the project's programs count by name, the network's
// do not; a redis-server counts by the port in its title, on the plan's
// ports (a cluster node's included) or on any when the plan is unknown,
// named by its title and the plan's range, the port returned apart for
// the advice to decide on; any program counts by an argument, or its
// value after "=", that is the system's folder or a path in it, not one
// merely containing it.
func TestSystemCommand(t *testing.T) {
	folders := []string{"/home/u/.run"}
	for _, c := range []struct {
		cmdline  string
		portBase int
		want     proc.Unread // Program "" for not the system's
	}{
		{"/home/u/votechain/bin/batcher\x00--port\x0027200\x00", 27000, proc.Unread{Program: "batcher"}},
		{"/usr/bin/peer\x00node\x00start\x00", 27000, proc.Unread{}},
		{"redis-server 127.0.0.1:27342 [cluster]\x00\x00", 27000, proc.Unread{Program: "redis-server titled 127.0.0.1:27342, a port in the range the port plan reserves (27000–27399)", Port: 27342}},
		{"redis-server 127.0.0.1:27379\x00", 23000, proc.Unread{}},
		{"redis-server *:6379\x00", 27000, proc.Unread{}},
		{"redis-server *:6379\x00", 0, proc.Unread{Program: "redis-server titled *:6379 (the port plan unknown)", Port: 6379}},
		{"/usr/sbin/haproxy\x00-f\x00/home/u/.run/haproxy.cfg\x00", 27000, proc.Unread{Program: "haproxy"}},
		{"/usr/sbin/haproxy\x00-f\x00/etc/haproxy/haproxy.cfg\x00", 27000, proc.Unread{}},
		{"/usr/bin/tool\x00--dir=/home/u/.run\x00", 27000, proc.Unread{Program: "tool"}},
		{"/usr/bin/tool\x00--dir=/x/home/u/.run/a\x00", 27000, proc.Unread{}},
		{"/usr/bin/tool\x00/home/u/.runs/a\x00", 27000, proc.Unread{}},
	} {
		shown, ok := systemCommand([]byte(c.cmdline), folders, c.portBase)
		if shown != c.want || ok != (c.want.Program != "") {
			t.Errorf("systemCommand(%q, %q, %d) = %+v, %v; want %+v", c.cmdline, folders, c.portBase, shown, ok, c.want)
		}
	}
}

// shellWords splits line into its words as the shell does for the quoting
// rundir.ShellQuote writes: blanks between words, single quotes, and a
// backslash outside them (a quote inside a quoted word is written as the
// quotes closed, a backslashed quote, the quotes opened again).
func shellWords(line string) []string {
	var words []string
	var word strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			word.WriteByte(c)
		case c == '\'':
			quoted, inWord = true, true
		case c == '\\' && i+1 < len(line):
			i++
			word.WriteByte(line[i])
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words, inWord = append(words, word.String()), false
				word.Reset()
			}
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}

// TestShellWords: shellWords undoes rundir.ShellQuote, and splits at blanks.
func TestShellWords(t *testing.T) {
	for _, path := range []string{"/tmp/plain", "/tmp/the system's run", "/tmp/a  b", "''"} {
		line := "vcnet --dir " + rundir.ShellQuote(path) + " down"
		if got, want := shellWords(line), []string{"vcnet", "--dir", path, "down"}; !slices.Equal(got, want) {
			t.Errorf("shellWords(%q) = %q, want %q", line, got, want)
		}
	}
}
