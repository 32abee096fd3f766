package ballot

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

func TestVoterKeyIsHMACOfLengthPrefixedFields(t *testing.T) {
	secret := []byte("election secret")
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("\x00\x00\x00\x06E-2026\x00\x00\x00\x04V123\x00\x00\x00\x08cred-xyz"))
	var want [32]byte
	copy(want[:], mac.Sum(nil))
	if got := VoterKey(secret, "E-2026", "V123", "cred-xyz"); got != want {
		t.Fatalf("VoterKey = %x, want %x", got, want)
	}
	if VoterKey([]byte("other"), "E-2026", "V123", "cred-xyz") == want {
		t.Fatal("a different secret gave the same voter key")
	}
	if VoterKey(secret, "E-2027", "V123", "cred-xyz") == want {
		t.Fatal("another election gave the same voter key")
	}
	// Without length prefixes "V1|2" + "3" and "V1" + "2|3" would collide.
	if VoterKey(secret, "E", "V1|2", "3") == VoterKey(secret, "E", "V1", "2|3") {
		t.Fatal("two different (voter, credential) pairs share a voter key")
	}
	if VoterKey(secret, "E", "V1", "23") == VoterKey(secret, "E", "V12", "3") {
		t.Fatal("moving a byte between voter id and credential keeps the key")
	}
}

func TestNullifierOfIsDomainSeparatedHashPerContest(t *testing.T) {
	var key [32]byte
	for i := range key {
		key[i] = byte(i)
	}
	want := sha256.Sum256(append([]byte("votechain/nullifier/v2\x00\x00\x00\x09president"), key[:]...))
	if got := NullifierOf(key, "president"); got != want {
		t.Fatalf("NullifierOf = %x, want %x", got, want)
	}
	if NullifierOf(key, "president") == sha256.Sum256(key[:]) {
		t.Fatal("nullifier equals the plain hash of the key")
	}
	// The same voter has a different nullifier in every contest, and the
	// length prefix keeps the contest id apart from the key's bytes.
	seen := map[[32]byte]string{}
	for _, c := range []string{"president", "L2025-001", "L2025-002", "a", "ab"} {
		n := NullifierOf(key, c)
		if other, dup := seen[n]; dup {
			t.Fatalf("contests %s and %s give the same nullifier", other, c)
		}
		seen[n] = c
		if NullifierOf(key, c) != n {
			t.Fatalf("NullifierOf(%s) is not deterministic", c)
		}
	}
	other := key
	other[31] ^= 1
	if NullifierOf(other, "president") == want {
		t.Fatal("two voter keys share a nullifier")
	}
}

// TestNullifierKnownAnswer pins the derivation chain end to end (the values
// docs/ledger.md shows): a change to VoterKey or NullifierOf would make
// every roll on record unusable.
func TestNullifierKnownAnswer(t *testing.T) {
	key := VoterKey([]byte("election secret"), "E-2026", "V123", "cred-xyz")
	for _, tt := range []struct{ contest, want string }{
		{"president", nullifierKAT["president"]},
		{"L2025-001", nullifierKAT["L2025-001"]},
	} {
		if got := HashHex(NullifierOf(key, tt.contest)); got != tt.want {
			t.Errorf("nullifier of V123 for %s = %s, want %s", tt.contest, got, tt.want)
		}
	}
}

func TestNewVoteID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, err := NewVoteID()
		if err != nil {
			t.Fatal(err)
		}
		if !ValidVoteID(id) {
			t.Fatalf("NewVoteID gave invalid id %q", id)
		}
		if seen[id] {
			t.Fatalf("NewVoteID repeated %q", id)
		}
		seen[id] = true
	}
}

