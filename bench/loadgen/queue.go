package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
)

// QueueDepth is the number of accepted votes not yet committed and
// acknowledged: the sum of the states' stream lengths.
func QueueDepth(ctx context.Context, rdb redis.Cmdable, states []string) (int64, error) {
	pipe := rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(states))
	for i, s := range states {
		cmds[i] = pipe.XLen(ctx, votequeue.StreamKey(s))
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return 0, fmt.Errorf("loadgen: queue depth: %w", err)
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}

// WaitDrained polls the queue depth until it is zero and returns how long
// that took; each poll's depth also goes to sample (if not nil). It gives up
// after limit, returning the time waited and an error.
func WaitDrained(ctx context.Context, rdb redis.Cmdable, states []string, limit time.Duration, progress io.Writer, sample func(time.Time, int64)) (time.Duration, error) {
	began := time.Now()
	lastPrint := began
	for {
		n, err := QueueDepth(ctx, rdb, states)
		if err != nil {
			return time.Since(began), err
		}
		now := time.Now()
		if sample != nil {
			sample(now, n)
		}
		if n == 0 {
			return now.Sub(began), nil
		}
		if progress != nil && now.Sub(lastPrint) >= time.Second {
			fmt.Fprintf(progress, "  draining     %5.0fs %d votes queued\n", now.Sub(began).Seconds(), n)
			lastPrint = now
		}
		if now.Sub(began) > limit {
			return now.Sub(began), fmt.Errorf("loadgen: %d votes still queued after %s", n, limit)
		}
		select {
		case <-ctx.Done():
			return time.Since(began), ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// FetchElection reads the election (states, candidates) from the gateway's
// GET /api/v1/election.
func FetchElection(ctx context.Context, baseURL string) (*ballot.Election, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/api/v1/election", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("loadgen: election: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("loadgen: election: %s", resp.Status)
	}
	var e ballot.Election
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		return nil, fmt.Errorf("loadgen: election: %w", err)
	}
	return &e, nil
}

// WriteIDs writes the vote ids, one hex id a line.
func WriteIDs(w io.Writer, ids map[VoteID]int) error {
	bw := bufio.NewWriter(w)
	for id := range ids {
		if _, err := fmt.Fprintln(bw, id.String()); err != nil {
			return err
		}
	}
	return bw.Flush()
}
