package ballot

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The roll on the ledger. The election's roll root is the RFC 6962 root over
// the roll's distinct nullifiers in ascending byte order (the leaves are the
// nullifiers themselves). The commission writes the roll to the ledger in
// chunks of RollChunkEntries consecutive entries of that order, one chunk per
// transaction (RollChunk). An entry is one voter's nullifier for one contest
// (NullifierOf), so a voter on the roll for three contests has three
// entries. Each entry marks its nullifier key (NullifierKey of its state)
// with RollMark of its contest, so that CommitBatch learns with one read per
// vote whether the voter is on the roll for the vote's contest (the key holds
// that contest's mark) and whether they have voted in it (the key holds a
// NullifierRecord instead of the mark); the
// chunk's summary goes under RollChunkKey. Because every chunk but the last
// holds exactly RollChunkEntries (a power of two) leaves, each is a whole
// subtree, and the roll root is the RFC 6962 root over the chunks' roots:
// SealRoll checks the loaded chunks against the election's root that way,
// reading a few hundred chunk records instead of a million entries.
//
// A leaf carries no prefix of its own, so a leaf cannot be told from an
// inner node by its value: a chunk whose one entry is the roll root, or
// whole subtrees replaced by their node hashes, hash to the same root.
// The election record therefore states the roll's size as well
// (Election.RollEntries), and SealRoll holds the chunks to it: the size
// fixes the tree's shape, so another roll of that size with the same root
// would take a SHA-256 collision.
const (
	// RollChunkObject is the composite-key object type of loaded chunk
	// records: attribute [index as 10 zero-padded digits].
	RollChunkObject = "rollchunk"
	// RollSealKey holds the RollSeal once the loaded roll is checked.
	RollSealKey = "\x00rollseal\x00"

	// RollChunkEntries is the size of every roll chunk but the last; a
	// power of two, so that chunks are whole subtrees of the roll's tree.
	RollChunkEntries = 8192
)

// rollMarkPrefix starts every roll mark; a stored NullifierRecord starts
// with NullifierRecordV1, so the two never look alike.
const rollMarkPrefix = "roll/"

// RollMark is the value under the NullifierKey of a voter on the roll for
// contest who has not voted in it: "roll/" followed by the contest's id.
// Counting the voter's vote replaces it with the NullifierRecord.
func RollMark(contest string) []byte { return []byte(rollMarkPrefix + contest) }

// ParseRollMark reports whether value, stored under a NullifierKey, is a
// roll mark (the voter is on the roll and has not voted), and for which
// contest.
func ParseRollMark(value []byte) (contest string, ok bool) {
	if !bytes.HasPrefix(value, []byte(rollMarkPrefix)) {
		return "", false
	}
	return string(value[len(rollMarkPrefix):]), true
}

// RollChunkKey is the ledger key of the record of roll chunk index.
func RollChunkKey(index int) string {
	return compositeKey(RollChunkObject, fmt.Sprintf("%010d", index))
}

// ParseRollChunkKey returns the chunk index of a key built by RollChunkKey;
// ok is false for any other key.
func ParseRollChunkKey(key string) (index int, ok bool) {
	object, attrs, err := SplitKey(key)
	if err != nil || object != RollChunkObject || len(attrs) != 1 || len(attrs[0]) != 10 {
		return 0, false
	}
	index, err = strconv.Atoi(attrs[0])
	return index, err == nil && index >= 0
}

// RollEntry is one voter's right to vote in one contest, as the ledger holds
// it: the voter's nullifier for the contest, the contest and the state the
// voter votes in. It carries no personal data.
type RollEntry struct {
	State     string `json:"state"`
	Contest   string `json:"contest"`
	Nullifier string `json:"nullifier"`
}

// RollChunk is the argument of one LoadRoll transaction: chunk Index of the
// roll, its entries in strictly ascending nullifier order.
type RollChunk struct {
	Index   int         `json:"index"`
	Entries []RollEntry `json:"entries"`
}

