package cli

import (
	"flag"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
)

// GC is a daemon's Go collector settings: --gc-percent (as GOGC) and
// --memory-limit-mib (as GOMEMLIMIT). Registering them (GCFlags) only
// reads them; Apply, called once from the command's main, sets them for
// the whole process.
type GC struct {
	// Percent is the collector's target: the heap may grow to 1+Percent/100
	// times the live data between collections; -1 turns the collector off
	// until the heap nears the memory limit, which it then needs (Check).
	Percent int
	// MemoryLimitMiB is the soft limit of the Go runtime's memory in MiB;
	// 0: none set here (the runtime keeps GOMEMLIMIT's, if any).
	MemoryLimitMiB int64
}

// maxMemoryLimitMiB is the largest --memory-limit-mib whose bytes fit the
// runtime's int64.
const maxMemoryLimitMiB = math.MaxInt64 >> 20

// GCFlags registers --gc-percent, default percent (the command's own: Go's
// is 100), and --memory-limit-mib, default 0 (no limit), on fs. why, if
// not empty, is the measured reason for a default other than Go's, added
// to --gc-percent's help. The flag replaces GOGC: a GOGC in the process's
// environment does not apply (the command's own variable, PREFIX_GC_PERCENT,
// does); GOMEMLIMIT still applies while --memory-limit-mib is 0.
func GCFlags(fs *flag.FlagSet, percent int, why string) *GC {
	g := &GC{}
	if why != "" {
		why = " (" + why + ")"
	}
	fs.IntVar(&g.Percent, "gc-percent", percent, "Go collector's target (as GOGC, which it replaces): the heap may grow to 1+N/100 times the live data between collections; more spends less CPU on collection"+why+", less keeps less memory; -1: no collection until the Go runtime's memory nears its limit (--memory-limit-mib, or GOMEMLIMIT), which -1 requires")
	fs.Int64Var(&g.MemoryLimitMiB, "memory-limit-mib", 0, "soft limit in MiB of the memory the Go runtime manages (as GOMEMLIMIT; not memory allocated outside it, such as the explorer's SQLite caches, or memory-mapped files): near it the collector runs more often whatever --gc-percent says, so a large --gc-percent cannot take the Go heap past it; 0: no limit (the GOMEMLIMIT environment variable still applies)")
	return g
}

// Check refuses, as a usage error naming the flag, a negative
// --memory-limit-mib or one too large to count in bytes, a --gc-percent
// below -1, and -1 (the collector off) with no memory limit, neither
// --memory-limit-mib nor the runtime's own (GOMEMLIMIT): the heap would
// grow without bound.
func (g *GC) Check() error {
	switch {
	case g.MemoryLimitMiB < 0 || g.MemoryLimitMiB > maxMemoryLimitMiB:
		return Usagef("--memory-limit-mib %d: want 0 (no limit) or a size in MiB up to %d", g.MemoryLimitMiB, int64(maxMemoryLimitMiB))
	case g.Percent < -1:
		return Usagef("--gc-percent %d: want 0 or more, or -1 (no collection until the memory limit) with --memory-limit-mib", g.Percent)
	case g.Percent == -1 && g.MemoryLimitMiB == 0 && debug.SetMemoryLimit(-1) == math.MaxInt64:
		return Usagef("--gc-percent -1 turns the collector off: it needs a --memory-limit-mib (or GOMEMLIMIT), near which the collector runs, or the heap grows without bound")
	}
	return nil
}

// Apply sets the process's collector to the settings Check passed:
// debug.SetGCPercent(Percent), and debug.SetMemoryLimit when
// MemoryLimitMiB is set (else the runtime keeps its own limit: GOMEMLIMIT's,
// or none). Only a command's main calls it: the settings are the whole
// process's. It returns the settings in effect, for the command's start-up
// log line: the group gc, with percent and memory_limit_mib (the runtime's
// limit, rounded up to a MiB; 0: none). A GOGC in the environment, which
// --gc-percent replaces, is logged on log as a warning: it was not read.
func (g *GC) Apply(log *slog.Logger) slog.Attr {
	if v, ok := os.LookupEnv("GOGC"); ok {
		log.Warn("GOGC in the environment is not read: --gc-percent sets the collector's target", "GOGC", v, "gc_percent", g.Percent)
	}
	debug.SetGCPercent(g.Percent)
	if g.MemoryLimitMiB > 0 {
		debug.SetMemoryLimit(g.MemoryLimitMiB << 20)
	}
	limit := debug.SetMemoryLimit(-1) // a negative limit reads it
	var mib int64
	if limit != math.MaxInt64 { // the runtime's "no limit"
		mib = limit>>20 + min(limit&(1<<20-1), 1)
	}
	return slog.Group("gc", "percent", g.Percent, "memory_limit_mib", mib)
}
