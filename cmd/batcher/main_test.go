package main

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/network"
)

// TestGatewaysOf: --gateway-peers resolves to the batcher's own
// organisation by default, every organisation of the profile (own first)
// for "all", the list as given otherwise; an organisation not in the
// profile, an empty name or one named twice is refused, naming the fix.
func TestGatewaysOf(t *testing.T) {
	p := network.Profile{Orgs: map[string]network.OrgProfile{"Commission": {}, "Observers": {}, "Auditors": {}}}
	for _, tc := range []struct {
		flag, own string
		want      []string
		err       string
	}{
		{flag: "", own: "Commission", want: []string{"Commission"}},
		{flag: "all", own: "Commission", want: []string{"Commission", "Auditors", "Observers"}},
		{flag: "all", own: "Observers", want: []string{"Observers", "Auditors", "Commission"}},
		{flag: "Observers, Commission", own: "Commission", want: []string{"Observers", "Commission"}},
		{flag: "Observers", own: "Commission", want: []string{"Observers"}},
		{flag: "Commission,observers", own: "Commission", err: `organisation "observers" is not in the connection profile, which has Auditors, Commission, Observers: name some of them, comma-separated, or all`},
		{flag: "Commission,", own: "Commission", err: `organisation "" is not in the connection profile`},
		{flag: "Observers,Commission,Observers", own: "Commission", err: "organisation Observers named twice: name each once"},
	} {
		got, err := gatewaysOf(tc.flag, tc.own, p)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("gatewaysOf(%q, %s) = %v, %v; want an error containing %q", tc.flag, tc.own, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("gatewaysOf(%q, %s) = %v, %v; want %v", tc.flag, tc.own, got, err, tc.want)
		}
	}
}

// TestLeaseBelow100msIsAUsageError: a lease renewed every quarter of
// itself must leave the renewals a period (a ticker of 0 panics).
func TestLeaseBelow100msIsAUsageError(t *testing.T) {
	defer func(args []string) { os.Args = args }(os.Args)
	os.Args = []string{"batcher", "--lease-ttl", "3ns"}
	if err := run(context.Background()); !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "--lease-ttl is 3ns") {
		t.Errorf("--lease-ttl 3ns: %v; want a usage error naming it", err)
	}
}

// TestGCFlagsAreChecked: the batcher takes --gc-percent and
// --memory-limit-mib, and refuses what cli.GC.Check refuses before
// connecting to anything.
func TestGCFlagsAreChecked(t *testing.T) {
	defer func(args []string) { os.Args = args }(os.Args)
	os.Args = []string{"batcher", "--gc-percent", "-1", "--memory-limit-mib", "-1"}
	if err := run(context.Background()); !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "--memory-limit-mib -1") {
		t.Errorf("--memory-limit-mib -1: %v; want a usage error naming it", err)
	}
}