// RollChunkRecord is what the ledger stores under RollChunkKey for a loaded
// chunk.
type RollChunkRecord struct {
	Index   int    `json:"index"`
	Entries int    `json:"entries"`
	First   string `json:"first"` // lowest nullifier of the chunk
	Last    string `json:"last"`  // highest nullifier of the chunk
	Root    string `json:"root"`  // RFC 6962 root over the chunk's nullifiers
}

// RollSeal is what the ledger stores under RollSealKey once the loaded roll
// matches the election's roll root. From then on CommitBatch counts only
// votes whose nullifier is on the roll of their state.
type RollSeal struct {
	Root     string `json:"roll_root"`
	Voters   int    `json:"voters"`
	Chunks   int    `json:"chunks"`
	TxID     string `json:"tx_id"`
	SealedAt int64  `json:"sealed_at"` // transaction time, Unix milliseconds
}

// ChunkRoll cuts entries, sorted by nullifier, into the chunks LoadRoll
// takes. The entries are not copied.
func ChunkRoll(entries []RollEntry) []RollChunk {
	chunks := make([]RollChunk, 0, (len(entries)+RollChunkEntries-1)/RollChunkEntries)
	for i := 0; i < len(entries); i += RollChunkEntries {
		chunks = append(chunks, RollChunk{Index: len(chunks), Entries: entries[i:min(i+RollChunkEntries, len(entries))]})
	}
	return chunks
}

// Check validates the chunk (index not negative; 1..RollChunkEntries
// entries, each of a valid state, contest and nullifier, nullifiers strictly
// ascending) and returns its record. A nullifier listed twice is refused
// with ErrRollRepeat, naming both entries' state and contest.
func (c RollChunk) Check() (RollChunkRecord, error) {
	n := len(c.Entries)
	if c.Index < 0 || n == 0 || n > RollChunkEntries {
		return RollChunkRecord{}, fmt.Errorf("ballot: roll chunk %d must have an index ≥ 0 and 1..%d entries, has %d", c.Index, RollChunkEntries, n)
	}
	leaves := make([][32]byte, n)
	for i, e := range c.Entries {
		h, err := ParseHash(e.Nullifier)
		if err != nil || !ValidState(e.State) || !ValidIdent(e.Contest) {
			return RollChunkRecord{}, fmt.Errorf("ballot: roll chunk %d entry %d: invalid state %q, contest %q or nullifier %q", c.Index, i, truncate(e.State), truncate(e.Contest), truncate(e.Nullifier))
		}
		switch {
		case i > 0 && leaves[i-1] == h:
			prev := c.Entries[i-1]
			return RollChunkRecord{}, fmt.Errorf("%w: roll chunk %d entries %d and %d list nullifier %s as %s/%s and %s/%s", ErrRollRepeat, c.Index, i-1, i, e.Nullifier, prev.State, prev.Contest, e.State, e.Contest)
		case i > 0 && bytes.Compare(leaves[i-1][:], h[:]) > 0:
			return RollChunkRecord{}, fmt.Errorf("ballot: roll chunk %d entry %d: nullifiers must be strictly ascending", c.Index, i)
		}
		leaves[i] = h
	}
	return RollChunkRecord{Index: c.Index, Entries: n, First: c.Entries[0].Nullifier, Last: c.Entries[n-1].Nullifier,
		Root: HashHex(MerkleRoot(leaves))}, nil
}

// ErrRollRepeat is returned (wrapped) by RollChunk.Check and SealRoll when
// the roll lists one nullifier twice. Each nullifier marks its key in the
// state of its entry, so a nullifier listed under two states would let its
// voter vote in each. The roll is in strictly ascending nullifier order,
// the state no part of it, so a repeat is two neighbours: within a chunk
// Check finds it; across chunks SealRoll refuses chunks whose ranges
// overlap, with ErrRollRepeat where one nullifier ends a chunk and starts
// the next. Refusing it costs one comparison per entry and one per chunk,
// with no index over the roll.
var ErrRollRepeat = errors.New("ballot: the roll lists a nullifier twice (under two states, its voter could vote in each)")

