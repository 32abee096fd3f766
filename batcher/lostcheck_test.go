package batcher

import (
	"errors"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
)

// newFirstFaultRig is an attempt rig whose fake ledger does what to the
// batch of sequence number 1 and commits every other.
func newFirstFaultRig(t *testing.T, what fault) *attemptRig {
	return newAttemptRig(t, func(b ballot.Batch, _ int) fault {
		if b.Seq == 1 {
			return what
		}
		return commitOK
	})
}

// startWithdrawn starts the attempt of batch 1, has it judged lost
// (overtake), and waits for the verdict to be withdrawn and the attempt's
// decision to wait again to stand (notYet): its timer is then set from the
// clock's time at the withdrawal, so the test's next Advance comes after it
// and the timer does not fall due one Advance too late. Nothing the hook
// does not see is coming: the fake holds the transaction's commit status.
func (r *attemptRig) startWithdrawn() <-chan error {
	r.t.Helper()
	res := r.start(1)
	r.overtake(2)
	waitFor(r.t, "the verdict withdrawn", func() bool { return r.lostChecks("withdrawn") == 1 })
	r.notYet(1, res)
	return res
}

// overtake makes the recovery policy judge the transaction of an attempt
// started just before lost: a transaction accepted 500 ms after it commits,
// and 3 blocks follow.
func (r *attemptRig) overtake(seq uint64) {
	r.t.Helper()
	r.clk.Advance(500 * time.Millisecond)
	if err := <-r.start(seq); err != nil {
		r.t.Fatal(err)
	}
	r.mine(3)
}

// lostChecks returns how many lost verdicts the ledger look-up ended with result.
func (r *attemptRig) lostChecks(result string) float64 {
	return metricValue(r.t, r.b.metrics.lostChecks.WithLabelValues(result))
}

// A transaction already in a block whose commit status comes after a later
// transaction's (the peer's gateway answering late) is judged lost by the
// policy, found on the ledger, and waited for: not given up, not submitted
// again.
func TestLateStatusIsNotLost(t *testing.T) {
	r := newFirstFaultRig(t, lateStatus)
	res := r.startWithdrawn()
	r.notYet(1, res)
	bound := r.b.recovery.bound(r.b.latencyStats(), 0)
	r.clk.Advance(bound - time.Millisecond) // no longer judged lost, however long
	r.mine(3)
	r.notYet(1, res)
	r.f.deliver()
	select {
	case err := <-res:
		if err != nil {
			t.Fatalf("late status: %v, want committed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("attempt still waiting after the status came")
	}
	if n := r.f.submissions(ballot.Batch{State: "CA", Seq: 1}.ID()); n != 1 {
		t.Errorf("batch submitted %d times, want once", n)
	}
	if n := r.lostChecks("confirmed") + r.lostChecks("error"); n != 0 {
		t.Errorf("%v lost verdicts acted on, want none", n)
	}
}

// A transaction in a block whose commit status never comes is given up on
// its status at the stall bound from its finding, not as lost: lane.commit
// then reads its outcome from the ledger.
func TestMissingStatusInBlockEndsAtBound(t *testing.T) {
	r := newFirstFaultRig(t, loseStatus)
	res := r.startWithdrawn()
	bound := r.b.recovery.bound(r.b.latencyStats(), 0)
	r.clk.Advance(bound - time.Millisecond)
	r.notYet(1, res)
	r.clk.Advance(time.Millisecond)
	select {
	case err := <-res:
		var noStatus *errNoStatus
		if !errors.As(err, &noStatus) || classify(err) != "no_status" {
			t.Fatalf("attempt returned %v, want no commit status (no_status)", err)
		}
		t.Log(err)
	case <-time.After(10 * time.Second):
		t.Fatal("attempt still waiting")
	}
	if n := r.f.submissions(ballot.Batch{State: "CA", Seq: 1}.ID()); n != 1 {
		t.Errorf("batch submitted %d times by attempt, want once", n)
	}
}

// A transaction in no block is still lost the moment the policy says so,
// and so is one the ledger cannot be asked about (counted apart).
func TestLostVerdictConfirmed(t *testing.T) {
	for _, c := range []struct {
		name   string
		lookup error
		result string
	}{
		{"in no block", nil, "confirmed"},
		{"look-up fails", errors.New("fake: peer unavailable"), "error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newFirstFaultRig(t, loseTx)
			r.f.mu.Lock()
			r.f.blockOfErr = c.lookup
			r.f.mu.Unlock()
			res := r.start(1)
			r.clk.Advance(500 * time.Millisecond)
			if err := <-r.start(2); err != nil {
				t.Fatal(err)
			}
			r.mine(1)
			r.notYet(1, res) // two blocks since: not yet judged
			r.mine(1)
			wantLost(t, res) // the third, as without the look-up
			if n := r.lostChecks(c.result); n != 1 {
				t.Errorf("lost checks %s = %v, want 1", c.result, n)
			}
			if n := r.lostChecks("withdrawn"); n != 0 {
				t.Errorf("%v verdicts withdrawn, want none", n)
			}
		})
	}
}
