// Package results serves election results from memory at very high rates
// without touching the peers per request. At start the cache loads full
// results from the ledger (or from its persisted checkpoint), then applies
// BatchCommitted chaincode events in ledger order. Each applied event is
// persisted together with its position, so a restart resumes exactly where
// it stopped and never applies an event twice. Responses are pre-encoded
// JSON with an ETag; the read path takes no lock (one atomic load).
package results

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/internal/privatefile"
)

// Ledger is what the cache reads: *fabricclient.Ballot.
type Ledger interface {
	Results(ctx context.Context) (ballot.Results, error)
	Height(ctx context.Context) (uint64, error)
	BatchEvents(ctx context.Context, from ballot.Position) (<-chan ballot.BatchCommitted, <-chan error, error)
}

// View is the JSON body of GET /api/v1/results.
type View struct {
	ElectionID string                        `json:"election_id"`
	Status     string                        `json:"status"`
	AsOfBlock  uint64                        `json:"as_of_block"` // results include every block below this height
	Counted    uint64                        `json:"counted"`
	Rejected   uint64                        `json:"rejected"`
	National   ballot.Tally                  `json:"national"`
	States     map[string]ballot.StateResult `json:"states"`
}

// ContestView is the JSON body of GET /api/v1/results/{contest}: one
// contest's counts per choice, nationally and per state, every choice and
// state listed (zero when it has no votes).
type ContestView struct {
	ElectionID string                  `json:"election_id"`
	Status     string                  `json:"status"`
	AsOfBlock  uint64                  `json:"as_of_block"`
	Contest    ballot.Contest          `json:"contest"`
	Counted    uint64                  `json:"counted"` // votes counted in this contest
	National   ballot.Counts           `json:"national"`
	States     map[string]ContestState `json:"states"`
}

// ContestState is one contest's counts in one state.
type ContestState struct {
	Counted uint64        `json:"counted"`
	Choices ballot.Counts `json:"choices"`
}

// StateContestView is the JSON body of GET /api/v1/results/{contest}/{state}.
type StateContestView struct {
	ElectionID string `json:"election_id"`
	AsOfBlock  uint64 `json:"as_of_block"`
	Contest    string `json:"contest"`
	State      string `json:"state"`
	ContestState
}

// encoded is a response body and its entity tag.
type encoded struct {
	body []byte
	etag string
	// etagHeader is etag as a header value, built once: Write sets it
	// without an allocation per request.
	etagHeader []string
}

func encode(v any) (encoded, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return encoded{}, err
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	return encoded{body: body, etag: etag, etagHeader: []string{etag}}, nil
}

// snapshot is one immutable generation of the results, as served.
type snapshot struct {
	all      encoded
	contests map[string]contestPages // every contest of the election, with or without votes
	national ballot.Tally            // for the votes_counted metric; read-only
}

// contestPages are one contest's encoded results: national and per state.
type contestPages struct {
	all    encoded
	states map[string]encoded // every state of the election
}

// checkpoint is what the cache persists: results and the position after
// which events are still to be applied.
type checkpoint struct {
	At      ballot.Position `json:"at"`
	Results ballot.Results  `json:"results"`
}

// Cache is the results read cache. Run fills and follows it; Handler serves it.
type Cache struct {
	ledger   Ledger
	path     string // persisted checkpoint file
	log      *slog.Logger
	states   []string         // the election's states: served even before a vote
	contests []ballot.Contest // the election's contests, likewise

	snap atomic.Pointer[snapshot]

	// Owned by Run's goroutine.
	cp checkpoint
}

// New returns a cache persisting its checkpoint at path. states and
// contests are the election's, so each contest and state has results
// (zero) from the start.
func New(ledger Ledger, path string, states []string, contests []ballot.Contest, log *slog.Logger) *Cache {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Cache{ledger: ledger, path: path, states: states, contests: contests, log: log}
}

