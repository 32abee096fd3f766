package ballot

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Log entries travel from a gateway to a monitor either as JSON (each
// entry in hex) or, asked for with EntryFramesType, as frames: each entry's
// length in two bytes, big-endian, then the entry, back to back. Frames
// cost neither side a JSON pass or a hex conversion, and carry half the
// bytes.

// EntryFramesType is the media type of framed log entries
// (GET /api/v1/log/{state}/entries with this Accept header).
const EntryFramesType = "application/octet-stream"

// MaxEntryFrame is the longest entry a frame holds.
const MaxEntryFrame = 1<<16 - 1

// ErrBadFrames marks framed entries that do not parse.
var ErrBadFrames = errors.New("ballot: malformed log entry frames")

// AppendEntryFrames appends entries to dst as frames. It refuses an entry
// longer than MaxEntryFrame (no encoded vote is).
func AppendEntryFrames(dst []byte, entries [][]byte) ([]byte, error) {
	for i, e := range entries {
		if len(e) > MaxEntryFrame {
			return dst, fmt.Errorf("ballot: log entry %d has %d bytes, a frame holds at most %d", i, len(e), MaxEntryFrame)
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(e)))
		dst = append(dst, e...)
	}
	return dst, nil
}

// SplitEntryFrames returns the entries framed in b, in order; they share
// b's memory. A frame cut short is ErrBadFrames.
func SplitEntryFrames(b []byte) ([][]byte, error) {
	var out [][]byte
	for at := 0; at < len(b); {
		if len(b)-at < 2 {
			return nil, fmt.Errorf("%w: a length cut short at byte %d", ErrBadFrames, at)
		}
		n := int(binary.BigEndian.Uint16(b[at:]))
		at += 2
		if len(b)-at < n {
			return nil, fmt.Errorf("%w: entry %d wants %d bytes, %d left", ErrBadFrames, len(out), n, len(b)-at)
		}
		out = append(out, b[at:at+n:at+n])
		at += n
	}
	return out, nil
}
