// Package testlog collects what a logger writes, for tests that check it.
package testlog

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer is a bytes.Buffer safe for a logger's concurrent writes: a
// log/slog handler writes to it from the goroutines under test while the
// test reads what was logged. The zero value is ready to use; a Buffer
// must not be copied after first use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p; it never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Lines returns the lines written so far, without their line ends, leaving
// them in the buffer.
func (b *Buffer) Lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return lines(b.buf.String())
}

// Take returns the lines written since the last Take, without their line
// ends, and empties the buffer.
func (b *Buffer) Take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := lines(b.buf.String())
	b.buf.Reset()
	return out
}

func lines(s string) []string {
	var out []string
	for line := range strings.Lines(s) {
		out = append(out, strings.TrimRight(line, "\r\n"))
	}
	return out
}
