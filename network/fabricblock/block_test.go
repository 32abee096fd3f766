package fabricblock_test

import (
	"bytes"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// realBlocks loads the blocks captured from a real Fabric network
// (ledgertest.CapturedBlocks).
func realBlocks(t *testing.T) []*common.Block {
	t.Helper()
	blocks, err := ledgertest.CapturedBlocks()
	if err != nil {
		t.Fatal(err)
	}
	return blocks
}

// TestRealChain checks the hashing against Fabric's own: every captured
// block's PreviousHash, written by the orderer, equals the header hash
// recomputed from the block before, and every DataHash the recomputed one.
func TestRealChain(t *testing.T) {
	var prev []byte
	batches := 0
	committed := map[string]bool{} // batch ids already committed: a later CommitBatch of one is a retry
	for _, blk := range realBlocks(t) {
		b, err := fabricblock.Parse(blk)
		if err != nil {
			t.Fatal(err)
		}
		if b.Number > 0 && !bytes.Equal(b.PreviousHash, prev) {
			t.Errorf("block %d previous hash %x; recomputed hash of block %d is %x", b.Number, b.PreviousHash, b.Number-1, prev)
		}
		if !b.DataHashOK {
			t.Errorf("block %d data hash %x does not match %x", b.Number, b.DataHash, fabricblock.DataHash(blk.Data.Data))
		}
		prev = b.Hash
		for _, tx := range b.Txs {
			if tx.Err != "" {
				t.Errorf("block %d tx %d: %s", b.Number, tx.Index, tx.Err)
			}
			if b.Number == 0 && (tx.Type != "CONFIG" || tx.Code != "VALID") {
				t.Errorf("genesis tx: type %s code %s", tx.Type, tx.Code)
			}
			if tx.Function != "CommitBatch" {
				continue
			}
			batches++
			batch, err := ballot.DecodeBatch(tx.Args[0], 10000)
			if err != nil {
				t.Fatalf("block %d: CommitBatch argument: %v", b.Number, err)
			}
			_, wrote := tx.Write("ballot", ballot.BatchKey(batch.State, batch.Seq))
			switch {
			case committed[batch.ID()] && (wrote || len(tx.Events) != 0):
				t.Errorf("block %d: the retry of CommitBatch %s wrote its record again or emitted %+v", b.Number, batch.ID(), tx.Events)
			case committed[batch.ID()]:
			case !wrote:
				t.Errorf("block %d: CommitBatch %s wrote no batch record", b.Number, batch.ID())
			case len(tx.Events) != 1 || tx.Events[0].Name != ballot.EventBatchCommitted:
				t.Errorf("block %d: CommitBatch events %+v", b.Number, tx.Events)
			}
			committed[batch.ID()] = true
			if tx.Creator != "CommissionMSP" || tx.Chaincode != "ballot" || !tx.Valid() || tx.Time.IsZero() {
				t.Errorf("block %d: CommitBatch tx %+v", b.Number, tx)
			}
		}
	}
	if batches == 0 {
		t.Fatal("no CommitBatch transaction in the captured blocks")
	}
}

// TestParseSynthetic checks the fields Parse reads, on built blocks.
func TestParseSynthetic(t *testing.T) {
	blk := ledgertest.Block(7, []byte("prev"),
		ledgertest.Tx{ID: "a", Creator: "ObserversMSP", Function: "probe:Put", Args: [][]byte{[]byte("k"), []byte("v")},
			Writes: []fabricblock.Write{{Namespace: "ballot", Key: "k", Value: []byte("v")}, {Namespace: "ballot", Key: "gone", Delete: true}},
			Event:  &fabricblock.Event{Name: "E", Payload: []byte("p")}},
		ledgertest.Tx{ID: "b", Function: "CommitBatch", Code: peer.TxValidationCode_MVCC_READ_CONFLICT},
	)
	b, err := fabricblock.Parse(blk)
	if err != nil {
		t.Fatal(err)
	}
	if b.Number != 7 || !bytes.Equal(b.PreviousHash, []byte("prev")) || !b.DataHashOK || len(b.Txs) != 2 || b.Time.IsZero() {
		t.Fatalf("block %+v", b)
	}
	a, c := b.Txs[0], b.Txs[1]
	if a.Contract != "probe" || a.Function != "Put" || a.Creator != "ObserversMSP" || len(a.Args) != 2 || !a.Valid() ||
		len(a.Events) != 1 || a.Events[0].Name != "E" || len(a.Writes) != 2 || !a.Writes[1].Delete {
		t.Fatalf("tx a %+v", a)
	}
	if v, ok := a.Write("ballot", "k"); !ok || string(v) != "v" {
		t.Fatalf("write k: %q %v", v, ok)
	}
	if _, ok := a.Write("ballot", "gone"); ok {
		t.Fatal("a deleted key reads as written")
	}
	if c.Valid() || c.Code != "MVCC_READ_CONFLICT" || c.Contract != "" || c.Function != "CommitBatch" {
		t.Fatalf("tx b %+v", c)
	}
	blk.Data.Data[1] = []byte("not an envelope")
	if b, _ := fabricblock.Parse(blk); b.DataHashOK || b.Txs[1].Err == "" || b.Txs[0].Err != "" {
		t.Fatalf("corrupt envelope: data ok %v, errs %q %q", b.DataHashOK, b.Txs[0].Err, b.Txs[1].Err)
	}
	if _, err := fabricblock.Parse(&common.Block{}); err == nil {
		t.Fatal("a block without header parsed")
	}
}

// TestRealOrdererSignatures: the captured genesis block carries the BFT
// configuration (four consenters, two per organisation, each with its
// certificate, and both orderer organisations' CAs), and every later block
// three consenters' signatures, each over the metadata value, its
// identifier header and the block's own header.
func TestRealOrdererSignatures(t *testing.T) {
	blocks := realBlocks(t)
	genesis, err := fabricblock.Parse(blocks[0])
	if err != nil {
		t.Fatal(err)
	}
	cfg := genesis.ChannelConfig
	if cfg == nil || cfg.Consensus != "BFT" || len(cfg.Consenters) != 4 || len(cfg.OrdererOrgs) != 2 {
		t.Fatalf("genesis orderer config %+v", cfg)
	}
	for i, c := range cfg.Consenters {
		if c.ID != uint32(i+1) || !bytes.HasPrefix(c.Cert, []byte("-----BEGIN CERTIFICATE")) || c.MSPID != cfg.OrdererOrgs[i/2].MSPID {
			t.Errorf("consenter %d: %d %s %.30q", i, c.ID, c.MSPID, c.Cert)
		}
	}
	for _, o := range cfg.OrdererOrgs {
		if len(o.RootCerts) != 1 {
			t.Errorf("orderer org %s has %d root certificates", o.MSPID, len(o.RootCerts))
		}
	}
	for _, blk := range blocks[1:] {
		b, err := fabricblock.Parse(blk)
		if err != nil {
			t.Fatal(err)
		}
		if b.ChannelConfig != nil || b.SignaturesErr != "" || len(b.Signatures) != 3 {
			t.Fatalf("block %d: config %v, %d signatures (%s)", b.Number, b.ChannelConfig, len(b.Signatures), b.SignaturesErr)
		}
		for _, s := range b.Signatures {
			if s.ConsenterID < 1 || s.ConsenterID > 4 || s.Creator.MSPID != "" || len(s.Signature) < 64 {
				t.Errorf("block %d signature %+v", b.Number, s)
			}
		}
	}
}
