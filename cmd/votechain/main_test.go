package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/cli/clitest"
	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/internal/proc/proctest"
	"github.com/votechain/votechain/internal/stack"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestUsageErrors: each mistake is a usage error (status 2) naming the
// flag, refused before anything starts; up's own settings (the roll, the
// window, the process counts, the template) were taken and failed only at
// the end of a bring-up of minutes, --port-base and --redis exited 1.
// Words after the command, and a flag of one command given to another,
// are refused, named: they were ignored (down up stopped the system;
// --wipe status showed it; down --voters 0 stopped it). Each of up's own
// settings is such a flag.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	clitest.UsageErrors(t, run, []string{"votechain", "--dir", dir}, []clitest.UsageCase{
		{Args: nil, Want: "no command given"},
		{Args: []string{"bogus"}, Want: `unknown command "bogus"`},
		{Args: []string{"down", "up"}, Want: `down takes no arguments, but was given ["up"]`},
		{Args: []string{"status", "extra"}, Want: `status takes no arguments, but was given ["extra"]`},
		{Args: []string{"--wipe", "status"}, Want: "--wipe goes with down, not with status"},
		{Args: []string{"clean", "--wipe"}, Want: "--wipe goes with down, not with clean"},
		{Args: []string{"status", "--accept-unlogged"}, Want: "--accept-unlogged goes with finalise, not with status"},
		{Args: []string{"--port-base", "-5", "status"}, Want: "--port-base: port base -5 out of range: choose 1025..65000"},
		{Args: []string{"--redis", "clustered", "up"}, Want: `--redis: redis "clustered": want single or cluster`},
		{Args: []string{"--voters", "0", "up"}, Want: "--voters is 0: a new election's roll needs at least 1 voter"},
		{Args: []string{"--window", "-1h", "up"}, Want: "--window is -1h0m0s: it must be at least 1s"},
		{Args: []string{"--window", "abc", "up"}, Want: `invalid value "abc" for flag -window: want a duration such as 90s, 5m or 1h30m`},
		{Args: []string{"--batchers", "-1", "up"}, Want: "--batchers -1, --gateways 0: give a count"},
		{Args: []string{"--gateways", "-2", "up"}, Want: "--batchers 0, --gateways -2"},
		{Args: []string{"--election", dir + "/missing.json", "up"}, Want: "--election: election template: open " + dir + "/missing.json: no such file or directory"},
		{Args: []string{"--voters", "0", "down"}, Want: "--voters goes with up, not with down"},
		{Args: []string{"status", "--hosts", "commission=127.0.0.2"}, Want: "--hosts goes with up, not with status"},
		{Args: []string{"--election", "config/referendum.json", "close"}, Want: "--election goes with up, not with close"},
		{Args: []string{"finalise", "--window", "1h"}, Want: "--window goes with up, not with finalise"},
		{Args: []string{"clean", "--batchers", "2", "--gateways", "2"}, Want: "--batchers goes with up, not with clean\n--gateways goes with up, not with clean"},
		{Args: []string{"down", "--redis", "cluster"}, Want: "--redis goes with up, not with down"},
		{Args: []string{"down", "--ledger-priority", "idle"}, Want: "--ledger-priority goes with up, not with down"},
		{Args: []string{"down", "--ledger-nice", "5"}, Want: "--ledger-nice goes with up, not with down"},
	})
	// Deleting data and accepting unlogged votes are asked on the command
	// line alone: a variable left set in the shell is refused, not applied.
	for _, env := range []string{"VOTECHAIN_WIPE", "VOTECHAIN_ACCEPT_UNLOGGED"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "1")
			clitest.UsageErrors(t, run, []string{"votechain", "--dir", dir}, []clitest.UsageCase{
				{Args: []string{"down"}, Want: "$" + env + " is set, but --"},
				{Args: []string{"finalise"}, Want: "from the command line only"},
			})
		})
	}
}

