package suite

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/monitor"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/stack"
	"github.com/votechain/votechain/network/fabricclient"
)

// Scale-out (issue 20): the cluster shape - a Redis Cluster of three
// masters with a replica each, two gateways behind HAProxy, two batchers -
// on an extra stack of its own, a fixed rate offered through HAProxy, and
// every process's CPU per vote, which the report's scale-out plan is made
// of.

// OnlyScaleOut is Config.Only for the scale-out phase alone.
const OnlyScaleOut = "scaleout"

// OnlyPhases returns the phases Config.Only can name, in a new slice at
// each call, so no caller can change them for the others.
func OnlyPhases() []string { return []string{OnlyScaleOut, OnlySweep, OnlyIntake, OnlyAB} }

// only runs the one phase Config.Only names, without the run's own system
// (so no ledger ceiling: the plan derives no channels).
func (r *run) only(ctx context.Context, began time.Time) (*report.Report, error) {
	if r.cfg.Only != OnlyScaleOut {
		return nil, fmt.Errorf("phase %q cannot run alone: the phases that can are %s", r.cfg.Only, strings.Join(OnlyPhases(), ", "))
	}
	r.rep.Only = r.cfg.Only
	r.scaleOut(ctx)
	r.rep.Targets = r.scaleOutTarget()
	r.end(ctx, began)
	return r.rep, ctx.Err()
}

// scaleOutPortOffset places the scale-out stack just below the run's ports:
// its plan takes B-400..B-4 (its highest port, the Redis exporter's, is
// the plan's +396). Above the run's system and the extra networks it would
// reach B+1196, in the ephemeral range (32768+) from the default base 31800.
const scaleOutPortOffset = -400

// scaleOutShape is the measured shape.
const scaleOutGateways, scaleOutBatchers = 2, 2

// scaleGoals is what the plan is made for: a national rate.
var scaleGoals = report.ScaleGoals{RatePerS: 50_000, Headroom: 0.7, HostCores: 16, Orgs: 2}

// scaleOut measures the cluster shape and makes the report's plan from it
// and the run's ledger ceiling (one channel's). A failure is the report's,
// not the run's: the section says why.
func (r *run) scaleOut(ctx context.Context) {
	began := time.Now()
	c, err := r.measureCluster(ctx)
	if err != nil {
		c.Error = err.Error()
		r.note("scale-out phase: %v", err)
	}
	g := scaleGoals
	if n := c.Units(report.PartPeer); n > 0 {
		g.Orgs = n
	}
	r.rep.Scale = report.Scale{Cluster: c, Goals: g, Plan: report.MakeScalePlan(c, r.rep.Ceiling.CountedPerS, r.rep.Machine.CPUs, g)}
	r.say("scale-out phase done in %.0f s", time.Since(began).Seconds())
}

// measureCluster brings the cluster shape up in its own folder, offers the
// plan's rate through HAProxy, waits for the drain, checks the 202 ids
// against the ledger, and removes the stack (keeping its folder, logs
// included, if anything failed).
func (r *run) measureCluster(ctx context.Context) (c report.ClusterRun, err error) {
	cfg, scfg := r.cfg.Stack, r.scaleOutConfig()
	dir, voters := scfg.Dir, scfg.Voters
	if err := wipeStack(dir, scfg.Log); err != nil {
		return c, err
	}
	st, err := stack.New(scfg)
	if err != nil {
		return c, err
	}
	if err := writeSkewedRoll(st, cfg.Election, voters); err != nil {
		return c, err
	}
	r.say("scale-out: bringing up %d gateways behind HAProxy, %d batchers and a Redis Cluster of %d masters in %s (port base %d)",
		scaleOutGateways, scaleOutBatchers, stack.ClusterMasters, dir, scfg.PortBase)
	defer func() {
		if derr := st.Down(err == nil); derr != nil {
			r.note("scale-out: down: %v", derr)
		}
	}()
	upCtx, cancel := context.WithTimeout(ctx, 6*time.Minute)
	defer cancel()
	if err := st.Up(upCtx); err != nil {
		return c, fmt.Errorf("the cluster shape did not come up: %w (logs in %s)", err, stack.LogDir(dir))
	}
	c.Shape = fmt.Sprintf("a Redis Cluster of %d masters with a replica each, %d gateways behind HAProxy, %d batchers, %s network",
		stack.ClusterMasters, scaleOutGateways, scaleOutBatchers, st.Network().Consensus())
	return c, r.offerCluster(ctx, st, &c)
}

