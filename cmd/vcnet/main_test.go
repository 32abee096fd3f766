package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/cli/clitest"
	"github.com/votechain/votechain/network"
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
