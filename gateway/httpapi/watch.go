package httpapi

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// watcher polls the queue depth, the oldest queued vote and the Bloom fill of every state of the
// election, for the overload check and the metrics. The request path only
// reads its last figures, never Redis.
type watcher struct {
	elections Elections
	intake    Intake
	m         *metrics
	log       *slog.Logger

	mu     sync.RWMutex
	depths map[string]int64
}

func newWatcher(e Elections, in Intake, m *metrics, log *slog.Logger) *watcher {
	return &watcher{elections: e, intake: in, m: m, log: log, depths: make(map[string]int64)}
}

// depth is the last polled queue depth of state (0 before the first poll).
func (w *watcher) depth(state string) int64 {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.depths[state]
}

// run polls depths every depthEvery and Bloom fill every bloomEvery until
// ctx ends.
func (w *watcher) run(ctx context.Context, depthEvery, bloomEvery time.Duration) {
	depthTick := time.NewTicker(depthEvery)
	defer depthTick.Stop()
	bloomTick := time.NewTicker(bloomEvery)
	defer bloomTick.Stop()
	w.pollDepths(ctx)
	w.pollBloom(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-depthTick.C:
			w.pollDepths(ctx)
		case <-bloomTick.C:
			w.pollBloom(ctx)
		}
	}
}

func (w *watcher) states(ctx context.Context) []string {
	e, err := w.elections.Election(ctx)
	if err != nil {
		return nil // the vote handler reports it
	}
	return e.States
}

// each calls poll for every state, logging failures (what names the poll).
func (w *watcher) each(ctx context.Context, what string, poll func(state string) error) {
	for _, st := range w.states(ctx) {
		if err := poll(st); err != nil && ctx.Err() == nil {
			w.log.Warn(what+" poll failed", "state", st, "err", err)
		}
	}
}

func (w *watcher) pollDepths(ctx context.Context) {
	w.each(ctx, "queue depth", func(st string) error {
		n, err := w.intake.QueueDepth(ctx, st)
		if err != nil {
			return err
		}
		w.mu.Lock()
		w.depths[st] = n
		w.mu.Unlock()
		w.m.queueDepth.WithLabelValues(st).Set(float64(n))
		age, err := w.intake.QueueAge(ctx, st)
		if err != nil {
			return err
		}
		w.m.queueAge.WithLabelValues(st).Set(age.Seconds())
		return nil
	})
}

func (w *watcher) pollBloom(ctx context.Context) {
	w.each(ctx, "Bloom statistics", func(st string) error {
		b, err := w.intake.BloomStats(ctx, st)
		if err != nil {
			return err
		}
		w.m.bloomFill.WithLabelValues(st).Set(b.Fill)
		w.m.bloomFP.WithLabelValues(st).Set(b.FalsePositiveRate)
		return nil
	})
}
