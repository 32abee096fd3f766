package explorer_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votechain/votechain/explorer"
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