// TestUpSettingsInTheEnvironmentAreUpsAlone: a variable of up's own
// settings (VOTECHAIN_VOTERS...), set for every command, is neither judged
// nor used by another: down stops the system (nothing runs here) with
// values up would refuse, and status shows the system as it is, not the
// shape the variables ask for.
func TestUpSettingsInTheEnvironmentAreUpsAlone(t *testing.T) {
	for name, value := range map[string]string{
		"VOTECHAIN_VOTERS": "0", "VOTECHAIN_WINDOW": "-1h", "VOTECHAIN_BATCHERS": "-1", "VOTECHAIN_GATEWAYS": "3",
		"VOTECHAIN_REDIS": "clustered", "VOTECHAIN_HOSTS": "nowhere", "VOTECHAIN_ELECTION": "missing.json",
	} {
		t.Setenv(name, value)
	}
	dir := t.TempDir()
	if err := clitest.Run(t, run, "votechain", "--dir", dir, "down"); err != nil {
		t.Errorf("down with up's settings in the environment: %v; want it stopped (nothing runs)", err)
	}
	printed := filepath.Join(t.TempDir(), "status.out")
	f, err := os.Create(printed)
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = f
	err = clitest.Run(t, run, "votechain", "--dir", dir, "status")
	os.Stdout = stdout
	f.Close()
	out, _ := os.ReadFile(printed)
	if err != nil || !strings.Contains(string(out), "\ngateway ") || strings.Contains(string(out), "gateway2") || strings.Contains(string(out), "haproxy") {
		t.Errorf("status with VOTECHAIN_GATEWAYS=3: %v,\n%s\nwant no error and one gateway, without HAProxy: the system's own shape (the default)", err, out)
	}
}

