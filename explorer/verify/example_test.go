package verify_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/verify"
)

// An acceptance receipt checked offline, with the log key in a file (as
// verify --acceptance --offline --keys FILE does): its signature and proof
// hold, so it is VALID; an altered copy FAILs, and the run's verdict is
// Failed (verify exits 1).
func ExampleCheckAcceptances() {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	dir, err := os.MkdirTemp("", "verify-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	keysFile := filepath.Join(dir, "keys")
	if err := os.WriteFile(keysFile, []byte(hex.EncodeToString(key.Public().(ed25519.PublicKey))+"\n"), 0o600); err != nil {
		panic(err)
	}
	keys, err := verify.ReadKeys(keysFile)
	if err != nil {
		panic(err)
	}

	// A log of one vote, and its acceptance receipt under the signed head.
	vote := ballot.Vote{ID: "0123456789abcdef0123456789abcdef", State: "CA", Contest: "president", Choice: "alice",
		Nullifier: ballot.HashHex(ballot.NullifierOf([32]byte{1}, "president")), CastAt: 1}
	leaf, err := vote.Leaf()
	if err != nil {
		panic(err)
	}
	var log ballot.LogTree
	log.Append(leaf)
	root, _ := log.Root(1)
	head, err := ballot.TreeHead{Election: "e", State: "CA", Size: 1, Root: ballot.HashHex(root), Timestamp: 1}.Sign(key)
	if err != nil {
		panic(err)
	}
	proof, _ := log.InclusionProof(0, 1)
	receipt := ballot.Acceptance{VoteID: vote.ID, Vote: vote, Index: 0, Leaf: ballot.HashHex(leaf), Proof: ballot.HexHashes(proof), Head: head}

	altered := receipt
	altered.Vote.Choice = "bob" // no longer the vote the log accepted

	// Offline: no ledger (nil), no gateway's proofs (nil).
	tally, err := verify.CheckAcceptances(context.Background(), os.Stdout, []ballot.Acceptance{receipt, altered}, keys, nil, nil, time.Minute, time.Now())
	if err != nil {
		panic(err)
	}
	fmt.Println(verify.AcceptanceSummary(tally, true, false))
	fmt.Println("failed:", tally.Verdict() == verify.Failed)
	// Output:
	// VALID 0123456789abcdef0123456789abcdef: accepted as entry 0 of the CA log of election e under a head of 1 entries signed by key 546f37f849a09a9b
	// FAIL 0123456789abcdef0123456789abcdef: ballot: acceptance receipt does not hold together: the vote hashes to 675e683c13e9ef3dc4e96ff4d5f3732cd6333792733d94ded694aff1b3dff28f, not to the receipt's leaf
	// 2 receipts: 1 valid, 1 failed
	// failed: true
}
