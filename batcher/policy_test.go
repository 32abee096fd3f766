package batcher

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
)

var testCut = cutPolicy{maxVotes: 1000, fill: 250, depth: 4, maxWait: time.Second}

func TestCutPolicyDecides(t *testing.T) {
	t0 := time.Unix(1000, 0)
	checkCuts(t, testCut, []cutCase{
		{"nothing pending", t0, laneState{slotFree: true}, 0, 0},
		{"idle lane cuts one vote at once", t0, laneState{pending: 1, oldest: t0, slotFree: true}, 1, 0},
		{"idle lane cuts at most a full batch", t0, laneState{pending: 1500, oldest: t0, slotFree: true}, 1000, 0},
		{"in flight: a small batch grows", t0.Add(100 * time.Millisecond), laneState{pending: 40, oldest: t0, inflight: 1, slotFree: true}, 0, 900 * time.Millisecond},
		{"in flight: a filled batch takes another slot", t0, laneState{pending: 250, oldest: t0, inflight: 2, slotFree: true}, 250, 0},
		{"in flight: a vote waited maxWait", t0.Add(time.Second), laneState{pending: 3, oldest: t0, inflight: 1, slotFree: true}, 3, 0},
		{"lane depth reached", t0.Add(time.Hour), laneState{pending: 1000, oldest: t0, inflight: 4, slotFree: true}, 0, 0},
		{"no process slot", t0.Add(time.Hour), laneState{pending: 1000, oldest: t0, slotFree: false}, 0, 0},
	})
}

// cutCase is one decision of a cut policy and what it should be.
type cutCase struct {
	name     string
	now      time.Time
	s        laneState
	cut      int
	wakeWait time.Duration // 0: no wake-up
}

func checkCuts(t *testing.T, p cutPolicy, cases []cutCase) {
	t.Helper()
	checkDecisions(t, p.decide, cases)
}

// checkDecisions checks a decide function against cases.
func checkDecisions(t *testing.T, decide func(time.Time, laneState) (int, time.Time), cases []cutCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cut, wake := decide(c.now, c.s)
			var wait time.Duration
			if !wake.IsZero() {
				wait = wake.Sub(c.now)
			}
			if cut != c.cut || wait != c.wakeWait {
				t.Errorf("cut %d, wake after %v; want %d, %v", cut, wait, c.cut, c.wakeWait)
			}
		})
	}
}

func TestCutPolicyTicks(t *testing.T) {
	p := testCut
	p.tick = 100 * time.Millisecond
	t0 := time.Unix(1000, 0) // on a tick
	checkCuts(t, p, []cutCase{
		{"idle lane waits for the next tick", t0.Add(30 * time.Millisecond), laneState{pending: 3, oldest: t0.Add(30 * time.Millisecond), slotFree: true}, 0, 70 * time.Millisecond},
		{"in flight: waits for the next tick, not the commit", t0.Add(130 * time.Millisecond), laneState{pending: 40, oldest: t0.Add(120 * time.Millisecond), inflight: 1, slotFree: true}, 0, 70 * time.Millisecond},
		{"cuts on the tick", t0.Add(200 * time.Millisecond), laneState{pending: 40, oldest: t0.Add(120 * time.Millisecond), inflight: 2, slotFree: true}, 40, 0},
		{"a vote read on a tick waits a whole tick", t0, laneState{pending: 1, oldest: t0, slotFree: true}, 0, 100 * time.Millisecond},
		{"fill cuts at once", t0.Add(10 * time.Millisecond), laneState{pending: 250, oldest: t0.Add(5 * time.Millisecond), inflight: 1, slotFree: true}, 250, 0},
		{"lane depth reached", t0.Add(time.Hour), laneState{pending: 10, oldest: t0, inflight: 4, slotFree: true}, 0, 0},
		{"no backlog: above fill waits for the tick", t0.Add(90 * time.Millisecond), laneState{pending: 300, oldest: t0.Add(5 * time.Millisecond), inflight: 1, slotFree: true, drained: true}, 0, 10 * time.Millisecond},
		{"no backlog: a full batch goes at once", t0.Add(90 * time.Millisecond), laneState{pending: 1200, oldest: t0.Add(5 * time.Millisecond), inflight: 1, slotFree: true, drained: true}, 1000, 0},
	})
	// Without ticks fill cuts at once, drained or not.
	checkCuts(t, testCut, []cutCase{
		{"no ticks: fill cuts at once", t0.Add(10 * time.Millisecond), laneState{pending: 250, oldest: t0, inflight: 1, slotFree: true, drained: true}, 250, 0},
	})
}

