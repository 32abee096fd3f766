package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/election"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/cli/clitest"
	"github.com/votechain/votechain/network"
)

// TestGatewaysOf: --gateway-peers resolves to the batcher's own
// organisation by default, every organisation of the profile (own first)
// for "all", the list as given otherwise (space around an entry dropped);
// an organisation not in the profile (in the wrong case, or "all" in a
// list), an empty entry or one named twice is a usage error naming the
// flag, its value and the profile with its organisations.
func TestGatewaysOf(t *testing.T) {
	p := network.Profile{Orgs: map[string]network.OrgProfile{"Commission": {}, "Observers": {}, "Auditors": {}}}
	const path = "run/profile.json"
	const want = "an organisation of the connection profile run/profile.json (Auditors, Commission, Observers; all, alone, names every one)"
	for _, tc := range []struct {
		flag, own string
		want      []string
		err       string
	}{
		{flag: "", own: "Commission", want: []string{"Commission"}},
		{flag: "all", own: "Commission", want: []string{"Commission", "Auditors", "Observers"}},
		{flag: "all", own: "Observers", want: []string{"Observers", "Auditors", "Commission"}},
		{flag: "Observers, Commission", own: "Commission", want: []string{"Observers", "Commission"}},
		{flag: "Observers", own: "Commission", want: []string{"Observers"}},
		{flag: "Commission,observers", own: "Commission", err: `--gateway-peers "Commission,observers": "observers" is not ` + want},
		{flag: "all,Observers", own: "Commission", err: `--gateway-peers "all,Observers": "all" is not ` + want},
		{flag: "Commission,", own: "Commission", err: `--gateway-peers "Commission,": an empty entry: want ` + want + ", comma-separated"},
		{flag: "Observers,Commission,Observers", own: "Commission", err: `--gateway-peers "Observers,Commission,Observers": Observers is named twice: name each once`},
	} {
		got, err := gatewaysOf(tc.flag, tc.own, p, path)
		if tc.err != "" {
			if !errors.Is(err, cli.ErrUsage) || err.Error() != tc.err {
				t.Errorf("gatewaysOf(%q, %s) = %v, %v; want a usage error saying %s", tc.flag, tc.own, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("gatewaysOf(%q, %s) = %v, %v; want %v", tc.flag, tc.own, got, err, tc.want)
		}
	}
}

// TestLeaseBelow100msIsAUsageError: a lease renewed every quarter of
// itself must leave the renewals a period (a ticker of 0 panics).
func TestLeaseBelow100msIsAUsageError(t *testing.T) {
	defer func(args []string) { os.Args = args }(os.Args)
	os.Args = []string{"batcher", "--lease-ttl", "3ns"}
	if err := run(context.Background()); !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "--lease-ttl is 3ns") {
		t.Errorf("--lease-ttl 3ns: %v; want a usage error naming it", err)
	}
}

// TestGCFlagsAreChecked: the batcher takes --gc-percent and
// --memory-limit-mib, and refuses what cli.GC.Check refuses before
// connecting to anything.
func TestGCFlagsAreChecked(t *testing.T) {
	defer func(args []string) { os.Args = args }(os.Args)
	os.Args = []string{"batcher", "--gc-percent", "-1", "--memory-limit-mib", "-1"}
	if err := run(context.Background()); !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "--memory-limit-mib -1") {
		t.Errorf("--memory-limit-mib -1: %v; want a usage error naming it", err)
	}
}

