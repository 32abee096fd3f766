package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
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

// TestGenRemovesAKilledRunsCopy: gen -o FILE removes the temporary copy of
// FILE (.FILE.DIGITS.tmp) that a gen killed outright left, every credential
// in it, saying so on stderr; files of other names, a look-alike of another
// shape or of another FILE included, are kept.
func TestGenRemovesAKilledRunsCopy(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "voters.csv")
	stale := filepath.Join(dir, ".voters.csv.2718281828.tmp")
	kept := []string{"voters.csv.tmp", ".voters.csv.tmp", ".voters.csv.backup.tmp", ".other.csv.1.tmp", "notes.txt"}
	for _, name := range append([]string{filepath.Base(stale)}, kept...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("V1,secret-credential,CA\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"gen", "-n", "10", "-o", out}, io.Discard, &stderr); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed run's copy: %v; want it removed", err)
	}
	if !strings.Contains(stderr.String(), "removed a temporary copy of "+out) || !strings.Contains(stderr.String(), stale) {
		t.Errorf("stderr does not say it removed %s:\n%s", stale, stderr.String())
	}
	for _, name := range kept {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v; want it kept", name, err)
		}
	}
	if files, _ := os.ReadDir(dir); len(files) != 1+len(kept) {
		t.Errorf("the folder holds %v; want the roll and %v", files, kept)
	}
}

// startGen starts roll gen -o out of many voters as a process of its own
// (the test binary as the command, clitest.MainIfAsked) and returns it once
// its temporary copy of out is there, with that copy's path.
func startGen(t *testing.T, out string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "gen", "-n", "50000000", "-o", out)
	cmd.Env = append(os.Environ(), "VOTECHAIN_TEST_AS_COMMAND=1") // clitest's switch to run as the command
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Not left running by a test that fails before it stops the process
	// (before out's folder is removed); no-ops once the test has waited.
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if copies, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".voters.csv.*.tmp")); len(copies) == 1 {
			return cmd, copies[0]
		}
	}
	t.Fatalf("roll gen -o %s made no temporary copy in 10s", out)
	return nil, ""
}

// TestGenSignalledLeavesNoCopy: roll gen -o, as a process, stopped by
// SIGINT or SIGTERM partway exits 128 plus the signal's number (130, 143:
// cli.Main's rule) and leaves no temporary copy of the
// roll; one SIGKILLed leaves its copy, which the next gen -o removes.
func TestGenSignalledLeavesNoCopy(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		dir := t.TempDir()
		cmd, tmp := startGen(t, filepath.Join(dir, "voters.csv"))
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		if code, want := cmd.ProcessState.ExitCode(), 128+int(sig.(syscall.Signal)); code != want {
			t.Errorf("%v: exit status %d, want %d", sig, code, want)
		}
		if files, err := os.ReadDir(dir); len(files) != 0 {
			t.Errorf("%v: the folder holds %v, %v; want %s removed and nothing written", sig, files, err, tmp)
		}
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "voters.csv")
	cmd, tmp := startGen(t, out)
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("the SIGKILLed run's copy %s: %v; the test expects it left", tmp, err)
	}
	if err := run(context.Background(), []string{"gen", "-n", "10", "-o", out}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if files, err := os.ReadDir(dir); len(files) != 1 || files[0].Name() != "voters.csv" {
		t.Errorf("after the next gen the folder holds %v, %v; want voters.csv alone", files, err)
	}
}

// TestGenWritesToAPipe: -o naming a pipe (as /dev/stdout may be) writes the
// roll into it, where a temporary file and a rename could not.
func TestGenWritesToAPipe(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "roll.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	read := make(chan string, 1)
	go func() {
		data, _ := os.ReadFile(fifo) // opening blocks until gen opens the pipe to write
		read <- string(data)
	}()
	if err := run(context.Background(), []string{"gen", "-n", "10", "-o", fifo}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("after gen -o %s: %v, %v; want the pipe still there, written into", fifo, st, err)
	}
	if n := strings.Count(<-read, "\n"); n != 11 {
		t.Errorf("the pipe carried %d lines, want header + 10", n)
	}
	if files, err := os.ReadDir(dir); len(files) != 1 {
		t.Errorf("the folder holds %v, %v; want the pipe alone", files, err)
	}
}