// TestCutPolicyReadTime: votes of a paced read count as read when asked if
// they came before a tenth of a tick after the tick the read was meant for
// (a late answer is cut at once, not a tick later); otherwise, or unpaced,
// when they came.
func TestCutPolicyReadTime(t *testing.T) {
	p := testCut
	p.tick = 100 * time.Millisecond
	asked := time.Unix(1000, 0).Add(90 * time.Millisecond) // a tenth of a tick before a tick
	for _, c := range []struct {
		name  string
		p     cutPolicy
		after time.Duration
		paced bool
		want  time.Duration // after asked
	}{
		{"prompt", p, 2 * time.Millisecond, true, 0},
		{"late past the tick", p, 15 * time.Millisecond, true, 0},
		{"blocked a tick: no votes were waiting", p, 25 * time.Millisecond, true, 25 * time.Millisecond},
		{"unpaced", p, 2 * time.Millisecond, false, 2 * time.Millisecond},
		{"no ticks", testCut, 2 * time.Millisecond, true, 2 * time.Millisecond},
	} {
		if got := c.p.readTime(asked, asked.Add(c.after), c.paced); !got.Equal(asked.Add(c.want)) {
			t.Errorf("%s: read at asked+%v, want asked+%v", c.name, got.Sub(asked), c.want)
		}
	}
}

// TestCutPolicyNextRead: a lane cutting on ticks reads again a tenth of a
// tick before the next tick after a read that emptied its stream, at once
// after a full read; without ticks (or eager) always at once.
func TestCutPolicyNextRead(t *testing.T) {
	p := testCut
	p.tick = 100 * time.Millisecond
	t0 := time.Unix(1000, 0) // on a tick
	eager := p
	eager.eager = true
	for _, c := range []struct {
		name       string
		p          cutPolicy
		now        time.Time
		got, asked int
		want       time.Duration // after t0; -1: at once
	}{
		{"stream emptied: before the next tick", p, t0.Add(30 * time.Millisecond), 7, 1000, 90 * time.Millisecond},
		{"on a tick: before the next", p, t0, 7, 1000, 90 * time.Millisecond},
		{"within the lead: before the tick after", p, t0.Add(95 * time.Millisecond), 7, 1000, 190 * time.Millisecond},
		{"at the lead: before the tick after", p, t0.Add(90 * time.Millisecond), 0, 1000, 190 * time.Millisecond},
		{"full read (backlog): at once", p, t0.Add(30 * time.Millisecond), 1000, 1000, -1},
		{"no ticks: at once", testCut, t0.Add(30 * time.Millisecond), 7, 1000, -1},
		{"eager: at once", eager, t0.Add(30 * time.Millisecond), 7, 1000, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			at := c.p.nextRead(c.now, c.got, c.asked)
			if c.want < 0 {
				if !at.IsZero() {
					t.Fatalf("next read at t0+%v, want at once", at.Sub(t0))
				}
				return
			}
			if !at.Equal(t0.Add(c.want)) {
				t.Fatalf("next read at t0+%v (zero: at once %v), want t0+%v", at.Sub(t0), at.IsZero(), c.want)
			}
		})
	}
}

