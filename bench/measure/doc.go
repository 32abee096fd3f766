// Package measure is the benchmark's measurement and sampling: the machine
// description read at run time (cores, CPU model, memory, kernel, load),
// per-process CPU and memory from /proc booked per phase (CPUBook), Redis
// memory per kind of key, folder sizes, the compactions a peer's LevelDB
// logged in a window (LevelDBCompactions), each block's and transaction's
// way through ordering and a peer's commit from the nodes' logs
// (ParsePeerLog, OrdererBlocks, BlockPaths, TxWaits), Prometheus /metrics read and the
// increase of histograms between two scrapes (ParseMetrics, Histogram,
// BatcherWindow: where a phase's time went in the batchers), and the
// arithmetic the figures are made of (latency percentiles, histogram
// quantiles, per-second series). It only observes: it
// starts and drives nothing, apart from the yardstick (yardstick.go), a
// fixed CPU-only workload it times in its own process.
package measure
