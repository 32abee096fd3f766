package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws a one-line progress bar of blocks indexed, redrawn at most
// ten times a second.
type progress struct {
	w     io.Writer
	began time.Time
	last  time.Time
	n, of uint64
}

func newProgress(w io.Writer) *progress { return &progress{w: w, began: time.Now()} }

const barWidth = 40

func (p *progress) update(n, of uint64) {
	p.n, p.of = n, of
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond || n == of {
		p.last = now
		p.draw()
	}
}

func (p *progress) draw() {
	frac := 1.0
	if p.of > 0 {
		frac = min(1, float64(p.n)/float64(p.of))
	}
	fill := int(frac * barWidth)
	rate := float64(p.n) / max(time.Since(p.began).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d blocks %5.1f%% %.0f blocks/s", strings.Repeat("#", fill), strings.Repeat(".", barWidth-fill),
		p.n, p.of, 100*frac, rate)
}

// done draws the final state and ends the line.
func (p *progress) done() {
	p.draw()
	fmt.Fprintln(p.w)
}
