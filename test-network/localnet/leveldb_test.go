package localnet_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/klauspost/compress/snappy"

	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/localnet"
	"github.com/votechain/votechain/test-network/nettest"
)

// bloomFilterMeta is the metaindex entry goleveldb writes into a table built
// with filter.NewBloomFilter: "filter." and the filter's name, pointing at the
// table's filter block. A table built without a filter has no such entry.
const bloomFilterMeta = "filter.leveldb.BuiltinBloomFilter"

// TestPeerLevelDBHasBloomFilter shows that the Fabric build carries the
// LevelDB patch (network/fabricbin/patches/leveldb-options.patch) on a real
// peer: after transactions commit and the peer is killed and restarted
// (LevelDB flushes its journal into a table when it reopens), every table of
// the peer's ledger databases, the state database among them, holds a bloom
// filter. Built without the patch, no table has one.
func TestPeerLevelDBHasBloomFilter(t *testing.T) {
	ledger, tables := restartedPeerTables(t, "bloom", "v")
	var state, withFilter int
	for _, path := range slices.Sorted(maps.Keys(tables)) {
		meta, err := metaindexKeys(tables[path])
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if strings.Contains(path, string(filepath.Separator)+"stateLeveldb"+string(filepath.Separator)) {
			state++
		}
		if slices.Contains(meta, bloomFilterMeta) {
			withFilter++
		} else {
			t.Errorf("%s has no bloom filter (metaindex %q, want %q): bin/fabric was built without network/fabricbin/patches/leveldb-options.patch", path, meta, bloomFilterMeta)
		}
	}
	if state == 0 {
		t.Fatalf("no LevelDB table in %s/stateLeveldb after the restart: nothing to check", ledger)
	}
	t.Logf("%d of %d LevelDB tables under %s hold a bloom filter (%d in the state database)", withFilter, len(tables), ledger, state)
}

// restartedPeerTables starts a network, commits five probe values (keys
// prefix-0 … prefix-4), kills and restarts the first organisation's peer
// (LevelDB writes its journal into a table when it reopens) and returns the
// peer's ledgersData folder and every LevelDB table under it, by path.
func restartedPeerTables(t *testing.T, prefix, value string) (string, map[string][]byte) {
	t.Helper()
	n := nettest.Start(t)
	probe := probeContract(t, n)
	for i := range 5 {
		if code := submit(t, probe, "Put", fmt.Sprintf("%s-%d", prefix, i), value); code != peer.TxValidationCode_VALID {
			t.Fatalf("Put %s-%d: status %v, want VALID", prefix, i, code)
		}
	}
	o := network.PeerOrgs()[0]
	restartPeers(t, n, probe, o)
	ledger := filepath.Join(n.Layout().NodeDataDir(o.PeerHost()), "ledgersData")
	tables := map[string][]byte{}
	err := filepath.WalkDir(ledger, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".ldb" {
			return err
		}
		tables[path], err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) == 0 {
		t.Fatalf("no LevelDB table under %s after the restart: nothing to check", ledger)
	}
	return ledger, tables
}

// TestPeerLevelDBBlocksUncompressed shows that the Fabric build writes its
// LevelDB tables without Snappy compression (network/fabricbin/patches/
// leveldb-options.patch): after compressible values commit and the peer is
// restarted (its journal becomes a table), no block of any table under the
// peer's ledgersData is compressed. With the patch's
// VOTECHAIN_LEVELDB_COMPRESSION=snappy, as with Fabric's own options, the
// same tables hold compressed blocks, which shows the check can see them.
func TestPeerLevelDBBlocksUncompressed(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  string // VOTECHAIN_LEVELDB_COMPRESSION
	}{{"snappy on", "snappy"}, {"as built", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("VOTECHAIN_LEVELDB_COMPRESSION", tc.env) // the peers inherit it
			ledger, tables := restartedPeerTables(t, "plain", strings.Repeat("vote ", 200))
			var compressed, plain int
			for _, path := range slices.Sorted(maps.Keys(tables)) {
				c, p, err := blockCompression(tables[path])
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				compressed, plain = compressed+c, plain+p
				if c > 0 && tc.env == "" {
					t.Errorf("%s holds %d Snappy-compressed blocks of %d: bin/fabric was built without the NoCompression option of network/fabricbin/patches/leveldb-options.patch", path, c, c+p)
				}
			}
			t.Logf("%d LevelDB tables under %s: %d blocks compressed, %d plain", len(tables), ledger, compressed, plain)
			if tc.env == "snappy" && compressed == 0 {
				t.Errorf("no compressed block with VOTECHAIN_LEVELDB_COMPRESSION=snappy: the check cannot tell, or the patch ignores the variable")
			}
		})
	}
}

