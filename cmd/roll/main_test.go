package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votechain/votechain/gateway/roll"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/cli/clitest"
)

// TestGenWritesPrivateCSV: the credentials CSV is readable by its owner only.
func TestGenWritesPrivateCSV(t *testing.T) {
	out := filepath.Join(t.TempDir(), "voters.csv")
	if err := run(context.Background(), []string{"gen", "-n", "10", "-o", out}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Errorf("roll CSV mode %o, want 600", mode)
	}
	data, _ := os.ReadFile(out)
	if n := strings.Count(string(data), "\n"); n != 11 {
		t.Errorf("roll CSV has %d lines, want header + 10", n)
	}
}

// TestGenRefusesWhatLoadWould: a roll gen would write and load refuse (no
// voters, a state that is not a state code) is refused with the fix.
func TestGenRefusesWhatLoadWould(t *testing.T) {
	out := filepath.Join(t.TempDir(), "voters.csv")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-n", "0"}, "-n must be at least 1"},
		{[]string{"-n", "-5"}, "-n must be at least 1"},
		{[]string{"-states", "CA,,NY"}, `state "" in -states`},
		{[]string{"-states", "ca"}, `state "ca" in -states`},
	} {
		err := run(context.Background(), append([]string{"gen", "-o", out}, c.args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("gen %v: %v; want an error containing %q", c.args, err, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("gen %v wrote %s", c.args, out)
		}
	}
}

// TestLoadTakesTheElectionsContests: every voter gets one nullifier per
// contest, the contests named by -contests or read from -election's
// template; without them the load is refused with the fix.
func TestLoadTakesTheElectionsContests(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "voters.csv")
	if err := run(context.Background(), []string{"gen", "-n", "10", "-o", csv}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret")
	tmpl := filepath.Join(dir, "referendum.json")
	if err := os.WriteFile(secret, []byte("00112233445566778899aabbccddeeff"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmpl, []byte(`{"id":"ref-1","name":"R","states":["CA","NY"],"contests":[
		{"id":"L1","title":"L1","kind":"question","choices":["oui","non"]},
		{"id":"L2","title":"L2","kind":"question","choices":["oui","non"]},
		{"id":"L3","title":"L3","kind":"question","choices":["oui","non"]}],
		"batchers":["User1@commission.votechain.test"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(args ...string) (roll.Summary, error) {
		var out bytes.Buffer
		args = append([]string{"load", "-dry-run", "-csv", csv, "-secret-file", secret}, args...)
		if err := run(context.Background(), args, &out, io.Discard); err != nil {
			return roll.Summary{}, err
		}
		var sum roll.Summary
		err := json.Unmarshal(out.Bytes(), &sum)
		return sum, err
	}
	fromTemplate, err := load("-election", tmpl)
	if err != nil || fromTemplate.Voters != 10 || fromTemplate.Entries != 30 {
		t.Fatalf("from the template: %+v, %v; want 10 voters, 30 entries", fromTemplate, err)
	}
	byFlags, err := load("-election-id", "ref-1", "-contests", "L1,L2,L3")
	if err != nil || byFlags.Root != fromTemplate.Root {
		t.Fatalf("by flags: %+v, %v; want the template's root %s", byFlags, err, fromTemplate.Root)
	}
	if one, err := load("-election", tmpl, "-contests", "L1"); err != nil || one.Entries != 10 {
		t.Fatalf("-contests overriding the template: %+v, %v; want 10 entries", one, err)
	}
	other := filepath.Join(dir, "other.csv")
	if err := run(context.Background(), []string{"gen", "-n", "3", "-states", "CA,TX", "-o", other}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"load", "-dry-run", "-csv", other, "-secret-file", secret, "-election", tmpl}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), `state "TX" is not one of the election's states`) {
		t.Errorf("a roll with a state outside the template's: %v", err)
	}
	for _, args := range [][]string{{"-election-id", "ref-1"}, {"-contests", "L1"}, {"-election-id", "ref-1", "-contests", "L1,bad id"}} {
		if _, err := load(args...); err == nil || !strings.Contains(err.Error(), "-contests") {
			t.Errorf("%v: %v; want a usage error naming -contests", args, err)
		}
	}
}

// runRoll is roll as cli.Main runs it, its output discarded.
func runRoll(ctx context.Context) error { return run(ctx, os.Args[1:], io.Discard, io.Discard) }

// TestCommandLineMistakes: no command, an unknown one or a flag before the
// command is a usage error (status 2) after the usage, as with votechain
// and vcnet (no command printed the usage and exited 0); --help exits 0.
func TestCommandLineMistakes(t *testing.T) {
	clitest.UsageErrors(t, runRoll, []string{"roll"}, []clitest.UsageCase{
		{Args: nil, Want: "no command given"},
		{Args: []string{"bogus"}, Want: `unknown command "bogus"`},
		{Args: []string{"-csv", "roll.csv", "load"}, Want: "-csv before the command: flags follow it"},
	})
	var stderr bytes.Buffer
	if run(context.Background(), nil, io.Discard, &stderr); !strings.Contains(stderr.String(), "Commands:") {
		t.Errorf("no command: printed %q; want the usage", stderr.String())
	}
	if err := run(context.Background(), []string{"--help"}, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v; want flag.ErrHelp (status 0)", err)
	}
}

// TestLoadRefusesSettingsItCannotUse: a Bloom false-positive rate outside
// (0,1) and a pipeline of no rows are usage errors before the roll is read
// (the rate failed only after every entry was in Redis; the dry run took
// it; a batch below 1 became 10,000 unsaid).
func TestLoadRefusesSettingsItCannotUse(t *testing.T) {
	clitest.UsageErrors(t, runRoll, []string{"roll", "load", "-dry-run", "-csv", "missing.csv", "-election-id", "e1", "-contests", "L1"}, []clitest.UsageCase{
		{Args: []string{"-bloom-fp-rate", "-1"}, Want: "-bloom-fp-rate: bloom: false-positive rate -1 not in (0,1)"},
		{Args: []string{"-bloom-fp-rate", "1"}, Want: "-bloom-fp-rate"},
		{Args: []string{"-batch", "0"}, Want: "-batch is 0: it must be at least 1"},
	})
}

func TestMain(m *testing.M) {
	clitest.MainIfAsked(main)
	os.Exit(m.Run())
}

// TestRedisNotRunningSaysItOnce: roll, as a process, on a Redis that is
// not running prints its own error alone, naming the address and the
// fixes, and exits 1; go-redis's logger printed a "connection pool: failed
// to dial" line of its own before it for each attempt.
func TestRedisNotRunningSaysItOnce(t *testing.T) {
	addr := clitest.FreeAddr(t)
	t.Setenv(cli.RedisPasswordEnv, "unused")
	code, out := clitest.Exec(t, "rebuild-bloom", "-states", "CA", "-nullifiers", "nullifiers.csv", "-redis-addr", addr)
	want := "roll: redis at " + addr + ": dial tcp " + addr + ": connect: connection refused (start the system with `make up`, or set --redis-addr)\n"
	if code != 1 || out != want {
		t.Errorf("status %d, output:\n%s\nwant 1 and only:\n%s", code, out, want)
	}
}