func TestSharePolicyDecides(t *testing.T) {
	p := sharePolicy{fill: 1000, depth: 16, linger: 25 * time.Millisecond}
	t0 := time.Unix(1000, 0) // the first batch queued
	// As a cut: all votes queued (pending) when it sends; slotFree stands
	// for "every batch announced is queued", else one is still awaited.
	decide := func(now time.Time, s laneState) (int, time.Time) {
		awaited := 1
		if s.slotFree {
			awaited = 0
		}
		if send, wake := p.decide(now, s.pending, s.oldest, awaited, s.inflight); !send {
			return 0, wake
		}
		return s.pending, time.Time{}
	}
	checkDecisions(t, decide, []cutCase{
		{"nothing queued", t0, laneState{oldest: t0, slotFree: true}, 0, 0},
		{"a batch announced not queued: lingers", t0.Add(5 * time.Millisecond), laneState{pending: 40, oldest: t0}, 0, 20 * time.Millisecond},
		{"every batch announced queued: at once", t0.Add(5 * time.Millisecond), laneState{pending: 40, oldest: t0, inflight: 3, slotFree: true}, 40, 0},
		{"lingered", t0.Add(25 * time.Millisecond), laneState{pending: 40, oldest: t0, inflight: 3}, 40, 0},
		{"a full transaction goes at once", t0, laneState{pending: 1000, oldest: t0, inflight: 3}, 1000, 0},
		{"depth reached", t0.Add(time.Hour), laneState{pending: 1000, oldest: t0, inflight: 16, slotFree: true}, 0, 0},
	})
}

// TestCutPolicyCadence: with a cadence, a lane past its tick cuts only if
// a tick that cut came after its oldest vote, and otherwise waits for the
// next tick.
func TestCutPolicyCadence(t *testing.T) {
	p := testCut
	p.tick = 100 * time.Millisecond
	t0 := time.Unix(1000, 0) // on a tick
	read := t0.Add(-10 * time.Millisecond)
	checkCuts(t, p, []cutCase{
		{"the tick cut", t0.Add(time.Millisecond), laneState{pending: 40, oldest: read, inflight: 1, slotFree: true, drained: true, cutTick: t0}, 40, 0},
		{"the tick skipped", t0.Add(time.Millisecond), laneState{pending: 40, oldest: read, inflight: 1, slotFree: true, drained: true, cutTick: t0.Add(-100 * time.Millisecond)}, 0, 99 * time.Millisecond},
		{"a lane late past a tick that cut", t0.Add(150 * time.Millisecond), laneState{pending: 40, oldest: read, inflight: 1, slotFree: true, drained: true, cutTick: t0}, 40, 0},
		{"before its tick", t0.Add(-5 * time.Millisecond), laneState{pending: 40, oldest: read, inflight: 1, slotFree: true, drained: true, cutTick: t0.Add(-100 * time.Millisecond)}, 0, 5 * time.Millisecond},
		{"a full batch goes whatever the cadence", t0.Add(time.Millisecond), laneState{pending: 1000, oldest: read, inflight: 1, slotFree: true, drained: true, cutTick: t0.Add(-100 * time.Millisecond)}, 1000, 0},
	})
}

