package cli

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/votechain/votechain/internal/netaddr"
)

// The checks of flag values that commands make up front, before they
// connect to anything or start work: addresses, networks, lists, the
// organisation, ranges of numbers and durations. Each refusal is a usage
// error (ErrUsage: exit 2) naming the flag and what it takes, so that a
// mistake is told at once rather than once Redis or the ledger answers, or
// never when the value was silently replaced by a default; each check
// reports every bad flag (or entry) it is given, and a command joins its
// checks (errors.Join) to report every bad flag in one run. A flag name a
// FlagSet does not define is a programming error and panics.

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
// metrics listener) and passes. Every bad one is reported.
func CheckAddrs(fs *flag.FlagSet, names ...string) error {
	var errs []error
	for _, name := range names {
		if v := lookupFlag(fs, name).Value.String(); v != "" {
			errs = append(errs, CheckAddr("--"+name, v))
		}
	}
	return errors.Join(errs...)
}

// Unbounded, as IntsIn's most, sets no upper bound.
const Unbounded = math.MaxInt

// IntsIn refuses, as a usage error naming the flag and the range, a value
// of any of the named integer flags (int, int64 or uint64) of fs below
// least or above most (Unbounded: none); every one out of range is
// reported. A named flag that is not an integer one is a programming error
// and panics.
func IntsIn(fs *flag.FlagSet, least, most int, names ...string) error {
	var errs []error
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
			errs = append(errs, Usagef("--%s is %d: want at least %d", name, v, least))
		default:
			errs = append(errs, Usagef("--%s is %d: want %d to %d", name, v, least, most))
		}
	}
	return errors.Join(errs...)
}

// FloatsAtLeast refuses, as a usage error naming the flag and the bound, a
// value of any of the named float64 flags of fs below least (or NaN);
// every one is reported. A named flag that is not a float64 one is a
// programming error and panics.
func FloatsAtLeast(fs *flag.FlagSet, least float64, names ...string) error {
	var errs []error
	for _, name := range names {
		if v := lookupFlag(fs, name).Value.(flag.Getter).Get().(float64); !(v >= least) {
			errs = append(errs, Usagef("--%s is %g: want at least %g", name, v, least))
		}
	}
	return errors.Join(errs...)
}

// DurationsAtLeast is DurationsIn with no upper bound: a period of a
// ticker, a lease, below least is a mistake at the command line, not a
// crash deep inside the command.
func DurationsAtLeast(fs *flag.FlagSet, least time.Duration, names ...string) error {
	return DurationsIn(fs, least, math.MaxInt64, names...)
}

// DurationsPositive is DurationsAtLeast for durations that must be more
// than 0 and have no other bound: 0 and below are refused, saying "it must
// be more than 0" as the flags' usage says it.
func DurationsPositive(fs *flag.FlagSet, names ...string) error {
	return DurationsAtLeast(fs, time.Nanosecond, names...)
}

// DurationsIn refuses, as a usage error naming the flag, its value and the
// bound it passes, a value of any of the named duration flags of fs below
// least or above most; every one out of range is reported. A least of 1ns,
// the smallest positive duration, is told as "more than 0", as an operator
// words it, not "at least 1ns". A named flag that is not a duration one is
// a programming error and panics.
func DurationsIn(fs *flag.FlagSet, least, most time.Duration, names ...string) error {
	lower := "at least " + least.String()
	if least == time.Nanosecond {
		lower = "more than 0"
	}
	var errs []error
	for _, name := range names {
		d, ok := lookupFlag(fs, name).Value.(flag.Getter).Get().(time.Duration)
		switch {
		case !ok:
			panic(fmt.Sprintf("cli.DurationsIn: --%s is not a duration flag", name))
		case d < least:
			errs = append(errs, Usagef("--%s is %s: it must be %s", name, d, lower))
		case d > most:
			errs = append(errs, Usagef("--%s is %s: it must be at most %s", name, d, most))
		}
	}
	return errors.Join(errs...)
}

// SplitList splits the comma-separated value of the flag name
// ("--partitions") into its entries, space around each dropped, refusing
// as a usage error naming the flag and the value an empty entry, an entry
// valid rejects (want says what an entry must be) and an entry given
// twice; every bad entry is reported.
func SplitList(name, value string, valid func(string) bool, want string) ([]string, error) {
	return splitList(name, value, want, func(e string) (string, error) {
		if !valid(e) {
			return "", fmt.Errorf("%q is not %s", e, want)
		}
		return e, nil
	})
}