// TestPeerKeepsNoHistoryDatabase shows that the peers run without Fabric's
// history database (ledger.history.enableHistoryDatabase in
// network.PeerSettings): after a transaction commits, each peer's ledgersData
// holds its state database and no historyLeveldb, which a peer with the
// history database on creates when it starts.
func TestPeerKeepsNoHistoryDatabase(t *testing.T) {
	n := nettest.Start(t)
	probe := probeContract(t, n)
	if code := submit(t, probe, "Put", "history", "v"); code != peer.TxValidationCode_VALID {
		t.Fatalf("Put history: status %v, want VALID", code)
	}
	for _, o := range network.PeerOrgs() {
		ledger := filepath.Join(n.Layout().NodeDataDir(o.PeerHost()), "ledgersData")
		if _, err := os.Stat(filepath.Join(ledger, "stateLeveldb")); err != nil {
			t.Fatalf("%s peer: no state database: %v", o.Name, err)
		}
		if _, err := os.Stat(filepath.Join(ledger, "historyLeveldb")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s peer keeps a history database in %s (stat: %v): its core.yaml does not turn it off", o.Name, ledger, err)
		}
	}
}

// restartPeers kills the organisations' peers and brings them up again
// (LevelDB writes its journal into a level-0 table when it reopens), then
// waits for a commit.
func restartPeers(t testing.TB, n *localnet.Network, probe *client.Contract, orgs ...network.Org) {
	t.Helper()
	for _, o := range orgs {
		name := network.PeerProcess(o)
		if err := n.Kill(name); err != nil {
			t.Fatal(err)
		}
		// The exe link in /proc goes before the process's sockets close, so Kill
		// may return while the peer's ports are still held for a moment.
		for _, np := range n.Ports().NetworkPorts() {
			for deadline := time.Now().Add(10 * time.Second); np.Process == name && !proc.PortFree(np.Port) && time.Now().Before(deadline); {
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	if err := n.Up(context.Background()); err != nil {
		t.Fatalf("up after killing peers: %v", err)
	}
	// Both organisations endorse, so a commit means the peers have opened
	// their ledgers again.
	if err := submitEventually(probe, "restart-after", "v", time.Minute); err != nil {
		t.Fatalf("no commit after restarting peers: %v", err)
	}
}

// TestPeerLevelDBNoSeekCompaction shows that the Fabric build's LevelDB runs
// no compaction triggered by reads (network/fabricbin/patches/
// leveldb-options.patch): once level 0 of the peers' state databases holds
// two overlapping tables (two restarts, a write between them), each read of
// a key in the older table consults both, and goleveldb charges a "seek" to
// the newer one; after 100 it rewrites that table. 300 such reads make a
// peer with seek compaction on (the patch's VOTECHAIN_LEVELDB_SEEK_COMPACTION=on,
// which shows the reads would trigger one) run at least one, and the peers
// as built none, as ledger_leveldb_seek_compactions on their operations
// endpoints counts. Built without the patch, the peers have no such metric.
func TestPeerLevelDBNoSeekCompaction(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  string // VOTECHAIN_LEVELDB_SEEK_COMPACTION
		want string
	}{{"seek compaction on", "on", "at least one"}, {"as built", "", "none"}} {
		t.Run(tc.name, func(t *testing.T) {
			// The peers inherit the test's environment. The state read cache
			// would answer the repeated reads without LevelDB: off here.
			t.Setenv("VOTECHAIN_STATEDB_READ_CACHE", "0")
			t.Setenv("VOTECHAIN_LEVELDB_SEEK_COMPACTION", tc.env)
			n := nettest.Start(t)
			probe := probeContract(t, n)
			for _, k := range []string{"seek-a", "seek-z"} {
				if code := submit(t, probe, "Put", k, "v"); code != peer.TxValidationCode_VALID {
					t.Fatalf("Put %s: status %v, want VALID", k, code)
				}
			}
			restartPeers(t, n, probe, network.PeerOrgs()...)
			if code := submit(t, probe, "Put", "seek-0", "v"); code != peer.TxValidationCode_VALID {
				t.Fatalf("Put seek-0: status %v, want VALID", code)
			}
			restartPeers(t, n, probe, network.PeerOrgs()...)
			for i := range 300 {
				if _, err := probe.EvaluateTransaction("Get", "seek-a"); err != nil {
					t.Fatalf("read %d: %v", i, err)
				}
			}
			// The compaction runs in the background once a table's seeks run
			// out: with it on, the wait for it is generous (it ends as soon as
			// one is counted; the peers share CI's two cores). As built the
			// count is read once, at once: no window is waited out.
			var total float64
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
				total = 0
				for i, o := range network.PeerOrgs() {
					c := stateSeekCompactions(t, n, i)
					t.Logf("%s peer: %.0f seek compactions of its state database", o.Name, c)
					total += c
				}
				if tc.env == "" || total > 0 || time.Now().After(deadline) {
					break
				}
			}
			if (tc.env == "on") != (total > 0) {
				t.Errorf("%.0f seek compactions of the peers' state databases after 300 reads through two level-0 tables, want %s", total, tc.want)
			}
		})
	}
}

// stateSeekCompactions reads ledger_leveldb_seek_compactions of the i-th
// organisation's peer's state database from its operations endpoint.
func stateSeekCompactions(t *testing.T, n *localnet.Network, i int) float64 {
	t.Helper()
	const metric = "ledger_leveldb_seek_compactions"
	url, lines := peerMetrics(t, n, i, metric)
	for _, line := range lines {
		if strings.Contains(line, "stateLeveldb") {
			return metricValue(t, url, line)
		}
	}
	t.Fatalf("peer %d reports no %s for its state database at %s: bin/fabric was built without network/fabricbin/patches/leveldb-options.patch (make fabric-bin)", i, metric, url)
	return 0
}

// peerMetrics returns the i-th organisation's peer's /metrics address and
// its samples of metric.
func peerMetrics(t *testing.T, n *localnet.Network, i int, metric string) (string, []string) {
	t.Helper()
	_, _, ops := n.Ports().Peer(i)
	url := "http://" + n.Hosts().Peer(i).Join(ops) + "/metrics"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, metric+"{") {
			out = append(out, line)
		}
	}
	return url, out
}