// TestCadencePolicy: with Behind, the lanes skip ticks only while the
// ledger is behind. With Lag (the defaults' shape: 200 ms ticks, full
// 2,500, Behind off, MaxGap 600 ms, Lag 1 s), below a quarter of full votes
// a tick they cut on every tick while the ledger keeps up, and skip ticks
// up to MaxGap while a shared transaction has been in flight for Lag; the
// past-full rule still cuts; with Lag off the low rate always cuts.
func TestCadencePolicy(t *testing.T) {
	p := cadencePolicy{tick: 100 * time.Millisecond, full: 2000, behind: 300 * time.Millisecond, maxGap: 300 * time.Millisecond}
	t0 := time.Unix(1000, 0) // the tick judged
	late := t0.Add(-300 * time.Millisecond)
	anyRate := p
	anyRate.behind = -1
	d := cadencePolicy{tick: 200 * time.Millisecond, full: 2500, behind: -1, lag: time.Second, maxGap: 600 * time.Millisecond}
	lagging := t0.Add(-time.Second)
	longGap := d // a bound that lets the past-full rule come first at a low rate
	longGap.maxGap = 2 * time.Second
	lagOff, lagZero := d, d
	lagOff.lag, lagZero.lag = -1, 0
	withBehind := d // Behind above Lag: the ledger keeps up until Behind
	withBehind.behind = 2 * time.Second
	for _, c := range []struct {
		name string
		p    cadencePolicy
		s    cadenceState
		want bool
	}{
		{"nothing in flight", p, cadenceState{since: 1, perTick: 1000}, true},
		{"the ledger keeps up", p, cadenceState{since: 1, perTick: 1000, flying: t0.Add(-299 * time.Millisecond)}, true},
		{"behind: the transaction grows", p, cadenceState{since: 1, perTick: 1000, flying: late}, false},
		{"behind, two ticks: still room", p, cadenceState{since: 2, perTick: 650, flying: late}, false},
		{"behind: one more tick would overflow", p, cadenceState{since: 2, perTick: 700, flying: late}, true},
		{"behind: a tick fills it", p, cadenceState{since: 1, perTick: 2000, flying: late}, true},
		{"behind: low rate", p, cadenceState{since: 1, perTick: 499, flying: late}, true},
		{"behind: max gap", p, cadenceState{since: 3, perTick: 500, flying: late}, true},
		{"always behind: nothing in flight", anyRate, cadenceState{since: 1, perTick: 1000}, false},
		{"always behind: low rate", anyRate, cadenceState{since: 1, perTick: 400}, true},
		{"lag: nothing in flight, low rate cuts", d, cadenceState{since: 1, perTick: 400}, true},
		{"lag: keeping up, low rate cuts", d, cadenceState{since: 1, perTick: 400, flying: t0.Add(-999 * time.Millisecond)}, true},
		{"lagging: skips", d, cadenceState{since: 1, perTick: 400, flying: lagging}, false},
		{"lagging: skips a second tick", d, cadenceState{since: 2, perTick: 400, flying: lagging}, false},
		{"lagging: cuts at max gap", d, cadenceState{since: 3, perTick: 400, flying: lagging}, true},
		{"lagging, a trickle: skips", d, cadenceState{since: 2, perTick: 5, flying: t0.Add(-time.Minute)}, false},
		{"lagging, a trickle: cuts at max gap", d, cadenceState{since: 3, perTick: 5, flying: t0.Add(-time.Minute)}, true},
		{"lagging, long gap: room for one more tick", longGap, cadenceState{since: 3, perTick: 600, flying: lagging}, false},
		{"lagging, long gap: one more tick would pass full", longGap, cadenceState{since: 4, perTick: 600, flying: lagging}, true},
		{"lagging above a quarter: skips", d, cadenceState{since: 1, perTick: 1000, flying: lagging}, false},
		{"lagging above a quarter: one more tick would pass full", d, cadenceState{since: 2, perTick: 1000, flying: lagging}, true},
		{"lag off: low rate cuts", lagOff, cadenceState{since: 1, perTick: 400, flying: t0.Add(-time.Minute)}, true},
		{"lag zero: low rate cuts", lagZero, cadenceState{since: 1, perTick: 400, flying: t0.Add(-time.Minute)}, true},
		{"lag off above a quarter: skips as before", lagOff, cadenceState{since: 1, perTick: 1000, flying: t0.Add(-time.Minute)}, false},
		{"behind above lag: keeping up by Behind cuts", withBehind, cadenceState{since: 1, perTick: 400, flying: t0.Add(-1500 * time.Millisecond)}, true},
		{"behind above lag: behind and lagging skips", withBehind, cadenceState{since: 1, perTick: 400, flying: t0.Add(-2 * time.Second)}, false},
	} {
		if got := c.p.cuts(t0, c.s); got != c.want {
			t.Errorf("%s: cuts %v, want %v", c.name, got, c.want)
		}
	}
}

