package logprogress

import (
	"bytes"
	"strings"
	"testing"

	"github.com/votechain/votechain/explorer/logmonitor"
)

// TestShowDrawsTheStatesChecked: with a writer, the monitor's per-state
// callback draws the states checked of the total, and Finish ends on the
// last count; with none, the monitor gets no callback and nothing is drawn.
func TestShowDrawsTheStatesChecked(t *testing.T) {
	var w bytes.Buffer
	m := &logmonitor.Monitor{}
	bar := Show(&w, m)
	if m.StateChecked == nil {
		t.Fatal("Show with a writer set no StateChecked on the monitor")
	}
	m.StateChecked(1, 3) // the first draw is at once
	if !strings.Contains(w.String(), Label) || !strings.Contains(w.String(), "1/3") {
		t.Errorf("after 1 of 3 states checked the progress reads %q; want %q and 1/3", w.String(), Label)
	}
	m.StateChecked(3, 3) // within ten seconds: not drawn until Finish
	bar.Finish()
	if lines := strings.Split(strings.TrimSpace(w.String()), "\n"); !strings.Contains(lines[len(lines)-1], "3/3") {
		t.Errorf("after Finish the progress ends %q; want 3/3", lines[len(lines)-1])
	}

	quiet := &logmonitor.Monitor{}
	if bar := Show(nil, quiet); bar != nil || quiet.StateChecked != nil {
		t.Errorf("Show without a writer: bar %v, StateChecked set %v; want neither", bar, quiet.StateChecked != nil)
	}
}
