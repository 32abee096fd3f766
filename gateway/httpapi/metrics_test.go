package httpapi

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestChildrenMadeOncePerKey: concurrent look-ups of a few keys make each
// key's child once and always return it.
func TestChildrenMadeOncePerKey(t *testing.T) {
	var made atomic.Int64
	c := children[int, *int]{new: func(k int) *int { made.Add(1); v := k; return &v }}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				k := (g + i) % 5
				if v := c.get(k); *v != k || v != c.get(k) {
					t.Errorf("key %d: child %d", k, *v)
					return
				}
			}
		})
	}
	wg.Wait()
	if made.Load() != 5 {
		t.Fatalf("%d children made for 5 keys", made.Load())
	}
}
