// Package flagcheck holds the checks of flag values that the services
// (gateway, batcher, explorer, ballotcc) make before they connect to
// anything: addresses, the organisation, integer ranges. Each refusal is a
// usage error (cli.ErrUsage: exit 2) naming the flag and what it takes, so
// that a mistake is told at once rather than once Redis or the ledger
// answers, or never when the value was silently replaced by a default.
package flagcheck

import (
	"flag"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/netaddr"
	"github.com/votechain/votechain/network"
)

// Addr refuses, as a usage error naming name (a flag, "--listen", or a
// variable, "$CHAINCODE_SERVER_ADDRESS"), a value that is not host:port
// with a port number (netaddr.Check).
func Addr(name, value string) error {
	if err := netaddr.Check(value); err != nil {
		return cli.Usagef("%s %q: %v", name, value, err)
	}
	return nil
}

// Addrs is Addr for each of the named string flags of fs that is set to a
// value: empty is a flag's "off" (no profiling, no separate metrics
// listener) and passes. A name fs does not define is a programming error
// and panics.
func Addrs(fs *flag.FlagSet, names ...string) error {
	for _, name := range names {
		if v := lookup(fs, name).String(); v != "" {
			if err := Addr("--"+name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// Unbounded, as IntsIn's most, sets no upper bound.
const Unbounded = math.MaxInt

// IntsIn refuses, as a usage error naming the flag and the range, a value
// of any of the named integer flags (int, int64 or uint64) of fs below
// least or above most (Unbounded: none). A name fs does not define, or one
// that is not an integer flag, is a programming error and panics.
func IntsIn(fs *flag.FlagSet, least, most int, names ...string) error {
	for _, name := range names {
		var v int64
		switch x := lookup(fs, name).(flag.Getter).Get().(type) {
		case int:
			v = int64(x)
		case int64:
			v = x
		case uint64:
			v = int64(min(x, math.MaxInt64))
		default:
			panic(fmt.Sprintf("flagcheck: --%s is a %T flag, not an integer one", name, x))
		}
		switch {
		case v >= int64(least) && v <= int64(most):
		case most == Unbounded:
			return cli.Usagef("--%s is %d: want at least %d", name, v, least)
		default:
			return cli.Usagef("--%s is %d: want %d to %d", name, v, least, most)
		}
	}
	return nil
}

// FloatsAtLeast refuses, as a usage error naming the flag and the bound, a
// value of any of the named float64 flags of fs below least (or NaN). A
// name fs does not define, or one that is not a float64 flag, is a
// programming error and panics.
func FloatsAtLeast(fs *flag.FlagSet, least float64, names ...string) error {
	for _, name := range names {
		if v := lookup(fs, name).(flag.Getter).Get().(float64); !(v >= least) {
			return cli.Usagef("--%s is %g: want at least %g", name, v, least)
		}
	}
	return nil
}

// List splits the comma-separated value of the flag name ("--partitions")
// into its entries, space around each dropped, refusing as a usage error
// naming the flag an empty entry, an entry valid rejects (want says what
// an entry must be) and an entry given twice.
func List(name, value string, valid func(string) bool, want string) ([]string, error) {
	var entries []string
	for _, e := range strings.Split(value, ",") {
		switch e = strings.TrimSpace(e); {
		case e == "":
			return nil, cli.Usagef("%s %q: an empty entry: want %s, comma-separated", name, value, want)
		case !valid(e):
			return nil, cli.Usagef("%s %q: %q is not %s", name, value, e, want)
		case slices.Contains(entries, e):
			return nil, cli.Usagef("%s %q: %s is named twice: name each once", name, value, e)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// Org refuses, as a usage error naming --org and the consortium's
// organisations (network.PeerOrgs), an --org that is none of them.
func Org(l *cli.Ledger) error {
	var names []string
	for _, o := range network.PeerOrgs {
		if o.Name == l.Org {
			return nil
		}
		names = append(names, o.Name)
	}
	return cli.Usagef("--org %q is not an organisation of the consortium: want %s", l.Org, strings.Join(names, " or "))
}

func lookup(fs *flag.FlagSet, name string) flag.Value {
	f := fs.Lookup(name)
	if f == nil {
		panic(fmt.Sprintf("flagcheck: no flag --%s", name))
	}
	return f.Value
}