func TestIdentifierForms(t *testing.T) {
	tests := []struct {
		name  string
		valid func(string) bool
		in    string
		want  bool
	}{
		{"vote id", ValidVoteID, strings.Repeat("a", 32), true},
		{"vote id", ValidVoteID, "0123456789abcdef0123456789abcdef", true},
		{"vote id upper", ValidVoteID, strings.Repeat("A", 32), false},
		{"vote id short", ValidVoteID, strings.Repeat("a", 31), false},
		{"vote id long", ValidVoteID, strings.Repeat("a", 33), false},
		{"vote id non-hex", ValidVoteID, strings.Repeat("g", 32), false},
		{"nullifier", ValidNullifier, strings.Repeat("f", 64), true},
		{"nullifier short", ValidNullifier, strings.Repeat("f", 63), false},
		{"state", ValidState, "CA", true},
		{"state long", ValidState, "ABCDEFG9", true},
		{"state too long", ValidState, "ABCDEFGHI", false},
		{"state one", ValidState, "C", false},
		{"state lower", ValidState, "ca", false},
		{"state shard", ValidState, "CA#1", false},
		{"ident", ValidIdent, "alice_B-2", true},
		{"ident referendum", ValidIdent, "L2025-001", true},
		{"ident 64", ValidIdent, strings.Repeat("x", 64), true},
		{"ident 65", ValidIdent, strings.Repeat("x", 65), false},
		{"ident empty", ValidIdent, "", false},
		{"ident space", ValidIdent, "a b", false},
		{"ident slash", ValidIdent, "roll/a", false},
		{"ident unicode", ValidIdent, "é", false},
	}
	for _, tt := range tests {
		if got := tt.valid(tt.in); got != tt.want {
			t.Errorf("%s: valid(%q) = %v, want %v", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestParseHash(t *testing.T) {
	h := sha256.Sum256([]byte("x"))
	got, err := ParseHash(HashHex(h))
	if err != nil || got != h {
		t.Fatalf("ParseHash(HashHex(h)) = %x, %v", got, err)
	}
	for _, bad := range []string{"", strings.ToUpper(HashHex(h)), HashHex(h)[:62], strings.Repeat("z", 200)} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) accepted", bad)
		}
	}
}

func TestIssuedVoteID(t *testing.T) {
	secret := []byte("election secret")
	seen := map[string]bool{}
	for range 100 {
		id, err := NewIssuedVoteID(secret)
		if err != nil || !ValidVoteID(id) || seen[id] {
			t.Fatalf("id %q, %v (seen before: %v)", id, err, seen[id])
		}
		seen[id] = true
		if !IssuedVoteID(secret, id) {
			t.Fatalf("issued id %s not recognised", id)
		}
		if IssuedVoteID([]byte("another secret"), id) {
			t.Fatalf("id %s recognised under another secret", id)
		}
	}
	forged := 0
	for range 1000 {
		id, _ := NewVoteID() // random ids nobody issued
		if IssuedVoteID(secret, id) {
			forged++
		}
	}
	if forged > 1 {
		t.Fatalf("%d of 1000 random ids pass as issued", forged)
	}
	if IssuedVoteID(secret, "not hex") || IssuedVoteID(secret, "00") {
		t.Fatal("a malformed id passes as issued")
	}
}

// nullifierKAT are the nullifiers of voter V123 (credential cred-xyz) of
// election E-2026 under the secret "election secret" (voter key
// d9d0ff0f…9655), computed independently of this package.
var nullifierKAT = map[string]string{
	"president": "a2ad637775d5dc721afd676187682d4148973dedc5481820506a88164bab6d70",
	"L2025-001": "a83d7be847d29895c75de99031d3b74c017755b083ceae61a351099667b802ea",
}

// TestSecretMatchesFunctions: a prepared Secret, used from many goroutines
// at once, gives the voter keys and vote id tags of the plain HMAC
// definitions, and keeps its own copy of the secret.
func TestSecretMatchesFunctions(t *testing.T) {
	raw := []byte("election secret")
	s := NewSecret(raw)
	raw[0] = 'X' // the caller's buffer changes; s must not
	secret := []byte("election secret")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				voter, cred := fmt.Sprint("V", g, "-", i), strings.Repeat("c", i%70)
				if got, want := s.VoterKey("E-2026", voter, cred), VoterKey(secret, "E-2026", voter, cred); got != want {
					t.Errorf("Secret.VoterKey(%s, %q) = %x, VoterKey = %x", voter, cred, got, want)
					return
				}
				id, err := s.NewIssuedVoteID()
				if err != nil || !ValidVoteID(id) || !IssuedVoteID(secret, id) || !s.IssuedVoteID(id) {
					t.Errorf("Secret.NewIssuedVoteID = %q, %v: not recognised as issued", id, err)
					return
				}
				b, _ := hex.DecodeString(id)
				mac := hmac.New(sha256.New, secret)
				mac.Write([]byte("votechain/vote-id/v1"))
				mac.Write(b[:12])
				if tag := mac.Sum(nil)[:4]; !hmac.Equal(tag, b[12:]) {
					t.Errorf("id %s: tag %x, want HMAC(secret, domain ‖ random) = %x…", id, b[12:], tag)
					return
				}
				if s.IssuedVoteID(id[:31]+"x") || s.IssuedVoteID(id[:30]) {
					t.Errorf("a malformed id passes as issued")
					return
				}
			}
		})
	}
	wg.Wait()
	if s.VoterKey("E-2026", "V123", "cred-xyz") != VoterKey(secret, "E-2026", "V123", "cred-xyz") {
		t.Fatal("Secret followed a change to the caller's secret buffer")
	}
}

// BenchmarkVoterKey compares deriving a voter key from the raw secret (a
// fresh HMAC per call) with a prepared Secret.
func BenchmarkVoterKey(b *testing.B) {
	secret := []byte("election secret")
	b.Run("func", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			VoterKey(secret, "E-2026", "voter-000123", "credential-000123")
		}
	})
	b.Run("secret", func(b *testing.B) {
		s := NewSecret(secret)
		b.ReportAllocs()
		for b.Loop() {
			s.VoterKey("E-2026", "voter-000123", "credential-000123")
		}
	})
	b.Run("secret-vote-id", func(b *testing.B) {
		s := NewSecret(secret)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.NewIssuedVoteID(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestClipKeepsUTF8: Clip bounds text to its longest prefix of at most 80
// bytes that ends at a character's start, and "...", so clipped UTF-8
// stays valid; short text is whole.
func TestClipKeepsUTF8(t *testing.T) {
	for _, c := range []struct{ s, want string }{
		{strings.Repeat("a", 79) + "é" + "tail", strings.Repeat("a", 79) + "..."}, // é's 2 bytes would end at 81
		{strings.Repeat("€", 40), strings.Repeat("€", 26) + "..."},                // 3 bytes each: 26 end at 78, 27 at 81
		{strings.Repeat("x", 200), strings.Repeat("x", 80) + "..."},
	} {
		if got := Clip(c.s); got != c.want || !utf8.ValidString(got) {
			t.Errorf("Clip(%q) = %q; want %q", c.s, got, c.want)
		}
	}
	if short := strings.Repeat("b", 80); Clip(short) != short {
		t.Errorf("Clip of 80 bytes changed it: %q", Clip(short))
	}
}
