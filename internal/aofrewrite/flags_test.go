package aofrewrite_test

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/votechain/votechain/internal/aofrewrite"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/redisserver"
)

// TestFlagsOutOfRange: Check, and Start with it, refuse --aof-quiet-window
// and --aof-poll of 0 or less, a negative --aof-growth-percent, and an
// --aof-retry-wait below 0 or above --aof-retry-max, as usage errors naming
// each flag, its value and its bound (the shared checks of internal/cli,
// every one at once), Start before it reads the password file or starts
// anything; the defaults pass, and the flags' help states the bounds.
func TestFlagsOutOfRange(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for args, says := range map[string]string{
		"":                                     "",
		"--aof-quiet-window 0s":                "--aof-quiet-window is 0s: it must be more than 0",
		"--aof-poll -1s":                       "--aof-poll is -1s: it must be more than 0",
		"--aof-growth-percent -1":              "--aof-growth-percent is -1: want at least 0",
		"--aof-quiet-window -1m --aof-poll 0s": "--aof-quiet-window is -1m0s: it must be more than 0\n--aof-poll is 0s: it must be more than 0",
		"--aof-retry-wait 2h":                  "--aof-retry-wait 2h0m0s and --aof-retry-max 1h0m0s: want 0 <= wait <= max",
		"--aof-poll 0s --aof-retry-wait -1s":   "--aof-poll is 0s: it must be more than 0\n--aof-retry-wait -1s and --aof-retry-max 1h0m0s: want 0 <= wait <= max",
	} {
		fs := flag.NewFlagSet("batcher", flag.ContinueOnError)
		f := aofrewrite.RegisterFlags(fs)
		if err := fs.Parse(append(strings.Fields(args), "--aof-rewrite=false")); err != nil {
			t.Fatal(err)
		}
		for call, err := range map[string]error{"Check": f.Check(), "Start": f.Start(context.Background(), redisserver.Endpoint{}, quiet, nil)} {
			switch {
			case says == "" && err != nil:
				t.Errorf("%s %q: %v; want it accepted", call, args, err)
			case says != "" && (!errors.Is(err, cli.ErrUsage) || err.Error() != says):
				t.Errorf("%s %q: %v; want a usage error saying\n%s", call, args, err, says)
			}
		}
	}
	fs := flag.NewFlagSet("batcher", flag.ContinueOnError)
	aofrewrite.RegisterFlags(fs)
	for name, bound := range map[string]string{"aof-quiet-window": "more than 0", "aof-poll": "more than 0", "aof-growth-percent": "at least 0"} {
		if usage := fs.Lookup(name).Usage; !strings.HasSuffix(usage, ", "+bound) {
			t.Errorf("--%s's help %q does not end with its bound, %q", name, usage, bound)
		}
	}
}
