package dedup

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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
		_, err := parseResult(r, true)
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
	if _, err := parseResult([]any{"okay", "1733234567890-7", int64(41)}, true); err == nil || !strings.Contains(err.Error(), `"okay"`) {
		t.Errorf("parseResult of status okay: %v; want the word named", err)
	}
}

// TestResultsOutsideTheContract: every result the script's contract
// (script.lua's header) rules out is an ErrScriptContract error, apart from
// Redis's failures: a wrong type, an unknown status, a duplicate counting
// no attempt, a log index at odds with the intake log's setting (an
// accept's index -1 is the log off). The results it allows decode.
func TestResultsOutsideTheContract(t *testing.T) {
	for _, c := range []struct {
		r     []any
		logOn bool
	}{
		{[]any{"ok", int64(7), int64(41)}, true},
		{[]any{"ok", "1733234567890-7", int64(-1)}, true},
		{[]any{"ok", "1733234567890-7", int64(41)}, false},
		{[]any{"ok", "1733234567890-7", int64(-2)}, false},
		{[]any{"dup", "2", int64(0)}, true},
		{[]any{"dup", int64(0), int64(0)}, true},
		{[]any{"okay", "1733234567890-7", int64(41)}, true},
		{[]any{int64(1), int64(0), int64(0)}, true},
		{[]any{nil, nil, nil}, false},
	} {
		if res, err := parseResult(c.r, c.logOn); !errors.Is(err, ErrScriptContract) {
			t.Errorf("parseResult(%v), log on %t: %+v, %v; want ErrScriptContract", c.r, c.logOn, res, err)
		}
	}
	for _, c := range []struct {
		r     []any
		logOn bool
		want  Result
	}{
		{[]any{"ok", "1-7", int64(41)}, true, Result{Outcome: Accepted, EntryID: "1-7", LogIndex: 41}},
		{[]any{"ok", "1-7", int64(0)}, true, Result{Outcome: Accepted, EntryID: "1-7", LogIndex: 0}},
		{[]any{"ok", "1-7", int64(-1)}, false, Result{Outcome: Accepted, EntryID: "1-7", LogIndex: -1}},
		{[]any{"dup", int64(3), int64(0)}, true, Result{Outcome: Duplicate, Attempts: 3}},
		{[]any{"ne", int64(0), int64(0)}, false, Result{Outcome: NotEligible}},
		{[]any{"maybe", int64(0), int64(0)}, true, Result{BloomMaybe: true}},
	} {
		if res, err := parseResult(c.r, c.logOn); err != nil || res != c.want {
			t.Errorf("parseResult(%v), log on %t: %+v, %v; want %+v", c.r, c.logOn, res, err, c.want)
		}
	}
}

// TestScriptBreakingItsContract: a vote whose intake script answers what
// its contract rules out (a script of another version, a broken
// invariant), run on a real Redis, gets an ErrScriptContract error (the
// API's 503: not an acknowledgement) saying what was wrong, naming neither
// the vote's id nor its nullifier nor what the script gave in their place;
// Redis down is not such an error. (ARGV[16] is the vote's compact entry,
// which holds its raw id and nullifier.) Before, these errors had no sentinel,
// and an answer that was no array or nil read as Redis's failure.
func TestScriptBreakingItsContract(t *testing.T) {
	f := newFixture(t, Config{CallTimeout: 300 * time.Millisecond})
	for script, says := range map[string]string{
		"return 1":                              "answered int64, not an array, for 1 votes",
		"return nil":                            "answered nil for 1 votes",
		"return {'ok'}":                         "answered 1 values for 1 votes",
		"return {'okay', '1733234567890-7', 0}": `unknown status "okay"`,
		"return {'ok', '1733234567890-7', -1}":  "without a log index, the intake log on",
		"return {'dup', '1733234567890-7', 0}":  "malformed duplicate result of types [string string int64]",
		"return {ARGV[16], 0, 0}":               "unknown status in a result of types [string int64 int64]",
	} {
		f.d.script = redis.NewScript(script)
		a := attempt(t, "CA", f.voter(t, "CA", true))
		res, err := f.d.Accept(context.Background(), a)
		if !errors.Is(err, ErrScriptContract) || !strings.Contains(err.Error(), says) {
			t.Errorf("script %q: %+v, %v; want ErrScriptContract saying %q", script, res, err, says)
			continue
		}
		for _, value := range []string{a.Vote.ID, a.Vote.Nullifier, "1733234567890"} {
			if strings.Contains(err.Error(), value) {
				t.Errorf("script %q: %v; names %s", script, err, value)
			}
		}
	}
	f.srv.Kill()
	if _, err := f.d.Accept(context.Background(), attempt(t, "CA", f.voter(t, "CA", false))); err == nil || errors.Is(err, ErrScriptContract) {
		t.Errorf("Redis down: %v; want an error, not ErrScriptContract", err)
	}
}
