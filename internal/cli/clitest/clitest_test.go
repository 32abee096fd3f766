package clitest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/internal/cli"
)

// failures is a testing.TB that records what would fail or skip it,
// formatted as testing.T formats it (Error and Fatal like fmt.Sprintln,
// without its newline). Its Fatal, Fatalf, FailNow, Skip, Skipf and
// SkipNow record and end the goroutine, as testing.T's do: run calls the
// check under test on a goroutine of its own for that. None of them
// reaches the embedded TB (the real test), whose FailNow and SkipNow must
// not be called from such a goroutine.
type failures struct {
	testing.TB
	said []string
}

// sprintln formats args as testing.T's Error, Fatal and Skip do: with
// spaces between operands, without the final newline.
func sprintln(args ...any) string { return strings.TrimSuffix(fmt.Sprintln(args...), "\n") }

func (f *failures) Error(args ...any) { f.said = append(f.said, sprintln(args...)) }

func (f *failures) Errorf(format string, args ...any) {
	f.said = append(f.said, fmt.Sprintf(format, args...))
}

func (f *failures) Fatal(args ...any) { f.stop(sprintln(args...)) }

func (f *failures) Fatalf(format string, args ...any) { f.stop(fmt.Sprintf(format, args...)) }

func (f *failures) FailNow() { f.stop("FailNow") }

func (f *failures) Skip(args ...any) { f.stop(sprintln(args...)) }

func (f *failures) Skipf(format string, args ...any) { f.stop(fmt.Sprintf(format, args...)) }

func (f *failures) SkipNow() { f.stop("SkipNow") }

// stop records said and ends the goroutine, as testing.T's FailNow and
// SkipNow do.
func (f *failures) stop(said string) {
	f.said = append(f.said, said)
	runtime.Goexit()
}

// run calls check with f on a goroutine of its own and waits for it to
// return or end at a Fatal.
func (f *failures) run(check func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(f)
	}()
	<-done
}

// TestFailuresRecordEveryFailure: each failing or skipping method of the
// fake TB is recorded, formatted as testing.T formats it, and Fatal,
// Fatalf, FailNow, Skip, Skipf and SkipNow end the check's goroutine there,
// without failing or skipping the real test (one it did not override
// reached the real t from a goroutine not the test's).
func TestFailuresRecordEveryFailure(t *testing.T) {
	for _, c := range []struct {
		name string
		fail func(testing.TB)
		want []string
	}{
		{"Error", func(tb testing.TB) { tb.Error("a", 1) }, []string{"a 1", "after"}},
		{"Errorf", func(tb testing.TB) { tb.Errorf("b%d", 2) }, []string{"b2", "after"}},
		{"Fatal", func(tb testing.TB) { tb.Fatal("c", 3) }, []string{"c 3"}},
		{"Fatalf", func(tb testing.TB) { tb.Fatalf("d%d", 4) }, []string{"d4"}},
		{"FailNow", func(tb testing.TB) { tb.FailNow() }, []string{"FailNow"}},
		{"Skip", func(tb testing.TB) { tb.Skip("e", 5) }, []string{"e 5"}},
		{"Skipf", func(tb testing.TB) { tb.Skipf("f%d", 6) }, []string{"f6"}},
		{"SkipNow", func(tb testing.TB) { tb.SkipNow() }, []string{"SkipNow"}},
	} {
		f := &failures{TB: t}
		f.run(func(tb testing.TB) {
			c.fail(tb)
			tb.Errorf("after")
		})
		if !slices.Equal(f.said, c.want) {
			t.Errorf("%s recorded %q, want %q", c.name, f.said, c.want)
		}
	}
}

// TestCheckEnvStopsWhenTheFlagsCannotBeRead: a reader whose program
// cannot be run fails the check with that error alone: CheckEnv stops
// there, as t.Fatal does, instead of going on to compare the overrides
// and unread variables of a check that never ran.
func TestCheckEnvStopsWhenTheFlagsCannotBeRead(t *testing.T) {
	f := &failures{TB: t}
	f.run(func(tb testing.TB) {
		CheckEnv(tb, []cli.EnvReader{{Name: "tool", Prefix: "TOOL", Bin: filepath.Join(t.TempDir(), "missing")}}, map[string]string{"TOOL_PAGE_SIZE": "50"},
			[]string{"TOOL_PAGE_SIZE=50: tool --page-size (default 25)"}, nil)
	})
	if len(f.said) != 1 || !strings.Contains(f.said[0], "the flags of tool") {
		t.Errorf("CheckEnv of a program that cannot run said %q; want only that its flags could not be read", f.said)
	}
}

// TestCheckEnvIgnoresTheCallersVariables: a variable under a reader's
// prefix that the caller's environment exports (a developer's
// TOOL_LOG_LEVEL, a stray TOOL_NO_SUCH) and the test does not give is
// cleared before the check, so it is neither an override nor unread; a
// variable of another prefix is left alone, and the caller's come back
// after the test.
func TestCheckEnvIgnoresTheCallersVariables(t *testing.T) {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	var help bytes.Buffer
	fs.SetOutput(&help)
	fs.Int("page-size", 25, "rows")
	fs.String("log-level", "info", "level")
	cli.Usage(fs, "TOOL", "tool.", "")()
	dir := t.TempDir()
	text, bin := filepath.Join(dir, "tool.help"), filepath.Join(dir, "tool")
	if err := os.WriteFile(text, help.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n/bin/cat '"+text+"' >&2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TOOL_LOG_LEVEL", "debug") // as the caller's shell exports them
	t.Setenv("TOOL_NO_SUCH", "1")
	t.Setenv("OTHERTOOL_LOG_LEVEL", "debug")
	t.Run("check", func(t *testing.T) {
		f := &failures{TB: t}
		f.run(func(tb testing.TB) {
			CheckEnv(tb, []cli.EnvReader{{Name: "tool", Prefix: "TOOL", Bin: bin}}, map[string]string{"TOOL_PAGE_SIZE": "50"},
				[]string{"TOOL_PAGE_SIZE=50: tool --page-size (default 25)"}, nil)
		})
		if len(f.said) > 0 {
			t.Errorf("CheckEnv with TOOL_LOG_LEVEL and TOOL_NO_SUCH exported by the caller failed: %q", f.said)
		}
		if v, ok := os.LookupEnv("OTHERTOOL_LOG_LEVEL"); v != "debug" || !ok {
			t.Errorf("CheckEnv of TOOL cleared OTHERTOOL_LOG_LEVEL: %q, %t", v, ok)
		}
	})
	if v := os.Getenv("TOOL_LOG_LEVEL"); v != "debug" {
		t.Errorf("after the check TOOL_LOG_LEVEL is %q; want the caller's debug back", v)
	}
}

// TestRunStderr: RunStderr gives the body the command line and returns
// what it wrote to os.Stderr with its error, then puts os.Args and
// os.Stderr back.
func TestRunStderr(t *testing.T) {
	args, stderr := os.Args, os.Stderr
	failed := errors.New("failed")
	said, err := RunStderr(t, func(context.Context) error {
		fmt.Fprintf(os.Stderr, "usage of %s: %q\n", os.Args[0], os.Args[1:])
		return failed
	}, "tool", "--help")
	if want := "usage of tool: [\"--help\"]\n"; said != want || err != failed {
		t.Errorf("RunStderr: %q, %v; want %q, %v", said, err, want, failed)
	}
	if !slices.Equal(os.Args, args) || os.Stderr != stderr {
		t.Errorf("after RunStderr os.Args is %q and os.Stderr %v; want %q and %v back", os.Args, os.Stderr, args, stderr)
	}
}
