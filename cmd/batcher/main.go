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
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/batcher"
	"github.com/votechain/votechain/fabricclient"
	"github.com/votechain/votechain/network"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "batcher:", err)
		os.Exit(1)
	}
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(key)); err == nil {
		return d
	}
	return def
}

func envInt(key string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(key), &n); err == nil {
		return n
	}
	return def
}

func run() error {
	d := batcher.DefaultConfig
	defaultRedis := fmt.Sprintf("127.0.0.1:%d", network.Ports{Base: network.DefaultPortBase}.Redis())
	profilePath := flag.String("profile", env("VOTECHAIN_PROFILE", ".run/network/profile.json"), "connection profile written by the network (VOTECHAIN_PROFILE)")
	org := flag.String("org", env("VOTECHAIN_BATCHER_ORG", "Commission"), "organisation to submit as (VOTECHAIN_BATCHER_ORG)")
	user := flag.String("user", env("VOTECHAIN_BATCHER_USER", "User1"), "enrolled user to submit as (VOTECHAIN_BATCHER_USER)")
	redisAddr := flag.String("redis", env("VOTECHAIN_REDIS_ADDR", defaultRedis), "Redis address (VOTECHAIN_REDIS_ADDR)")
	partitions := flag.String("partitions", env("VOTECHAIN_PARTITIONS", ""), "comma-separated partitions to serve; default: the election's states (VOTECHAIN_PARTITIONS)")
	batchSize := flag.Int("batch-size", envInt("VOTECHAIN_BATCH_SIZE", d.BatchSize), "votes per batch (VOTECHAIN_BATCH_SIZE)")
	batchTimeout := flag.Duration("batch-timeout", envDuration("VOTECHAIN_BATCH_TIMEOUT", d.BatchTimeout), "cut a smaller batch after this wait (VOTECHAIN_BATCH_TIMEOUT)")
	depth := flag.Int("depth", envInt("VOTECHAIN_BATCH_DEPTH", d.Depth), "batches in flight per lane (VOTECHAIN_BATCH_DEPTH)")
	maxInflight := flag.Int("max-inflight", envInt("VOTECHAIN_MAX_INFLIGHT", d.MaxInflight), "batches in flight per process (VOTECHAIN_MAX_INFLIGHT)")
	leaseTTL := flag.Duration("lease-ttl", envDuration("VOTECHAIN_LEASE_TTL", d.LeaseTTL), "lane lease time to live; a dead batcher's lanes move after it (VOTECHAIN_LEASE_TTL)")
	commitTimeout := flag.Duration("commit-timeout", envDuration("VOTECHAIN_COMMIT_TIMEOUT", d.CommitTimeout), "one submission attempt (VOTECHAIN_COMMIT_TIMEOUT)")
	metricsAddr := flag.String("metrics", env("VOTECHAIN_BATCHER_METRICS", "127.0.0.1:0"), "listen address for /metrics and /healthz (VOTECHAIN_BATCHER_METRICS)")
	logFormat := flag.String("log-format", env("VOTECHAIN_LOG_FORMAT", "text"), "log format: text or json (VOTECHAIN_LOG_FORMAT)")
	flag.Parse()

	var handler slog.Handler = slog.NewTextHandler(os.Stderr, nil)
	if *logFormat == "json" {
		handler = slog.NewJSONHandler(os.Stderr, nil)
	}
	log := slog.New(handler)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	profile, err := network.LoadProfile(*profilePath)
	if err != nil {
		return err
	}
	conn, err := fabricclient.Dial(profile, *org, fabricclient.WithUser(*user))
	if err != nil {
		return err
	}
	defer conn.Close()
	ledger := conn.Ballot()

	rdb := redis.NewClient(&redis.Options{Addr: *redisAddr})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w (start it with `make up`, or set --redis)", *redisAddr, err)
	}

	parts, err := partitionsToServe(ctx, *partitions, ledger, log)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	b, err := batcher.New(batcher.Config{
		Partitions: parts, BatchSize: *batchSize, BatchTimeout: *batchTimeout, Depth: *depth,
		MaxInflight: *maxInflight, LeaseTTL: *leaseTTL, CommitTimeout: *commitTimeout,
	}, rdb, ledger, log, reg)
	if err != nil {
		return err
	}
	srv, err := serveMetrics(*metricsAddr, reg, log)
	if err != nil {
		return err
	}
	defer srv.Shutdown(context.Background())
	return b.Run(ctx)
}

// partitionsToServe is the flag's list, or the election's states once the
// election is on the ledger.
func partitionsToServe(ctx context.Context, flagValue string, ledger *fabricclient.Ballot, log *slog.Logger) ([]string, error) {
	if flagValue != "" {
		return strings.Split(flagValue, ","), nil
	}
	for {
		e, err := ledger.Election(ctx)
		if err == nil {
			return e.States, nil
		}
		if !errors.Is(err, fabricclient.ErrNotFound) {
			log.Warn("cannot read the election yet", "err", err)
		} else {
			log.Info("waiting for the election to be set up on the ledger")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener %s: %w", addr, err)
	}
	log.Info("metrics listening", "addr", ln.Addr().String())
	go srv.Serve(ln)
	return srv, nil
}