// metricValue is the value of a Prometheus text-format sample line.
func metricValue(t *testing.T, url, line string) float64 {
	t.Helper()
	fields := strings.Fields(line)
	v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
	if err != nil {
		t.Fatalf("%s: %q: %v", url, line, err)
	}
	return v
}

// metaindexKeys returns the keys of a LevelDB table's metaindex block.
func metaindexKeys(table []byte) ([]string, error) {
	meta, _, err := tableFooter(table)
	if err != nil {
		return nil, err
	}
	block, _, err := tableBlock(table, meta)
	if err != nil {
		return nil, fmt.Errorf("metaindex: %w", err)
	}
	entries, err := blockEntries(block)
	if err != nil {
		return nil, fmt.Errorf("metaindex: %w", err)
	}
	var keys []string
	for _, e := range entries {
		keys = append(keys, string(e[0]))
	}
	return keys, nil
}

// blockCompression counts a LevelDB table's blocks stored Snappy-compressed
// and plain: its index block, which lists the data blocks, and every data
// block.
func blockCompression(table []byte) (compressed, plain int, err error) {
	_, index, err := tableFooter(table)
	if err != nil {
		return 0, 0, err
	}
	count := func(c bool) {
		if c {
			compressed++
		} else {
			plain++
		}
	}
	block, c, err := tableBlock(table, index)
	if err != nil {
		return 0, 0, fmt.Errorf("index: %w", err)
	}
	count(c)
	entries, err := blockEntries(block)
	if err != nil {
		return 0, 0, fmt.Errorf("index: %w", err)
	}
	for _, e := range entries {
		var h blockHandle
		if h, _, err = readHandle(e[1]); err != nil {
			return 0, 0, fmt.Errorf("index entry: %w", err)
		}
		if _, c, err = tableBlock(table, h); err != nil {
			return 0, 0, fmt.Errorf("data block at %d: %w", h.off, err)
		}
		count(c)
	}
	return compressed, plain, nil
}

