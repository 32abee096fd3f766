package batcher_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/batcher"
	"github.com/votechain/votechain/batcher/fabricledger"
	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/internal/benchenv"
	"github.com/votechain/votechain/internal/redistest"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/nettest"
)

// drainStates are the states of `make bench`'s election (config/election.json).
var drainStates = []string{"CA", "TX", "FL", "NY", "PA", "IL", "OH", "GA", "NC", "MI"}

// BenchmarkDrainCost compares the CPU the whole commit path spends per
// 1,000 committed votes when the batcher drains a queue (votes spread over
// the states by population, as in `make bench`) with the ledger driven
// directly by pre-built batches of DRAIN_CEILING_VOTES votes (default
// 1,000), DRAIN_CEILING_INFLIGHT in flight (default 16; `make bench`'s
// sweep chooses the ceiling's setting), on one network; each
// drain reports its rate over the last ceiling's (of-ceiling). CPU time per vote, not the rate, is what
// carries over a machine shared with other work. DRAIN_VOTES sets the votes
// per drain (default 40,000; 0: no drains), DRAIN_RATE the rate of the
// paced runs that measure latency (default 1,000 votes/s for 20 s; 0: none),
// DRAIN_ROUNDS how many times the whole sequence runs (default 1).
// DRAIN_GATEWAY_ENDORSERS=1 runs every step a second time, on a connection
// that leaves the choice of endorsers to the peer's gateway (suffix
// -gwendorse; fabricclient.WithGatewayEndorsers), beside the default that
// has both organisations' peers endorse at once. DRAIN_EAGER=1 runs every
// setting first with lanes that read again at once after every read
// (suffix -eager; batcher.ReadEagerly), then as configured.
// DRAIN_CONSENSUS=raft runs it all on a Raft network (default: the
// network's default consensus, SmartBFT). The ceiling also reports the
// blocks a second and transactions a block, so that drives whose blocks
// hold one transaction (DRAIN_CEILING_INFLIGHT=1) and many separate the
// ledger's cost per block from its cost per transaction (docs/ledger.md,
// "The ledger's cost per block").
//
//	go test -run '^$' -bench DrainCost -benchtime 1x ./batcher/
func BenchmarkDrainCost(b *testing.B) {
	consensus, err := network.ParseConsensus(os.Getenv("DRAIN_CONSENSUS"))
	if err != nil {
		b.Fatal(err)
	}
	n := nettest.StartConsensus(b, consensus)
	fabricNet := n
	nettest.SetupElection(b, n, nettest.Election(drainStates, batcher.TestCandidates))
	srv := redistest.Start(b)
	rdb := srv.Client()
	conn := nettest.Dial(b, n, "Commission")
	election, err := conn.Ballot().Election(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	votes := benchenv.Int(b, "DRAIN_VOTES", 40_000, 0)
	// Votes spread over the states by population, or with DRAIN_ONLY=S all
	// in state S (a lane alone, as at the end of a drain).
	weights := loadgen.Weights(drainStates)
	if only := os.Getenv("DRAIN_ONLY"); only != "" {
		for i, s := range drainStates {
			weights[i] = 0
			if s == only {
				weights[i] = 1
			}
		}
	}
	pids := map[string]int{"client": os.Getpid(), "redis": srv.PID()}
	for _, p := range n.Status(context.Background()).Processes {
		if p.Running {
			pids[p.Name] = p.PID
		}
	}
	// report sets the metrics of one drain from CPU snapshots around it.
	report := func(b *testing.B, from, to measure.Snapshot, committed int, txs float64) {
		perK := func(match func(string) bool) float64 {
			return cpuSeconds(from, to, match) / float64(committed) * 1000
		}
		b.ReportMetric(perK(ledgerSide), "ledger-core-s/kvote")
		b.ReportMetric(perK(func(name string) bool { return strings.HasPrefix(name, "peer") }), "peer-core-s/kvote")
		b.ReportMetric(perK(func(name string) bool { return strings.HasPrefix(name, "orderer") }), "orderer-core-s/kvote")
		b.ReportMetric(perK(func(name string) bool { return strings.HasPrefix(name, "cc.") }), "cc-core-s/kvote")
		b.ReportMetric(perK(func(name string) bool { return name == "client" }), "client-core-s/kvote")
		b.ReportMetric(perK(func(name string) bool { return name == "redis" }), "redis-core-s/kvote")
		b.ReportMetric(float64(committed)/txs, "votes/tx")
		b.ReportMetric(float64(committed)/to.At.Sub(from.At).Seconds(), "votes/s")
	}

	type endorsing struct {
		name   string
		ledger *fabricclient.Ballot
	}
	endorsings := []endorsing{{"", conn.Ballot()}}
	if os.Getenv("DRAIN_GATEWAY_ENDORSERS") == "1" {
		endorsings = append(endorsings, endorsing{"-gwendorse", nettest.Dial(b, n, "Commission", fabricclient.WithGatewayEndorsers()).Ballot()})
	}
	perTx, ceilingInFlight := benchenv.Int(b, "DRAIN_CEILING_VOTES", 1000, 0), benchenv.Int(b, "DRAIN_CEILING_INFLIGHT", 16, 0)
	var ceilingRate float64 // votes/s of the last ceiling drive
	ceiling := func(b *testing.B, ledger *fabricclient.Ballot) {
		for range b.N {
			nodesFrom := scrapeNodes(b, fabricNet)
			from := measure.Take(pids)
			res, err := ledgerload.Run(context.Background(), ledger, election, ledgerload.Drive{
				VotesPerTx: perTx, InFlight: ceilingInFlight, Prebuilt: ceilingInFlight, Duration: time.Hour,
				SeqBase: ledgerload.SeqBaseFor(time.Now()), StopAfter: votes,
			})
			to := measure.Take(pids)
			if err != nil || res.Errors > 0 {
				b.Fatalf("drive: %v (%d errors, first %s)", err, res.Errors, res.FirstError)
			}
			report(b, from, to, res.AllVotes, float64(res.AllVotes)/float64(perTx))
			// Blocks a second and transactions a block: what separates the
			// ledger's per-block cost from its per-transaction cost.
			reportFabricStages(b, nodesFrom, scrapeNodes(b, fabricNet), float64(res.AllVotes)/float64(perTx), float64(res.AllVotes), to.At.Sub(from.At).Seconds())
			ceilingRate = float64(res.AllVotes) / to.At.Sub(from.At).Seconds()
		}
	}
	first := 0
	// run drains a queue of votes, or with rate > 0 offers them at rate
	// for seconds, and reports what the batcher spent per vote.
	run := func(b *testing.B, ledger *fabricclient.Ballot, cfg batcher.Config, eager bool, rate, seconds int) {
		reg := prometheus.NewRegistry()
		cfg.Partitions = drainStates
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		timed := &timedLedger{Ledger: fabricledger.New(ledger)}
		bt, err := batcher.New(cfg, rdb, timed, log, reg)
		if err != nil {
			b.Fatal(err)
		}
		if eager {
			batcher.ReadEagerly(bt)
		}
		n := votes
		if rate > 0 {
			n = rate * seconds
		} else {
			batcher.EnqueueWeighted(b, rdb, first, n, "drain", drainStates, weights)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		nodesFrom := scrapeNodes(b, fabricNet)
		from := measure.Take(pids)
		go func() { done <- bt.Run(ctx) }()
		if rate > 0 {
			tick := time.NewTicker(10 * time.Millisecond)
			began := time.Now()
			for sent := 0; sent < n; {
				<-tick.C
				due := min(n, int(time.Since(began).Seconds()*float64(rate)))
				batcher.EnqueueWeighted(b, rdb, first+sent, due-sent, "drain", drainStates, weights)
				sent = due
			}
			tick.Stop()
		}
		first += n
		batcher.WaitStatesDrained(b, rdb, drainStates, 10*time.Minute)
		to := measure.Take(pids)
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		txs := batcher.CommittedBatches(b, reg)
		report(b, from, to, n, txs) // votes/tx here is votes per batch
		if submits := histogramCount(b, reg, "batcher_tx_batches"); submits > 0 {
			b.ReportMetric(float64(n)/submits, "votes/submit")
		}
		if rate == 0 && ceilingRate > 0 {
			b.ReportMetric(float64(n)/to.At.Sub(from.At).Seconds()/ceilingRate, "of-ceiling")
		}
		reportFabricStages(b, nodesFrom, scrapeNodes(b, fabricNet), txs, float64(n), to.At.Sub(from.At).Seconds())
		if rate > 0 {
			reportStages(b, reg)
			e2e, tx := timed.summary()
			b.ReportMetric(e2e.P50ms, "e2e-p50-ms")
			b.ReportMetric(e2e.P95ms, "e2e-p95-ms")
			b.ReportMetric(tx.P50ms, "tx-p50-ms")
			b.ReportMetric(tx.P95ms, "tx-p95-ms")
		}
	}
	rounds, rate := benchenv.Int(b, "DRAIN_ROUNDS", 1, 0), benchenv.Int(b, "DRAIN_RATE", 1000, 0)
	eagers := []bool{false}
	if os.Getenv("DRAIN_EAGER") == "1" {
		eagers = []bool{true, false}
	}
	b.Run("idle", func(b *testing.B) {
		// What the network spends with nothing to do, per second.
		for range b.N {
			from := measure.Take(pids)
			time.Sleep(10 * time.Second)
			to := measure.Take(pids)
			b.ReportMetric(cpuSeconds(from, to, ledgerSide)/to.At.Sub(from.At).Seconds(), "ledger-cores")
		}
	})
	for range rounds {
		for _, e := range endorsings {
			if votes > 0 {
				b.Run("ceiling"+e.name, func(b *testing.B) { ceiling(b, e.ledger) })
			}
			for _, c := range drainConfigs(b) {
				for _, eager := range eagers {
					name := c.name + e.name
					if eager {
						name += "-eager"
					}
					if votes > 0 {
						b.Run("drain-"+name, func(b *testing.B) {
							for range b.N {
								run(b, e.ledger, c.cfg, eager, 0, 0)
							}
						})
					}
					if rate > 0 {
						b.Run(fmt.Sprintf("paced%d-%s", rate, name), func(b *testing.B) {
							for range b.N {
								run(b, e.ledger, c.cfg, eager, rate, 20)
							}
						})
					}
				}
			}
		}
	}
}

// histogramCount is how many observations the histogram name on reg holds.
func histogramCount(b *testing.B, reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return float64(mf.GetMetric()[0].GetHistogram().GetSampleCount())
		}
	}
	return 0
}

