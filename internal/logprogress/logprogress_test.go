package logprogress

import (
	"bytes"
	"strings"
	"testing"

	"github.com/votechain/votechain/explorer/logmonitor"
)

// TestShowDrawsTheEntriesRead: with a writer, the monitor's callback draws
// the moving count of entries and votes read, and Finish ends on the last
// count; with none, the monitor gets no callback and nothing is drawn.
func TestShowDrawsTheEntriesRead(t *testing.T) {
	var w bytes.Buffer
	m := &logmonitor.Monitor{}
	bar := Show(&w, m)
	if m.Progressed == nil {
		t.Fatal("Show with a writer set no Progressed on the monitor")
	}
	m.Progressed(1000) // the first draw is at once
	if !strings.HasPrefix(w.String(), Label+" 1000 ") {
		t.Errorf("after 1000 read the progress reads %q; want %q and the count", w.String(), Label)
	}
	m.Progressed(2500) // within ten seconds: not drawn until Finish
	bar.Finish()
	if lines := strings.Split(strings.TrimSpace(w.String()), "\n"); !strings.HasPrefix(lines[len(lines)-1], Label+" 2500 ") {
		t.Errorf("after Finish the progress ends %q; want the count 2500", lines[len(lines)-1])
	}

	quiet := &logmonitor.Monitor{}
	if bar := Show(nil, quiet); bar != nil || quiet.Progressed != nil {
		t.Errorf("Show without a writer: bar %v, Progressed set %v; want neither", bar, quiet.Progressed != nil)
	}
}
