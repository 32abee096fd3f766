package clitest

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/votechain/votechain/internal/cli"
)

// failures is a testing.TB that records what would fail it. Its Fatal
// records and ends the goroutine, as testing.T's does: run calls the
// check under test on a goroutine of its own for that.
type failures struct {
	testing.TB
	said []string
}

func (f *failures) Errorf(format string, args ...any) {
	f.said = append(f.said, fmt.Sprintf(format, args...))
}

func (f *failures) Fatal(args ...any) {
	f.said = append(f.said, fmt.Sprint(args...))
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
