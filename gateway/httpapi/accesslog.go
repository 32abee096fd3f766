package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// warnWindow is how long the access log's warn line for a kind of 5xx
// answer stands for the others of its kind (warnSampler).
const warnWindow = time.Second

// warnSampler bounds the access log's warn lines for 5xx answers, which
// come by the thousand a second under a surge (503 overloaded) or a fault
// (503 unavailable). Answers are of one kind when they share their route
// pattern, status and error code: a few dozen kinds at most. The first
// answer of a kind opens a window of warnWindow and is logged at warn; the
// others of its kind within the window are counted (and logged at debug,
// as every request is), and once the window has ended one warn line
// summarises them: "http: N more 503 overloaded answers in the 1s after
// the one logged", with the route, status, code, count and the window's
// start. The summary is written by the first answer of its kind after the
// window, which then opens the next one, or by flush (Server.Run calls it
// every warnWindow), whichever comes first. So each kind writes at most
// two warn lines a warnWindow, whatever the rate of its answers, and every
// answer is on a warn line or counted on one, at most 2 × warnWindow late.
type warnSampler struct {
	mu    sync.Mutex
	kinds map[warnKind]*sampled
}

// warnKind is a kind of 5xx answer.
type warnKind struct {
	route  string
	status int
	code   string
}

// sampled is a kind's open window: its start and the answers counted in it
// (after the one logged).
type sampled struct {
	start time.Time
	more  int64
}

// admit reports whether an answer of kind k at now is logged at warn: it
// opens a window unless one of its kind is open (then it is counted). A
// window it closes, with answers counted in it, is returned to be
// summarised (more 0: none).
func (w *warnSampler) admit(k warnKind, now time.Time) (warn bool, closed sampled) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s, ok := w.kinds[k]; ok {
		if now.Sub(s.start) < warnWindow {
			s.more++
			return false, sampled{}
		}
		closed = *s
	}
	if w.kinds == nil {
		w.kinds = make(map[warnKind]*sampled)
	}
	w.kinds[k] = &sampled{start: now}
	return true, closed
}

// flush summarises, on log, the windows ended by now, and forgets them:
// the next answer of their kinds is logged at warn.
func (w *warnSampler) flush(ctx context.Context, log *slog.Logger, now time.Time) {
	type ended struct {
		k warnKind
		s sampled
	}
	var done []ended
	w.mu.Lock()
	for k, s := range w.kinds {
		if now.Sub(s.start) >= warnWindow {
			delete(w.kinds, k)
			if s.more > 0 {
				done = append(done, ended{k, *s})
			}
		}
	}
	w.mu.Unlock()
	for _, e := range done {
		summarise(ctx, log, e.k, e.s)
	}
}

// run flushes every warnWindow until ctx ends, with now as the clock.
func (w *warnSampler) run(ctx context.Context, log *slog.Logger, now func() time.Time) {
	t := time.NewTicker(warnWindow)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			w.flush(context.Background(), log, now().Add(warnWindow)) // every window open: their counts are not lost
			return
		case <-t.C:
			w.flush(ctx, log, now())
		}
	}
}

// summarise logs at warn the answers of kind k counted in window s.
func summarise(ctx context.Context, log *slog.Logger, k warnKind, s sampled) {
	log.Log(ctx, slog.LevelWarn, fmt.Sprintf("http: %d more %d %s answers in the %s after the one logged", s.more, k.status, k.code, warnWindow),
		"route", k.route, "status", k.status, "code", k.code, "count", s.more, "since", s.start)
}