// TestGenWritesThroughASymlink: -o naming a symbolic link writes the roll
// into the file it names, and leaves the link a link.
func TestGenWritesThroughASymlink(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "voters.csv"), filepath.Join(dir, "current.csv")
	if err := os.WriteFile(target, []byte("an earlier roll\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"gen", "-n", "10", "-o", link}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("after gen -o %s: %v, %v; want the link kept", link, st, err)
	}
	if data, err := os.ReadFile(target); err != nil || strings.Count(string(data), "\n") != 11 {
		t.Errorf("%s holds %.60q, %v; want the new roll, header + 10", target, data, err)
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
		{[]string{"-states", "CA,NY,CA"}, "state CA is listed twice in -states"},
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
// template; without them the load is refused with the fix. The roll's root
// and size print under the election record's names, roll_root and
// roll_entries.
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
	var printed []byte // the last load's
	load := func(args ...string) (roll.Summary, error) {
		var out bytes.Buffer
		args = append([]string{"load", "-dry-run", "-csv", csv, "-secret-file", secret}, args...)
		if err := run(context.Background(), args, &out, io.Discard); err != nil {
			return roll.Summary{}, err
		}
		printed = out.Bytes()
		var sum roll.Summary
		err := json.Unmarshal(printed, &sum)
		return sum, err
	}
	fromTemplate, err := load("-election", tmpl)
	if err != nil || fromTemplate.Voters != 10 || fromTemplate.Entries != 30 {
		t.Fatalf("from the template: %+v, %v; want 10 voters, 30 entries", fromTemplate, err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(printed, &fields); err != nil || string(fields["roll_root"]) != `"`+fromTemplate.Root+`"` || string(fields["roll_entries"]) != "30" {
		t.Fatalf("printed %s (%v); want roll_root %s and roll_entries 30, as the election record names them", printed, err, fromTemplate.Root)
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
	addr := clitest.ReservedAddr(t)
	t.Setenv(cli.RedisPasswordEnv, "unused")
	code, out := clitest.Exec(t, "rebuild-bloom", "-states", "CA", "-nullifiers", "nullifiers.csv", "-redis-addr", addr)
	want := "roll: redis at " + addr + ": dial tcp " + addr + ": connect: connection refused (start the system with `make up`, or set --redis-addr)\n"
	if code != 1 || out != want {
		t.Errorf("status %d, output:\n%s\nwant 1 and only:\n%s", code, out, want)
	}
}

// cancelOnWrite is a stderr that cancels the command's context at its
// first write, the progress bar's first draw: an interruption mid-run, as
// cli.Main makes of Ctrl-C and SIGTERM.
type cancelOnWrite struct{ cancel context.CancelFunc }

func (w cancelOnWrite) Write(p []byte) (int, error) {
	w.cancel()
	return len(p), nil
}

// interrupted runs roll with args, interrupted once it first writes to
// stderr, and returns what it wrote to stdout and its error.
func interrupted(args ...string) (string, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	err := run(ctx, args, &stdout, cancelOnWrite{cancel})
	return stdout.String(), err
}

// TestGenStopsWhenInterrupted: gen interrupted mid-run stops within a few
// thousand rows and says how many voters it wrote, and that -o's file was
// not written (the roll there before is kept, no temporary file is left)
// or that what went to stdout is an incomplete roll. It heard no Ctrl-C and
// wrote every voter.
func TestGenStopsWhenInterrupted(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "voters.csv")
	if err := os.WriteFile(out, []byte("an earlier roll\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := interrupted("gen", "-n", "200000", "-o", out)
	want := "gen: stopped with 1024 of 200000 voters written: context canceled; nothing was written to " + out
	if !errors.Is(err, context.Canceled) || err.Error() != want {
		t.Fatalf("gen -o: %v; want %q", err, want)
	}
	if data, err := os.ReadFile(out); string(data) != "an earlier roll\n" {
		t.Errorf("%s holds %.40q, %v; want the earlier roll kept", out, data, err)
	}
	if files, err := os.ReadDir(dir); len(files) != 1 {
		t.Errorf("the folder holds %v, %v; want %s alone", files, err, out)
	}
	stdout, err := interrupted("gen", "-n", "200000")
	if !errors.Is(err, context.Canceled) || !strings.HasSuffix(err.Error(), "; what went to stdout is an incomplete roll: discard it") {
		t.Fatalf("gen to stdout: %v; want it said the roll written is incomplete", err)
	}
	if lines := strings.Count(stdout, "\n"); lines != 1+1024 {
		t.Errorf("stdout got %d lines; want the header and the 1024 voters the error counts", lines)
	}
}

// TestLoadStopsWhenInterrupted: load interrupted while it reads the roll
// stops within a few thousand rows, saying so and naming the roll; it read
// on to the end.
func TestLoadStopsWhenInterrupted(t *testing.T) {
	dir := t.TempDir()
	csv, secret := filepath.Join(dir, "voters.csv"), filepath.Join(dir, "secret")
	if err := run(context.Background(), []string{"gen", "-n", "5000", "-o", csv}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret, []byte("00112233445566778899aabbccddeeff"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := interrupted("load", "-dry-run", "-csv", csv, "-secret-file", secret, "-election-id", "E1", "-contests", "C1")
	if want := "load " + csv + ": stopped after reading 1024 rows: context canceled"; !errors.Is(err, context.Canceled) || err.Error() != want {
		t.Fatalf("load: %v; want %q", err, want)
	}
}

// TestLoadSaysWhatIsWrongWithItsInput: roll, as a process, refuses an empty
// secret file and a roll CSV of other columns saying what is wrong with
// which file and what it must hold, under one "roll:" (status 1). They said
// "none given: set --secret-file", and "roll: roll: record on line 1: wrong
// number of fields".
func TestLoadSaysWhatIsWrongWithItsInput(t *testing.T) {
	dir := t.TempDir()
	empty, secret, wrong := filepath.Join(dir, "empty.json"), filepath.Join(dir, "secret"), filepath.Join(dir, "voters.csv")
	for path, data := range map[string]string{empty: "", secret: "00112233445566778899aabbccddeeff", wrong: "voter,credential\nV1,c1\n"} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ secret, want string }{
		{empty, "roll: election secret file " + empty + " is empty: it must hold the secret in hex, at least 16 bytes"},
		{secret, "roll: load " + wrong + ": line 1: want 3 fields, voter_id,credential,state (the first line may be that header), got 2"},
	} {
		code, out := clitest.Exec(t, "load", "-dry-run", "-secret-file", c.secret, "-election-id", "E1", "-contests", "C1", "-csv", wrong)
		said := slices.ContainsFunc(strings.Split(out, "\n"), func(line string) bool { return strings.HasPrefix(line, c.want) })
		if code != 1 || !said || strings.Contains(out, "roll: roll:") {
			t.Errorf("-secret-file %s: status %d, output:\n%s\nwant 1 and a line beginning %q", c.secret, code, out, c.want)
		}
	}
}

// TestLoadNamesTheLinesOfAVoterListedTwice: load refuses a voter under two
// states naming the file and both lines (it named the states alone).
func TestLoadNamesTheLinesOfAVoterListedTwice(t *testing.T) {
	dir := t.TempDir()
	secret, csv := filepath.Join(dir, "secret"), filepath.Join(dir, "voters.csv")
	for path, data := range map[string]string{secret: "00112233445566778899aabbccddeeff", csv: "voter_id,credential,state\nv1,c1,CA\nv2,c2,NY\nv1,c1,NY\n"} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	err := run(context.Background(), []string{"load", "-dry-run", "-secret-file", secret, "-election-id", "E1", "-contests", "C1", "-csv", csv}, io.Discard, io.Discard)
	want := "load " + csv + ": lines 2 and 4: one voter listed under states CA and NY"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("load: %v; want an error beginning %q", err, want)
	}
}

// TestRebuildBloomRefusesStatesThatAreNot: -states entries that are not
// state codes (lower case, empty) or are repeated are usage errors naming
// the flag, before anything is read or written; they made Redis keys for
// "ca" or "" and reported 0 nullifiers, status 0.
func TestRebuildBloomRefusesStatesThatAreNot(t *testing.T) {
	clitest.UsageErrors(t, runRoll, []string{"roll", "rebuild-bloom", "-nullifiers", "missing.csv", "-redis-addr", clitest.ReservedAddr(t)}, []clitest.UsageCase{
		{Args: []string{"-states", "ca"}, Want: `rebuild-bloom: state "ca" in -states is not a state code`},
		{Args: []string{"-states", "CA,,NY"}, Want: `rebuild-bloom: state "" in -states is not a state code`},
		{Args: []string{"-states", "CA,NY,CA"}, Want: "rebuild-bloom: state CA is listed twice in -states"},
	})
}

// electionOnLedger is a ledger holding election e, or failing with err.
type electionOnLedger struct {
	e   *ballot.Election
	err error
}

func (l electionOnLedger) Election(context.Context) (*ballot.Election, error) { return l.e, l.err }

// TestRebuildBloomTakesTheElectionsStates: read from the ledger, the states
// to rebuild must be the election's (a usage error naming -states), and a
// ledger without an election has nothing to rebuild from.
func TestRebuildBloomTakesTheElectionsStates(t *testing.T) {
	ctx := context.Background()
	ledger := electionOnLedger{e: &ballot.Election{ID: "E1", States: []string{"CA", "NY"}}}
	if err := statesOfElection(ctx, ledger, []string{"NY", "CA"}); err != nil {
		t.Errorf("the election's states: %v", err)
	}
	want := "rebuild-bloom: state TX in -states is not one of election E1's states (CA,NY)"
	if err := statesOfElection(ctx, ledger, []string{"CA", "TX"}); !errors.Is(err, cli.ErrUsage) || err.Error() != want {
		t.Errorf("a state of no election: %v; want the usage error %q", err, want)
	}
	err := statesOfElection(ctx, electionOnLedger{err: ballot.ErrNotFound}, []string{"CA"})
	if err == nil || errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "the ledger holds no election yet") {
		t.Errorf("no election on the ledger: %v; want an error saying so", err)
	}
}

// TestGenLogsThroughTheLogFlags: gen takes the shared --log-format and
// --log-level (it built its own text logger and refused them): its warning
// on removing a killed run's copy comes as JSON with --log-format json, not
// at all with --log-level error, and a format it does not know is a usage
// error.
func TestGenLogsThroughTheLogFlags(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "voters.csv")
	stale := filepath.Join(dir, ".voters.csv.31415.tmp")
	gen := func(flags ...string) string {
		t.Helper()
		if err := os.WriteFile(stale, []byte("V1,secret-credential,CA\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		if err := run(context.Background(), append([]string{"gen", "-n", "3", "-o", out}, flags...), io.Discard, &stderr); err != nil {
			t.Fatalf("gen %v: %v", flags, err)
		}
		return stderr.String()
	}
	var logged struct{ Level, Msg, File string }
	for _, line := range strings.Split(gen("--log-format", "json"), "\n") {
		if strings.HasPrefix(line, "{") {
			if err := json.Unmarshal([]byte(line), &logged); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
		}
	}
	if logged.Level != "WARN" || !strings.HasPrefix(logged.Msg, "removed a temporary copy of "+out) || logged.File != stale {
		t.Errorf("with --log-format json logged %+v; want the removal of %s at WARN", logged, stale)
	}
	if said := gen("--log-level", "error"); strings.Contains(said, "removed a temporary copy") {
		t.Errorf("with --log-level error it said:\n%s", said)
	}
	if err := run(context.Background(), []string{"gen", "-n", "3", "-o", out, "--log-format", "xml"}, io.Discard, io.Discard); !errors.Is(err, cli.ErrUsage) {
		t.Errorf("--log-format xml: %v; want a usage error", err)
	}
}
