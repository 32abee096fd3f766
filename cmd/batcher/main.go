// Command batcher drains accepted votes from Redis onto the ledger in
// Merkle-rooted batches (see package batcher). Run several for more lanes in
// parallel and for fail-over: lanes spread over the live processes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/batcher"
	"github.com/votechain/votechain/batcher/fabricledger"
	"github.com/votechain/votechain/gateway/election"
	"github.com/votechain/votechain/internal/aofrewrite"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
)

func main() {
	cli.Main("batcher", run)
}

// replicasFor resolves --redis-replicas: -1 means 1 on a cluster, else 0.
func replicasFor(flag int, rdb redis.UniversalClient) int {
	if flag >= 0 {
		return flag
	}
	if _, ok := rdb.(*redis.ClusterClient); ok {
		return 1
	}
	return 0
}

func run(ctx context.Context) (err error) {
	d := batcher.DefaultConfig()
	fs := flag.NewFlagSet("batcher", flag.ContinueOnError)
	ledgerFlags := cli.LedgerFlags(fs, network.Batcher)
	redisFlags := cli.RedisFlags(fs, redisserver.UserBatcher)
	aofFlags := aofrewrite.RegisterFlags(fs)
	logFlags := cli.LogFlags(fs)
	gcFlags := cli.GCFlags(fs, 100, "")
	partitions := fs.String("partitions", "", "comma-separated states whose lanes this batcher serves, each named once (a state's votes are in one stream, votes:{STATE}: there are no sub-shards) and each one of the election's (once its record is read, a state it lacks is refused); default: the election's states. Batchers sharing a Redis must all be given the same list (or all none): each takes its fair share of its own list's lanes over all live batchers, so different lists could leave lanes unserved. A batcher refuses to start while a live one serves another list; one seen later is logged as an error and counted in batcher_partition_lists_differing (alert BatcherPartitionsDiffer)")
	batchSize := fs.Int("batch-size", d.BatchSize, fmt.Sprintf("most votes per batch, 1 to %d (the chaincode's limit); a lane's batch grows while its transactions are in flight", ballot.MaxBatchVotes))
	fill := fs.Int("fill", d.Fill, "votes worth one more transaction beside a lane's in flight, at most --batch-size (0: a quarter of --batch-size)")
	maxWait := fs.Duration("max-wait", d.MaxWait, "longest a vote waits behind its lane's transactions in flight (at least 1ms)")
	depth := fs.Int("depth", d.Depth, "batches in flight per lane, at least 1 (with --tick: the votes of this many full batches)")
	maxInflight := fs.Int("max-inflight", d.MaxInflight, "transactions in flight per process, at least 1")
	shareVotes := fs.Int("share-votes", d.ShareVotes, fmt.Sprintf("most votes in a transaction shared by several lanes' batches, up to %d (0: two and a half times --batch-size, within the chaincode's limit; -1: lanes never share)", ballot.MaxBatchVotes))
	tick := fs.Duration("tick", d.Tick, "when lanes share transactions: a lane's batch below --fill votes is cut on the clock's multiples of this, the same instants for every lane, and they go in one transaction (negative: cut when the lane's transactions commit)")
	maxGap := fs.Duration("max-gap", d.MaxGap, "with --tick: above a quarter of --share-votes votes a tick, or while the ledger lags (--ledger-lag), lanes skip ticks so that their shared transaction grows towards --share-votes, but cut at least this often (negative: on every tick)")
	behind := fs.Duration("behind", d.Behind, "with --max-gap: if positive, lanes skip ticks only while a shared transaction has been in flight this long (the ledger is behind); negative: whenever the rate allows")
	ledgerLag := fs.Duration("ledger-lag", d.LedgerLag, "with --max-gap: while a shared transaction has been in flight this long (the ledger lags), lanes skip ticks at any rate, not only above a quarter of --share-votes votes a tick (negative: never)")
	leaseTTL := fs.Duration("lease-ttl", d.LeaseTTL, "lane lease time to live, at least 100ms (renewed every quarter of it); a dead batcher's lanes move after it")
	commitTimeout := fs.Duration("commit-timeout", d.CommitTimeout, "longest wait for one transaction's commit, at least 1ms and more than --failover (lost ones are found sooner from the blocks)")
	drainTimeout := fs.Duration("drain-timeout", d.DrainTimeout, "on SIGTERM or SIGINT, how long transactions in flight may take to commit before their batches are left in the journal for the lanes' next owner and the batcher exits (at least 100ms; keep it under the supervisor's kill grace, 20s for make down)")
	failover := fs.Duration("failover", -1, fmt.Sprintf("how long ordering may stall replacing a failed orderer without losing the transactions it accepted: a shorter stall of commits never makes the batcher submit a batch again (negative: from the connection profile's consensus, %v for SmartBFT, %v for Raft)", network.BFT.Failover(), network.Raft.Failover()))
	replicas := fs.Int("redis-replicas", -1, "replicas that must acknowledge a batch's journal entry (WAIT) before it is submitted; -1: 1 on a Redis Cluster, 0 on a single server")
	gatewayPeers := fs.String("gateway-peers", "", "comma-separated organisations, each named once, whose peers' gateways take turns submitting the batcher's transactions (endorse, send to the orderers, answer the commit status), as --org's --user; reads and the block stream stay on --org's peer. all: every organisation in --profile; default: --org's peer alone")
	metricsAddr := fs.String("metrics", "127.0.0.1:0", metricsUsage)
	fs.Usage = cli.Usage(fs, "BATCHER", "batcher drains accepted votes from Redis onto the ledger in Merkle-rooted batches.", "")
	if err := cli.ParseFlags(fs, "BATCHER", os.Args[1:]); err != nil {
		return err
	}
	_, redisErr := redisFlags.Endpoint()
	var partitionList []string
	var partitionsErr error
	if *partitions != "" {
		partitionList, partitionsErr = cli.SplitList("--partitions", *partitions, ballot.ValidState, partitionWant)
	}
	if err := errors.Join(
		partitionsErr,
		cli.DurationsAtLeast(fs, 100*time.Millisecond, "lease-ttl", "drain-timeout"),
		cli.DurationsAtLeast(fs, time.Millisecond, "max-wait", "commit-timeout"),
		gcFlags.Check(),
		aofFlags.Check(),
		ledgerFlags.Check(),
		redisErr,
		cli.CheckAddrs(fs, "metrics"),
		cli.IntsIn(fs, 1, ballot.MaxBatchVotes, "batch-size"),
		cli.IntsIn(fs, 0, max(*batchSize, 0), "fill"),
		cli.IntsIn(fs, 1, cli.Unbounded, "depth", "max-inflight"),
		cli.IntsIn(fs, -1, ballot.MaxBatchVotes, "share-votes"),
		cli.IntsIn(fs, -1, cli.Unbounded, "redis-replicas"),
	); err != nil {
		return err // every value that can be told wrong before connecting, at once
	}

	log, err := logFlags.Logger(os.Stderr)
	if err != nil {
		return err
	}
	defer cli.LogFailure(log, &err)
	gc := gcFlags.Apply(log)

	profile, err := network.LoadProfile(ledgerFlags.Profile)
	if err != nil {
		return err
	}
	failoverTime := failoverFor(*failover, profile.Consensus)
	if err := commitTimeoutAbove(*commitTimeout, failoverTime, *failover >= 0, profile.Consensus); err != nil {
		return err
	}
	gatewayOrgs, err := gatewaysOf(*gatewayPeers, ledgerFlags.Org, profile, ledgerFlags.Profile)
	if err != nil {
		return err
	}
	conn, err := ledgerFlags.Dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	ledger := conn.Ballot()
	var gateways []batcher.Ledger
	var peers []string
	for _, org := range gatewayOrgs {
		peers = append(peers, profile.Orgs[org].Peer.Address)
		if org == ledgerFlags.Org {
			gateways = append(gateways, fabricledger.New(ledger))
			continue
		}
		c, err := ledgerFlags.Dial(ctx, fabricclient.WithPeer(org))
		if err != nil {
			return err
		}
		defer c.Close()
		gateways = append(gateways, fabricledger.New(c.Ballot()))
	}
	log.Info("submitting through peer gateways in turn", "orgs", gatewayOrgs, "peers", peers, "as", ledgerFlags.Org+" "+ledgerFlags.User, gc)

	rdb, err := redisFlags.Connect(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()

	// serve runs the batcher of election id on the partitions parts until
	// ctx ends, with its metrics endpoint and the AOF check of its Redis.
	serve := func(id string, parts []string) error {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		b, err := batcher.New(batcher.Config{
			Partitions: parts, BatchSize: *batchSize, Fill: *fill, MaxWait: *maxWait, Depth: *depth,
			MaxInflight: *maxInflight, ShareVotes: *shareVotes, Tick: *tick, MaxGap: *maxGap, Behind: *behind, LedgerLag: *ledgerLag, LeaseTTL: *leaseTTL, CommitTimeout: *commitTimeout, DrainTimeout: *drainTimeout,
			Failover: failoverTime,
			Replicas: replicasFor(*replicas, rdb), Election: id,
		}, rdb, batcher.RoundRobin(fabricledger.New(ledger), gateways...), log, reg)
		if err != nil {
			return err
		}
		srv, err := cli.ServeMetrics("--metrics", *metricsAddr, reg, log)
		if err != nil {
			return err
		}
		defer srv.Shutdown(context.Background())
		endpoint, _ := redisFlags.Endpoint() // checked with the flags
		if err := aofFlags.Start(ctx, endpoint, log, reg); err != nil {
			return err // its flags were checked with the others: not reached
		}
		return b.Run(ctx)
	}
	return servePartitions(ctx, partitionList, ledger, log, serve)
}

// metricsUsage is the help of --metrics: what the batcher serves there,
// from when (ServeMetrics runs in serve, after servePartitions has read the
// election and checked --partitions), what Prometheus sees until then
// (up 0: the ServiceDown alert, for: 30s), and what its default means.
const metricsUsage = "host:port of the batcher's own HTTP listener, for Prometheus: GET /metrics serves its metrics (batcher_*, Go's and the process's, and aof_rewrite* while the quiet-time AOF rewrites run: --aof-rewrite, on by default, with its --aof-password-file read) and GET /healthz answers 200 ok while the process runs (liveness only, not whether batches commit); " +
	"it opens once the election is read from the ledger (and --partitions checked against it), so nothing answers there while the batcher waits for the election: Prometheus sees the batcher as down meanwhile (up 0: the alert ServiceDown fires if the wait lasts over its 30 s), and a port then in use stops the batcher (exit 1, naming --metrics and the fix). " +
	"The default, 127.0.0.1:0, is this machine's loopback on a free port chosen at start and logged (\"metrics listening\" addr=...), which a Prometheus cannot be configured for in advance: give a fixed port to scrape (make up gives batcher i the port base + 381 + i)"

// partitionWant is what an entry of --partitions must be. The gateway
// queues a state's votes in one stream (votequeue.StreamKey of the state),
// so a lane of a sub-shard such as "CA#3" (votequeue.ValidPartition) would
// read an empty stream and could build no batch.
const partitionWant = `a state code (2 to 8 of A-Z, 0-9): the gateway queues each state's votes in one stream, votes:{STATE}, so a sub-shard such as "CA#3" has no votes to serve; name its state`

// commitTimeoutAbove refuses, as a usage error naming the fix, a
// --commit-timeout not above the ordering failover (given: by --failover,
// else the profile's consensus c): a commit wait that ends first would
// submit the batch again while ordering may still be replacing a failed
// orderer, which Config.Failover forbids.
func commitTimeoutAbove(commitTimeout, failover time.Duration, given bool, c network.Consensus) error {
	if commitTimeout > failover {
		return nil
	}
	from := fmt.Sprintf("the connection profile's consensus, %q", c)
	if given {
		from = "--failover"
	}
	return cli.Usagef("--commit-timeout %v is not above the ordering failover %v (%s): a commit wait would end, and its batch be submitted again, while ordering may still be replacing a failed orderer; give --commit-timeout more than %v (default %v)", commitTimeout, failover, from, failover, batcher.DefaultConfig().CommitTimeout)
}

// failoverFor resolves --failover: negative means the consensus's.
func failoverFor(flag time.Duration, c network.Consensus) time.Duration {
	if flag >= 0 {
		return flag
	}
	return c.Failover()
}

// gatewaysOf resolves --gateway-peers against the connection profile p
// (read from path): the organisations whose peers' gateways submit in turn,
// each once. Empty means own alone; "all" every organisation in the
// profile, own first; else the comma-separated list (cli.SplitList), an
// entry not in the profile, an empty one or one named twice refused as a
// usage error naming the flag, the profile and its organisations.
func gatewaysOf(flagValue, own string, p network.Profile, path string) ([]string, error) {
	switch flagValue {
	case "":
		return []string{own}, nil
	case "all":
		orgs := []string{own}
		for _, org := range slices.Sorted(maps.Keys(p.Orgs)) {
			if org != own {
				orgs = append(orgs, org)
			}
		}
		return orgs, nil
	}
	inProfile := func(org string) bool { _, ok := p.Orgs[org]; return ok }
	want := fmt.Sprintf("an organisation of the connection profile %s (%s; all, alone, names every one)", path, strings.Join(slices.Sorted(maps.Keys(p.Orgs)), ", "))
	return cli.SplitList("--gateway-peers", flagValue, inProfile, want)
}

// servePartitions waits for the election to be on the ledger
// (election.Await), then calls serve with its ID and its states, or the
// flag's list if partitionsOfElection accepts it, and returns what serve
// returns; otherwise serve is not called. A stop (ctx ended) before the
// record was read is no failure: nil (election.StopIsNoFailure), exit 0. A
// refused list is an error even if ctx has ended since the record was
// read: a refused start must exit 1, not 0 as a clean stop does, or a
// supervisor would take it for one.
func servePartitions(ctx context.Context, listed []string, ledger election.Source, log *slog.Logger, serve func(id string, parts []string) error) error {
	e, err := election.Await(ctx, ledger, election.Wait{
		NotSetUp: "waiting for the election to be set up on the ledger",
		Failed:   "cannot read the election yet", FailedLevel: slog.LevelWarn,
	}, log)
	if err != nil {
		return election.StopIsNoFailure(ctx, err, "batcher", log)
	}
	if len(listed) == 0 {
		return serve(e.ID, e.States)
	}
	if err := partitionsOfElection(listed, e); err != nil {
		return err
	}
	return serve(e.ID, listed)
}

// partitionsOfElection refuses (exit 1) a --partitions list naming states
// election e lacks (Election.MissingStates), naming them and e's states: a
// lane of such a state (a typo, CX for CA) has no votes to serve, while
// the state meant is left to other lists, and with one list for all
// batchers to none until finalise refuses to close the election.
func partitionsOfElection(listed []string, e *ballot.Election) error {
	missing := e.MissingStates(listed)
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("--partitions names %s, which election %s lacks (its states: %s): the lane of a state the election lacks has no votes to serve; list the election's states (or give no --partitions, to serve them all)",
		strings.Join(missing, ", "), e.ID, strings.Join(e.States, ", "))
}
