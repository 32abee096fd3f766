package batcher

import (
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
)

// newGatewaysRig is an attempt rig whose batcher submits in turn through
// its own peer (home, the rig's fake, which holds every transaction until
// released) and another organisation's peer seconds ahead of it (ahead:
// what it submits commits at once, and only ahead's own blocks show it).
func newGatewaysRig(t *testing.T) (*attemptRig, *fakeLedger) {
	home := newFakeLedger()
	home.plan = func(ballot.Batch, int) fault { return holdTx }
	ahead := newFakeLedger()
	return newAttemptRigOn(t, Config{}, home, RoundRobin(home, home, ahead)), ahead
}

// A transaction submitted through the batcher's own peer is not judged lost
// because a later one, submitted through a peer that commits blocks sooner,
// had its commit status first: commits are compared per gateway (run 47's
// A/B: 591 batches submitted again when the two peers were 3 s apart).
func TestOvertakenOnlyByTheSameGateway(t *testing.T) {
	r, ahead := newGatewaysRig(t)
	res := r.start(1) // through home: held, in no block home has committed
	r.overtake(2)     // 500 ms later through the ahead gateway: committed at once; 3 blocks follow on home
	if n := ahead.submissions(ballot.Batch{State: "CA", Seq: 2}.ID()); n != 1 {
		t.Fatalf("batch 2 submitted %d times through the ahead gateway, want once", n)
	}
	r.clk.Advance(time.Second) // past settle and twice the typical latency, within the stall bound
	r.mine(3)
	r.notYet(1, res)
	if n := r.lostChecks("confirmed") + r.lostChecks("withdrawn") + r.lostChecks("error"); n != 0 {
		t.Fatalf("%v lost verdicts, want none: the overtaking commit came through another gateway", n)
	}
	r.f.release() // home's peer commits it
	select {
	case err := <-res:
		if err != nil {
			t.Fatalf("attempt: %v, want committed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("attempt still waiting after its commit")
	}
	if n := r.f.submissions(ballot.Batch{State: "CA", Seq: 1}.ID()); n != 1 {
		t.Errorf("batch 1 submitted %d times, want once", n)
	}
}

// Within one gateway the rule stands: a transaction overtaken by a later
// one answered by the same gateway, in no block, is lost.
func TestOvertakenBySameGatewayIsLost(t *testing.T) {
	r, _ := newGatewaysRig(t)
	res := r.start(1) // through home: held
	r.overtake(2)     // through the ahead gateway
	r.clk.Advance(500 * time.Millisecond)
	r.f.mu.Lock()
	r.f.plan = nil // home commits what it gets from now on
	r.f.mu.Unlock()
	if err := <-r.start(3); err != nil { // through home again, 1 s after batch 1: committed
		t.Fatal(err)
	}
	r.clk.Advance(2 * time.Second)
	r.mine(3)
	wantLost(t, res)
	if n := r.lostChecks("confirmed"); n != 1 {
		t.Errorf("lost checks confirmed = %v, want 1", n)
	}
}
