package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
)

// signedAcceptances returns the acceptance receipts of a 3-entry log signed
// by key.
func signedAcceptances(t *testing.T, key ed25519.PrivateKey) []ballot.Acceptance {
	t.Helper()
	var tree ballot.LogTree
	var votes []ballot.Vote
	for i := range 3 {
		id, _ := ballot.NewVoteID()
		v := ballot.Vote{ID: id, State: "CA", Contest: "president", Nullifier: ballot.HashHex(ballot.NullifierOf([32]byte{byte(i)}, "president")), Choice: "alice", CastAt: 1}
		leaf, _ := v.Leaf()
		tree.Append(leaf)
		votes = append(votes, v)
	}
	root, _ := tree.Root(3)
	h, err := ballot.TreeHead{Election: "e", State: "CA", Size: 3, Root: ballot.HashHex(root), Timestamp: 1}.Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	var out []ballot.Acceptance
	for i, v := range votes {
		proof, _ := tree.InclusionProof(uint64(i), 3)
		leaf, _ := tree.Leaf(uint64(i))
		out = append(out, ballot.Acceptance{VoteID: v.ID, Vote: v, Index: uint64(i), Leaf: ballot.HashHex(leaf), Proof: ballot.HexHashes(proof), Head: h})
	}
	return out
}

// Offline, with a key file of public keys: genuine receipts are VALID; an
// altered one and one signed by a key not in the file FAIL with the reason.
func TestAcceptanceOffline(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key.Public().(ed25519.PublicKey))+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	keys, err := readKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	as := signedAcceptances(t, key)
	altered := as[1]
	altered.Vote.Choice = "bob"
	rogue := signedAcceptances(t, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)))[0]
	var out bytes.Buffer
	tally, err := checkAcceptances(context.Background(), &out, append(as, altered, rogue), keys, nil, time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if tally.ok != 3 || tally.fail != 2 || tally.exit() != 1 {
		t.Fatalf("tally %+v:\n%s", tally, out.String())
	}
	text := out.String()
	for _, want := range []string{"FAIL " + altered.VoteID + ": ballot: acceptance receipt does not hold together", "FAIL " + rogue.VoteID + ": ballot: tree head signed by a key not registered", "VALID " + as[0].VoteID} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}
