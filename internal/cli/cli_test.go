package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestFlagsWinOverEnvironmentOverDefaults(t *testing.T) {
	t.Setenv("TOOL_REDIS_ADDR", "10.0.0.1:1")
	t.Setenv("TOOL_PORT_BASE", "31000")
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	addr := fs.String("redis-addr", "127.0.0.1:6379", "")
	base := fs.Int("port-base", 27000, "")
	wipe := fs.Bool("wipe", false, "")
	name := fs.String("name", "def", "")
	cmd, rest, err := Parse(fs, "TOOL", []string{"-port-base", "1", "down", "--wipe", "extra"})
	if err != nil {
		t.Fatal(err)
	}
	if cmd != "down" || len(rest) != 1 || rest[0] != "extra" {
		t.Fatalf("command %q rest %v", cmd, rest)
	}
	if *base != 1 || *addr != "10.0.0.1:1" || !*wipe || *name != "def" {
		t.Fatalf("base %d addr %s wipe %v name %s", *base, *addr, *wipe, *name)
	}
}

// TestCommandLineOnlyFlagRefusesItsVariable: a CommandLineOnly flag is set
// by the command line alone; its variable, set, is a usage error naming
// it whatever its value, the other flags still read theirs, and the help
// marks the flag.
func TestCommandLineOnlyFlagRefusesItsVariable(t *testing.T) {
	newFlags := func() (*flag.FlagSet, *bool, *int) {
		fs := flag.NewFlagSet("tool", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		wipe := fs.Bool("wipe", false, "delete all data")
		base := fs.Int("port-base", 27000, "")
		CommandLineOnly(fs, "wipe")
		return fs, wipe, base
	}
	t.Setenv("TOOL_PORT_BASE", "31000")
	fs, wipe, base := newFlags()
	if _, _, err := Parse(fs, "TOOL", []string{"down", "--wipe"}); err != nil || !*wipe || *base != 31000 {
		t.Fatalf("--wipe on the command line: err %v, wipe %v, port base %d; want nil, true, 31000", err, *wipe, *base)
	}
	for _, v := range []string{"1", "false", ""} {
		t.Setenv("TOOL_WIPE", v)
		fs, wipe, _ := newFlags()
		_, _, err := Parse(fs, "TOOL", []string{"down"})
		if !errors.Is(err, ErrUsage) || *wipe {
			t.Fatalf("$TOOL_WIPE=%q: err %v, wipe %v; want a usage error and no wipe", v, err, *wipe)
		}
		for _, want := range []string{"$TOOL_WIPE is set", "--wipe is taken from the command line only", "unset the variable"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("$TOOL_WIPE=%q: error %q lacks %q", v, err, want)
			}
		}
	}
	fs, _, _ = newFlags()
	CommandLineOnly(fs, "wipe") // twice: one note
	var out bytes.Buffer
	fs.SetOutput(&out)
	Usage(fs, "TOOL", "tool does things.", "")()
	if n := strings.Count(out.String(), "command line only"); n != 1 {
		t.Errorf("help marks --wipe %d times; want once:\n%s", n, out.String())
	}
}

// TestParseCommand: the command word must be one of the commands and
// stand alone (words after it were ignored), and a flag whose usage says
// "with WORD:" (written by hand or by OnlyWith) goes with that command only
// when the command line gives it (it was ignored by the others); the
// environment may set it for every command, and flags still come before or
// after the word.
func TestParseCommand(t *testing.T) {
	t.Setenv("TOOL_JSON", "true") // set for every command: not a mistake
	newFlags := func() (*flag.FlagSet, *bool) {
		fs := flag.NewFlagSet("tool", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		wipe := fs.Bool("wipe", false, "with down: delete all data")
		fs.Bool("json", false, "with status: print JSON")
		fs.Bool("v", false, "with --json: indent (not a command)")
		fs.String("dir", ".run", "run folder (bundles: another)")
		fs.Int("voters", 10, "roll size")
		OnlyWith(fs, "up", "voters")
		return fs, wipe
	}
	if fs, _ := newFlags(); fs.Lookup("voters").Usage != "with up: roll size" {
		t.Errorf("OnlyWith made the usage %q; want it to begin with: up", fs.Lookup("voters").Usage)
	}
	commands := []string{"up", "down", "status"}
	for _, c := range []struct {
		args []string
		cmd  string // the command word, when no error
		want string // the usage error, or "" for none
	}{
		{[]string{"--dir", "x", "down", "--wipe", "-v"}, "down", ""},
		{[]string{"--wipe", "down"}, "down", ""},
		{[]string{"up"}, "up", ""}, // $TOOL_JSON applies to status alone, silently
		{[]string{"up", "--voters", "3"}, "up", ""},
		{[]string{"--voters", "3", "down"}, "", "--voters goes with up, not with down"},
		{nil, "", "no command given"},
		{[]string{"--wipe"}, "", "no command given"},
		{[]string{"bogus"}, "", `unknown command "bogus"`},
		{[]string{"up", "down"}, "", `up takes no arguments, but was given ["down"]`},
		{[]string{"status", "extra", "--json"}, "", `status takes no arguments, but was given ["extra" "--json"]`},
		{[]string{"--wipe", "status"}, "", "--wipe goes with down, not with status"},
		{[]string{"up", "--json", "--wipe"}, "", "--json goes with status, not with up\n--wipe goes with down, not with up"},
	} {
		fs, wipe := newFlags()
		cmd, err := ParseCommand(fs, "TOOL", c.args, commands...)
		if c.want == "" {
			if err != nil || cmd != c.cmd || !*wipe && cmd == "down" {
				t.Errorf("%q: command %q, wipe %v, %v; want %s, wiping, no error", c.args, cmd, *wipe, err, c.cmd)
			}
			continue
		}
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v; want a usage error containing %q", c.args, err, c.want)
		}
	}
}

