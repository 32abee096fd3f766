package ballot_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/votechain/votechain/ballot"
)

func TestEntryFramesRoundTrip(t *testing.T) {
	entries := [][]byte{{}, {0x02}, bytes.Repeat([]byte{0xab}, 300), bytes.Repeat([]byte{1}, ballot.MaxEntryFrame)}
	b, err := ballot.AppendEntryFrames([]byte("kept"), entries)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("kept")) || len(b) != 4+2*len(entries)+0+1+300+ballot.MaxEntryFrame {
		t.Fatalf("framed %d bytes: want dst kept and a 2-byte length before each entry", len(b))
	}
	got, err := ballot.SplitEntryFrames(b[4:])
	if err != nil || len(got) != len(entries) {
		t.Fatalf("split: %d entries, %v", len(got), err)
	}
	for i := range entries {
		if !bytes.Equal(got[i], entries[i]) {
			t.Fatalf("entry %d: got %d bytes, want %d", i, len(got[i]), len(entries[i]))
		}
	}
	// An entry's slice cannot grow into the next frame.
	if cap(got[1]) != 1 {
		t.Fatalf("entry 1 has capacity %d: appending to it would overwrite the next frame", cap(got[1]))
	}
	if none, err := ballot.SplitEntryFrames(nil); err != nil || len(none) != 0 {
		t.Fatalf("no frames: %d entries, %v", len(none), err)
	}
}

func TestEntryFramesRefused(t *testing.T) {
	if _, err := ballot.AppendEntryFrames(nil, [][]byte{make([]byte, ballot.MaxEntryFrame+1)}); err == nil {
		t.Fatal("an entry longer than a frame holds was framed")
	}
	good, _ := ballot.AppendEntryFrames(nil, [][]byte{[]byte("abc"), []byte("de")})
	for _, bad := range [][]byte{good[:1], good[:4], good[:len(good)-1], append(good[:len(good):len(good)], 0)} {
		if _, err := ballot.SplitEntryFrames(bad); !errors.Is(err, ballot.ErrBadFrames) {
			t.Errorf("% x: got %v, want ErrBadFrames", bad, err)
		}
	}
}

// ExampleSplitEntryFrames frames two log entries as a gateway answers a
// monitor that asked for ballot.EntryFramesType, and reads them back.
func ExampleSplitEntryFrames() {
	body, _ := ballot.AppendEntryFrames(nil, [][]byte{[]byte("first"), []byte("second")})
	fmt.Printf("% x\n", body[:7])
	entries, _ := ballot.SplitEntryFrames(body)
	fmt.Printf("%q\n", entries)
	// Output:
	// 00 05 66 69 72 73 74
	// ["first" "second"]
}
