// Package redisserver holds the one redis-server configuration Votechain runs
// with, in production (`make up`) and in tests alike: one listen address (the
// clients' host's, 127.0.0.1 on one machine), AOF on with appendfsync always
// (a 202 means the vote is on disk; Redis group-commits the fsyncs) and
// rewritten at RewritePercentage, no RDB snapshots, ACL users per component
// with the default user disabled (see ACL), and the latency monitor on
// (LatencyThreshold). It also runs the same server as a Redis Cluster
// (ClusterArgs, CreateCluster) and builds every component's client
// (Endpoint), a single-server or a cluster client by configuration.
package redisserver

import (
	"path/filepath"
	"strconv"
	"time"
)

// Args are the redis-server command-line settings for a server on
// bind:port (bind an IP address, "127.0.0.1" on one machine) keeping its data (AOF, log: LogFile) in dir, with the users of the
// ACL file aclFile (ACL.Ensure writes it).
func Args(bind string, port int, dir, aclFile string) []string {
	return []string{
		"--port", strconv.Itoa(port),
		"--bind", bind,
		"--dir", dir,
		"--appendonly", "yes",
		"--appendfsync", "always",
		"--save", "",
		"--daemonize", "no",
		"--protected-mode", "yes",
		"--aclfile", aclFile,
		"--logfile", logName, // relative to --dir, which redis-server changes into
		"--latency-monitor-threshold", strconv.FormatInt(LatencyThreshold.Milliseconds(), 10),
		"--auto-aof-rewrite-percentage", strconv.Itoa(RewritePercentage),
	}
}

// logName is the log's file name in the server's dir (LogFile).
const logName = "redis.log"

// LogFile is the log of a server Args (or ClusterArgs) keeps its data in
// dir: where redis-server writes from the moment it has read its settings,
// so where to read why it stopped, did not start or does not answer. Its
// standard output and error get only a setting it refuses.
func LogFile(dir string) string { return filepath.Join(dir, logName) }

// RewritePercentage is the server's auto-aof-rewrite-percentage: Redis
// rewrites its AOF (forks; the child writes the whole dataset as a new base
// file) once the commands appended since the last rewrite reach this share
// of the base (and the AOF 64 MB, Redis's default). Each rewrite of the
// bench's ~500 MB dataset took 6-14 s and 4.6-7.2 core-s of the child's
// CPU, and while it ran the intake's 202 p99 at 10,000 votes/s went from
// 263 to 627 ms (BenchmarkAOFRewriteStall, loaded 2-core machine,
// 2026-12-01). The batchers rewrite while the intake is quiet
// (internal/aofrewrite: once the incremental part reaches half the base),
// so this is the safety net for a surge with no quiet moment: it bounds
// what a restart after a crash replays (1.5-1.9 s per 100 MB,
// BenchmarkAOFReplay) to three times the base, ~20-26 s at the bench's
// ~450 MB base, and gives a surge that follows a quiet-time rewrite 250 to
// 300% of the base (4-5 min at 10,000 votes/s, ~4.3 MB/s of AOF, there)
// before a rewrite lands in it (200 gave 150 to 200%, Redis's default 100
// gave 50 to 100%). Every write is fsynced throughout
// (no-appendfsync-on-rewrite stays no).
const RewritePercentage = 300

// LatencyThreshold is the server's latency-monitor-threshold: Redis's
// latency monitor records, per second, the worst of each event (an AOF
// fsync or write, a fork, a command) that took at least this long, for
// LATENCY LATEST, HISTORY and DOCTOR (the exporter reads LATENCY LATEST;
// `make bench` reports the spikes per phase). Recording costs nothing
// below the threshold.
const LatencyThreshold = time.Millisecond

// NodeTimeout is a cluster node's cluster-node-timeout: a master silent
// this long is failed and its replica promoted (about NodeTimeout plus up
// to two seconds of election).
const NodeTimeout = 1500 * time.Millisecond

// ClusterArgs are the redis-server command-line settings for one node of a
// Redis Cluster: the single server's (Args) in cluster mode, its cluster
// bus on busPort (not the default port+10000, so the node stays inside the
// port plan), nodes.conf in dir, and the ACL's ReplicationFile read first
// (a replica authenticates to its master as UserReplica). Slots whose
// master is down refuse while the rest of the cluster serves
// (cluster-require-full-coverage no).
func ClusterArgs(bind string, port, busPort int, dir string, acl ACL) []string {
	return append(append([]string{acl.ReplicationFile()}, Args(bind, port, dir, acl.File())...),
		"--cluster-enabled", "yes",
		"--cluster-port", strconv.Itoa(busPort),
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.FormatInt(NodeTimeout.Milliseconds(), 10),
		"--cluster-require-full-coverage", "no",
	)
}
