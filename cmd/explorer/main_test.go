package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/cli/clitest"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// TestGenesisPin: the genesis block is pinned by its file, by the hash
// `explorer genesis-hash FILE` prints, or by both when they agree; a
// malformed hash, a file that is no block, or a file and a hash of two
// different blocks are refused with the fix.
func TestGenesisPin(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, number int) (string, string) {
		blocks := ledgertest.Chain(make([][]ledgertest.Tx, number+1)...)
		raw, err := proto.Marshal(blocks[number])
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		return path, hex.EncodeToString(fabricblock.HeaderHash(blocks[number].Header))
	}
	file, hash := write("genesis.block", 0)
	other, otherHash := write("other.block", 1)
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("no block"), 0o644)

	o, err := parseFlags([]string{"genesis-hash", file}, io.Discard)
	if err != nil || o.mode != "genesis-hash" || o.genesisFile != file {
		t.Fatalf("genesis-hash FILE: %+v, %v", o, err)
	}
	if h, err := genesisBlockHash(file); err != nil || hex.EncodeToString(h) != hash {
		t.Fatalf("genesisBlockHash = %x, %v; want %s", h, err, hash)
	}
	for name, c := range map[string]struct {
		args []string
		want string // the pinned hash, or a fragment of the error
	}{
		"by file":              {[]string{"--genesis-block", file}, hash},
		"by hash":              {[]string{"--genesis-hash", hash}, hash},
		"by both, agreeing":    {[]string{"--genesis-block", file, "--genesis-hash", hash}, hash},
		"unpinned":             {nil, ""},
		"by both, disagreeing": {[]string{"--genesis-block", file, "--genesis-hash", otherHash}, "one of them is not the published genesis block"},
		"a file of no block":   {[]string{"--genesis-block", junk}, "give the channel's genesis block file"},
		"a short hash":         {[]string{"--genesis-hash", hash[:10]}, "want the 64 hex characters"},
		"a hash of no hex":     {[]string{"--genesis-hash", strings.Repeat("z", 64)}, "want the 64 hex characters"},
		"two files":            {[]string{"genesis-hash", file, other}, "takes one genesis block file"},
	} {
		o, err := parseFlags(c.args, io.Discard)
		var pinned []byte
		if err == nil {
			pinned, err = o.genesis()
		}
		switch {
		case err != nil && !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: %v; want %q", name, err, c.want)
		case err == nil && hex.EncodeToString(pinned) != c.want:
			t.Errorf("%s: pinned %x; want %q", name, pinned, c.want)
		}
	}
}

// --ready-behind 0 is refused: it would make every explorer unready at
// each new block.
func TestReadyBehindAtLeastOne(t *testing.T) {
	clitest.ClearEnv(t, envPrefix) // defaults, not the caller's settings
	if _, err := parseFlags([]string{"--ready-behind", "0"}, io.Discard); !errors.Is(err, cli.ErrUsage) || err.Error() != "--ready-behind is 0: want at least 1" {
		t.Errorf("--ready-behind 0: %v; want a usage error naming the flag", err)
	}
	if o, err := parseFlags(nil, io.Discard); err != nil || o.readyBehind != 300 {
		t.Errorf("default: %v, %d; want 300", err, o.readyBehind)
	}
}

