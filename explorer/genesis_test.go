package explorer_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/network/fabricblock"
)

// TestOpenIndexGenesisPin: an index holding block 0 opens under a pin only
// if block 0 hashes to it, or its audit already flagged block 0 against
// that very pin; a pin added or changed since the index was built is
// refused, naming both hashes and explorer reindex. An index without
// block 0, or no pin, opens.
func TestOpenIndexGenesisPin(t *testing.T) {
	ctx := context.Background()
	block0 := sha256.Sum256([]byte("block 0"))
	published := sha256.Sum256([]byte("the published genesis block"))
	other := sha256.Sum256([]byte("another pin"))
	// build returns the path of an index holding block 0, if indexed,
	// audited against auditedPin (nil: none).
	build := func(indexed bool, auditedPin []byte) string {
		path := filepath.Join(t.TempDir(), "index.db")
		if indexed {
			saveBlock0(t, path, block0[:], auditedPin)
		}
		return path
	}
	for _, c := range []struct {
		name       string
		indexed    bool   // block 0 is in the index
		auditedPin []byte // the pin block 0 was audited against
		pin        []byte // the pin the index is opened with
		refused    bool
	}{
		{"empty index", false, nil, published[:], false},
		{"no pin", true, nil, nil, false},
		{"block 0 is the pinned one, added since", true, nil, block0[:], false},
		{"pin added", true, nil, published[:], true},
		{"flagged against this pin", true, published[:], published[:], false},
		{"pin changed", true, published[:], other[:], true},
		{"pin changed from block 0's", true, block0[:], other[:], true},
	} {
		idx, err := explorer.OpenIndex(ctx, build(c.indexed, c.auditedPin), c.pin)
		if err == nil {
			idx.Close()
		}
		msg := fmt.Sprint(err)
		switch {
		case !c.refused && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.refused && (err == nil || !strings.Contains(msg, fmt.Sprintf("%x", block0)) || !strings.Contains(msg, fmt.Sprintf("%x", c.pin)) || !strings.Contains(msg, "explorer reindex")):
			t.Errorf("%s: %v; want a refusal naming block 0's hash, the pin and explorer reindex", c.name, err)
		}
	}
}

// TestOpenIndexRefusedWritesNoKeys: OpenIndex refusing an index (the pin
// changed) closes it without writing the vote keys it read back as
// pending (a write that no cancel could cut short): the index's key
// segments stay empty, and the next Open reads the keys back again.
func TestOpenIndexRefusedWritesNoKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	block0 := sha256.Sum256([]byte("block 0"))
	saveBlock0(t, path, block0[:], nil)
	idx, err := index.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	id, nullifier, root := sha256.Sum256([]byte("vote")), sha256.Sum256([]byte("nullifier")), sha256.Sum256([]byte("root"))
	vote := ballot.Vote{ID: fmt.Sprintf("%x", id[:16]), State: "CA", Contest: "president", Nullifier: fmt.Sprintf("%x", nullifier), Choice: "alice"}
	bt := ballot.Batch{State: "CA", Seq: 1, Root: fmt.Sprintf("%x", root), Votes: []ballot.Vote{vote}}
	raw, err := json.Marshal(bt)
	if err != nil {
		t.Fatal(err)
	}
	r := audit.Report{
		Block: fabricblock.Block{Number: 1, Hash: []byte("block 1"), PreviousHash: block0[:], DataHashOK: true,
			Txs: []fabricblock.Tx{{ID: "tx1", Type: "ENDORSER_TRANSACTION", Code: "VALID", Chaincode: "ballot", Function: "CommitBatch"}}},
		Batches: []audit.Batch{{TxID: "tx1", Batch: bt, Raw: raw, Tallies: ballot.Tally{"president": {"alice": 1}}, RootOK: true, RecordOK: true}},
	}
	if err := errors.Join(idx.Save(t.Context(), r), idx.CloseWithoutFlush()); err != nil {
		t.Fatal(err)
	}
	other := sha256.Sum256([]byte("another pin"))
	if idx, err := explorer.OpenIndex(t.Context(), path, other[:]); err == nil || !strings.Contains(err.Error(), "explorer reindex") {
		if err == nil {
			idx.Close()
		}
		t.Fatalf("OpenIndex of an index whose block 0 is not the pinned one: %v; want the pin's refusal", err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var segments int
	if err := db.QueryRow(`SELECT COUNT(*) FROM key_segments`).Scan(&segments); err != nil || segments != 0 {
		t.Fatalf("after the refused OpenIndex: %d key segments, %v; want none (the pending keys not written)", segments, err)
	}
	idx, err = explorer.OpenIndex(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	if got, err := idx.Vote(t.Context(), vote.ID); err != nil || got.Vote != vote {
		t.Fatalf("vote %s after the refused OpenIndex: %+v, %v; want it found (its key read back)", vote.ID, got, err)
	}
}
