package cli

import (
	"flag"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/votechain/votechain/internal/netaddr"
	"github.com/votechain/votechain/network"
)

// The checks of flag values that commands make up front, before they
// connect to anything or start work: addresses, lists, the organisation,
// ranges of numbers and durations. Each refusal is a usage error (ErrUsage:
// exit 2) naming the flag and what it takes, so that a mistake is told at
// once rather than once Redis or the ledger answers, or never when the
// value was silently replaced by a default. A flag name a FlagSet does not
// define is a programming error and panics.

// CheckAddr refuses, as a usage error naming name (a flag, "--listen", or a
// variable, "$CHAINCODE_SERVER_ADDRESS"), a value that is not host:port
// with a port number (netaddr.Check).
func CheckAddr(name, value string) error {
	if err := netaddr.Check(value); err != nil {
		return Usagef("%s %q: %v", name, value, err)
	}
	return nil
}

// CheckAddrs is CheckAddr for each of the named string flags of fs that is
// set to a value: empty is a flag's "off" (no profiling, no separate
// metrics listener) and passes.
func CheckAddrs(fs *flag.FlagSet, names ...string) error {
	for _, name := range names {
		if v := lookupFlag(fs, name).Value.String(); v != "" {
			if err := CheckAddr("--"+name, v); err != nil {
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
// least or above most (Unbounded: none). A named flag that is not an
// integer one is a programming error and panics.
func IntsIn(fs *flag.FlagSet, least, most int, names ...string) error {
	for _, name := range names {
		var v int64
		switch x := lookupFlag(fs, name).Value.(flag.Getter).Get().(type) {
		case int:
			v = int64(x)
		case int64:
			v = x
		case uint64:
			v = int64(min(x, math.MaxInt64))
		default:
			panic(fmt.Sprintf("cli.IntsIn: --%s is a %T flag, not an integer one", name, x))
		}
		switch {
		case v >= int64(least) && v <= int64(most):
		case most == Unbounded:
			return Usagef("--%s is %d: want at least %d", name, v, least)
		default:
			return Usagef("--%s is %d: want %d to %d", name, v, least, most)
		}
	}
	return nil
}

// FloatsAtLeast refuses, as a usage error naming the flag and the bound, a
// value of any of the named float64 flags of fs below least (or NaN). A
// named flag that is not a float64 one is a programming error and panics.
func FloatsAtLeast(fs *flag.FlagSet, least float64, names ...string) error {
	for _, name := range names {
		if v := lookupFlag(fs, name).Value.(flag.Getter).Get().(float64); !(v >= least) {
			return Usagef("--%s is %g: want at least %g", name, v, least)
		}
	}
	return nil
}

// DurationsAtLeast refuses, as a usage error naming the flag, a value of
// any of the named duration flags of fs below least: a period of a ticker,
// a lease, is a mistake at the command line, not a crash deep inside the
// command.
func DurationsAtLeast(fs *flag.FlagSet, least time.Duration, names ...string) error {
	for _, name := range names {
		if d, ok := lookupFlag(fs, name).Value.(flag.Getter).Get().(time.Duration); ok && d < least {
			return Usagef("--%s is %s: it must be at least %s", name, d, least)
		}
	}
	return nil
}

// SplitList splits the comma-separated value of the flag name
// ("--partitions") into its entries, space around each dropped, refusing
// as a usage error naming the flag and the value an empty entry, an entry
// valid rejects (want says what an entry must be) and an entry given
// twice.
func SplitList(name, value string, valid func(string) bool, want string) ([]string, error) {
	var entries []string
	for _, e := range strings.Split(value, ",") {
		switch e = strings.TrimSpace(e); {
		case e == "":
			return nil, Usagef("%s %q: an empty entry: want %s, comma-separated", name, value, want)
		case !valid(e):
			return nil, Usagef("%s %q: %q is not %s", name, value, e, want)
		case slices.Contains(entries, e):
			return nil, Usagef("%s %q: %s is named twice: name each once", name, value, e)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// Check refuses, as a usage error naming --org and the consortium's
// organisations (network.PeerOrgs), an --org that is none of them.
func (l *Ledger) Check() error {
	var names []string
	for _, o := range network.PeerOrgs {
		if o.Name == l.Org {
			return nil
		}
		names = append(names, o.Name)
	}
	return Usagef("--org %q is not an organisation of the consortium: want %s", l.Org, strings.Join(names, " or "))
}

// lookupFlag is fs's flag name; one fs does not define is a programming
// error, found by the command's tests, and panics.
func lookupFlag(fs *flag.FlagSet, name string) *flag.Flag {
	f := fs.Lookup(name)
	if f == nil {
		panic("cli: no flag --" + name)
	}
	return f
}