// TestRangesChecked: each number and duration flag takes its range, both
// ends included, and a value outside it is a usage error (exit 2) naming
// the flag, the value and the range; several bad flags, a malformed
// --genesis-hash and a stray argument among them, are all named in one
// error.
func TestRangesChecked(t *testing.T) {
	for args, says := range map[string]string{ // "": accepted
		"--page-size 1":           "",
		"--page-size 1000":        "",
		"--page-size 0":           "--page-size is 0: want 1 to 1000",
		"--page-size 1001":        "--page-size is 1001: want 1 to 1000",
		"--log-refresh 1s":        "",
		"--log-refresh 999ms":     "--log-refresh is 999ms: it must be at least 1s",
		"--log-deadline 1ns":      "",
		"--log-deadline 0s":       "--log-deadline is 0s: it must be more than 0",
		"--log-deadline -1m":      "--log-deadline is -1m0s: it must be more than 0",
		"--log-pending-listed 0":  "",
		"--log-pending-listed -1": "--log-pending-listed is -1: want at least 0",
		"--commit-delay 0s":       "",
		"--commit-delay 1s":       "",
		"--commit-delay -1ms":     "--commit-delay is -1ms: it must be at least 0s",
		"--commit-delay 1.001s":   "--commit-delay is 1.001s: it must be at most 1s",
		"--ready-behind 1":        "",
		"--shutdown-timeout 1ns":  "",
		"--shutdown-timeout 0s":   "--shutdown-timeout is 0s: it must be more than 0",
		"--shutdown-timeout -1s":  "--shutdown-timeout is -1s: it must be more than 0",
	} {
		_, err := parseFlags(strings.Fields(args), io.Discard)
		switch {
		case says == "" && err != nil:
			t.Errorf("%s: %v; want it accepted", args, err)
		case says != "" && (!errors.Is(err, cli.ErrUsage) || err.Error() != says):
			t.Errorf("%s: %v; want a usage error saying %s", args, err, says)
		}
	}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--page-size", "0", "--log-refresh", "1ms"}, "--page-size is 0: want 1 to 1000\n--log-refresh is 1ms: it must be at least 1s"},
		{[]string{"--commit-delay", "2s", "--genesis-hash", "abc", "--log-level", "loud", "--listen", "nowhere", "stray"}, `unexpected arguments ["stray"] (want reindex, genesis-hash FILE or nothing)
--log-level "loud": want debug, info, warn or error
--commit-delay is 2s: it must be at most 1s
--genesis-hash "abc": want the 64 hex characters explorer genesis-hash FILE prints
--listen "nowhere": want host:port (missing port in address)`},
	} {
		if _, err := parseFlags(c.args, io.Discard); !errors.Is(err, cli.ErrUsage) || err.Error() != c.says {
			t.Errorf("%q: %v; want one usage error saying\n%s", c.args, err, c.says)
		}
	}
}

// TestGCFlags: Go's own target and no limit by default; --gc-percent -1
// needs a memory limit.
func TestGCFlags(t *testing.T) {
	clitest.ClearEnv(t, envPrefix) // defaults, not the caller's settings
	if o, err := parseFlags(nil, io.Discard); err != nil || *o.gc != (cli.GC{Percent: 100}) {
		t.Fatalf("default: %v; want percent 100, no limit", err)
	}
	if _, err := parseFlags([]string{"--gc-percent", "-1"}, io.Discard); !errors.Is(err, cli.ErrUsage) {
		t.Errorf("--gc-percent -1 alone: %v; want a usage error", err)
	}
	if o, err := parseFlags([]string{"--gc-percent", "-1", "--memory-limit-mib", "2048"}, io.Discard); err != nil || *o.gc != (cli.GC{Percent: -1, MemoryLimitMiB: 2048}) {
		t.Errorf("--gc-percent -1 --memory-limit-mib 2048: %v", err)
	}
}

// TestAddressesURLsAndOrgChecked: before the explorer opens its index or
// dials the ledger, an address without a port number, a --gateway or
// --prometheus that is not an http(s) base URL (both told at once) and an
// organisation not of the consortium are usage errors naming the flag;
// good values parse.
func TestAddressesURLsAndOrgChecked(t *testing.T) {
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--listen", "localhost"}, `--listen "localhost": want host:port`},
		{[]string{"--listen", ":99999"}, `--listen ":99999": port "99999": want a number from 0 to 65535`},
		{[]string{"--pprof", "localhost"}, `--pprof "localhost": want host:port`},
		{[]string{"--gateway", "notaurl"}, `--gateway "notaurl" is not a URL: give the gateway's base URL with its scheme`},
		{[]string{"--gateway", "127.0.0.1:27380"}, `--gateway "127.0.0.1:27380" is not a URL`},
		{[]string{"--prometheus", "notaurl"}, `--prometheus "notaurl" is not a URL: give Prometheus's base URL with its scheme, such as http://127.0.0.1:27395`},
		{[]string{"--prometheus", "127.0.0.1:27395"}, `--prometheus "127.0.0.1:27395" is not a URL`},
		{[]string{"--gateway", "gw", "--prometheus", "prom"}, `--gateway "gw" is not a URL: give the gateway's base URL with its scheme, such as http://127.0.0.1:27380
--prometheus "prom" is not a URL: give Prometheus's base URL with its scheme, such as http://127.0.0.1:27395`},
		{[]string{"--org", "Nobody"}, `--org "Nobody" is not an organisation of the consortium: want Commission or Observers`},
	} {
		if _, err := parseFlags(c.args, io.Discard); !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q: %v; want a usage error saying %s", c.args, err, c.says)
		}
	}
	good := []string{"--listen", ":0", "--pprof", "127.0.0.1:6060", "--gateway", "http://127.0.0.1:27380", "--prometheus", "https://prometheus.example.org/prom", "--org", "Commission"}
	if o, err := parseFlags(good, io.Discard); err != nil || o.gateway != "http://127.0.0.1:27380" || o.prometheus != "https://prometheus.example.org/prom" {
		t.Errorf("%q: %+v, %v; want them taken", good, o, err)
	}
}