// TestParseCommandEnvironment: a command-only flag's variable is read for
// its command alone: up takes $TOOL_VOTERS (and is refused a bad one,
// named); down neither takes it nor is stopped by a bad one.
func TestParseCommandEnvironment(t *testing.T) {
	parse := func(cmd string) (int, error) {
		fs := flag.NewFlagSet("tool", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		voters := fs.Int("voters", 10, "roll size")
		OnlyWith(fs, "up", "voters")
		_, err := ParseCommand(fs, "TOOL", []string{cmd}, "up", "down")
		return *voters, err
	}
	t.Setenv("TOOL_VOTERS", "7")
	if v, err := parse("up"); err != nil || v != 7 {
		t.Errorf("up with $TOOL_VOTERS=7: voters %d, %v; want 7", v, err)
	}
	if v, err := parse("down"); err != nil || v != 10 {
		t.Errorf("down with $TOOL_VOTERS=7: voters %d, %v; want the default 10, the variable not read", v, err)
	}
	t.Setenv("TOOL_VOTERS", "lots")
	if _, err := parse("up"); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "$TOOL_VOTERS") {
		t.Errorf("up with $TOOL_VOTERS=lots: %v; want a usage error naming the variable", err)
	}
	if _, err := parse("down"); err != nil {
		t.Errorf("down with $TOOL_VOTERS=lots: %v; want no error (up's variable)", err)
	}
}

func TestBadEnvironmentValueIsNamed(t *testing.T) {
	t.Setenv("TOOL_PORT_BASE", "lots")
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.Int("port-base", 27000, "")
	if _, _, err := Parse(fs, "TOOL", nil); err == nil || !strings.Contains(err.Error(), "$TOOL_PORT_BASE") {
		t.Fatalf("error %v; want it to name the variable", err)
	}
}

func TestBadEnvironmentDurationSaysTheForm(t *testing.T) {
	t.Setenv("TOOL_LEDGER_LAG", "-1")
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.Duration("ledger-lag", time.Second, "")
	err := ParseFlags(fs, "TOOL", nil)
	if !errors.Is(err, ErrUsage) {
		t.Fatalf("error %v; want a usage error", err)
	}
	for _, want := range []string{`$TOOL_LEDGER_LAG="-1": not a valid --ledger-lag: ` + durationForm} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestBadDurationFlagSaysTheForm: a duration flag's value that is not a
// duration is a usage error (status 2) saying the form one takes, both in
// the line the flag package prints above the usage and in the error, for
// every way a command parses; the usage still names the flag's type, and
// the flag keeps its own Value (DurationsAtLeast still reads it).
func TestBadDurationFlagSaysTheForm(t *testing.T) {
	const want = `invalid value "5x" for flag -deadline: want a duration such as 90s, 5m or 1h30m`
	parsers := map[string]func(*flag.FlagSet, []string) error{
		"Parse":      func(fs *flag.FlagSet, args []string) error { _, _, err := Parse(fs, "TOOL", args); return err },
		"ParseFlags": func(fs *flag.FlagSet, args []string) error { return ParseFlags(fs, "TOOL", args) },
		"ParseArgs":  func(fs *flag.FlagSet, args []string) error { return ParseArgs(fs, "", args) },
	}
	for name, parse := range parsers {
		for _, withUsage := range []bool{true, false} {
			fs := flag.NewFlagSet("tool", flag.ContinueOnError)
			var out bytes.Buffer
			fs.SetOutput(&out)
			fs.Duration("deadline", time.Minute, "how long")
			if withUsage {
				fs.Usage = Usage(fs, "TOOL", "tool does things.", "")
			}
			err := parse(fs, []string{"--deadline", "5x"})
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), want) || exitCode(io.Discard, "tool", err, nil) != 2 {
				t.Errorf("%s (usage %t): %v; want a usage error (status 2) containing %q", name, withUsage, err, want)
			}
			if printed := out.String(); !strings.Contains(printed, want) || !strings.Contains(printed, "-deadline duration") || strings.Contains(printed, "panic") {
				t.Errorf("%s (usage %t) printed:\n%s\nwant %q and the usage naming -deadline a duration", name, withUsage, printed, want)
			}
			if err := DurationsAtLeast(fs, 2*time.Minute, "deadline"); err == nil {
				t.Errorf("%s (usage %t): the flag lost its own Value", name, withUsage)
			}
		}
	}
}