// TestValuesCheckedBeforeConnecting: a value out of its flag's range is a
// usage error naming the flag and the range, told before the batcher reads
// its connection profile, not replaced by the default or found once Redis
// is dialled: sizes and counts of 0 or below, a batch over the chaincode's
// limit, a --fill above --batch-size, an organisation not of the
// consortium, an address without a port number, an --aof-* bound. Good
// values of the same flags get as far as the profile (none in this test).
func TestValuesCheckedBeforeConnecting(t *testing.T) {
	defer func(args []string) { os.Args = args }(os.Args)
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--batch-size", "0"}, "--batch-size is 0: want 1 to 10000"},
		{[]string{"--batch-size", "-5"}, "--batch-size is -5: want 1 to 10000"},
		{[]string{"--batch-size", "10001"}, "--batch-size is 10001: want 1 to 10000"},
		{[]string{"--batch-size", "100", "--fill", "101"}, "--fill is 101: want 0 to 100"},
		{[]string{"--fill", "-1"}, "--fill is -1: want 0 to 1000"},
		{[]string{"--depth", "0"}, "--depth is 0: want at least 1"},
		{[]string{"--max-inflight", "0"}, "--max-inflight is 0: want at least 1"},
		{[]string{"--share-votes", "-2"}, "--share-votes is -2: want -1 to 10000"},
		{[]string{"--redis-replicas", "-2"}, "--redis-replicas is -2: want at least -1"},
		{[]string{"--max-wait", "0s"}, "--max-wait is 0s: it must be at least 1ms"},
		{[]string{"--commit-timeout", "-1s"}, "--commit-timeout is -1s: it must be at least 1ms"},
		{[]string{"--org", "Nobody"}, `--org "Nobody" is not an organisation of the consortium: want Commission or Observers`},
		{[]string{"--redis-addr", "127.0.0.1:99999"}, `--redis-addr: redis address "127.0.0.1:99999": port "99999": want a number from 0 to 65535`},
		{[]string{"--metrics", "localhost"}, `--metrics "localhost": want host:port`},
		{[]string{"--partitions", "CA,,TX"}, `--partitions "CA,,TX": an empty entry`},
		{[]string{"--partitions", "CA,"}, `--partitions "CA,": an empty entry`},
		{[]string{"--partitions", "CA,ca"}, `--partitions "CA,ca": "ca" is not a state code`},
		{[]string{"--partitions", "CA#x"}, `--partitions "CA#x": "CA#x" is not a state code`},
		{[]string{"--partitions", "CA#-1"}, `"CA#-1" is not a state code`},
		// The gateway queues a state's votes in one stream: a sub-shard's lane would read nothing.
		{[]string{"--partitions", "CA,TX#3"}, `--partitions "CA,TX#3": "TX#3" is not ` + partitionWant},
		{[]string{"--partitions", "CA,TX, CA"}, `--partitions "CA,TX, CA": CA is named twice: name each once`},
		// The quiet-time AOF rewrites' flags (aofrewrite.Flags.Check), once checked only after Redis and the election.
		{[]string{"--aof-poll", "0s"}, "--aof-poll is 0s: it must be more than 0"},
		{[]string{"--aof-quiet-window", "-1s"}, "--aof-quiet-window is -1s: it must be more than 0"},
		{[]string{"--aof-growth-percent", "-1"}, "--aof-growth-percent is -1: want at least 0"},
		{[]string{"--aof-retry-wait", "2h", "--aof-retry-max", "1h"}, "--aof-retry-wait 2h0m0s and --aof-retry-max 1h0m0s: want 0 <= wait <= max"},
		{[]string{"--aof-retry-wait", "-1s"}, "--aof-retry-wait -1s and --aof-retry-max 1h0m0s: want 0 <= wait <= max"},
	} {
		os.Args = append([]string{"batcher", "--profile", "no-such-profile.json"}, c.args...)
		if err := run(context.Background()); !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q: %v; want a usage error saying %s", c.args, err, c.says)
		}
	}
	os.Args = []string{"batcher", "--profile", "no-such-profile.json", "--partitions", "CA, TX,NY", "--batch-size", "10000", "--fill", "10000", "--share-votes", "-1",
		"--depth", "1", "--max-inflight", "1", "--redis-replicas", "-1", "--org", "Observers", "--metrics", "[::1]:0", "--log-level", "error",
		"--aof-poll", "1ms", "--aof-quiet-window", "1ms", "--aof-growth-percent", "0", "--aof-retry-wait", "0s", "--aof-retry-max", "0s"}
	if err := run(context.Background()); err == nil || errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "no-such-profile.json") {
		t.Errorf("%q: %v; want no usage error, the batcher stopped by the missing profile", os.Args[1:], err)
	}
}