// scaleOutConfig is the scale-out stack's: in the run folder's scaleout/,
// with a roll a quarter larger than the offer may cast.
func (r *run) scaleOutConfig() stack.Config {
	cfg, pl := r.cfg.Stack, r.cfg.Plan
	return stack.Config{
		Dir: filepath.Join(cfg.Dir, "scaleout"), PortBase: cfg.PortBase + scaleOutPortOffset, BinDir: cfg.BinDir, FabricBin: cfg.FabricBin,
		Builder: cfg.builder(), Election: cfg.Election, Window: benchWindow, Voters: int(pl.ScaleOutRate*pl.ScaleOutDur.Seconds()*1.25) + 1000,
		Gateways: scaleOutGateways, Batchers: scaleOutBatchers, Redis: stack.RedisCluster, Log: cfg.Log,
	}
}

// wipeStack stops every process the run folder dir records, by its
// recorded ID whatever the port plan or version that made the folder
// (stack.StopRecorded: the system's, and those of the stacks and networks
// in folders under it, such as a run cut short leaves running), then
// deletes the folder's data (stack.WipeRunDir). If any cannot be stopped
// it deletes nothing and the error names them and how to stop them; a
// folder no stack made is refused.
func wipeStack(dir string, log *slog.Logger) error {
	if err := stack.StopRecorded(dir, log); err != nil {
		return err
	}
	return stack.WipeRunDir(dir)
}

