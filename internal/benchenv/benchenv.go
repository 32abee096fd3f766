// Package benchenv holds what benchmarks and measurement tests share: the
// settings they take from the environment (a drive's votes, a rate, a
// duration), with one rule for all of them: an unset variable gives the
// default, and a value that does not parse or is out of range stops the
// benchmark saying what it wants, rather than running with a setting
// nobody asked for; the process's CPU time; a fixture file copied from a
// cache.
package benchenv

import (
	"os"
	"strconv"
	"time"
)

// TB is the part of testing.TB the readers use.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Int is the environment variable name as an integer of at least min, or
// def if it is unset.
func Int(tb TB, name string, def, min int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		tb.Fatalf("%s=%q: want a whole number ≥ %d", name, v, min)
	}
	return n
}

// Duration is the environment variable name as a positive duration (e.g.
// 40s), or def if it is unset.
func Duration(tb TB, name string, def time.Duration) time.Duration {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		tb.Fatalf("%s=%q: want a duration (e.g. 40s)", name, v)
	}
	return d
}
