package ballot

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"
	"unicode/utf8"
)

// nullifierDomain separates nullifier hashes from every other SHA-256 use in
// the system, so a nullifier can never be confused with a leaf or node hash.
const nullifierDomain = "votechain/nullifier/v2"

// VoterKey derives a voter's secret key from the election secret, the
// election's id and the voter's id and one-time credential:
// HMAC-SHA256(secret, lp(electionID) ‖ lp(voterID) ‖ lp(credential)), where
// lp(x) is x's length as 4 big-endian bytes followed by x. The lengths make
// the encoding unambiguous (no two (voter, credential) pairs share an
// input), and the election id makes the same voter's key, hence nullifier,
// differ from one election to the next. It is what the offline roll holds;
// it never leaves the commission.
func VoterKey(secret []byte, electionID, voterID, credential string) [32]byte {
	return newKeyedMAC(secret).voterKey(electionID, voterID, credential)
}

// Secret is an election secret ready for repeated use: VoterKey,
// NewIssuedVoteID and IssuedVoteID with it give what the functions of those
// names give, reusing HMAC-SHA256 states already keyed with the secret
// (the keyed pads are hashed once, not per call, and nothing is allocated
// per call but the vote id's string). It is safe for concurrent use.
type Secret struct {
	macs sync.Pool // of *keyedMAC
}

// keyedMAC is an HMAC keyed with the secret and a buffer for its input and
// output.
type keyedMAC struct {
	mac hash.Hash
	buf []byte
}

func newKeyedMAC(secret []byte) *keyedMAC {
	return &keyedMAC{mac: hmac.New(sha256.New, secret), buf: make([]byte, 0, 256)}
}

// NewSecret prepares secret for repeated use.
func NewSecret(secret []byte) *Secret {
	key := bytes.Clone(secret)
	s := &Secret{}
	s.macs.New = func() any { return newKeyedMAC(key) }
	return s
}

// VoterKey is the package's VoterKey with this secret.
func (s *Secret) VoterKey(electionID, voterID, credential string) [32]byte {
	m := s.macs.Get().(*keyedMAC)
	defer s.macs.Put(m)
	return m.voterKey(electionID, voterID, credential)
}

func (m *keyedMAC) voterKey(electionID, voterID, credential string) [32]byte {
	in := m.buf[:0]
	for _, field := range [...]string{electionID, voterID, credential} {
		in = binary.BigEndian.AppendUint32(in, uint32(len(field)))
		in = append(in, field...)
	}
	return m.sum(in)
}

// sum is the HMAC of in (which may be m.buf), keeping the grown buffer.
func (m *keyedMAC) sum(in []byte) [32]byte {
	m.mac.Reset()
	m.mac.Write(in)
	out := m.mac.Sum(in[:0])
	m.buf = in[:0]
	var k [32]byte
	copy(k[:], out)
	return k
}

// NullifierOf derives the voter's public nullifier for one contest from the
// voter key: SHA-256("votechain/nullifier/v2" ‖ lp(contest) ‖ voterKey),
// lp as in VoterKey. The ledger and the queue hold only nullifiers; a
// nullifier reveals nothing about the voter without the election secret,
// yet two votes by the same voter in the same contest share it, and the
// voter's nullifiers of different contests cannot be linked to each other.
func NullifierOf(voterKey [32]byte, contest string) [32]byte {
	var buf [128]byte // room for any contest id (ValidIdent): no allocation
	in := append(buf[:0], nullifierDomain...)
	in = binary.BigEndian.AppendUint32(in, uint32(len(contest)))
	in = append(in, contest...)
	return sha256.Sum256(append(in, voterKey[:]...))
}

// NewVoteID returns a fresh, unguessable vote id: 128 bits from crypto/rand
// as 32 lowercase hex characters. Receipts are looked up by it, so it must
// not be predictable.
func NewVoteID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("ballot: read random vote id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// voteIDDomain separates the tag of an issued vote id from every other use
// of the election secret.
const voteIDDomain = "votechain/vote-id/v1"

// voteIDTag is the size of an issued vote id's tag; the other 12 bytes are
// random.
const voteIDTag = 4

// NewIssuedVoteID draws a vote id (32 lowercase hex, like NewVoteID) that
// the holder of secret can later recognise as one it issued, with no
// look-up: 96 random bits followed by a 32-bit tag, the first bytes of
// HMAC-SHA256(secret, "votechain/vote-id/v1" ‖ the random bits). The id
// stays unguessable (96 bits).
func NewIssuedVoteID(secret []byte) (string, error) {
	return newKeyedMAC(secret).newIssuedVoteID()
}

// IssuedVoteID reports whether id was drawn by NewIssuedVoteID with secret.
// An id that was never issued (a guess, a typo, another election's) passes
// with probability 2^-32.
func IssuedVoteID(secret []byte, id string) bool {
	return newKeyedMAC(secret).issuedVoteID(id)
}

// NewIssuedVoteID is the package's NewIssuedVoteID with this secret.
func (s *Secret) NewIssuedVoteID() (string, error) {
	m := s.macs.Get().(*keyedMAC)
	defer s.macs.Put(m)
	return m.newIssuedVoteID()
}

func (m *keyedMAC) newIssuedVoteID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:16-voteIDTag]); err != nil {
		return "", fmt.Errorf("ballot: read random vote id: %w", err)
	}
	tag := m.voteIDTag(b[:16-voteIDTag])
	copy(b[16-voteIDTag:], tag[:voteIDTag])
	return hex.EncodeToString(b[:]), nil
}