// CheckPath reports whether a checkpoint can be kept at path, before a
// cache of New's writes one: its folder is created if missing and must take
// a new file (one is made and removed at once), and path, if it exists,
// must not be a folder. It does not read the checkpoint.
func CheckPath(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s is a folder: give the checkpoint file's path", path)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// Ready reports whether the cache has results to serve.
func (c *Cache) Ready() bool { return c.snap.Load() != nil }

// Run loads the results, trying again with backoff while they cannot be
// loaded (the ledger does not answer, the checkpoint cannot be read), then
// applies events until ctx ends, reconnecting with backoff when the event
// stream breaks. It returns when ctx ends.
func (c *Cache) Run(ctx context.Context) {
	privatefile.RemoveStale(c.path, c.log) // a killed persist's temporary file
	for attempt := 1; ctx.Err() == nil; attempt++ {
		err := c.load(ctx)
		if err == nil {
			break
		}
		if ctx.Err() == nil {
			c.retryIn(ctx, attempt, "results not loaded; trying again", err)
		}
	}
	for attempt := 1; ctx.Err() == nil; attempt++ {
		err := c.follow(ctx)
		if ctx.Err() != nil {
			break
		}
		c.retryIn(ctx, attempt, "results event stream broke; reconnecting", err)
	}
}

// retryIn logs msg and err at warn with the delay before attempt's next
// try (half a second more each attempt, at most 10 s), then waits it out
// or for ctx's end.
func (c *Cache) retryIn(ctx context.Context, attempt int, msg string, err error) {
	delay := min(time.Duration(attempt)*500*time.Millisecond, 10*time.Second)
	c.log.Warn(msg, "err", err, "in", delay.String())
	select {
	case <-ctx.Done():
	case <-time.After(delay):
	}
}

// load restores the persisted checkpoint, or takes a consistent snapshot of
// the ledger's results: the chain height is read before and after the
// results query, and only a query between two equal heights is used. A
// damaged checkpoint is moved aside (logged at warn) and the results
// loaded from the ledger.
func (c *Cache) load(ctx context.Context) error {
	if data, err := os.ReadFile(c.path); err == nil {
		c.cp = checkpoint{}
		err := json.Unmarshal(data, &c.cp)
		if err == nil {
			c.log.Info("results restored from checkpoint", "block", c.cp.At.Block, "counted", c.cp.Results.Counted)
			return c.publish()
		}
		c.cp = checkpoint{}
		aside := c.path + ".damaged-" + time.Now().UTC().Format("20060102T150405.000Z")
		if rerr := os.Rename(c.path, aside); rerr != nil {
			return fmt.Errorf("results checkpoint %s is damaged (%v) and cannot be moved aside: %w", c.path, err, rerr)
		}
		c.log.Warn("results checkpoint damaged: moved aside, loading the results from the ledger", "path", c.path, "moved_to", aside, "err", err)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read the results checkpoint: %w", err)
	}
	for attempt := 1; ; attempt++ {
		before, err := c.ledger.Height(ctx)
		if err != nil {
			return err
		}
		res, err := c.ledger.Results(ctx)
		if err != nil {
			return fmt.Errorf("load results: %w", err)
		}
		after, err := c.ledger.Height(ctx)
		if err != nil {
			return err
		}
		if before == after {
			c.cp = checkpoint{At: ballot.Position{Block: after}, Results: res}
			c.log.Info("results loaded from the ledger", "height", after, "counted", res.Counted)
			if err := c.persist(); err != nil {
				return err
			}
			return c.publish()
		}
		if attempt == 20 {
			// The ledger never paused: replay every event from the first block.
			c.cp = checkpoint{Results: ballot.Results{ElectionID: res.ElectionID, Status: res.Status}}
			c.log.Info("ledger busy; replaying results from block 0")
			return c.publish()
		}
	}
}

// follow applies events until the stream ends.
func (c *Cache) follow(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, errs, err := c.ledger.BatchEvents(ctx, c.cp.At)
	if err != nil {
		return err
	}
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				select {
				case err := <-errs:
					return err
				default:
					return errors.New("event stream closed")
				}
			}
			c.apply(ev)
			// Apply whatever else already arrived, then persist and publish once.
			for more := true; more; {
				select {
				case ev, ok := <-events:
					if !ok {
						more = false
						break
					}
					c.apply(ev)
				default:
					more = false
				}
			}
			if err := c.persist(); err != nil {
				return err
			}
			if err := c.publish(); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *Cache) apply(ev ballot.BatchCommitted) {
	for _, e := range ev.Events {
		c.cp.Results.Apply(e)
	}
	c.cp.At = ev.At
}

// persist writes the checkpoint whole and durably: a temporary file,
// fsynced, renamed over the checkpoint, then its folder fsynced, so a
// crash leaves the old checkpoint or the new one (privatefile.Write).
func (c *Cache) persist() error {
	data, err := json.Marshal(c.cp)
	if err != nil {
		return err
	}
	dir := filepath.Dir(c.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := privatefile.WriteData(c.path, data); err != nil {
		return fmt.Errorf("write results checkpoint: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write results checkpoint: %w", err)
	}
	return nil
}

// syncDir fsyncs a folder, so a rename in it is on disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// publish encodes the current results into a new snapshot.
func (c *Cache) publish() error {
	r := c.cp.Results
	asOf := c.cp.At.Block
	if c.cp.At.TxID != "" {
		asOf++ // the block of the last applied event is complete
	}
	states := map[string]ballot.StateResult{}
	for _, s := range c.states {
		states[s] = ballot.StateResult{State: s, Tallies: ballot.Tally{}}
	}
	for s, sr := range r.States {
		states[s] = sr
	}
	national := ballot.Tally{}
	for _, ct := range c.contests {
		for _, choice := range ct.Choices {
			national.Add(ct.ID, choice, 0)
		}
	}
	national.Merge(r.National)
	all, err := encode(View{ElectionID: r.ElectionID, Status: r.Status, AsOfBlock: asOf,
		Counted: r.Counted, Rejected: r.Rejected, National: national, States: states})
	if err != nil {
		return err
	}
	snap := &snapshot{all: all, contests: make(map[string]contestPages, len(c.contests)), national: national}
	for _, ct := range c.contests {
		v := ContestView{ElectionID: r.ElectionID, Status: r.Status, AsOfBlock: asOf, Contest: ct,
			Counted: national[ct.ID].Total(), National: national[ct.ID], States: make(map[string]ContestState, len(states))}
		pages := contestPages{states: make(map[string]encoded, len(states))}
		for s, sr := range states {
			cs := ContestState{Choices: ballot.Counts{}}
			for _, choice := range ct.Choices {
				cs.Choices[choice] = 0
			}
			for choice, n := range sr.Tallies[ct.ID] {
				cs.Choices[choice] += n
			}
			cs.Counted = cs.Choices.Total()
			v.States[s] = cs
			if pages.states[s], err = encode(StateContestView{ElectionID: r.ElectionID, AsOfBlock: asOf, Contest: ct.ID, State: s, ContestState: cs}); err != nil {
				return err
			}
		}
		if pages.all, err = encode(v); err != nil {
			return err
		}
		snap.contests[ct.ID] = pages
	}
	c.snap.Store(snap)
	return nil
}