// prefixWant is what an entry of Prefixes must be.
const prefixWant = "an IP address or a CIDR (such as 127.0.0.1 or 10.0.0.0/8)"

// Prefixes reads the comma-separated value of the flag name
// ("--trusted-proxies"), IP addresses and CIDRs, into network prefixes in
// canonical form, in order; empty is none. An address is its own /32
// (IPv4) or /128 (IPv6), and an IPv4-mapped IPv6 one (::ffff:10.0.0.1,
// ::ffff:10.0.0.0/104) is the IPv4 one it maps (10.0.0.1/32, 10.0.0.0/8),
// as net.IPNet matches a client's address. Refused, each as a usage error
// naming the flag and the value, all at once: an empty entry, an entry
// that is neither (an address with a zone, fe80::1%eth0, included), a CIDR
// with bits set after its prefix length (10.0.0.1/8 reads as one host and
// covers 16 million: the error names the network, 10.0.0.0/8, and the
// address alone), and an entry whose canonical form an earlier one had
// (10.0.0.1 and 10.0.0.1/32), naming both spellings.
func Prefixes(name, value string) ([]netip.Prefix, error) {
	if value == "" {
		return nil, nil
	}
	return splitList(name, value, prefixWant, parsePrefix)
}

// parsePrefix is an entry of Prefixes in canonical form.
func parsePrefix(e string) (netip.Prefix, error) {
	var p netip.Prefix // invalid unless e parses
	if strings.Contains(e, "/") {
		p, _ = netip.ParsePrefix(e) // which refuses a zone
	} else if a, err := netip.ParseAddr(e); err == nil && a.Zone() == "" {
		p = netip.PrefixFrom(a, a.BitLen())
	}
	switch a := p.Addr(); {
	case !p.IsValid():
		return netip.Prefix{}, fmt.Errorf("%q is not %s", e, prefixWant)
	case p.Masked() != p:
		return netip.Prefix{}, fmt.Errorf("%s sets bits beyond its /%d: give %s for its network, or %s for the one address", e, p.Bits(), p.Masked(), a)
	case a.Is4In6() && p.Bits() >= 96:
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96), nil
	}
	return p, nil
}

// splitList splits the comma-separated value of the flag name into its
// entries, space around each dropped, and returns their keys as parse
// reads them, in order. It refuses, as a usage error naming the flag and
// the value for each, all at once: an empty entry (told once; want says
// what an entry must be), an entry parse refuses (parse's error says why)
// and an entry whose key an earlier one had, naming both spellings when
// they differ.
func splitList[K comparable](name, value, want string, parse func(string) (K, error)) ([]K, error) {
	var (
		keys  []K
		errs  []error
		empty bool
	)
	spelt := map[K]string{} // each key's first entry
	refuse := func(format string, args ...any) {
		errs = append(errs, Usagef("%s %q: %s", name, value, fmt.Sprintf(format, args...)))
	}
	for _, e := range strings.Split(value, ",") {
		if e = strings.TrimSpace(e); e == "" {
			if !empty {
				refuse("an empty entry: want %s, comma-separated", want)
			}
			empty = true
			continue
		}
		k, err := parse(e)
		if err != nil {
			refuse("%v", err)
			continue
		}
		switch first, seen := spelt[k]; {
		case seen && first == e:
			refuse("%s is named twice: name each once", e)
		case seen:
			refuse("%s and %s are the same entry, %v: name each once", first, e, k)
		default:
			spelt[k] = e
			keys = append(keys, k)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return keys, nil
}

// Check refuses, as usage errors naming the flag and the consortium's
// organisations (network.PeerOrgs), an --org that is none of them and a
// --peer (when set) that is none of them, before anything is dialled
// (where a --peer of "commission" would be a dial error pointing at the
// profile's identities).
func (l *Ledger) Check() error {
	if l.Peer == "" {
		return CheckOrg("--org", l.Org)
	}
	return errors.Join(CheckOrg("--org", l.Org), CheckOrg("--peer", l.Peer))
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