// timedLedger records, for every committed batch, each vote's time from
// being queued (its CastAt) to its transaction's commit, and the
// transaction's own time from submission to commit.
type timedLedger struct {
	batcher.Ledger
	mu       sync.Mutex
	e2e, txs []time.Duration
}

func (l *timedLedger) Submit(ctx context.Context, bs []ballot.Batch) (batcher.Tx, error) {
	tx, err := l.Ledger.Submit(ctx, bs)
	if err != nil {
		return nil, err
	}
	return timedTx{Tx: tx, l: l, bs: bs, at: time.Now()}, nil
}

func (l *timedLedger) summary() (e2e, tx measure.Latency) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return measure.Summarize(l.e2e), measure.Summarize(l.txs)
}

type timedTx struct {
	batcher.Tx
	l  *timedLedger
	bs []ballot.Batch
	at time.Time
}

func (t timedTx) Wait(ctx context.Context) ([]ballot.Committed, error) {
	c, err := t.Tx.Wait(ctx)
	if err == nil {
		now := time.Now()
		t.l.mu.Lock()
		defer t.l.mu.Unlock()
		t.l.txs = append(t.l.txs, now.Sub(t.at))
		for _, b := range t.bs {
			for _, v := range b.Votes {
				t.l.e2e = append(t.l.e2e, now.Sub(time.UnixMilli(v.CastAt)))
			}
		}
	}
	return c, err
}