func TestUsageExplainsTheEnvironment(t *testing.T) {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	fs.String("listen", ":80", "listen address")
	Usage(fs, "TOOL", "tool does things.", "More text.")()
	for _, want := range []string{"tool does things.", "TOOL_LISTEN", "-listen", "More text."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParseFlagsAndExitCodes(t *testing.T) {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Int("n", 1, "")
	for _, args := range [][]string{{"-n", "x"}, {"-nope"}, {"extra"}} {
		err := ParseFlags(fs, "TOOL", args)
		if !errors.Is(err, ErrUsage) || exitCode(io.Discard, "tool", err, nil) != 2 {
			t.Errorf("ParseFlags(%q) = %v; want a usage error (exit 2)", args, err)
		}
	}
	if err := ParseFlags(fs, "TOOL", []string{"-help"}); !errors.Is(err, flag.ErrHelp) || exitCode(io.Discard, "tool", err, nil) != 0 {
		t.Errorf("--help: %v", err)
	}
	var out bytes.Buffer
	if code := exitCode(&out, "tool", errors.New("peer down"), nil); code != 1 || out.String() != "tool: peer down\n" {
		t.Errorf("failure: exit %d, %q", code, out.String())
	}
	if exitCode(io.Discard, "tool", nil, nil) != 0 {
		t.Error("success does not exit 0")
	}
	out.Reset()
	if code := exitCode(&out, "tool", fmt.Errorf("the run ended early: %w", ownStatus{130}), nil); code != 130 || out.String() != "tool: the run ended early: status 130\n" {
		t.Errorf("an error with its own status: exit %d, %q; want 130, printed", code, out.String())
	}
}

// TestSignalContextNamesTheSignal: Main's context, on a real SIGINT or
// SIGTERM sent to this process, ends with an Interrupted naming the signal
// as its cause, whose status is the shell's (130, 143); stop ends the
// context without a cause.
func TestSignalContextNamesTheSignal(t *testing.T) {
	caught := make(chan os.Signal, 8) // so that no signal sent here, however late, stops the tests
	signal.Notify(caught, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(caught)
	for _, c := range []struct {
		sig  syscall.Signal
		text string
		code int
	}{{syscall.SIGINT, "interrupted by SIGINT", 130}, {syscall.SIGTERM, "interrupted by SIGTERM", 143}} {
		ctx, stop := signalContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		if err := syscall.Kill(os.Getpid(), c.sig); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("%v sent, the context not ended", c.sig)
		}
		var got Interrupted
		if cause := context.Cause(ctx); !errors.As(cause, &got) || got.Signal != c.sig || cause.Error() != c.text || got.ExitStatus() != c.code {
			t.Errorf("%v: cause %v; want an Interrupted %q with status %d", c.sig, cause, c.text, c.code)
		}
		stop()
	}
	ctx, stop := signalContext(context.Background(), os.Interrupt)
	stop()
	if cause := context.Cause(ctx); !errors.Is(cause, context.Canceled) || errors.As(cause, new(Interrupted)) {
		t.Errorf("stopped without a signal: cause %v; want context.Canceled", cause)
	}
}

// TestExitCodeAfterASignal: once a signal has ended Main's context, a
// command that ends with the cancellation (an error wrapping
// context.Canceled, or the Interrupted itself) exits 128 + the signal's
// number, printed; one that ends with nil (a server's orderly stop) exits
// 0; an error's own status and a usage error keep theirs, and a failure of
// its own exits 1. Without a signal (a context cancelled otherwise) an
// error exits 1.
func TestExitCodeAfterASignal(t *testing.T) {
	term := Interrupted{syscall.SIGTERM}
	for _, c := range []struct {
		name  string
		err   error
		cause error
		code  int
	}{
		{"an error after SIGTERM", fmt.Errorf("gen: %w", context.Canceled), term, 143},
		{"an error after SIGINT", context.Canceled, Interrupted{syscall.SIGINT}, 130},
		{"an orderly stop after SIGTERM", nil, term, 0},
		{"an error with its own status after SIGTERM", ownStatus{3}, term, 3},
		{"a usage error after SIGTERM", Usagef("--n: bad"), term, 2},
		{"an error, the context cancelled without a signal", context.Canceled, context.Canceled, 1},
		{"a failure of its own after SIGTERM", errors.New("write roll: no space left on device"), term, 1},
		{"an error wrapping the signal", fmt.Errorf("run: %w", term), term, 143},
		{"a ledger call cut short after SIGINT", fmt.Errorf("load roll: %w", status.Error(codes.Canceled, "context canceled")), Interrupted{syscall.SIGINT}, 130},
		{"a ledger call failing otherwise after SIGTERM", status.Error(codes.Unavailable, "connection refused"), term, 1},
	} {
		var out bytes.Buffer
		if code := exitCode(&out, "tool", c.err, c.cause); code != c.code || (c.err != nil) != strings.HasPrefix(out.String(), "tool: ") {
			t.Errorf("%s: exit %d, printed %q; want %d, the error printed", c.name, code, out.String(), c.code)
		}
	}
}

// ownStatus is an error with its own exit status (exitStatuser).
type ownStatus struct{ code int }

func (s ownStatus) Error() string   { return fmt.Sprintf("status %d", s.code) }
func (s ownStatus) ExitStatus() int { return s.code }

// A server's failure, once LogFailure has logged it, is its log's last
// (JSON) line and not printed again as plain text; it still exits 1. A
// usage error is left to Main's plain-text line.
func TestLogFailureLogsOnceAsJSON(t *testing.T) {
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	fail := func(cause error) (err error) {
		defer LogFailure(log, &err)
		return cause
	}
	err := fail(fmt.Errorf("dial peer: %w", context.DeadlineExceeded))
	var out bytes.Buffer
	if code := exitCode(&out, "gateway", err, nil); code != 1 || out.Len() != 0 {
		t.Errorf("logged failure: exit %d, printed %q; want 1 and nothing", code, out.String())
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the logged error %v no longer wraps its cause", err)
	}
	var line struct{ Level, Msg, Error string }
	if err := json.Unmarshal(logged.Bytes(), &line); err != nil || line.Level != "ERROR" || line.Error != "dial peer: context deadline exceeded" {
		t.Errorf("log %q (%v); want one JSON error line naming the failure", logged.String(), err)
	}

	logged.Reset()
	out.Reset()
	err = fail(Usagef("--port: want a number"))
	if code := exitCode(&out, "gateway", err, nil); code != 2 || out.String() != "gateway: --port: want a number\n" || logged.Len() != 0 {
		t.Errorf("usage error: exit %d, printed %q, logged %q; want 2, printed, not logged", code, out.String(), logged.String())
	}
	if err := fail(nil); err != nil || logged.Len() != 0 {
		t.Errorf("success: %v, logged %q", err, logged.String())
	}
}

// TestEnvSettings: the variables under the prefixes, sorted, each with its
// value unless its name says it holds a secret; none of another prefix,
// nor of one that only starts with the prefix's letters.
func TestEnvSettings(t *testing.T) {
	for k, v := range map[string]string{
		"BATCHER_LEDGER_LAG":            "-1",
		"GATEWAY_REDIS_PASSWORD_FILE":   "/tmp/pw",
		"GATEWAY_LOG_KEY":               "k.pem",
		"EXPLORER_API_TOKEN":            "t0k",
		"BATCHER_ELECTION_SECRET":       "beef",
		"GATEWAY_ELECTION_MAX_AGE":      "10s",
		"VCNET_PORT_BASE":               "27000",
		"BATCHERS":                      "2",
		"batcher_key_lowercase_ignored": "x",
	} {
		t.Setenv(k, v)
	}
	got := EnvSettings("BATCHER", "GATEWAY", "EXPLORER")
	want := []string{
		"BATCHER_ELECTION_SECRET=(set)",
		"BATCHER_LEDGER_LAG=-1",
		"EXPLORER_API_TOKEN=(set)",
		"GATEWAY_ELECTION_MAX_AGE=10s",
		"GATEWAY_LOG_KEY=(set)",
		"GATEWAY_REDIS_PASSWORD_FILE=(set)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("EnvSettings = %q;\nwant %q", got, want)
	}
	for _, kv := range got {
		for _, secret := range []string{"beef", "t0k", "k.pem", "/tmp/pw"} {
			if strings.Contains(kv, secret) {
				t.Errorf("%s shows the value %q", kv, secret)
			}
		}
	}
}