// TestCadenceDecidesOncePerTick: the first lane to ask about a tick decides
// it for all, from the votes read per tick before it; a tick skipped leaves
// the latest tick that cut.
func TestCadenceDecidesOncePerTick(t *testing.T) {
	var flying time.Time
	c := &cadence{
		policy: cadencePolicy{tick: 100 * time.Millisecond, full: 2000, behind: 150 * time.Millisecond, maxGap: 300 * time.Millisecond},
		flying: func() time.Time { return flying },
	}
	t0 := time.Unix(1000, 0) // on a tick
	c.read.Add(600)
	if got := c.latest(t0.Add(time.Millisecond)); !got.Equal(t0) {
		t.Fatalf("first tick: latest %v, want t0", got.Sub(t0))
	}
	flying = t0.Add(-time.Second) // behind from now on
	if got := c.latest(t0.Add(50 * time.Millisecond)); !got.Equal(t0) {
		t.Fatalf("t0 asked again: latest %v, want t0", got.Sub(t0))
	}
	// 600 votes a tick: skipped twice, then cut (a fourth tick's would
	// overflow), then skipped again.
	for i, want := range []time.Duration{0, 0, 300 * time.Millisecond, 300 * time.Millisecond} {
		c.read.Add(600)
		at := t0.Add(time.Duration(i+1)*100*time.Millisecond + 2*time.Millisecond)
		for range 3 { // every lane asks; the first decides
			if got := c.latest(at); !got.Equal(t0.Add(want)) {
				t.Fatalf("tick %d: latest t0+%v, want t0+%v", i+1, got.Sub(t0), want)
			}
			c.read.Add(1) // read after the decision: the next tick's
		}
	}
	// At a low rate every tick cuts again, once the mean has come down.
	cut := 0
	for i := range 20 {
		c.read.Add(100)
		at := t0.Add(time.Duration(i+5)*100*time.Millisecond + 2*time.Millisecond)
		if c.latest(at).Equal(at.Truncate(100 * time.Millisecond)) {
			cut++
		}
	}
	if cut < 15 {
		t.Fatalf("%d of 20 ticks cut at 100 votes a tick, want most", cut)
	}
}

func TestCutPolicyRoom(t *testing.T) {
	for _, c := range []struct{ pending, want int }{{0, 1000}, {400, 600}, {1000, 0}, {1200, 0}} {
		if got := testCut.room(c.pending); got != c.want {
			t.Errorf("room(%d) = %d, want %d", c.pending, got, c.want)
		}
	}
}

// simResult is what a simulated lane did.
type simResult struct {
	batches   int
	votes     int
	meanBatch float64
	maxBatch  int
	p95Wait   time.Duration // vote read to its batch committed
}

// simulate runs one lane under the cut policy for dur, with votes arriving
// at rate per second and each transaction committing after
// base + perVote×size, in 1 ms steps of a virtual clock.
func simulate(p cutPolicy, rate float64, base, perVote, dur time.Duration) simResult {
	type tx struct {
		done  time.Duration
		reads []time.Duration
	}
	var (
		res      simResult
		pending  []time.Duration // read times
		inflight []tx
		waits    []time.Duration
		credit   float64
	)
	t0 := time.Unix(0, 0)
	for now := time.Duration(0); now < dur; now += time.Millisecond {
		kept := inflight[:0]
		for _, x := range inflight {
			if x.done > now {
				kept = append(kept, x)
				continue
			}
			for _, r := range x.reads {
				waits = append(waits, now-r)
			}
		}
		inflight = kept
		credit += rate / 1000
		for ; credit >= 1 && len(pending) < p.maxVotes; credit-- {
			pending = append(pending, now)
		}
		for {
			s := laneState{pending: len(pending), inflight: len(inflight), slotFree: true}
			if len(pending) > 0 {
				s.oldest = t0.Add(pending[0])
			}
			n, _ := p.decide(t0.Add(now), s)
			if n == 0 {
				break
			}
			inflight = append(inflight, tx{done: now + base + time.Duration(n)*perVote, reads: pending[:n:n]})
			pending = slices.Clone(pending[n:])
			res.batches++
			res.votes += n
			res.maxBatch = max(res.maxBatch, n)
		}
	}
	if res.batches > 0 {
		res.meanBatch = float64(res.votes) / float64(res.batches)
	}
	if len(waits) > 0 {
		slices.Sort(waits)
		res.p95Wait = waits[len(waits)*95/100]
	}
	return res
}