// TestCleanRefusesWhileTheSystemRuns: clean deletes nothing while a
// process of the system runs, an application's (the gateway) or a node's
// (an orderer), and names what runs and the command that stops it, with
// its folder; once none does, it deletes the
// system's data as down --wipe does, keeping the folders of other
// commands (deploy, bench, test).
func TestCleanRefusesWhileTheSystemRuns(t *testing.T) {
	dir := t.TempDir()
	runDir, bin, fabric := filepath.Join(dir, "run"), filepath.Join(dir, "bin"), filepath.Join(dir, "fabric")
	put := func(name string, v any) {
		data, err := json.Marshal(v)
		if err == nil {
			err = os.MkdirAll(filepath.Dir(filepath.Join(runDir, name)), 0o755)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(runDir, name), data, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	ours := []string{"election.secret", "roll/voters.csv", "logs/gateway.log", "network/crypto/ca.key"}
	var others []string
	for _, name := range stack.OthersInRunDir() {
		others = append(others, filepath.Join(name, "kept.json"))
	}
	for _, name := range append(ours, others...) {
		put(name, map[string]any{})
	}
	gateway, orderer := proctest.Sleeper(t, bin, "gateway"), proctest.Sleeper(t, fabric, "orderer")
	put("stack.json", map[string]proc.ID{"gateway": gateway})
	base := nettest.PortBase(t) // a range no other test holds, below the ephemeral ports
	put("network/state.json", map[string]any{"port_base": base, "consensus": "bft", "pids": map[string]proc.ID{"orderer0": orderer}})
	exist := func(names []string) (missing []string) {
		for _, name := range names {
			if _, err := os.Stat(filepath.Join(runDir, name)); err != nil {
				missing = append(missing, name)
			}
		}
		return missing
	}
	clean := func() error {
		return clitest.Run(t, run, "votechain", "--dir", runDir, "--bin", bin, "--fabric-bin", fabric, "--port-base", fmt.Sprint(base), "clean")
	}
	for _, c := range []struct {
		runs string
		then proc.ID // stopped after the refusal
	}{{"gateway, orderer0", gateway}, {"orderer0", orderer}} {
		err := clean()
		// Not make down: it acts on .run, not this folder; the program as
		// run (clitest.Run's os.Args[0]: votechain, as found on PATH).
		stop := "`votechain --dir " + runDir + " down`"
		if err == nil || !strings.Contains(err.Error(), "is running ("+c.runs+")") || !strings.Contains(err.Error(), stop) || strings.Contains(err.Error(), "make down") {
			t.Errorf("clean while %s run: %v; want it refused, naming them and %s", c.runs, err, stop)
		}
		if missing := exist(append(ours, "stack.json", "network/state.json")); len(missing) > 0 {
			t.Fatalf("clean while %s run deleted %v", c.runs, missing)
		}
		_ = proc.Signal(c.then, "", syscall.SIGKILL)
		for end := time.Now().Add(5 * time.Second); proc.Running(c.then, "") && time.Now().Before(end); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := clean(); err != nil {
		t.Fatalf("clean with nothing running: %v", err)
	}
	if left := len(ours) - len(exist(ours)); left > 0 || len(exist(others)) > 0 {
		t.Errorf("after clean: %d of the system's files left, %v of other commands' gone; want none left and none gone", left, exist(others))
	}
}

// TestWipeOfAnUnreadableSystem: with shape.json cut short (New refuses the
// system), down --wipe, as New's advice says, still works: it stops the
// gateway stack.json records and wipes the folder; clean refuses while
// that gateway runs, naming it, and wipes once it is gone. Both used to
// fail on the same damaged file, leaving the gateway running.
func TestWipeOfAnUnreadableSystem(t *testing.T) {
	for _, cmd := range []string{"down", "clean"} {
		t.Run(cmd, func(t *testing.T) {
			dir := t.TempDir()
			runDir, bin := filepath.Join(dir, "run"), filepath.Join(dir, "bin")
			if err := stack.MakeRunDir(runDir); err != nil {
				t.Fatal(err)
			}
			gateway := proctest.Sleeper(t, bin, "gateway")
			data, _ := json.Marshal(map[string]proc.ID{"gateway": gateway})
			for name, content := range map[string][]byte{"stack.json": data, "shape.json": []byte(`{"gatew`), "election.secret": []byte("ab\n")} {
				if err := os.WriteFile(filepath.Join(runDir, name), content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"votechain", "--dir", runDir, "--bin", bin, "--port-base", fmt.Sprint(nettest.PortBase(t)), cmd}
			if cmd == "down" {
				args = append(args, "--wipe")
			} else {
				err := clitest.Run(t, run, args...)
				if err == nil || !strings.Contains(err.Error(), "gateway (PID") {
					t.Errorf("clean while the gateway runs: %v; want it refused, naming the gateway", err)
				}
				if _, err := os.Stat(filepath.Join(runDir, "election.secret")); err != nil {
					t.Fatalf("clean while the gateway runs deleted the data: %v", err)
				}
				_ = proc.Signal(gateway, "", syscall.SIGKILL)
				for end := time.Now().Add(5 * time.Second); proc.Running(gateway, "") && time.Now().Before(end); {
					time.Sleep(20 * time.Millisecond)
				}
			}
			if err := clitest.Run(t, run, args...); err != nil {
				t.Fatalf("%s of a system with a damaged shape.json: %v", strings.Join(args[len(args)-2:], " "), err)
			}
			if proc.Running(gateway, "") {
				t.Error("the recorded gateway still runs")
			}
			for _, name := range []string{"stack.json", "shape.json", "election.secret"} {
				if _, err := os.Stat(filepath.Join(runDir, name)); err == nil {
					t.Errorf("%s is left after the wipe", name)
				}
			}
		})
	}
}

// TestClockRefusalIsExplained: run turns a ledger refusal of this
// machine's clock (ballot.ErrClockSkew, however wrapped, as close, finalise
// and up's set-up, roll and log keys return it; close's here) into a
// message naming the clock, its reading and the fix, keeping the cause
// wrapped and exiting 1, as another ledger failure does; another failure
// of the ledger is left as it is, and so is a usage error (a flag run does
// not know): status 2, no word of the clock.
func TestClockRefusalIsExplained(t *testing.T) {
	refused := fmt.Errorf("CloseElection: %w: rpc error: ...; CommissionMSP: request unauthorized due to incorrect timestamp", ballot.ErrClockSkew)
	var answer error
	closeAnswering := func(ctx context.Context) error {
		return runWith(ctx, deps{closeElection: func(*stack.Stack, context.Context) (*ballot.Election, error) { return nil, answer }})
	}
	dir := t.TempDir()

	answer = refused
	before := time.Now().UTC().Truncate(time.Second)
	err := clitest.Run(t, closeAnswering, "votechain", "--dir", dir, "close")
	if err == nil {
		t.Fatal("close refused for the clock: no error")
	}
	reading := regexp.MustCompile(`this machine's clock \(now ([^)]+)\)`).FindStringSubmatch(err.Error())
	if reading == nil {
		t.Fatalf("%q does not give this machine's clock", err)
	}
	if now, perr := time.Parse(time.RFC3339, reading[1]); perr != nil || now.Before(before) || now.After(time.Now()) {
		t.Errorf("clock reading %q (%v); want the time of the call, RFC 3339", reading[1], perr)
	}
	for _, want := range []string{"CloseElection", "refused the transaction", ballot.ClockSkewAdvice() + ", then run the command again."} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if !errors.Is(err, refused) || !errors.Is(err, ballot.ErrClockSkew) {
		t.Errorf("%v no longer wraps the refusal", err)
	}
	if got := cli.ExitStatus(err, nil); got != 1 {
		t.Errorf("exit status %d; want 1, as another ledger failure", got)
	}

	other := errors.New("CloseElection: endorsement failure")
	answer = other
	if err := clitest.Run(t, closeAnswering, "votechain", "--dir", dir, "close"); err != other {
		t.Errorf("close failing otherwise: %v; want %v as it is", err, other)
	}

	answer = refused // never reached: the command line is refused first
	err = clitest.Run(t, closeAnswering, "votechain", "--dir", dir, "--no-such-flag", "close")
	if got := cli.ExitStatus(err, nil); got != 2 {
		t.Errorf("an unknown flag: %v, exit status %d; want 2", err, got)
	}
	if err == nil || !strings.Contains(err.Error(), "no-such-flag") || strings.Contains(err.Error(), "clock") {
		t.Errorf("an unknown flag: %v; want it named, with no word of the clock", err)
	}
}

// TestUpChecksANewSystemsTemplateFirst: up of a new system (no network in
// its run folder) refuses the default template (config/election.json,
// --election not given) when its batchers do not list the batcher
// processes' identity, as a usage error naming the identity, before the
// bring-up starts (it failed only after minutes of it); a template that
// lists it goes on to the bring-up, and so does any template for a system
// whose network exists (its election may be on the ledger already, which
// no template changes).
func TestUpChecksANewSystemsTemplateFirst(t *testing.T) {
	tmpl, err := os.ReadFile(filepath.Join("..", "..", "config", "election.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	if err := json.Unmarshal(tmpl, &e); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	t.Chdir(work) // the default template is config/election.json of the working directory
	writeTemplate := func(batchers ...string) {
		e["batchers"] = batchers
		data, _ := json.Marshal(e)
		if err := os.MkdirAll("config", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("config", "election.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var started bool
	upRecording := func(ctx context.Context) error {
		started = false
		return runWith(ctx, deps{up: func(*stack.Stack, context.Context) error { started = true; return nil }})
	}
	runDir := filepath.Join(work, "run")
	base := nettest.PortBase(t)
	up := func() error {
		return clitest.Run(t, upRecording, "votechain", "--dir", runDir, "--bin", work, "--fabric-bin", work, "--port-base", fmt.Sprint(base), "up")
	}

	writeTemplate("User2@commission.votechain.test") // the gateway's identity, not the batchers'
	err = up()
	if started {
		t.Fatal("up of a new system with a template not listing the batchers started the bring-up")
	}
	if got := cli.ExitStatus(err, nil); got != 2 || !strings.Contains(err.Error(), "config/election.json") || !strings.Contains(err.Error(), network.Batcher.CommonName()) {
		t.Errorf("up of a new system with a template not listing the batchers: %v, exit status %d; want a usage error naming the template and %s", err, got, network.Batcher.CommonName())
	}

	writeTemplate(network.Batcher.CommonName())
	if err := up(); err != nil || !started {
		t.Errorf("up of a new system with a template listing the batchers: %v, bring-up started %v; want it started", err, started)
	}

	writeTemplate("User2@commission.votechain.test")
	state := filepath.Join(stack.NetworkDir(runDir), "state.json")
	if err := os.MkdirAll(filepath.Dir(state), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, fmt.Appendf(nil, `{"port_base": %d, "consensus": "bft", "pids": {}}`, base), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := up(); err != nil || !started {
		t.Errorf("up of a system with a network, its template not listing the batchers: %v, bring-up started %v; want it started, as before (the ledger may hold the election)", err, started)
	}
}