// blockHandle locates a block in a LevelDB table: offset and size, written as
// two uvarints.
type blockHandle struct{ off, size uint64 }

// readHandle reads a block handle from the start of b and returns the
// bytes it took.
func readHandle(b []byte) (blockHandle, int, error) {
	off, n := binary.Uvarint(b)
	if n <= 0 {
		return blockHandle{}, 0, errors.New("bad block handle")
	}
	size, m := binary.Uvarint(b[n:])
	if m <= 0 {
		return blockHandle{}, 0, errors.New("bad block handle")
	}
	return blockHandle{off, size}, n + m, nil
}

// tableFooter reads the handles of a table's metaindex and index blocks from
// its 48-byte footer: the two handles, padding, and an 8-byte magic number.
func tableFooter(table []byte) (meta, index blockHandle, err error) {
	const footerLen, magic = 48, 0xdb4775248b80fb57
	if len(table) < footerLen || binary.LittleEndian.Uint64(table[len(table)-8:]) != magic {
		return meta, index, errors.New("not a LevelDB table (no footer magic)")
	}
	footer := table[len(table)-footerLen:]
	meta, n, err := readHandle(footer)
	if err != nil {
		return meta, index, fmt.Errorf("footer: %w", err)
	}
	if index, _, err = readHandle(footer[n:]); err != nil {
		return meta, index, fmt.Errorf("footer: %w", err)
	}
	return meta, index, nil
}

// tableBlock returns the contents of the block at h, decompressed, and
// whether it was stored compressed: a block is followed by a type byte (0
// plain, 1 Snappy) and a checksum.
func tableBlock(table []byte, h blockHandle) ([]byte, bool, error) {
	if h.off+h.size+5 > uint64(len(table)) {
		return nil, false, errors.New("block handle out of bounds")
	}
	block := table[h.off : h.off+h.size]
	switch table[h.off+h.size] {
	case 0:
		return block, false, nil
	case 1:
		block, err := snappy.Decode(nil, block)
		return block, true, err
	default:
		return nil, false, fmt.Errorf("unknown block type %d", table[h.off+h.size])
	}
}

// blockEntries returns the key/value entries of a table block: each holds a
// shared key prefix length, the rest of the key, the value length and value,
// and the block ends in its restart points.
func blockEntries(block []byte) ([][2][]byte, error) {
	if len(block) < 4 {
		return nil, errors.New("block too short")
	}
	restarts := int(binary.LittleEndian.Uint32(block[len(block)-4:]))
	end := len(block) - 4 - 4*restarts
	if end < 0 {
		return nil, errors.New("bad restart count")
	}
	var out [][2][]byte
	var key []byte
	for p := 0; p < end; {
		var lens [3]uint64
		for i := range lens {
			v, k := binary.Uvarint(block[p:end])
			if k <= 0 {
				return nil, errors.New("bad entry")
			}
			lens[i], p = v, p+k
		}
		shared, unshared, value := lens[0], lens[1], lens[2]
		if shared > uint64(len(key)) || uint64(end-p) < unshared+value {
			return nil, errors.New("entry out of bounds")
		}
		key = append(key[:shared], block[p:p+int(unshared)]...)
		out = append(out, [2][]byte{slices.Clone(key), block[p+int(unshared) : p+int(unshared+value)]})
		p += int(unshared + value)
	}
	return out, nil
}

