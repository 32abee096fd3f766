package main

import (
	"os"
	"strings"
	"testing"
)

// TestSettingsThatCannotMakeARunAreRefused: each is refused before any
// request, naming the flag (the URL points nowhere: a setting that got past
// the checks would fail on fetching the election instead).
func TestSettingsThatCannotMakeARunAreRefused(t *testing.T) {
	defer func(args []string) { os.Args = args }(os.Args)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "rampp"}, `--mode "rampp": want constant, ramp or surge`},
		{[]string{"--rate", "0"}, "--rate is 0: it must be above zero"},
		{[]string{"--rate", "-5"}, "--rate is -5"},
		{[]string{"--mode", "ramp", "--ramp-by", "0"}, "--ramp-by is 0"},
		{[]string{"--ramp-from", "5000", "--ramp-to", "1000"}, "--ramp-to 1000 is below --ramp-from 5000"},
		{[]string{"--duration", "0s"}, "--duration is 0s: it must be at least 1ms"},
		{[]string{"--ramp-step", "-1s"}, "--ramp-step is -1s"},
		{[]string{"--max-workers", "0"}, "--max-workers is 0"},
		{nil, "127.0.0.1:1"}, // the checks pass: the election's fetch fails
	} {
		os.Args = append([]string{"loadgen", "--url", "http://127.0.0.1:1", "--ids", t.TempDir() + "/ids"}, c.args...)
		if err := run(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v; want an error containing %q", c.args, err, c.want)
		}
	}
}