// ErrRollRoot is returned (wrapped) by SealRoll when the loaded chunks are
// not the election's roll: they hold another number of entries than it
// states, or do not hash to its roll root.
var ErrRollRoot = errors.New("ballot: the loaded roll does not match the roll root")

// SealRoll checks that chunks, the records of every loaded chunk in index
// order, form the roll whose root is root and, if entries is not nil, whose
// size is *entries (Election.RollEntries): indices 0..n-1, every chunk but
// the last full, nullifiers ascending across chunks (a nullifier that ends
// one chunk and starts the next is ErrRollRepeat), as many entries as
// stated, and the root over the chunk roots equal to root. It returns the
// seal without transaction details. No chunks is the empty roll. With
// entries nil (a record that states no size) a roll with subtrees replaced
// by their node hashes seals too: only the root is checked.
func SealRoll(root string, entries *int, chunks []RollChunkRecord) (RollSeal, error) {
	roots := make([][32]byte, len(chunks))
	seal := RollSeal{Root: root, Chunks: len(chunks)}
	for i, c := range chunks {
		switch {
		case c.Index != i:
			return RollSeal{}, fmt.Errorf("ballot: roll chunk %d is missing (found chunk %d)", i, c.Index)
		case i < len(chunks)-1 && c.Entries != RollChunkEntries:
			return RollSeal{}, fmt.Errorf("ballot: roll chunk %d has %d entries; every chunk but the last must have %d", i, c.Entries, RollChunkEntries)
		case i > 0 && c.First == chunks[i-1].Last:
			return RollSeal{}, fmt.Errorf("%w: nullifier %s ends roll chunk %d and starts chunk %d", ErrRollRepeat, truncate(c.First), i-1, i)
		case i > 0 && c.First < chunks[i-1].Last:
			return RollSeal{}, fmt.Errorf("ballot: roll chunk %d does not follow chunk %d in nullifier order: it starts at %s, before chunk %d ends at %s, so the two may list a nullifier twice", i, i-1, truncate(c.First), i-1, truncate(chunks[i-1].Last))
		}
		h, err := ParseHash(c.Root)
		if err != nil {
			return RollSeal{}, fmt.Errorf("ballot: roll chunk %d: %w", i, err)
		}
		roots[i] = h
		seal.Voters += c.Entries
	}
	if entries != nil && seal.Voters != *entries {
		return RollSeal{}, fmt.Errorf("%w: %d chunks hold %d entries, the election's roll_entries states %d", ErrRollRoot, len(chunks), seal.Voters, *entries)
	}
	if got := HashHex(MerkleRoot(roots)); got != root {
		return RollSeal{}, fmt.Errorf("%w: %d chunks of %d voters give %s, the election's is %s", ErrRollRoot, len(chunks), seal.Voters, got, truncate(root))
	}
	return seal, nil
}

// RollRoot sorts entries by nullifier (SortRoll) and returns their roll
// root: the RFC 6962 root over the nullifiers, which SealRoll finds from
// the chunks' roots. Entries must hold valid nullifiers (RollChunk.Check).
func RollRoot(entries []RollEntry) string {
	SortRoll(entries)
	leaves := make([][32]byte, len(entries))
	for i, e := range entries {
		leaves[i], _ = ParseHash(e.Nullifier)
	}
	return HashHex(MerkleRoot(leaves))
}

// SortRoll sorts entries by nullifier, the order ChunkRoll needs.
func SortRoll(entries []RollEntry) {
	slices.SortFunc(entries, func(a, b RollEntry) int { return strings.Compare(a.Nullifier, b.Nullifier) })
}
