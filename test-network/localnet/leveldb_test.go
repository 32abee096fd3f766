package localnet_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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
	n := nettest.Start(t)
	ctx := context.Background()
	probe := probeContract(t, n)
	for i := range 5 {
		if code := submit(t, probe, "Put", fmt.Sprintf("bloom-%d", i), "v"); code != peer.TxValidationCode_VALID {
			t.Fatalf("Put bloom-%d: status %v, want VALID", i, code)
		}
	}

	o := network.PeerOrgs[0]
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
	if err := n.Up(ctx); err != nil {
		t.Fatalf("up after killing %s: %v", name, err)
	}
	// Both organisations endorse, so a commit means the peer has opened its
	// ledger again.
	if err := submitEventually(probe, "bloom-after", "v", time.Minute); err != nil {
		t.Fatalf("no commit after restarting %s: %v", name, err)
	}

	ledger := filepath.Join(n.Layout().NodeDataDir(o.PeerHost()), "ledgersData")
	var tables, state, withFilter int
	err := filepath.WalkDir(ledger, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".ldb" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		meta, err := metaindexKeys(data)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		tables++
		if strings.Contains(path, string(filepath.Separator)+"stateLeveldb"+string(filepath.Separator)) {
			state++
		}
		if slices.Contains(meta, bloomFilterMeta) {
			withFilter++
		} else {
			t.Errorf("%s has no bloom filter (metaindex %q, want %q): bin/fabric was built without network/fabricbin/patches/leveldb-options.patch", path, meta, bloomFilterMeta)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if state == 0 {
		t.Fatalf("no LevelDB table in %s/stateLeveldb after the restart: nothing to check", ledger)
	}
	t.Logf("%d of %d LevelDB tables under %s hold a bloom filter (%d in the state database)", withFilter, tables, ledger, state)
}

// metaindexKeys returns the keys of a LevelDB table's metaindex block. The
// table ends in a 48-byte footer: the block handles (offset and size, as
// uvarints) of the metaindex and of the index, padding, and an 8-byte magic
// number. A block is followed by a type byte (0 plain, 1 snappy) and a
// checksum; inside, entries hold a shared key prefix length, the rest of the
// key, the value length and value, and the block ends in its restart points.
func metaindexKeys(table []byte) ([]string, error) {
	const footerLen, magic = 48, 0xdb4775248b80fb57
	if len(table) < footerLen || binary.LittleEndian.Uint64(table[len(table)-8:]) != magic {
		return nil, errors.New("not a LevelDB table (no footer magic)")
	}
	footer := table[len(table)-footerLen:]
	off, n := binary.Uvarint(footer)
	size, m := binary.Uvarint(footer[n:])
	if n <= 0 || m <= 0 || off+size+5 > uint64(len(table)) {
		return nil, errors.New("bad metaindex handle in the footer")
	}
	block := table[off : off+size]
	switch table[off+size] {
	case 0:
	case 1:
		var err error
		if block, err = snappy.Decode(nil, block); err != nil {
			return nil, fmt.Errorf("metaindex: %w", err)
		}
	default:
		return nil, fmt.Errorf("metaindex: unknown block type %d", table[off+size])
	}
	if len(block) < 4 {
		return nil, errors.New("metaindex block too short")
	}
	restarts := int(binary.LittleEndian.Uint32(block[len(block)-4:]))
	end := len(block) - 4 - 4*restarts
	if end < 0 {
		return nil, errors.New("metaindex: bad restart count")
	}
	var keys []string
	var key []byte
	for p := 0; p < end; {
		var lens [3]uint64
		for i := range lens {
			v, k := binary.Uvarint(block[p:end])
			if k <= 0 {
				return nil, errors.New("metaindex: bad entry")
			}
			lens[i], p = v, p+k
		}
		shared, unshared, value := lens[0], lens[1], lens[2]
		if shared > uint64(len(key)) || uint64(end-p) < unshared+value {
			return nil, errors.New("metaindex: entry out of bounds")
		}
		key = append(key[:shared], block[p:p+int(unshared)]...)
		keys = append(keys, string(key))
		p += int(unshared + value)
	}
	return keys, nil
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
	before := readCacheLookups(t, n)
	// One transaction in flight, so no read overlaps a commit (such a read
	// is not cached).
	res, err := ledgerload.Run(ctx, ledger, got, ledgerload.Drive{VotesPerTx: 100, InFlight: 1, Duration: 2 * time.Minute,
		StopAfter: 500, SeqBase: ledgerload.SeqBaseFor(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	if res.AllVotes < 500 || res.Errors > 0 {
		t.Fatalf("drive committed %d votes with %d errors (first: %s), want 500 and none", res.AllVotes, res.Errors, res.FirstError)
	}
	after := readCacheLookups(t, n)
	for _, o := range network.PeerOrgs {
		hits := after[o.Name]["hit"] - before[o.Name]["hit"]
		misses := after[o.Name]["miss"] - before[o.Name]["miss"]
		t.Logf("%s peer: %d votes committed, read cache %.0f hits, %.0f misses", o.Name, res.AllVotes, hits, misses)
		if hits < float64(res.AllVotes) {
			t.Errorf("%s peer: %.0f read cache hits for %d votes, want at least one a vote (its nullifier, validated after endorsement)", o.Name, hits, res.AllVotes)
		}
	}
}

// readCacheLookups reads each peer's ledger_statedb_read_cache_lookups for
// the election channel from its operations endpoint: org → result → count.
func readCacheLookups(t *testing.T, n *localnet.Network) map[string]map[string]float64 {
	t.Helper()
	const metric = "ledger_statedb_read_cache_lookups"
	out := map[string]map[string]float64{}
	for i, o := range network.PeerOrgs {
		_, _, ops := n.Ports().Peer(i)
		url := "http://" + n.Hosts().Peer(i).Join(ops) + "/metrics"
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[o.Name] = map[string]float64{}
		for _, line := range strings.Split(string(body), "\n") {
			if !strings.HasPrefix(line, metric+"{") || !strings.Contains(line, `channel="election"`) {
				continue
			}
			for _, r := range []string{"hit", "miss"} {
				if strings.Contains(line, `result="`+r+`"`) {
					fields := strings.Fields(line)
					v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
					if err != nil {
						t.Fatalf("%s: %q: %v", url, line, err)
					}
					out[o.Name][r] = v
				}
			}
		}
		if len(out[o.Name]) == 0 {
			t.Fatalf("%s peer reports no %s at %s: bin/fabric was built without network/fabricbin/patches/statedb-read-cache.patch (make fabric-bin)", o.Name, metric, url)
		}
	}
	return out
}