// IssuedVoteID is the package's IssuedVoteID with this secret.
func (s *Secret) IssuedVoteID(id string) bool {
	m := s.macs.Get().(*keyedMAC)
	defer s.macs.Put(m)
	return m.issuedVoteID(id)
}

func (m *keyedMAC) issuedVoteID(id string) bool {
	var b [16]byte
	if len(id) != 32 {
		return false
	}
	if _, err := hex.Decode(b[:], []byte(id)); err != nil {
		return false
	}
	tag := m.voteIDTag(b[:16-voteIDTag])
	return hmac.Equal(tag[:voteIDTag], b[16-voteIDTag:])
}

// voteIDTag is HMAC-SHA256(secret, "votechain/vote-id/v1" ‖ random).
func (m *keyedMAC) voteIDTag(random []byte) [32]byte {
	return m.sum(append(append(m.buf[:0], voteIDDomain...), random...))
}

// ValidVoteID reports whether s is a well-formed vote id (32 lowercase hex).
func ValidVoteID(s string) bool { return isLowerHex(s, 32) }

// ValidNullifier reports whether s is a well-formed nullifier (64 lowercase hex).
func ValidNullifier(s string) bool { return isLowerHex(s, 64) }

// ValidState reports whether s is a well-formed state code: 2..8 characters
// of [A-Z0-9].
func ValidState(s string) bool { return inCharset(s, 2, 8, &stateChars) }

// ValidIdent reports whether s is a well-formed identifier of an election,
// a contest or a choice: 1..64 characters of [A-Za-z0-9_-].
func ValidIdent(s string) bool { return inCharset(s, 1, 64, &identChars) }

// isLowerHex reports whether s is exactly n lowercase hex characters. Only
// the lowercase form is canonical, so every party hashes the same bytes.
func isLowerHex(s string, n int) bool { return inCharset(s, n, n, &lowerHexChars) }

// charset is a byte-membership table: validation runs for every vote of
// every batch on every endorser, so it avoids per-byte function calls.
type charset [256]bool

func newCharset(ranges ...string) (c charset) {
	for _, r := range ranges {
		for b := r[0]; b <= r[len(r)-1]; b++ {
			c[b] = true
		}
	}
	return c
}

var (
	stateChars     = newCharset("AZ", "09")
	identChars     = newCharset("AZ", "az", "09", "_", "-")
	lowerHexChars  = newCharset("09", "af")
	printableChars = newCharset(" ~")
)

// inCharset reports whether s has min..max bytes, each in set.
func inCharset(s string, min, max int, set *charset) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !set[s[i]] {
			return false
		}
	}
	return true
}

// ParseHash decodes a 64-character lowercase hex string (a root, leaf or
// proof hash) into its 32 bytes.
func ParseHash(s string) ([32]byte, error) {
	var h [32]byte
	if !isLowerHex(s, 64) {
		return h, fmt.Errorf("ballot: hash %q is not 64 lowercase hex characters", truncate(s))
	}
	hex.Decode(h[:], []byte(s))
	return h, nil
}

// HashHex renders a hash in the canonical lowercase hex form.
func HashHex(h [32]byte) string { return hex.EncodeToString(h[:]) }

// Clip shortens untrusted text before it is quoted in a message: text
// longer than 80 bytes becomes at most its first 80 bytes, cut at a
// character's start so valid UTF-8 stays valid (a message is a protobuf
// string, which must be UTF-8), and "...", so a message quoting it stays
// bounded; shorter text (any identifier, hash or status the ledger's rules
// allow) is returned whole.
func Clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// truncate is Clip, under the name this package's messages use.
func truncate(s string) string { return Clip(s) }
