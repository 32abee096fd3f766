package main

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/votechain/votechain/gateway/roll"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/cli/clitest"
)

// runWith runs loadgen with args after a --url and an --ids of the test's.
func runWith(t *testing.T, url string, args ...string) error {
	t.Helper()
	return clitest.Run(t, run, append([]string{"loadgen", "--url", url, "--ids", t.TempDir() + "/ids"}, args...)...)
}

// TestSettingsThatCannotMakeARunAreRefused: each is refused before any
// request as a usage error (status 2), naming the flag (the URL points
// nowhere: a setting that got past the checks would fail on fetching the
// election instead).
func TestSettingsThatCannotMakeARunAreRefused(t *testing.T) {
	args := []string{"loadgen", "--url", "http://" + clitest.ReservedAddr(t), "--ids", t.TempDir() + "/ids"}
	clitest.UsageErrors(t, run, args, []clitest.UsageCase{
		{Args: []string{"--mode", "rampp"}, Want: `--mode "rampp": want constant, ramp or surge`},
		{Args: []string{"--rate", "0"}, Want: "--rate is 0: it must be above zero"},
		{Args: []string{"--rate", "-5"}, Want: "--rate is -5"},
		{Args: []string{"--mode", "ramp", "--ramp-by", "0"}, Want: "--ramp-by is 0"},
		{Args: []string{"--ramp-from", "5000", "--ramp-to", "1000"}, Want: "--ramp-to 1000 is below --ramp-from 5000"},
		{Args: []string{"--duration", "0s"}, Want: "--duration is 0s: it must be at least 1ms"},
		{Args: []string{"--ramp-step", "-1s"}, Want: "--ramp-step is -1s"},
		{Args: []string{"--drain-timeout", "-1s"}, Want: "--drain-timeout is -1s"},
		{Args: []string{"--max-workers", "0"}, Want: "--max-workers is 0"},
		{Args: []string{"--knee-served", "5"}, Want: "--knee-served is 5: it is a share of the offered rate, from 0 to 1"},
		{Args: []string{"--knee-failed", "-0.1"}, Want: "--knee-failed is -0.1"},
		{Args: []string{"--duplicates", "0.7", "--ineligible", "0.3"}, Want: "the duplicate share 0.7 and the ineligible share 0.3 must each be at least 0 and together below 1"},
		{Args: []string{"--duplicates", "-1"}, Want: "--duplicates, --ineligible"},
		{Args: []string{"--url", "127.0.0.1:27380"}, Want: `--url "127.0.0.1:27380" is not a URL: give the gateway's base URL with its scheme`},
		{Args: []string{"--rate"}, Want: "flag needs an argument: -rate"},
		{Args: []string{"--duration", "5"}, Want: `invalid value "5" for flag -duration: want a duration such as 90s, 5m or 1h30m (a number and its unit`},
		{Args: []string{"--bogus"}, Want: "flag provided but not defined: -bogus"},
		{Args: []string{"ramp"}, Want: `unexpected arguments ["ramp"]`},
	})
	if err := clitest.Run(t, run, append(args, "--help")...); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v; want flag.ErrHelp (status 0)", err)
	}
}

// TestGatewayNotAnswering: with the checks passed, a gateway that is not
// running fails the election's fetch naming it and the fixes (make up,
// --url); one that takes the connection but never answers fails it within
// --timeout naming the gateway, the limit and the fixes (more --timeout,
// --url), not the context's raw deadline error.
func TestGatewayNotAnswering(t *testing.T) {
	stalled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer stalled.Close()
	refused := "http://" + clitest.ReservedAddr(t)
	for _, c := range []struct {
		url  string
		want []string
	}{
		{refused, []string{"the gateway at " + refused + " did not answer", "connection refused", "`make up` starts it", "give --url the URL of a running gateway"}},
		{stalled.URL, []string{"the gateway at " + stalled.URL + " did not answer within 200ms", "give --timeout more time", "give --url the URL of another running gateway"}},
	} {
		began := time.Now()
		err := runWith(t, c.url, "--timeout", "200ms")
		if took := time.Since(began); took > 10*time.Second {
			t.Errorf("%s: took %s; want about --timeout", c.url, took)
		}
		for _, want := range c.want {
			if err == nil || errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v; want a failure (status 1) containing %q", c.url, err, want)
			}
		}
		if err != nil && strings.Contains(err.Error(), "deadline") {
			t.Errorf("%s: %v; want no raw deadline error", c.url, err)
		}
	}
}

