package stack

import (
	"context"
	"flag"
	"path/filepath"
	"slices"
	"testing"

	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/cli/clitest"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestEnvReadersAgainstTheCommands: the commands the stack starts, built
// from this checkout, are the three EnvPrefixes names; their --help gives
// the flags their variables set, so a flag's variable overrides its
// default (the batcher's --ledger-lag, 1s), a misspelt one is unread with
// the right name suggested, and one for a flag the stack gives each
// instance (the gateway's --redis-addr, the explorer's --db) is unread.
// The gateway's flags gatewayMaxAccept reads (gatewayAcceptFlags) are in
// its --help at the defaults gatewayMaxAccept assumes.
func TestEnvReadersAgainstTheCommands(t *testing.T) {
	bin := t.TempDir()
	nettest.Commands(t, bin, "batcher", "gateway", "explorer")
	help, err := cli.CommandFlags(context.Background(), filepath.Join(bin, "gateway"))
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	gatewayAcceptFlags(fs, new(dedup.Config), new(bool))
	fs.VisitAll(func(f *flag.Flag) {
		i := slices.IndexFunc(help, func(h cli.HelpFlag) bool { return h.Name == f.Name })
		if i < 0 {
			t.Errorf("gatewayMaxAccept reads %s; the gateway's --help has no --%s", cli.EnvName("GATEWAY", f.Name), f.Name)
		} else if help[i].Default != f.DefValue {
			t.Errorf("gatewayMaxAccept assumes --%s defaults to %s; the gateway's --help says %s", f.Name, f.DefValue, help[i].Default)
		}
	})
	dir := t.TempDir()
	s, err := New(Config{Dir: dir, PortBase: planBase, BinDir: bin, FabricBin: dir, Builder: dir, Election: dir})
	if err != nil {
		t.Fatal(err)
	}
	readers := s.EnvReaders()
	var prefixes []string
	for _, r := range readers {
		prefixes = append(prefixes, r.Prefix)
	}
	if !slices.Equal(prefixes, EnvPrefixes()) {
		t.Fatalf("the stack's commands read %q; EnvPrefixes says %q", prefixes, EnvPrefixes())
	}
	clitest.CheckEnv(t, readers, map[string]string{
		"BATCHER_LEDGER_LAG":  "-1s",
		"BATCHER_LEDGR_LAG":   "-1s",
		"GATEWAY_REDIS_ADDR":  "10.0.0.1:1",
		"GATEWAY_GC_PERCENT":  "100",
		"EXPLORER_DB":         "/elsewhere.db",
		"EXPLORER_PAGE_SIZE":  "25",
		"EXPLORER_NO_SUCH_XY": "1",
	}, []string{
		"BATCHER_LEDGER_LAG=-1s: batcher --ledger-lag (default 1s)",
		"EXPLORER_PAGE_SIZE=25: explorer --page-size (the default)",
		"GATEWAY_GC_PERCENT=100: gateway --gc-percent (default 400)",
	}, []string{
		"BATCHER_LEDGR_LAG: batcher has no such flag (did you mean BATCHER_LEDGER_LAG?)",
		"EXPLORER_DB: explorer is given --db on its command line, which wins",
		"EXPLORER_NO_SUCH_XY: explorer has no such flag",
		"GATEWAY_REDIS_ADDR: gateway is given --redis-addr on its command line, which wins",
	})
}

// TestEnvPrefixesIsANewSliceEachCall: a caller's edit of the prefixes
// EnvPrefixes returned does not reach the next call.
func TestEnvPrefixesIsANewSliceEachCall(t *testing.T) {
	want := []string{"BATCHER", "GATEWAY", "EXPLORER"}
	got := EnvPrefixes()
	if !slices.Equal(got, want) {
		t.Fatalf("EnvPrefixes() = %q, want %q", got, want)
	}
	got[0] = "CHANGED"
	if again := EnvPrefixes(); !slices.Equal(again, want) {
		t.Errorf("a caller's change to EnvPrefixes' slice shows in the next call: %q", again)
	}
}
