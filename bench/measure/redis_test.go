package measure

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redistest"
)

func TestRedisMemoryCountsEveryKeyFamily(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	states := []string{"CA", "MI"}
	for _, s := range states {
		roll, err := votequeue.EnsureRoll(ctx, rdb, s, 1)
		if err != nil {
			t.Fatal(err)
		}
		pipe := rdb.Pipeline()
		for i := range 70 {
			votequeue.Enroll(ctx, pipe, roll, [][]byte{[]byte(fmt.Sprintf("%c%s-roll-%d", i*4, s, i))})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: votequeue.StreamKey(s), Values: []string{"v", "1"}})
	}
	rdb.HSet(ctx, "pending:{CA}", "n1", "x", "n2", "y", "n3", "z")
	rdb.Set(ctx, "claim:{MI}:abc", "1", 0)
	for i := range 4 { // two buckets and CA's batches hash
		id := fmt.Sprintf("%04x%028x", i%2, i)
		rdb.HSet(ctx, votequeue.ReceiptKey(id), id, "CA 1 "+fmt.Sprint(i))
	}
	rdb.HSet(ctx, votequeue.BatchesKey("CA"), "1", "5 4 tx")
	rdb.RPush(ctx, votequeue.LogKey("CA"), "e1", "e2", "e3", "e4", "e5")
	for _, s := range states {
		rdb.SetBit(ctx, votequeue.BloomKey(s), 4095, 1)
	}
	u, err := RedisMemory(ctx, rdb, states)
	if err != nil {
		t.Fatal(err)
	}
	if u.UsedBytes <= 0 {
		t.Fatalf("used memory %d", u.UsedBytes)
	}
	want := map[string][2]int64{ // class -> keys, items
		"bloom filters (per voter on the roll)": {2, 140},
		"roll shards (per voter on the roll)":   {4, 140},
		"vote streams (per queued vote)":        {2, 2},
		"pending claims (per claim)":            {1, 1},
		"pending hashes (per pending vote)":     {1, 3},
		"receipts (per committed vote)":         {3, 4},
		"intake logs (per accepted vote)":       {1, 5},
	}
	for _, c := range u.Classes {
		w, ok := want[c.Name]
		if !ok {
			continue
		}
		delete(want, c.Name)
		if c.Keys != w[0] || c.Items != w[1] || c.Bytes <= 0 || c.MBPerMillion <= 0 || c.Per == "" {
			t.Errorf("%s: %+v, want %d keys, %d items, some bytes", c.Name, c, w[0], w[1])
		}
	}
	if len(want) > 0 {
		t.Errorf("classes missing: %v", want)
	}
}

// The breakdown taken after a drain keeps the queue as it was read before
// it, and counts the receipts written meanwhile.
func TestRedisQueueBreakdownKeepsTheQueueReadBefore(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	states := []string{"CA", "MI"}
	for i := range 3 {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: votequeue.StreamKey(states[i%2]), Values: []string{"v", "1"}})
	}
	q, err := ReadRedisQueue(ctx, rdb, states)
	if err != nil {
		t.Fatal(err)
	}
	if q.Queued != 3 || q.StreamBytes <= 0 || q.UsedBytes <= 0 || q.Streams != 2 {
		t.Fatalf("queue %+v, want 3 queued in 2 streams, some bytes", q)
	}
	for _, s := range states { // the drain: the streams emptied, receipts written
		rdb.Del(ctx, votequeue.StreamKey(s))
	}
	id := fmt.Sprintf("%04x%028x", 1, 1)
	rdb.HSet(ctx, votequeue.ReceiptKey(id), id, "CA 1 0")
	u, err := q.Breakdown(ctx, rdb, states)
	if err != nil {
		t.Fatal(err)
	}
	if u.UsedBytes != q.UsedBytes {
		t.Errorf("used memory %d, want the queue's %d", u.UsedBytes, q.UsedBytes)
	}
	got := map[string]RedisClass{}
	for _, c := range u.Classes {
		got[c.Name] = c
	}
	if c := got["vote streams (per queued vote)"]; c.Items != 3 || c.Bytes != q.StreamBytes {
		t.Errorf("streams %+v, want the 3 votes and %d bytes read before the drain", c, q.StreamBytes)
	}
	if c := got["receipts (per committed vote)"]; c.Items != 1 {
		t.Errorf("receipts %+v, want the one written after the queue was read", c)
	}
}