// ledgerSide matches the network's processes: peers, chaincode servers, orderers.
func ledgerSide(name string) bool { return name != "client" && name != "redis" }

// cpuSeconds is the CPU time the processes matched spent between two snapshots.
func cpuSeconds(from, to measure.Snapshot, match func(string) bool) float64 {
	var s float64
	for name, u := range to.Procs {
		if a, ok := from.Procs[name]; ok && match(name) {
			s += (u.CPU - a.CPU).Seconds()
		}
	}
	return s
}

type drainConfig struct {
	name string
	cfg  batcher.Config
}

// drainConfigs are the batcher settings compared: the defaults, and any
// given in DRAIN_CONFIGS as name:size,fill,depth,inflight[,tick ms[,share
// votes[,max gap ms[,behind ms[,lag ms]]]]];... (0: the default; a
// negative tick: lanes cut when their transactions commit; negative share
// votes: lanes never share; a negative max gap: lanes cut on every tick; a
// negative behind: lanes skip ticks whenever the rate allows; a negative
// lag: the ledger's lag never makes them skip ticks). DRAIN_DEFAULTS=0
// leaves the defaults out.
func drainConfigs(b *testing.B) []drainConfig {
	out := []drainConfig{{name: "defaults"}}
	if os.Getenv("DRAIN_DEFAULTS") == "0" {
		out = nil
	}
	for _, spec := range strings.Split(os.Getenv("DRAIN_CONFIGS"), ";") {
		if spec == "" {
			continue
		}
		name, nums, _ := strings.Cut(spec, ":")
		var c batcher.Config
		var tick, gap, behind, lag int
		for strings.Count(nums, ",") < 8 {
			nums += ",0"
		}
		if _, err := fmt.Sscanf(nums, "%d,%d,%d,%d,%d,%d,%d,%d,%d", &c.BatchSize, &c.Fill, &c.Depth, &c.MaxInflight, &tick, &c.ShareVotes, &gap, &behind, &lag); err != nil {
			b.Fatalf("DRAIN_CONFIGS %q: want name:size,fill,depth,inflight[,tick ms[,share votes[,max gap ms[,behind ms[,lag ms]]]]] (%v)", spec, err)
		}
		c.Tick = time.Duration(tick) * time.Millisecond
		c.MaxGap = time.Duration(gap) * time.Millisecond
		c.Behind = time.Duration(behind) * time.Millisecond
		c.LedgerLag = time.Duration(lag) * time.Millisecond
		out = append(out, drainConfig{name: name, cfg: c})
	}
	return out
}