// TestCommitTimeoutAboveFailover: a --commit-timeout not above the ordering
// failover, given by --failover or the profile's consensus, is a usage
// error naming both values, where the failover came from, and the fix.
func TestCommitTimeoutAboveFailover(t *testing.T) {
	if err := commitTimeoutAbove(11*time.Second, 10*time.Second, false, network.BFT); err != nil {
		t.Errorf("11s above a 10s failover: %v", err)
	}
	if err := commitTimeoutAbove(time.Millisecond, 0, false, network.Raft); err != nil {
		t.Errorf("1ms under Raft (no failover): %v", err)
	}
	for _, c := range []struct {
		timeout, failover time.Duration
		given             bool
		says              string
	}{
		{10 * time.Second, 10 * time.Second, false, `--commit-timeout 10s is not above the ordering failover 10s (the connection profile's consensus, "bft")`},
		{5 * time.Second, 10 * time.Second, true, "--commit-timeout 5s is not above the ordering failover 10s (--failover)"},
	} {
		err := commitTimeoutAbove(c.timeout, c.failover, c.given, network.BFT)
		if !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), "give --commit-timeout more than "+c.failover.String()) {
			t.Errorf("commit timeout %v, failover %v: %v; want a usage error saying %s and the fix", c.timeout, c.failover, err, c.says)
		}
	}
}

// electionOnLedger is an election.Source holding e.
type electionOnLedger struct{ e *ballot.Election }

func (l electionOnLedger) Election(context.Context) (*ballot.Election, error) { return l.e, nil }

// served runs servePartitions with a serve that records the partitions it
// is called with (nil: not called) and returns nil, for the tests.
func served(ctx context.Context, listed []string, ledger election.Source) (parts []string, err error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	err = servePartitions(ctx, listed, ledger, quiet, func(_ string, p []string) error {
		parts = p
		return nil
	})
	return parts, err
}

// TestPartitionsMustBeTheElections: once the election is read, the
// batcher serves its states without --partitions, the list given if each
// entry is one of the election's states (in any order, a part of them),
// and refuses a list naming a state the election lacks (a typo such as CX
// would serve an empty lane and leave CA to no one), serving nothing,
// with an error that is not a usage error (exit 1: the flag is well
// formed, the election says no), naming every such state and the
// election's states.
func TestPartitionsMustBeTheElections(t *testing.T) {
	ctx := context.Background()
	ledger := electionOnLedger{&ballot.Election{ID: "E1", States: []string{"CA", "NY", "TX"}}}
	for _, c := range []struct{ listed, want []string }{
		{nil, []string{"CA", "NY", "TX"}},
		{[]string{"TX", "CA"}, []string{"TX", "CA"}},
		{[]string{"NY"}, []string{"NY"}},
	} {
		if got, err := served(ctx, c.listed, ledger); err != nil || !slices.Equal(got, c.want) {
			t.Errorf("--partitions %v: served %v, %v; want %v", c.listed, got, err, c.want)
		}
	}
	for listed, says := range map[string]string{
		"CX":       "--partitions names CX, which election E1 lacks (its states: CA, NY, TX)",
		"CA,WA,CX": "--partitions names WA, CX, which election E1 lacks (its states: CA, NY, TX)",
	} {
		got, err := served(ctx, strings.Split(listed, ","), ledger)
		if err == nil || got != nil || errors.Is(err, cli.ErrUsage) || !strings.HasPrefix(err.Error(), says) {
			t.Errorf("--partitions %s: served %v, %v; want nothing served and an error (not a usage error) saying %s", listed, got, err, says)
		}
	}
}

