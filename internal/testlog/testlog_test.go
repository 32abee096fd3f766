package testlog

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
)

// Concurrent loggers' lines all arrive whole; Lines leaves them in the
// buffer, Take empties it.
func TestBufferCollectsConcurrentLines(t *testing.T) {
	var b Buffer
	log := slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{ReplaceAttr: dropTime}))
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				log.Info("line", "writer", w, "i", i)
			}
		})
	}
	wg.Wait()
	got := b.Lines()
	if len(got) != writers*each {
		t.Fatalf("%d lines, want %d", len(got), writers*each)
	}
	want := "level=INFO msg=line writer=3 i=49"
	if !slices.Contains(got, want) {
		t.Errorf("no line %q among %d", want, len(got))
	}
	if n := len(b.Take()); n != writers*each {
		t.Errorf("Take after Lines: %d lines, want all %d still there", n, writers*each)
	}
	if rest := b.Take(); len(rest) != 0 {
		t.Errorf("Take after Take: %q, want none", rest)
	}
	fmt.Fprint(&b, "partial")
	if got := b.Take(); !slices.Equal(got, []string{"partial"}) {
		t.Errorf("a line without its end: %q", got)
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