// The ledger model of the simulations: 300 ms per transaction (block time
// and endorsement) plus 0.2 ms per vote, so a full batch commits in 500 ms.
const simBase, simPerVote = 300 * time.Millisecond, 200 * time.Microsecond

func TestCutSizesFollowLoad(t *testing.T) {
	low := simulate(testCut, 20, simBase, simPerVote, 20*time.Second)
	// At 20 votes/s a lane never has more than one transaction in flight:
	// a batch is what arrived during the previous commit (~6 votes), and a
	// vote waits at most two commits.
	if low.meanBatch > 20*0.31+1 || low.p95Wait > 2*(simBase+20*simPerVote) {
		t.Errorf("low rate: %+v; want batches of at most ~7 votes and waits within two commits", low)
	}
	mid := simulate(testCut, 1000, simBase, simPerVote, 20*time.Second)
	// At 1,000 votes/s one commit's arrivals exceed fill: a second
	// transaction opens as soon as a batch reaches it.
	if mid.meanBatch < 0.9*float64(testCut.fill) || mid.maxBatch > testCut.fill {
		t.Errorf("1,000 votes/s: %+v; want batches of about fill (%d) votes", mid, testCut.fill)
	}
	// Far beyond what depth×maxVotes per commit can carry: every batch
	// full once the first commits are in flight.
	high := simulate(testCut, 20000, simBase, simPerVote, 20*time.Second)
	if high.meanBatch < 0.95*float64(testCut.maxVotes) {
		t.Errorf("backlog: %+v; want full batches of %d", high, testCut.maxVotes)
	}
	for _, r := range []struct {
		rate float64
		res  simResult
	}{{20, low}, {1000, mid}, {20000, high}} {
		t.Logf("%6.0f votes/s: %5d batches, mean %6.1f votes, max %4d, p95 read→commit %v",
			r.rate, r.res.batches, r.res.meanBatch, r.res.maxBatch, r.res.p95Wait)
	}
}

// BenchmarkCutPolicy reports the batch sizes and waits a lane reaches at
// several rates under the simulated ledger, and the cost of a decision.
func BenchmarkCutPolicy(b *testing.B) {
	for _, rate := range []float64{20, 100, 1000, 5000, 20000} {
		b.Run(fmt.Sprintf("rate=%.0f", rate), func(b *testing.B) {
			var res simResult
			for range b.N {
				res = simulate(testCut, rate, simBase, simPerVote, 10*time.Second)
			}
			b.ReportMetric(res.meanBatch, "votes/batch")
			b.ReportMetric(float64(res.batches)/10, "batches/s")
			b.ReportMetric(float64(res.p95Wait.Milliseconds()), "p95-ms")
		})
	}
}