// offerCluster runs the offer and the drain on the running shape st and
// fills c.
func (r *run) offerCluster(ctx context.Context, st *stack.Stack, c *report.ClusterRun) error {
	pl := r.cfg.Plan
	profile, err := st.Network().Profile()
	if err != nil {
		return err
	}
	conn, err := fabricclient.Dial(ctx, profile, "Commission")
	if err != nil {
		return err
	}
	defer conn.Close()
	ledger := conn.Ballot()
	e, err := ledger.Election(ctx)
	if err != nil {
		return err
	}
	opts, err := st.RedisOptions(redisserver.UserAdmin)
	if err != nil {
		return err
	}
	rdb := redisserver.NewClient(opts)
	defer rdb.Close()
	roll, err := loadgen.ReadRoll(st.RollCSV(), e.States)
	if err != nil {
		return err
	}
	gen, err := loadgen.NewGenerator(roll, e.Contests, r.cfg.Mix, uint64(time.Now().UnixNano()))
	if err != nil {
		return err
	}
	rec := loadgen.NewRecorder(time.Now())
	runner := &loadgen.Runner{URL: st.GatewayURL() + "/api/v1/vote", Gen: gen, Rec: rec, Progress: r.cfg.Progress, MaxWorkers: r.cfg.Workers}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watcher, _, err := ledgerload.Watch(wctx, ledger)
	if err != nil {
		return err
	}

	pids := map[string]int{loadGenerator: os.Getpid()}
	ports := map[string]int{}
	for _, p := range st.Network().Status(ctx).Processes {
		if p.Running {
			pids[p.Name] = p.PID
		}
	}
	for _, s := range st.Status() {
		if s.Running {
			pids[s.Name], ports[s.Name] = s.PID, s.Port
		}
	}
	nodes, err := redisNodes(ctx, st, rdb, ports, e.States)
	if err != nil {
		return err
	}
	ownBefore := ownCounts(ctx, ports)
	book := measure.NewCPUBook(pids)

	r.say("scale-out: offering %.0f votes/s through HAProxy for %s", pl.ScaleOutRate, pl.ScaleOutDur)
	book.Begin("offer")
	c.Phase, err = runner.Constant(ctx, "scale-out", pl.ScaleOutRate, pl.ScaleOutDur)
	book.End()
	if err != nil && !loadgen.IsExhausted(err) {
		return err
	}
	lanes := batcherLanes(ctx, ports)
	book.Begin("drain")
	d, derr := loadgen.WaitDrained(ctx, rdb, e.States, pl.ScaleOutDrain, r.cfg.Progress, nil)
	book.End()
	c.DrainS, c.Drained = d.Seconds(), derr == nil
	if derr != nil {
		r.note("scale-out: drain: %v", derr)
	}
	if err := watcher.WaitIdle(ctx, 2*time.Second, time.Minute); err != nil {
		r.note("scale-out: waiting for the last commit events: %v", err)
	}
	ownAfter := ownCounts(ctx, ports)

	arrivals, werr := watcher.Arrivals()
	if werr != nil {
		r.note("scale-out: event stream: %v", werr)
	}
	ids, bad := rec.AcceptedIDs()
	c.Loss, _, err = ledgerload.Check(ctx, ledger, arrivals, ids, rec.AcceptedContests(), bad, rec.Unanswered())
	if err != nil {
		return fmt.Errorf("loss check: %w", err)
	}
	c.Accepted, c.Committed = c.Loss.Accepted, c.Loss.Counted
	c.StateVotes = map[string]int{}
	for _, a := range arrivals {
		if !ledgerload.IsDriverSeq(a.Seq) {
			c.StateVotes[a.State] += a.Counted
		}
	}
	r.say("scale-out: %d accepted, %d counted (missing %d, extra %d, twice %d), drained in %.0f s",
		c.Loss.Accepted, c.Loss.Counted, c.Loss.Missing, c.Loss.Extra, c.Loss.CountedTwice, c.DrainS)

	c.WallS = book.WallSeconds("offer") + book.WallSeconds("drain")
	if c.WallS > 0 {
		c.MachineBusy = (book.MachineBusy("offer")*book.WallSeconds("offer") + book.MachineBusy("drain")*book.WallSeconds("drain")) / c.WallS
	}
	for _, name := range book.Names() {
		p := report.ClusterProc{Name: name, Part: partOf(name, nodes),
			CPUS:       book.Seconds("offer", named(name)) + book.Seconds("drain", named(name)),
			OfferCores: book.Cores("offer", name)}
		if n, ok := nodes[name]; ok {
			p.States, p.MemBefore = n.states, n.memBefore
			for _, s := range n.states {
				p.Votes += c.StateVotes[s]
			}
			if n.client != nil {
				p.MemAfter, _ = measure.RedisUsedMemory(ctx, n.client)
			}
		}
		if before, ok := ownBefore[name]; ok {
			p.Votes, p.Lanes = int(ownAfter[name]-before), lanes[name]
		}
		c.Procs = append(c.Procs, p)
	}
	for _, n := range nodes {
		n.client.Close()
	}
	return nil
}

// redisNode is one cluster node: its role, the states whose slot it holds
// as a master, and its memory before the offer.
type redisNode struct {
	master    bool
	states    []string
	memBefore int64
	client    *redis.Client
}

// redisNodes finds, for every cluster node ("redis0".. in ports), its role
// and, for a master, the states whose stream's slot it holds.
func redisNodes(ctx context.Context, st *stack.Stack, rdb redis.UniversalClient, ports map[string]int, states []string) (map[string]*redisNode, error) {
	pw, err := st.RedisACL().Password(redisserver.UserAdmin)
	if err != nil {
		return nil, err
	}
	slots, err := rdb.ClusterSlots(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("scale-out: CLUSTER SLOTS: %w", err)
	}
	byPort := map[int]string{}
	nodes := map[string]*redisNode{}
	for name, port := range ports {
		if !isRedisNode(name) {
			continue
		}
		byPort[port] = name
		n := &redisNode{client: redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), Username: redisserver.UserAdmin, Password: pw})}
		nodes[name] = n
		if n.memBefore, err = measure.RedisUsedMemory(ctx, n.client); err != nil {
			return nil, err
		}
	}
	masterOf := func(slot int64) string {
		for _, s := range slots {
			if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
				if _, port, ok := strings.Cut(s.Nodes[0].Addr, ":"); ok {
					p, _ := strconv.Atoi(port)
					return byPort[p]
				}
			}
		}
		return ""
	}
	for _, s := range slots {
		if len(s.Nodes) == 0 {
			continue
		}
		if _, port, ok := strings.Cut(s.Nodes[0].Addr, ":"); ok {
			p, _ := strconv.Atoi(port)
			if n := nodes[byPort[p]]; n != nil {
				n.master = true
			}
		}
	}
	for _, state := range states {
		slot, err := rdb.ClusterKeySlot(ctx, votequeue.StreamKey(state)).Result()
		if err != nil {
			return nil, fmt.Errorf("scale-out: CLUSTER KEYSLOT: %w", err)
		}
		if n := nodes[masterOf(slot)]; n != nil {
			n.states = append(n.states, state)
		}
	}
	return nodes, nil
}

