package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Progress draws a one-line progress bar on a terminal, redrawn in place at
// most every tenth of a second so millions of updates cost nothing. On any
// other writer (a log file, a pipe) it writes a plain line at most every
// ten seconds instead, so logs stay readable. With no total it shows the
// count and rate; with one, a bar, the percentage and the time left. A nil
// *Progress does nothing.
type Progress struct {
	w     io.Writer
	lines bool          // not a terminal: one line per draw, no redraw in place
	every time.Duration // least time between draws
	label string
	done  int64
	total int64 // 0 if unknown
	start time.Time
	drawn time.Time
	// shown is the done and total of the last line drawn, and whether one was.
	shown      [2]int64
	shownSince bool
	now        func() time.Time
}

// progressWidth is the bar's width in characters.
const progressWidth = 30

// Draw intervals on a terminal and on other writers.
const (
	terminalEvery = 100 * time.Millisecond
	linesEvery    = 10 * time.Second
)

// NewProgress returns a bar labelled label for total units (0: unknown).
func NewProgress(w io.Writer, label string, total int64) *Progress {
	return newProgress(w, !isTerminal(w), label, total, time.Now)
}

func newProgress(w io.Writer, lines bool, label string, total int64, now func() time.Time) *Progress {
	every := terminalEvery
	if lines {
		every = linesEvery
	}
	return &Progress{w: w, lines: lines, every: every, label: label, total: total, start: now(), now: now}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Add records n more units done.
func (p *Progress) Add(n int64) {
	if p != nil {
		p.Set(p.done+n, p.total)
	}
}

// Set records done units of total (0: unknown); the total may change as the
// work grows (blocks indexed of a chain that is still growing).
func (p *Progress) Set(done, total int64) {
	if p == nil {
		return
	}
	p.done, p.total = done, total
	if t := p.now(); t.Sub(p.drawn) >= p.every {
		p.drawn = t
		p.draw(t)
	}
}

// Finish draws the final state and ends the line; on a writer that is not a
// terminal it writes no line when the last one showed that state already.
func (p *Progress) Finish() {
	if p == nil || (p.lines && p.shownSince && p.shown == [2]int64{p.done, p.total}) {
		return
	}
	p.draw(p.now())
	if !p.lines {
		fmt.Fprintln(p.w)
	}
}

func (p *Progress) draw(t time.Time) {
	p.shown, p.shownSince = [2]int64{p.done, p.total}, true
	elapsed := t.Sub(p.start)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(p.done) / s
	}
	start, end := "\r", " "
	if p.lines {
		start, end = "", "\n"
	}
	if p.total <= 0 {
		fmt.Fprintf(p.w, "%s%s %d  %.0f/s  %s%s", start, p.label, p.done, rate, elapsed.Round(time.Second), end)
		return
	}
	frac := min(float64(p.done)/float64(p.total), 1)
	filled := int(frac * progressWidth)
	eta := "?"
	if rate > 0 {
		eta = time.Duration(float64(max(p.total-p.done, 0)) / rate * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "%s%s [%s%s] %3.0f%% %d/%d  %.0f/s  ETA %s%s", start, p.label,
		strings.Repeat("#", filled), strings.Repeat(" ", progressWidth-filled), 100*frac, p.done, p.total, rate, eta, end)
}