func TestRecoveryPolicy(t *testing.T) {
	p := newRecoveryPolicy(Config{CommitTimeout: time.Minute}) // Raft: no failover
	if want := (recoveryPolicy{blocks: 3, settle: 500 * time.Millisecond, floor: 2 * time.Second, limit: time.Minute}); p != want {
		t.Fatalf("recovery policy without a failover %+v, want %+v", p, want)
	}
	lat := latencyStats{typical: 300 * time.Millisecond, worst: time.Second}
	slow := latencyStats{typical: 5 * time.Second, worst: 10 * time.Second}
	// waiting: a transaction accepted d ago, nothing committed since.
	waiting := func(d time.Duration) txWait { return txWait{elapsed: d, stalled: d} }
	// overtaken: blocks since, and a transaction accepted by later after it committed now.
	overtaken := func(d time.Duration, blocks uint64, by time.Duration) txWait {
		return txWait{elapsed: d, blocks: blocks, overtaken: by}
	}
	for _, c := range []struct {
		name   string
		w      txWait
		lat    latencyStats
		losses int
		want   bool
	}{
		{"fresh", waiting(100 * time.Millisecond), lat, 0, false},
		{"overtaken, but not yet twice the typical commit", overtaken(500*time.Millisecond, 5, time.Second), lat, 0, false},
		{"overtaken after twice the typical commit", overtaken(600*time.Millisecond, 3, 500*time.Millisecond), lat, 0, true},
		{"overtaken in too few blocks", txWait{elapsed: 3 * time.Second, blocks: 2, overtaken: time.Second}, lat, 0, false},
		{"blocks, none with a later transaction (a backlog ahead of it)", txWait{elapsed: 3 * time.Second, blocks: 30, overtaken: -time.Second}, lat, 0, false},
		{"overtaken by one accepted just after it (order of acceptance unsure)", overtaken(3*time.Second, 30, 499*time.Millisecond), lat, 0, false},
		{"slow drain: commits keep coming", txWait{elapsed: 30 * time.Second, stalled: time.Second, blocks: 50}, lat, 0, false},
		{"commits stalled: four times the slowest commit", txWait{elapsed: 30 * time.Second, stalled: 4 * time.Second, blocks: 50}, lat, 0, true},
		{"nothing committed: four times the slowest commit", waiting(4 * time.Second), lat, 0, true},
		{"nothing committed, just under the bound", waiting(3999 * time.Millisecond), lat, 0, false},
		{"slow network: bound follows it", waiting(30 * time.Second), slow, 0, false},
		{"slow network: overtaken needs 2× its typical commit", overtaken(9*time.Second, 10, time.Second), slow, 0, false},
		{"the configured limit caps the bound", waiting(time.Minute), latencyStats{typical: time.Minute, worst: time.Hour}, 0, true},
		{"lost twice before: the bound is 4× longer", waiting(15 * time.Second), lat, 2, false},
		{"lost twice before, at 4× the bound", waiting(16 * time.Second), lat, 2, true},
		{"lost before: being overtaken still decides", overtaken(600*time.Millisecond, 3, time.Second), lat, 5, true},
	} {
		if got := p.lost(c.w, c.lat, c.losses); got != c.want {
			t.Errorf("%s: lost(%+v) = %v, want %v", c.name, c.w, got, c.want)
		}
	}
	if got := p.bound(latencyStats{worst: 10 * time.Millisecond}, 0); got != p.floor {
		t.Errorf("bound of a fast network %v, want the floor %v", got, p.floor)
	}
}

// Under SmartBFT (Config.Failover) a stall of commits is no loss until the
// followers had time to replace a dead leader; being overtaken still is,
// by a transaction accepted more than a follower's forward timeout later.
func TestRecoveryPolicyWaitsOutFailover(t *testing.T) {
	p := newRecoveryPolicy(Config{Failover: 10 * time.Second, CommitTimeout: time.Minute})
	if p.floor != 10*time.Second || p.settle != 1500*time.Millisecond {
		t.Fatalf("recovery policy under SmartBFT %+v, want the failover's 10 s floor and a 1.5 s settle", p)
	}
	lat := latencyStats{typical: 300 * time.Millisecond, worst: time.Second}
	for _, c := range []struct {
		name string
		w    txWait
		want bool
	}{
		{"stalled four times the slowest commit, within the failover", txWait{elapsed: 4 * time.Second, stalled: 4 * time.Second}, false},
		{"stalled just under the failover", txWait{elapsed: 9999 * time.Millisecond, stalled: 9999 * time.Millisecond}, false},
		{"stalled the whole failover", txWait{elapsed: 10 * time.Second, stalled: 10 * time.Second}, true},
		{"overtaken by one accepted 1 s later (forwarded to the leader late: no evidence)", txWait{elapsed: 3 * time.Second, blocks: 3, overtaken: time.Second}, false},
		{"overtaken by one accepted just under 1.5 s later", txWait{elapsed: 3 * time.Second, blocks: 3, overtaken: 1499 * time.Millisecond}, false},
		{"overtaken by one accepted 1.5 s later, within the failover", txWait{elapsed: 1500 * time.Millisecond, blocks: 3, overtaken: 1500 * time.Millisecond}, true},
	} {
		if got := p.lost(c.w, lat, 0); got != c.want {
			t.Errorf("%s: lost(%+v) = %v, want %v", c.name, c.w, got, c.want)
		}
	}
}

