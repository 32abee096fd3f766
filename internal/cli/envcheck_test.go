package cli_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/cli/clitest"
	"github.com/votechain/votechain/network"
)

// toolFlags is a command's flag set of every kind --help shows, the
// shared ones included, and its Usage's output.
func toolFlags(t *testing.T) (*flag.FlagSet, string) {
	t.Helper()
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	cli.RedisFlags(fs, "gateway")
	cli.LedgerFlags(fs, network.Gateway)
	cli.LogFlags(fs)
	cli.SecretFlag(fs)
	fs.Duration("ledger-lag", time.Second, "with --max-gap: while a transaction has been in flight this long\n(the ledger lags), skip ticks (negative: never)")
	fs.Duration("behind", -1, "negative: whenever the rate allows")
	fs.Duration("tick", 0, "the clock (default 200ms when lanes share)")
	fs.Int("batch-size", 1000, "most votes per batch")
	fs.Int("procs", 0, "threads; 0: Go's")
	fs.Float64("client-rate", 0.5, "requests per second")
	fs.Uint64("bloom-expected-voters", 0, "Bloom size")
	fs.Bool("intake-log", true, "keep the intake log")
	fs.Bool("v", false, "verbose")
	fs.Int("n", 3, "count")
	fs.String("listen", "127.0.0.1:0", "listen `address` (host:port)")
	fs.String("odd", `a "quoted" (x)`, "a default with quotes and brackets")
	fs.String("empty", "", "a `file`, empty: none")
	cli.Usage(fs, "TOOL", "tool does things.\n\nUsage:\n  -notaflag  a line of the synopsis that looks like one", "Notes:\n  -alsonot")()
	return fs, out.String()
}

// TestParseHelpReadsUsage: ParseHelp gives back every flag of Usage's
// output, in order, with the default the flag package holds for it (its
// zero value where --help shows none), and nothing of the synopsis or
// the notes.
func TestParseHelpReadsUsage(t *testing.T) {
	fs, help := toolFlags(t)
	got := cli.ParseHelp(help)
	var want []cli.HelpFlag
	fs.VisitAll(func(f *flag.Flag) { want = append(want, cli.HelpFlag{Name: f.Name, Default: f.DefValue}) })
	if len(got) != len(want) {
		t.Fatalf("ParseHelp gave %d flags, want %d:\n%+v\nfrom:\n%s", len(got), len(want), got, help)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Default != want[i].Default {
			t.Errorf("flag %d: %+v; want name %q default %q", i, got[i], want[i].Name, want[i].Default)
		}
	}
	types := map[string]string{}
	for _, f := range got {
		types[f.Name] = f.Type
	}
	for name, typ := range map[string]string{"ledger-lag": "duration", "batch-size": "int", "intake-log": "", "v": "", "listen": "address"} {
		if types[name] != typ {
			t.Errorf("--%s: type %q, want %q", name, types[name], typ)
		}
	}
}

// fakeCommand writes an executable that prints help on stderr and exits
// with status code, as a command's --help does.
func fakeCommand(t *testing.T, name, help string, code int) string {
	t.Helper()
	dir := t.TempDir()
	text := filepath.Join(dir, name+".help")
	if err := os.WriteFile(text, []byte(help), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, name)
	script := "#!/bin/sh\n[ \"$1\" = --help ] || exit 9\n/bin/cat '" + text + "' >&2\nexit " + strconv.Itoa(code) + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestCheckEnv: a variable that sets a flag overrides its default (a
// secret's value not shown, a repeated default said so); one named after
// no flag is unread and the nearest flag's variable suggested; one for a
// flag the command line gives is unread too; another command's prefix is
// its own.
func TestCheckEnv(t *testing.T) {
	_, help := toolFlags(t)
	other := flag.NewFlagSet("other", flag.ContinueOnError)
	var out bytes.Buffer
	other.SetOutput(&out)
	other.Int("page-size", 25, "rows")
	cli.Usage(other, "OTHER", "other.", "")()
	readers := []cli.EnvReader{
		{Name: "tool", Prefix: "TOOL", Bin: fakeCommand(t, "tool", help, 0), Args: []string{"--redis-addr", "127.0.0.1:1", "-log-format=json"}},
		{Name: "other", Prefix: "OTHER", Bin: fakeCommand(t, "other", out.String(), 0)},
	}
	clitest.CheckEnv(t, readers, map[string]string{
		"TOOL_LEDGER_LAG":      "-1s",
		"TOOL_LEDGR_LAG":       "-1s",
		"TOOL_REDIS_ADDR":      "10.0.0.1:1",
		"TOOL_LOG_FORMAT":      "text",
		"TOOL_SECRET_FILE":     "/s/e/c/r/e/t",
		"TOOL_BATCH_SIZE":      "1000",
		"TOOL_COMPLETELY_ELSE": "1",
		"OTHER_PAGE_SIZE":      "50",
		"OTHER_LEDGER_LAG":     "1s",
	}, []string{
		"OTHER_PAGE_SIZE=50: other --page-size (default 25)",
		"TOOL_BATCH_SIZE=1000: tool --batch-size (the default)",
		"TOOL_LEDGER_LAG=-1s: tool --ledger-lag (default 1s)",
		"TOOL_SECRET_FILE=(set): tool --secret-file (default empty)",
	}, []string{
		"OTHER_LEDGER_LAG: other has no such flag",
		"TOOL_COMPLETELY_ELSE: tool has no such flag",
		"TOOL_LEDGR_LAG: tool has no such flag (did you mean TOOL_LEDGER_LAG?)",
		"TOOL_LOG_FORMAT: tool is given --log-format on its command line, which wins",
		"TOOL_REDIS_ADDR: tool is given --redis-addr on its command line, which wins",
	})
}

// TestCommandFlagsFailures: a command whose --help fails, that lists no
// flag, or that is missing is an error naming it.
func TestCommandFlagsFailures(t *testing.T) {
	for name, bin := range map[string]string{
		"failing": fakeCommand(t, "failing", "boom\n", 1),
		"silent":  fakeCommand(t, "silent", "no flags here\n", 0),
		"missing": filepath.Join(t.TempDir(), "missing"),
	} {
		if _, err := cli.CommandFlags(context.Background(), bin); err == nil || !strings.Contains(err.Error(), bin) {
			t.Errorf("%s: %v; want an error naming %s", name, err, bin)
		}
	}
}
