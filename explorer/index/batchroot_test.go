package index

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// TestWriterBatchRoot: a Writer finds the root of every committed batch,
// its own saved ones included, and none of a batch not committed, whether
// above its state's last seq (answered without a lookup) or below it; a
// rolled-back Writer's batches are forgotten, and a reopened index knows
// the committed ones.
func TestWriterBatchRoot(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	x, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(17, 18))
	first := votesReport(t, rng, 0, 2, 1) // CA/1 and NY/2
	if err := x.Save(ctx, first); err != nil {
		t.Fatal(err)
	}
	type want struct {
		state string
		seq   uint64
		root  string // "": not committed
	}
	committed := []want{{"CA", 1, first.Batches[0].Batch.Root}, {"NY", 2, first.Batches[1].Batch.Root},
		{"NY", 1, ""}, {"CA", 2, ""}, {"CA", 3, ""}, {"TX", 1, ""}}
	check := func(w *Writer, cases []want) {
		t.Helper()
		for _, c := range cases {
			root, ok, err := w.BatchRoot(t.Context(), c.state, c.seq)
			if err != nil || ok != (c.root != "") || root != c.root {
				t.Errorf("BatchRoot(%s, %d) = %q, %v, %v; want %q", c.state, c.seq, root, ok, err, c.root)
			}
		}
	}
	w, err := x.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check(w, committed)
	second := votesReport(t, rng, 1, 2, 1) // CA/3 and NY/4
	if err := w.Save(ctx, second); err != nil {
		t.Fatal(err)
	}
	check(w, []want{{"CA", 3, second.Batches[0].Batch.Root}, {"NY", 4, second.Batches[1].Batch.Root}, {"CA", 1, first.Batches[0].Batch.Root}})
	if err := w.Rollback(); err != nil {
		t.Fatal(err)
	}
	if w, err = x.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	check(w, committed)
	if err := w.Save(ctx, second); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	committed = append(committed[:4], want{"CA", 3, second.Batches[0].Batch.Root}, want{"NY", 4, second.Batches[1].Batch.Root}, want{"NY", 5, ""})
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if x, err = Open(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if w, err = x.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Rollback()
	check(w, committed)
}

// TestWriterAfterCancelledLookup: a Writer's lookup under a ctx that has
// ended fails with its error, and leaves the Writer whole: after a lookup
// (BatchRoot) under a live ctx and another (Save's checkpoint read) under
// a cancelled one, the same lookups under a live ctx succeed.
func TestWriterAfterCancelledLookup(t *testing.T) {
	x, err := Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	rng := rand.New(rand.NewPCG(19, 20))
	first := votesReport(t, rng, 0, 1, 1) // CA/1
	if err := x.Save(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	w, err := x.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Rollback()
	if root, ok, err := w.BatchRoot(t.Context(), "CA", 1); err != nil || !ok || root != first.Batches[0].Batch.Root {
		t.Fatalf("BatchRoot(CA, 1) = %q, %v, %v; want %q", root, ok, err, first.Batches[0].Batch.Root)
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	second := votesReport(t, rng, 1, 1, 1) // CA/2
	if err := w.Save(cancelled, second); !errors.Is(err, context.Canceled) {
		t.Fatalf("Save with a cancelled ctx: %v; want context.Canceled", err)
	}
	if err := w.Save(t.Context(), second); err != nil {
		t.Fatalf("Save with a live ctx after the cancelled one: %v", err)
	}
	if root, ok, err := w.BatchRoot(t.Context(), "CA", 2); err != nil || !ok || root != second.Batches[0].Batch.Root {
		t.Fatalf("BatchRoot(CA, 2) = %q, %v, %v; want %q", root, ok, err, second.Batches[0].Batch.Root)
	}
}