// stopDuringRead is an election.Source whose read returns e while the
// stop signal arrives (cancel is called before it returns).
type stopDuringRead struct {
	e      *ballot.Election
	cancel context.CancelCauseFunc
}

func (l stopDuringRead) Election(context.Context) (*ballot.Election, error) {
	l.cancel(cli.Interrupted{Signal: syscall.SIGTERM})
	return l.e, nil
}

// TestRefusedPartitionsAfterAStopFail: a stop signal that arrives while
// the batcher checks --partitions against the election it has just read
// does not turn the refusal into a clean stop: what run returns is the
// refusal, whose exit status is 1 (a supervisor must not take a refused
// start for a stop), and a list the election accepts is served (the
// lanes' loop then drains at once). A stop before the record was read is
// one: nothing served, no error, exit 0. servePartitions holds run's
// branch, so a StopIsNoFailure wrapped around the refusal there fails
// this test.
func TestRefusedPartitionsAfterAStopFail(t *testing.T) {
	e := &ballot.Election{ID: "E1", States: []string{"CA", "NY", "TX"}}
	for listed, refused := range map[string]bool{"CX": true, "CA": false} {
		ctx, cancel := context.WithCancelCause(context.Background())
		got, err := served(ctx, []string{listed}, stopDuringRead{e, cancel})
		if status := cli.ExitStatus(err, context.Cause(ctx)); (err != nil) != refused || refused && (status != 1 || got != nil) || !refused && !slices.Equal(got, []string{listed}) {
			t.Errorf("--partitions %s, SIGTERM during the read: served %v, %v (exit %d); want refused %t (exit 1)", listed, got, err, status, refused)
		}
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cli.Interrupted{Signal: syscall.SIGTERM})
	got, err := served(ctx, []string{"CX"}, notReadable{})
	if status := cli.ExitStatus(err, context.Cause(ctx)); err != nil || got != nil || status != 0 {
		t.Errorf("SIGTERM before the record was read: served %v, %v (exit %d); want nothing served, no error, exit 0", got, err, status)
	}
}

// notReadable is an election.Source whose read fails with its context's error.
type notReadable struct{}

func (notReadable) Election(ctx context.Context) (*ballot.Election, error) { return nil, ctx.Err() }

// TestMetricsHelp: --help says, for --metrics, what is served there
// (/metrics, /healthz and what it answers; aof_rewrite* with --aof-rewrite,
// on by default), from when (once the election is read and --partitions
// checked, not while the batcher waits for the election, which Prometheus
// sees as the batcher down: ServiceDown), what a port in use does, and
// what the default 127.0.0.1:0 means for a Prometheus (a fixed port to
// give it). The caller's BATCHER_* variables are cleared: they would
// change the defaults shown.
func TestMetricsHelp(t *testing.T) {
	clitest.ClearEnv(t, "BATCHER")
	help, err := clitest.RunStderr(t, run, "batcher", "--help")
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v; want flag.ErrHelp", err)
	}
	_, metrics, _ := strings.Cut(help, "  -metrics string\n")
	metrics, _, _ = strings.Cut(metrics, "\n  -")
	for _, says := range []string{"GET /metrics", "aof_rewrite* while the quiet-time AOF rewrites run: --aof-rewrite, on by default", "GET /healthz answers 200 ok", "liveness only",
		"it opens once the election is read from the ledger (and --partitions checked against it)", "nothing answers there while the batcher waits for the election", "Prometheus sees the batcher as down meanwhile", "ServiceDown",
		"in use stops the batcher (exit 1, naming --metrics and the fix)",
		"The default, 127.0.0.1:0, is this machine's loopback on a free port chosen at start and logged", "give a fixed port to scrape", `(default "127.0.0.1:0")`} {
		if !strings.Contains(metrics, says) {
			t.Errorf("--help for --metrics does not say %q:\n%s", says, metrics)
		}
	}
}
