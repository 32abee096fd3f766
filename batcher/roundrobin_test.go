package batcher

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/votechain/votechain/ballot"
)

// turnLedger is one gateway (or the home peer) of a RoundRobin: it records
// the calls it got and answers with transactions named after itself.
type turnLedger struct {
	name    string
	failing error // every Submit fails with it, if set

	mu      sync.Mutex
	submits int
	reads   []string // "Batch", "BlockOfTx", "BlockNumbers"
}

// turnTx is a transaction of a turnLedger; Wait reports which ledger it
// waits through.
type turnTx struct {
	id, via string
}

func (t turnTx) TransactionID() string { return t.id }

func (t turnTx) Wait(context.Context) ([]ballot.Committed, error) {
	return []ballot.Committed{{TxID: t.id, Record: ballot.BatchRecord{TxID: t.via}}}, nil
}

func (l *turnLedger) Submit(_ context.Context, bs []ballot.Batch) (Tx, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.submits++
	if l.failing != nil {
		return nil, fmt.Errorf("%s: %w", l.name, l.failing)
	}
	return turnTx{id: fmt.Sprintf("%s-%d", l.name, l.submits), via: l.name}, nil
}

func (l *turnLedger) read(what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads = append(l.reads, what)
}

func (l *turnLedger) Batch(context.Context, string, uint64) (ballot.BatchRecord, error) {
	l.read("Batch")
	return ballot.BatchRecord{TxID: l.name}, nil
}

func (l *turnLedger) BlockOfTx(context.Context, string) (uint64, error) {
	l.read("BlockOfTx")
	return 7, nil
}

func (l *turnLedger) BlockNumbers(context.Context) (<-chan uint64, error) {
	l.read("BlockNumbers")
	ch := make(chan uint64)
	close(ch)
	return ch, nil
}

func turnLedgers(names ...string) ([]*turnLedger, []Ledger) {
	ls := make([]*turnLedger, len(names))
	as := make([]Ledger, len(names))
	for i, n := range names {
		ls[i] = &turnLedger{name: n}
		as[i] = ls[i]
	}
	return ls, as
}

var oneBatch = []ballot.Batch{{State: "CA", Seq: 1}}

// TestRoundRobinTurns: submissions go to the gateways in turn, each Tx
// waits through the gateway that submitted it, and every read goes to
// home, never to a gateway.
func TestRoundRobinTurns(t *testing.T) {
	ctx := context.Background()
	homes, home := turnLedgers("home")
	gws, gateways := turnLedgers("a", "b", "c")
	l := RoundRobin(home[0], gateways...)
	var got []string
	for range 7 {
		tx, err := l.Submit(ctx, oneBatch)
		if err != nil {
			t.Fatal(err)
		}
		done, err := tx.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if done[0].TxID != tx.TransactionID() {
			t.Errorf("Wait of %s answered for %s", tx.TransactionID(), done[0].TxID)
		}
		got = append(got, done[0].Record.TxID+":"+tx.TransactionID())
	}
	want := []string{"a:a-1", "b:b-1", "c:c-1", "a:a-2", "b:b-2", "c:c-2", "a:a-3"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("submissions (waited via:tx) %v, want %v", got, want)
	}

	if rec, err := l.Batch(ctx, "CA", 1); err != nil || rec.TxID != "home" {
		t.Errorf("Batch read %+v, %v; want home's", rec, err)
	}
	if n, err := l.BlockOfTx(ctx, "a-1"); err != nil || n != 7 {
		t.Errorf("BlockOfTx %d, %v; want home's 7", n, err)
	}
	if _, err := l.BlockNumbers(ctx); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(homes[0].reads) != "[Batch BlockOfTx BlockNumbers]" || homes[0].submits != 0 {
		t.Errorf("home: reads %v, %d submissions; want the three reads and no submission", homes[0].reads, homes[0].submits)
	}
	for _, g := range gws {
		if len(g.reads) != 0 {
			t.Errorf("gateway %s was read: %v", g.name, g.reads)
		}
	}
}

// TestRoundRobinAlone: without gateways home submits too (the batcher's
// behaviour with its own peer only).
func TestRoundRobinAlone(t *testing.T) {
	homes, home := turnLedgers("home")
	tx, err := RoundRobin(home[0]).Submit(context.Background(), oneBatch)
	if err != nil || tx.TransactionID() != "home-1" || homes[0].submits != 1 {
		t.Errorf("Submit: %v, %v, home submitted %d; want home-1", tx, err, homes[0].submits)
	}
}

// TestRoundRobinConcurrent: submissions from many goroutines at once are
// spread exactly evenly (each call takes the next turn).
func TestRoundRobinConcurrent(t *testing.T) {
	_, home := turnLedgers("home")
	gws, gateways := turnLedgers("a", "b", "c")
	l := RoundRobin(home[0], gateways...)
	const callers, each = 30, 20
	var wg sync.WaitGroup
	errs := make(chan error, callers*each)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := l.Submit(context.Background(), oneBatch); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, g := range gws {
		if g.submits != callers*each/len(gws) {
			t.Errorf("gateway %s took %d submissions, want %d", g.name, g.submits, callers*each/len(gws))
		}
	}
}

// TestRoundRobinFailingGateway: a gateway whose submissions fail keeps its
// turns and returns its own error; the others' turns go on and succeed.
func TestRoundRobinFailingGateway(t *testing.T) {
	_, home := turnLedgers("home")
	gws, gateways := turnLedgers("a", "b", "c")
	refused := errors.New("endorsement refused")
	gws[1].failing = refused
	l := RoundRobin(home[0], gateways...)
	var got []string
	for range 6 {
		tx, err := l.Submit(context.Background(), oneBatch)
		switch {
		case errors.Is(err, refused):
			got = append(got, "error")
		case err != nil:
			t.Fatalf("unexpected error %v", err)
		default:
			got = append(got, tx.TransactionID())
		}
	}
	want := []string{"a-1", "error", "c-1", "a-2", "error", "c-2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("submissions %v, want %v", got, want)
	}
}