func isRedisNode(name string) bool {
	rest, ok := strings.CutPrefix(name, "redis")
	_, err := strconv.Atoi(rest)
	return ok && err == nil
}

// ownCounts reads, from each gateway's and batcher's metrics (on its port
// in ports), the votes it alone handled so far: a gateway's accepted
// (votes_validated_total{status="accepted"}), a batcher's committed
// (batcher_votes_committed_total, every outcome). A counter shows once it
// has a series, so an absent one is 0; a process whose metrics cannot be
// read is left out.
func ownCounts(ctx context.Context, ports map[string]int) map[string]float64 {
	out := map[string]float64{}
	for name, port := range ports {
		metric, label := "", ""
		switch {
		case strings.HasPrefix(name, "gateway"):
			metric, label = "votes_validated_total", `status="accepted"`
		case strings.HasPrefix(name, "batcher"):
			metric = "batcher_votes_committed_total"
		default:
			continue
		}
		if v, _, err := measure.CounterSumWith(ctx, fmt.Sprintf("http://127.0.0.1:%d/metrics", port), metric, label); err == nil {
			out[name] = v
		}
	}
	return out
}

// batcherLanes reads how many lanes each batcher owns (batcher_lanes_owned).
func batcherLanes(ctx context.Context, ports map[string]int) map[string]int {
	out := map[string]int{}
	for name, port := range ports {
		if !strings.HasPrefix(name, "batcher") {
			continue
		}
		if v, _, err := measure.CounterSum(ctx, fmt.Sprintf("http://127.0.0.1:%d/metrics", port), "batcher_lanes_owned"); err == nil {
			out[name] = int(v)
		}
	}
	return out
}

// partOf names a process's part of the shape.
func partOf(name string, nodes map[string]*redisNode) string {
	if n, ok := nodes[name]; ok {
		if n.master {
			return report.PartMaster
		}
		return report.PartReplica
	}
	switch {
	case strings.HasPrefix(name, "gateway"):
		return report.PartGateway
	case name == "haproxy":
		return report.PartHAProxy
	case strings.HasPrefix(name, "batcher"):
		return report.PartBatcher
	case strings.HasPrefix(name, "peer."):
		return report.PartPeer
	case strings.HasPrefix(name, "cc."):
		return report.PartChaincode
	case strings.HasPrefix(name, "orderer"):
		return report.PartOrderer
	case name == "explorer":
		return report.PartExplorer
	case name == monitor.PrometheusProcess || name == monitor.ExporterProcess:
		return report.PartMonitor
	case strings.HasPrefix(name, "benchrun"):
		return report.PartLoadGen
	}
	return name
}

// scaleOutTarget is issue 20's loss check on the cluster shape.
func (r *run) scaleOutTarget() []report.Target {
	c := r.rep.Scale.Cluster
	if c.Error != "" && c.Loss.Accepted == 0 {
		return []report.Target{exact("20", "scale-out phase (cluster shape) ran", c.Error, false)}
	}
	if c.Loss.Accepted == 0 {
		return nil
	}
	l := c.Loss
	return []report.Target{exact("20", "loss check on the cluster shape: 202 ids = ledger ids, each once",
		fmt.Sprintf("%d accepted, %d counted; missing %d, extra %d, twice %d", l.Accepted, l.Counted, l.Missing, l.Extra, l.CountedTwice), l.OK)}
}
