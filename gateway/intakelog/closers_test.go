package intakelog

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
)

// blockLedger commits anchors as Fabric does: the chaincode checks an
// anchor against the anchored heads when it is endorsed (its refusal is
// the error then), and the transaction commits in a block only if none of
// the anchored heads it read has changed since (else MVCC_READ_CONFLICT,
// ballot.ErrHeadConflict): of anchors of a state endorsed on the same
// head, the first in the block wins. A block is cut once every closing
// round still running (live, lowered by leave) has an anchor waiting, so
// the rounds race in every block, and its transactions commit smallest
// first (by the largest head each carries): the order in which the
// gateway holding the largest heads loses the most races.
type blockLedger struct {
	*fakeLedger
	bmu     sync.Mutex
	live    int
	pending []*blockTx
}

// blockTx is an endorsed anchor waiting for its block.
type blockTx struct {
	anchors []ballot.LogAnchor
	read    []ballot.TreeHead // each anchor's state's anchored head at endorsement
	writes  []bool            // whether it writes its head (not a repeat of the anchored one)
	done    chan error
}

// largest is the size of the largest head tx carries.
func (tx *blockTx) largest() uint64 {
	var n uint64
	for _, a := range tx.anchors {
		n = max(n, a.Head.Size)
	}
	return n
}

func (b *blockLedger) AnchorLogHeads(ctx context.Context, anchors []ballot.LogAnchor) error {
	tx := &blockTx{anchors: anchors, done: make(chan error, 1)}
	b.mu.Lock()
	for _, a := range anchors {
		prev := b.heads[a.Head.State]
		write, err := a.Check(testElection, b.keys, prev, time.Now().UnixMilli())
		if err != nil {
			b.mu.Unlock()
			return err
		}
		tx.read, tx.writes = append(tx.read, prev), append(tx.writes, write)
	}
	b.mu.Unlock()
	b.bmu.Lock()
	b.pending = append(b.pending, tx)
	b.cut()
	b.bmu.Unlock()
	select {
	case err := <-tx.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leave says a closing round has returned: it sends no more anchors.
func (b *blockLedger) leave() {
	b.bmu.Lock()
	defer b.bmu.Unlock()
	b.live--
	b.cut()
}

// cut commits the waiting anchors as a block once every live closing
// round has one waiting. The caller holds b.bmu.
func (b *blockLedger) cut() {
	if len(b.pending) == 0 || len(b.pending) < b.live {
		return
	}
	block := b.pending
	b.pending = nil
	slices.SortStableFunc(block, func(x, y *blockTx) int { return cmp.Compare(x.largest(), y.largest()) })
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, tx := range block {
		var err error
		for i, a := range tx.anchors {
			if b.heads[a.Head.State] != tx.read[i] {
				err = readConflict(tx.anchors)
			}
		}
		for i, a := range tx.anchors {
			if err == nil && tx.writes[i] {
				b.heads[a.Head.State] = a.Head
			}
		}
		tx.done <- err
	}
}

// make down stops a system's gateways together, so their closing rounds
// run at once, over one Redis, one ledger and the one key they share.
// Each of five gateways has stored (and signed) heads of a size of its
// own, the last the final heads, none anchored yet. Every closing round
// ends with the final heads anchored and logs its heads anchored, though
// each block commits the smallest heads first: the gateways whose head of
// the final size is refused as stored (the last gateway's) take that head
// at once, so all five anchor the same heads. Before, they anchored only
// their own smaller heads, each block's commit made the others' anchors
// lose, and after three lost races the gateways holding the largest heads
// gave up: the ledger kept the third gateway's heads, and every gateway
// warned (heads left unanchored, or the closing anchor failed). Retried
// until the bound instead, the ledger got the final heads a block a
// gateway later, but the four refused still warned of heads unanchored.
func TestConcurrentClosingRoundsAnchorTheFinalHeads(t *testing.T) {
	const gateways = 5
	srv, rdb, key, fake := signerSetup(t)
	ledger := &blockLedger{fakeLedger: fake, live: gateways}
	clock := newStillClock()
	logs := make([]strings.Builder, gateways)
	gws := make([]*Log, gateways)
	for i := range gws {
		// A millisecond apart: no two gateways sign a head byte for byte.
		ahead := time.Duration(i) * time.Millisecond
		now := func() time.Time { return clock.now().Add(ahead) }
		gws[i] = New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: now}, slog.New(slog.NewTextHandler(&logs[i], nil)))
	}
	for _, g := range gws { // gateway i stores the heads of i+1 votes of each state
		clock.advance(time.Second)
		for _, st := range testElection.States {
			appendVotes(t, rdb, st, 1)
			if err := g.sign(context.Background(), "e1", st); err != nil {
				t.Fatal(err)
			}
		}
	}
	clock.advance(time.Second)

	var wg sync.WaitGroup
	for _, g := range gws {
		wg.Go(func() {
			defer ledger.leave()
			g.closingRound(context.Background(), fixedElections{})
		})
	}
	wg.Wait()
	for _, st := range testElection.States {
		final, err := votequeue.GetHead(context.Background(), rdb, st)
		if err != nil {
			t.Fatal(err)
		}
		if got := fake.head(st); got.Size != gateways || got.Root != final.Root {
			t.Errorf("anchored %s head of size %d after the closing rounds; want the final head of %d (root %s)", st, got.Size, gateways, final.Root)
		}
	}
	for i := range logs {
		if says := `"intake log: closing heads anchored"`; !strings.Contains(logs[i].String(), says) {
			t.Errorf("gateway %d's log does not say %s:\n%s", i, says, logs[i].String())
		}
	}
}