// voteCountingGateway is a gateway of an election over CA and NY that
// answers every vote 503 and counts them, and a roll of 10 voters of those
// states for it.
func voteCountingGateway(t *testing.T) (url, rollCSV string, votes *atomic.Int64) {
	t.Helper()
	votes = new(atomic.Int64)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/vote" {
			votes.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"id":"e1","states":["CA","NY"],"contests":[{"id":"L1","title":"t","kind":"race","choices":["a","b"]}]}`))
	}))
	t.Cleanup(gw.Close)
	rollCSV = filepath.Join(t.TempDir(), "voters.csv")
	f, err := os.Create(rollCSV)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := roll.Generate(context.Background(), f, 10, []string{"CA", "NY"}, nil); err != nil {
		t.Fatal(err)
	}
	return gw.URL, rollCSV, votes
}

// TestUnwritableResultsRefusedBeforeTheLoad: an --ids or --summary file
// that cannot be created fails the run before any vote is sent (it failed
// after the whole run, its ids lost).
func TestUnwritableResultsRefusedBeforeTheLoad(t *testing.T) {
	url, rollCSV, votes := voteCountingGateway(t)
	missing := filepath.Join(t.TempDir(), "no-such-folder", "out")
	for _, c := range []struct{ args []string }{
		{[]string{"--ids", missing}},
		{[]string{"--summary", missing}},
	} {
		err := runWith(t, url, append([]string{"--roll", rollCSV, "--rate", "50", "--duration", "1s"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.args[0]+": open "+missing) {
			t.Errorf("%v: %v; want the file refused, naming %s", c.args, err, c.args[0])
		}
	}
	if n := votes.Load(); n != 0 {
		t.Errorf("%d votes sent; want none before the result files are refused", n)
	}
}

// TestSurgeRedisRefusedBeforeTheLoad: in surge mode, a Redis address
// without its port (a usage error), a password file that cannot be read,
// or no Redis at the address fails the run before any vote is sent (they
// were read only after the whole surge had run).
func TestSurgeRedisRefusedBeforeTheLoad(t *testing.T) {
	t.Setenv(cli.RedisPasswordEnv, "") // the password comes from the file
	url, rollCSV, votes := voteCountingGateway(t)
	passwordFile := filepath.Join(t.TempDir(), "admin.password")
	if err := os.WriteFile(passwordFile, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "no-such.password")
	noRedis := clitest.ReservedAddr(t)
	for _, c := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"--redis-addr", "localhost", "--redis-password-file", passwordFile}, true, `--redis-addr: redis address "localhost": want host:port`},
		{[]string{"--redis-addr", noRedis, "--redis-password-file", missing}, false, "redis password of user admin: open " + missing},
		{[]string{"--redis-addr", noRedis, "--redis-password-file", passwordFile}, false, "redis at " + noRedis},
	} {
		err := runWith(t, url, append([]string{"--mode", "surge", "--roll", rollCSV, "--rate", "50", "--duration", "1s"}, c.args...)...)
		if err == nil || errors.Is(err, cli.ErrUsage) != c.usage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v; want an error (usage error: %v) containing %q", c.args, err, c.usage, c.want)
		}
	}
	if n := votes.Load(); n != 0 {
		t.Errorf("%d votes sent; want none before the surge's Redis is refused", n)
	}
}
