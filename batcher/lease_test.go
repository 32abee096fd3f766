package batcher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// runOver starts a batcher serving partitions on rdb (no votes queued) and
// returns it with the channel Run's result arrives on; the test's end
// stops it.
func runOver(t *testing.T, rdb *redis.Client, owner string, partitions ...string) (*Batcher, <-chan error) {
	t.Helper()
	b, err := New(Config{Owner: owner, Partitions: partitions, LeaseTTL: time.Second}, rdb, newFakeLedger(), nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, finished := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(finished)
		done <- b.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return b, done
}

// refused waits for Run's result on done and checks that it is
// ErrPartitionsDiffer with every one of want in its message.
func refused(t *testing.T, done <-chan error, want ...string) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, ErrPartitionsDiffer) {
			t.Fatalf("Run beside a batcher with another partition list: %v, want ErrPartitionsDiffer", err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("refusal %q does not say %q", err, w)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a batcher with another partition list than the live one's started")
	}
}

// registered is the registry's members, by name (the registry orders them
// by expiry, which each heartbeat moves).
func registered(t *testing.T, rdb *redis.Client) []string {
	t.Helper()
	ms, err := rdb.ZRange(context.Background(), registryKey, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ms)
	return ms
}

// waitRounds waits until the batcher whose registry member is member has
// renewed it k times (one heartbeat a round, before the round's rebalance):
// from the second on, a whole round ran after the call.
func waitRounds(t *testing.T, rdb *redis.Client, member string, k int) {
	t.Helper()
	expiry := func() float64 {
		score, err := rdb.ZScore(context.Background(), registryKey, member).Result()
		if err != nil {
			t.Fatalf("registry entry %q: %v", member, err)
		}
		return score
	}
	renewals, last := 0, expiry()
	waitFor(t, fmt.Sprintf("%d rounds of %q", k, member), func() bool {
		if e := expiry(); e != last {
			renewals, last = renewals+1, e
		}
		return renewals >= k
	})
}

func TestSamePartitionListsShareTheLanes(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.ClientAs(redisserver.UserBatcher)
	a, _ := runOver(t, rdb, "a", "CA", "TX", "NY", "FL")
	waitFor(t, "a to hold every lane", func() bool { return len(a.Lanes()) == 4 })
	b, done := runOver(t, rdb, "b", "FL", "NY", "TX", "CA") // the same list in another order
	waitFor(t, "the lanes to split two and two", func() bool { return len(a.Lanes()) == 2 && len(b.Lanes()) == 2 })
	select {
	case err := <-done:
		t.Fatalf("the second batcher stopped: %v", err)
	default:
	}
	if got := registered(t, rdb); len(got) != 2 || got[0] != "a partitions=CA,FL,NY,TX" || got[1] != "b partitions=CA,FL,NY,TX" {
		t.Errorf("registry %q, want a and b, each with its sorted list", got)
	}
	for _, x := range []*Batcher{a, b} {
		if n := metricValue(t, x.metrics.otherLists); n != 0 {
			t.Errorf("%s: batcher_partition_lists_differing %v with one list for all", x.owner, n)
		}
	}
}

func TestDifferentPartitionListIsRefused(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.ClientAs(redisserver.UserBatcher)
	a, _ := runOver(t, rdb, "a", "CA", "TX", "NY")
	waitFor(t, "a to hold every lane", func() bool { return len(a.Lanes()) == 3 })
	_, done := runOver(t, rdb, "b", "CA", "TX", "WA")
	refused(t, done, "batcher a serves CA,NY,TX (only in its list: NY; only in this one's: WA)", "this one serves CA,TX,WA", "--partitions")
	if got := registered(t, rdb); len(got) != 1 || !strings.HasPrefix(got[0], "a ") {
		t.Errorf("registry %q after the refusal, want a alone", got)
	}
	waitRounds(t, rdb, "a partitions=CA,NY,TX", 2) // a rebalanced after b's refusal
	if n := len(a.Lanes()); n != 3 {
		t.Errorf("a holds %d lanes after b's refusal, want all 3", n)
	}
}

// Without --partitions a batcher serves the election's states: beside one
// given a shorter list, whichever comes second is refused.
func TestElectionStatesBesideAListIsRefused(t *testing.T) {
	election := []string{"CA", "TX", "NY"}
	for _, c := range []struct {
		name          string
		first, second []string
		want          string
	}{
		{"states first", election, []string{"CA", "TX"}, "batcher first serves CA,NY,TX (only in its list: NY)"},
		{"list first", []string{"CA", "TX"}, election, "batcher first serves CA,TX (only in this one's: NY)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := redistest.Start(t)
			rdb := srv.ClientAs(redisserver.UserBatcher)
			first, _ := runOver(t, rdb, "first", c.first...)
			waitFor(t, "the first batcher to hold its lanes", func() bool { return len(first.Lanes()) == len(c.first) })
			_, done := runOver(t, rdb, "second", c.second...)
			refused(t, done, c.want, "none for the election's states")
		})
	}
}

// A batcher with another list that appears while one runs (it started
// while Redis had lost the registry) is reported, and the lanes carry on.
func TestDifferingListWhileRunningIsReported(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.ClientAs(redisserver.UserBatcher)
	a, _ := runOver(t, rdb, "a", "CA", "TX")
	waitFor(t, "a to hold every lane", func() bool { return len(a.Lanes()) == 2 })
	ctx := context.Background()
	peer := registryMember("late", []string{"CA", "WA"})
	if err := srv.Client().ZAdd(ctx, registryKey, redis.Z{Score: float64(time.Now().Add(time.Hour).UnixMilli()), Member: peer}).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the differing list to be counted", func() bool { return metricValue(t, a.metrics.otherLists) == 1 })
	if len(a.Lanes()) == 0 {
		t.Error("a gave up every lane on seeing another list")
	}
	if err := srv.Client().ZRem(ctx, registryKey, peer).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the count back at 0", func() bool { return metricValue(t, a.metrics.otherLists) == 0 })
	waitFor(t, "a to hold every lane again", func() bool { return len(a.Lanes()) == 2 })
}

// A member without a list (a batcher from before lists were published) is
// counted live but not compared.
func TestMemberWithoutListIsNotCompared(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.ClientAs(redisserver.UserBatcher)
	ctx := context.Background()
	if err := srv.Client().ZAdd(ctx, registryKey, redis.Z{Score: float64(time.Now().Add(time.Hour).UnixMilli()), Member: "old-batcher"}).Err(); err != nil {
		t.Fatal(err)
	}
	live, others, err := heartbeat(ctx, rdb, registryMember("new", []string{"CA"}), time.Now(), time.Second, true)
	if err != nil || live != 2 || len(others) != 0 {
		t.Fatalf("join beside a member without a list: live %d, others %v, %v; want 2 live, none differing", live, others, err)
	}
}
