package ledgertest

import (
	"crypto/ed25519"
	"fmt"

	"github.com/votechain/votechain/ballot"
)

// LogSigner is a gateway's intake log of one state with its signing key:
// it signs heads of the log and builds the anchors AnchorLogHeads takes.
type LogSigner struct {
	Priv     ed25519.PrivateKey
	Key      ballot.LogKey // the key to register
	Election string
	State    string
	Log      *ballot.LogTree
}

// NewLogSigner is the log of votes (their leaves in order) of state in
// election, signed with the key derived from seed.
func NewLogSigner(seed byte, election, state string, votes []ballot.Vote) *LogSigner {
	var s [ed25519.SeedSize]byte
	for i := range s {
		s[i] = seed
	}
	priv := ed25519.NewKeyFromSeed(s[:])
	l := &LogSigner{Priv: priv, Key: ballot.NewLogKey(priv.Public().(ed25519.PublicKey)), Election: election, State: state, Log: &ballot.LogTree{}}
	for _, v := range votes {
		leaf, err := v.Leaf()
		if err != nil {
			panic(fmt.Sprintf("ledgertest: log leaf: %v", err))
		}
		l.Log.Append(leaf)
	}
	return l
}

// Head is the signed head of the log's first size entries, time-stamped
// size (Unix ms), so larger heads are newer.
func (l *LogSigner) Head(size uint64) ballot.TreeHead {
	root, err := l.Log.Root(size)
	if err != nil {
		panic(fmt.Sprintf("ledgertest: log root: %v", err))
	}
	h, err := ballot.TreeHead{Election: l.Election, State: l.State, Size: size, Root: ballot.HashHex(root), Timestamp: int64(size)}.Sign(l.Priv)
	if err != nil {
		panic(fmt.Sprintf("ledgertest: sign head: %v", err))
	}
	return h
}

// Anchor is the anchor of the head of size entries with the consistency
// proof from the head of from entries (0: a state's first anchor).
func (l *LogSigner) Anchor(from, size uint64) ballot.LogAnchor {
	a := ballot.LogAnchor{Head: l.Head(size)}
	if from > 0 {
		proof, err := l.Log.ConsistencyProof(from, size)
		if err != nil {
			panic(fmt.Sprintf("ledgertest: consistency proof: %v", err))
		}
		a.Consistency = ballot.HexHashes(proof)
	}
	return a
}