// TestPprofPortInUseStopsTheStart: a --pprof port in use stops the
// explorer at start with an error naming --pprof and the address, before
// it reads its connection profile (missing here); a free one gets as far as
// the profile.
func TestPprofPortInUseStopsTheStart(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	defer func(args []string) { os.Args = args }(os.Args)
	missing := filepath.Join(t.TempDir(), "no-profile.json")
	for pprof, says := range map[string]string{
		taken.Addr().String(): "--pprof " + taken.Addr().String() + ": ",
		"127.0.0.1:0":         missing,
	} {
		os.Args = []string{"explorer", "--pprof", pprof, "--profile", missing, "--log-level", "error", "--log-format", "json"}
		if err := run(context.Background()); err == nil || errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), says) {
			t.Errorf("--pprof %s: %v; want an error (not a usage error) saying %q", pprof, err, says)
		}
	}
}

// TestPeerFlag: --peer (or EXPLORER_PEER) names the organisation whose
// peer the explorer reads through, as --org's --user still, verify's flag
// with verify's check: an organisation of the consortium, spelt as it is
// ("commission" is refused, listing them) before anything is dialled; by
// default none, the explorer reading through --org's peer. The choice
// reaches the explorer's configuration with the identity unchanged.
func TestPeerFlag(t *testing.T) {
	clitest.ClearEnv(t, envPrefix) // defaults, not the caller's settings
	o, err := parseFlags(nil, io.Discard)
	if err != nil || o.ledger.Peer != "" || o.ledger.PeerOrg() != "Observers" {
		t.Fatalf("default: %+v, %v; want no --peer, the Observers' peer", o.ledger, err)
	}
	o, err = parseFlags([]string{"--peer", "Commission"}, io.Discard)
	if err != nil {
		t.Fatalf("--peer Commission: %v", err)
	}
	if c := o.config(network.Profile{}, nil); c.Peer != "Commission" || c.Org != "Observers" || c.User != "User1" {
		t.Errorf("--peer Commission: the explorer reads through %q's peer as %s %s; want the Commission's, as Observers User1", c.Peer, c.Org, c.User)
	}
	t.Setenv("EXPLORER_PEER", "Commission")
	if o, err := parseFlags(nil, io.Discard); err != nil || o.ledger.Peer != "Commission" {
		t.Errorf("EXPLORER_PEER=Commission: %+v, %v; want it taken", o.ledger, err)
	}
	for _, peer := range []string{"commission", "Nobody"} {
		want := `--peer "` + peer + `" is not an organisation of the consortium: want Commission or Observers`
		if _, err := parseFlags([]string{"--peer", peer}, io.Discard); !errors.Is(err, cli.ErrUsage) || err.Error() != want {
			t.Errorf("--peer %s: %v; want the usage error %q", peer, err, want)
		}
	}
	var help strings.Builder
	if _, err := parseFlags([]string{"--help"}, &help); !errors.Is(err, flag.ErrHelp) || !strings.Contains(help.String(), cli.PeerUsage) {
		t.Errorf("--help: %v; want --peer's usage in:\n%s", err, help.String())
	}
}
