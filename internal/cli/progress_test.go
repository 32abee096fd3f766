package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	c := &clock{t: time.Unix(0, 0)}
	p := newProgress(&out, false, "blocks", 200, c.now)
	c.t = c.t.Add(time.Second)
	p.Add(50)
	if got := out.String(); !strings.Contains(got, "blocks [#######") || !strings.Contains(got, " 25% 50/200  50/s  ETA 3s") {
		t.Fatalf("after 50 of 200 in 1 s: %q", got)
	}
	out.Reset()
	p.Add(1) // within 100 ms of the last draw: not drawn
	if out.Len() != 0 {
		t.Fatalf("redrawn too soon: %q", out.String())
	}
	c.t = c.t.Add(time.Second)
	p.Set(300, 300) // the chain grew
	p.Finish()
	if got := out.String(); !strings.Contains(got, "100% 300/300") || !strings.HasSuffix(got, "\n") {
		t.Fatalf("finished: %q", got)
	}
}

func TestProgressWithoutTotal(t *testing.T) {
	var out bytes.Buffer
	c := &clock{t: time.Unix(0, 0)}
	p := newProgress(&out, false, "rows", 0, c.now)
	c.t = c.t.Add(2 * time.Second)
	p.Add(3000)
	p.Finish()
	if got := out.String(); !strings.Contains(got, "rows 3000  1500/s  2s") {
		t.Fatalf("count without a total: %q", got)
	}
	var none *Progress
	none.Add(1)
	none.Set(1, 2)
	none.Finish() // a nil bar does nothing
}

func TestProgressInALog(t *testing.T) {
	var out bytes.Buffer
	if isTerminal(&out) {
		t.Fatal("a buffer is not a terminal")
	}
	c := &clock{t: time.Unix(0, 0)}
	p := newProgress(&out, true, "rows", 100, c.now)
	for range 50 { // 50 updates over 25 s: drawn at once, then every 10 s
		c.t = c.t.Add(500 * time.Millisecond)
		p.Add(1)
	}
	p.Finish()
	got := out.String()
	if strings.Contains(got, "\r") || strings.Count(got, "\n") != 4 || !strings.Contains(got, " 21/100 ") || !strings.HasSuffix(got, "50/100  2/s  ETA 25s\n") {
		t.Fatalf("in a log: want 4 plain lines, the last at 50/100; got %q", got)
	}

	// A job done at its first draw is one line, not that line twice.
	out.Reset()
	p = newProgress(&out, true, "rows", 5, c.now)
	p.Set(5, 5)
	p.Finish()
	if got := out.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, " 5/5 ") {
		t.Fatalf("a job done at once, in a log: want one line at 5/5; got %q", got)
	}
}
