package cli

import (
	"errors"
	"flag"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"testing"
)

// TestGCFlags: the defaults are the command's percent and no limit; the
// command's variables set both, and the help gives the measured reason.
func TestGCFlags(t *testing.T) {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	g := GCFlags(fs, 400, "measured so")
	if err := ParseFlags(fs, "TOOL", nil); err != nil || *g != (GC{Percent: 400}) {
		t.Fatalf("defaults: %+v, %v; want percent 400, no limit", *g, err)
	}
	if usage := fs.Lookup("gc-percent").Usage; !strings.Contains(usage, "(measured so)") {
		t.Errorf("--gc-percent's help %q does not give the reason", usage)
	}
	t.Setenv("TOOL_GC_PERCENT", "-1")
	t.Setenv("TOOL_MEMORY_LIMIT_MIB", "512")
	fs = flag.NewFlagSet("tool", flag.ContinueOnError)
	g = GCFlags(fs, 100, "")
	if err := ParseFlags(fs, "TOOL", nil); err != nil || *g != (GC{Percent: -1, MemoryLimitMiB: 512}) {
		t.Fatalf("from the environment: %+v, %v; want percent -1, 512 MiB", *g, err)
	}
	if usage := fs.Lookup("gc-percent").Usage; strings.Contains(usage, "()") {
		t.Errorf("--gc-percent's help %q has an empty reason", usage)
	}
}

// TestGCCheck: a negative or overflowing limit, a percent below -1, and -1
// without a limit are usage errors naming the flag; the rest pass.
func TestGCCheck(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	for _, g := range []GC{{100, 0}, {0, 0}, {400, 0}, {-1, 1}, {100, 512}, {100, maxMemoryLimitMiB}} {
		if err := g.Check(); err != nil {
			t.Errorf("%+v: %v", g, err)
		}
	}
	debug.SetMemoryLimit(2 << 30) // as GOMEMLIMIT=2GiB sets it
	if err := (&GC{-1, 0}).Check(); err != nil {
		t.Errorf("-1 under the runtime's limit of 2 GiB (GOMEMLIMIT): %v", err)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	for g, want := range map[GC]string{
		{100, -1}:                    "--memory-limit-mib -1",
		{100, maxMemoryLimitMiB + 1}: "--memory-limit-mib 8796093022208",
		{-2, 512}:                    "--gc-percent -2",
		{-1, 0}:                      "--gc-percent -1 turns the collector off: it needs a --memory-limit-mib (or GOMEMLIMIT)",
	} {
		if err := g.Check(); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v; want a usage error saying %q", g, err, want)
		}
	}
}

// TestGCApply: Apply sets the percent and a limit given, keeps the
// runtime's limit otherwise, and reports both, the limit rounded up to a
// MiB (0: none).
func TestGCApply(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	for _, c := range []struct {
		g       GC
		runtime int64 // the runtime's limit before Apply
		want    string
	}{
		{GC{150, 64}, math.MaxInt64, "gc=[percent=150 memory_limit_mib=64]"},
		{GC{100, 0}, math.MaxInt64, "gc=[percent=100 memory_limit_mib=0]"},
		{GC{100, 0}, 64<<20 + 1, "gc=[percent=100 memory_limit_mib=65]"},
		{GC{-1, 32}, 64 << 20, "gc=[percent=-1 memory_limit_mib=32]"},
	} {
		debug.SetMemoryLimit(c.runtime)
		if got := c.g.Apply(slog.New(slog.DiscardHandler)).String(); got != c.want {
			t.Errorf("%+v over a limit of %d: %s; want %s", c.g, c.runtime, got, c.want)
		}
		if got := debug.SetGCPercent(100); got != c.g.Percent {
			t.Errorf("%+v: percent %d after Apply", c.g, got)
		}
	}
}

// TestGCApplyWarnsOfGOGC: a GOGC in the environment is named in a warning,
// and the flag's percent applies.
func TestGCApplyWarnsOfGOGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	(&GC{Percent: 150}).Apply(log)
	if logs.Len() != 0 {
		t.Errorf("without GOGC: %s; want no line", logs.String())
	}
	t.Setenv("GOGC", "off")
	(&GC{Percent: 150}).Apply(log)
	if got := logs.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, "GOGC=off") || !strings.Contains(got, "gc_percent=150") {
		t.Errorf("with GOGC=off: %q; want a warning naming GOGC's value and the percent applied", got)
	}
	if got := debug.SetGCPercent(100); got != 150 {
		t.Errorf("percent %d after Apply under GOGC=off; want the flag's 150", got)
	}
}
