package dedup

import (
	"strings"
	"testing"
)

// TestMalformedResultNamesNoValues: a script result that does not decode
// is an error that names the types of its values, not the values (the
// vote's stream entry id, its log index): the call's error is logged with
// the request's id of every vote of the call ("vote intake failed"), which
// the access log ties to its client's address, and the public log gives
// the vote at an index. Before, the error wrote the result with %v.
func TestMalformedResultNamesNoValues(t *testing.T) {
	for _, r := range [][]any{
		{"ok", "1733234567890-7", "41"},
		{"ok", int64(1733234567890), int64(41)},
		{"1733234567890-7", int64(41), nil},
		{"okay", "1733234567890-7", int64(41)},
	} {
		_, err := parseResult(r)
		if err == nil {
			t.Errorf("parseResult(%v): no error", r)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "1733234567890") || strings.Contains(msg, "41") {
			t.Errorf("parseResult(%v): %v; names the entry id or log index", r, err)
		} else if !strings.Contains(msg, "[string ") {
			t.Errorf("parseResult(%v): %v; want the values' types", r, err)
		}
	}
	// A status word of another script version is named (it says which).
	if _, err := parseResult([]any{"okay", "1733234567890-7", int64(41)}); err == nil || !strings.Contains(err.Error(), `"okay"`) {
		t.Errorf("parseResult of status okay: %v; want the word named", err)
	}
}