// TestPeerStateReadCacheAnswersValidation shows that the Fabric build carries
// the state database read cache (network/fabricbin/patches/
// statedb-read-cache.patch) on real peers: after CommitBatch transactions
// commit one at a time, each peer's cache has answered at least one read per
// vote, because every vote's nullifier key is read at endorsement (a miss)
// and again when the block is validated (the MVCC check: a hit). Built
// without the patch, the peers report no such metric.
func TestPeerStateReadCacheAnswersValidation(t *testing.T) {
	n := nettest.Start(t)
	ctx := context.Background()
	e := nettest.Election([]string{"CA", "NY"}, []string{"alice", "bob"})
	nettest.SetupElection(t, n, e)
	ledger := nettest.Dial(t, n, network.Batcher.Org, fabricclient.WithUser(network.Batcher.User)).Ballot()
	got, err := ledger.Election(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// One transaction at a time, each on both peers before the next is
	// endorsed: a read that overlaps a commit is not cached, and the submit
	// waits for the commit on the batcher's peer only.
	const txs, votesPerTx = 5, 100
	if err := ledger.SyncEndorsers(ctx); err != nil {
		t.Fatal(err)
	}
	before := readCacheLookups(t, n)
	seq := ledgerload.SeqBaseFor(time.Now())
	votes := 0
	for i := range uint64(txs) {
		b, err := ledgerload.RandomBatch("CA", seq+i, got.Contests, votesPerTx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		c, err := ledger.CommitBatch(ctx, b)
		if err != nil {
			t.Fatalf("commit %s: %v", b.ID(), err)
		}
		if c.Record.Counted != votesPerTx {
			t.Fatalf("batch %s: %d votes counted, want %d", b.ID(), c.Record.Counted, votesPerTx)
		}
		votes += c.Record.Counted
		if err := ledger.SyncEndorsers(ctx); err != nil {
			t.Fatal(err)
		}
	}
	after := readCacheLookups(t, n)
	for _, o := range network.PeerOrgs() {
		hits := after[o.Name]["hit"] - before[o.Name]["hit"]
		misses := after[o.Name]["miss"] - before[o.Name]["miss"]
		t.Logf("%s peer: %d votes committed, read cache %.0f hits, %.0f misses", o.Name, votes, hits, misses)
		if hits < float64(votes) {
			t.Errorf("%s peer: %.0f read cache hits for %d votes, want at least one a vote (its nullifier, validated after endorsement)", o.Name, hits, votes)
		}
	}
}

// readCacheLookups reads each peer's ledger_statedb_read_cache_lookups for
// the election channel from its operations endpoint: org → result → count.
func readCacheLookups(t *testing.T, n *localnet.Network) map[string]map[string]float64 {
	t.Helper()
	const metric = "ledger_statedb_read_cache_lookups"
	out := map[string]map[string]float64{}
	for i, o := range network.PeerOrgs() {
		url, lines := peerMetrics(t, n, i, metric)
		out[o.Name] = map[string]float64{}
		for _, line := range lines {
			for _, r := range []string{"hit", "miss"} {
				if strings.Contains(line, `channel="election"`) && strings.Contains(line, `result="`+r+`"`) {
					out[o.Name][r] = metricValue(t, url, line)
				}
			}
		}
		if len(out[o.Name]) == 0 {
			t.Fatalf("%s peer reports no %s at %s: bin/fabric was built without network/fabricbin/patches/statedb-read-cache.patch (make fabric-bin)", o.Name, metric, url)
		}
	}
	return out
}