func TestLatencyWindow(t *testing.T) {
	var w latencyWindow
	if w.stats() != defaultLatency {
		t.Fatalf("empty window: %+v", w.stats())
	}
	for i := 1; i <= 3*latencySamples; i++ {
		w.add(time.Duration(i) * time.Millisecond)
	}
	// Only the last 64 samples count: 129..192 ms.
	got := w.stats()
	if got.worst != 192*time.Millisecond || got.typical != 161*time.Millisecond {
		t.Fatalf("stats %+v, want typical 161ms worst 192ms", got)
	}
}

func TestBackoffDoublesToLimit(t *testing.T) {
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := backoff(i+1, 100, 1000); got != w {
			t.Errorf("attempt %d: %v, want %v", i+1, got, w)
		}
	}
}

func TestFairShare(t *testing.T) {
	for _, c := range []struct{ parts, live, want int }{
		{10, 1, 10}, {10, 2, 5}, {10, 3, 4}, {5, 10, 1}, {10, 0, 10},
	} {
		if got := fairShare(c.parts, c.live); got != c.want {
			t.Errorf("fairShare(%d, %d) = %d, want %d", c.parts, c.live, got, c.want)
		}
	}
}

func TestConfigDefaultsAndLimits(t *testing.T) {
	c := Config{Partitions: []string{"CA"}}
	if err := c.applyDefaults(); err != nil {
		t.Fatal(err)
	}
	if c.BatchSize != DefaultConfig().BatchSize || c.Fill != 250 || c.Owner == "" || c.Clock == nil {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if c.ShareVotes != 2500 {
		t.Errorf("share votes %d by default, want two and a half batches' 2500", c.ShareVotes)
	}
	small := Config{Partitions: []string{"CA"}, BatchSize: 100}
	if err := small.applyDefaults(); err != nil || small.Fill != 25 || small.ShareVotes != 250 {
		t.Errorf("fill and share votes of a 100-vote batch size: %d, %d, %v; want 25, 250", small.Fill, small.ShareVotes, err)
	}
	large := Config{Partitions: []string{"CA"}, BatchSize: 8000}
	if err := large.applyDefaults(); err != nil || large.ShareVotes != ballot.MaxBatchVotes {
		t.Errorf("share votes of an 8000-vote batch size: %d, %v; want the chaincode's limit %d", large.ShareVotes, err, ballot.MaxBatchVotes)
	}
	if err := (&Config{}).applyDefaults(); err == nil {
		t.Error("no partitions accepted")
	}
	if err := (&Config{Partitions: []string{"CA"}, BatchSize: 20000}).applyDefaults(); err == nil {
		t.Error("batch size above the chaincode limit accepted")
	}
	if err := (&Config{Partitions: []string{"CA"}, BatchSize: 100, Fill: 200}).applyDefaults(); err == nil {
		t.Error("fill above the batch size accepted")
	}
}

// Config refuses a commit timeout not above the ordering failover: a
// commit wait ending first would resubmit the batch during the failover.
func TestCommitTimeoutMustExceedFailover(t *testing.T) {
	for timeout, refused := range map[time.Duration]bool{5 * time.Second: true, 10 * time.Second: true, 11 * time.Second: false} {
		c := Config{Partitions: []string{"CA"}, CommitTimeout: timeout, Failover: 10 * time.Second}
		if err := c.applyDefaults(); (err != nil) != refused || refused && !strings.Contains(err.Error(), "not above the ordering failover") {
			t.Errorf("commit timeout %v, failover 10s: %v; want refused %v", timeout, err, refused)
		}
	}
}
