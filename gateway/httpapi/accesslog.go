package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// warnWindow is how long the first line of a kind sampled by warnSampler
// stands for the others of its kind.
const warnWindow = time.Second

// warnSampler bounds the lines at warn or error the gateway writes per
// request, which come by the thousand a second under a surge (503
// overloaded) or a fault (a Redis or ledger outage: 503 unavailable,
// ledger_unavailable, stopping): the access log's for its 5xx answers, of
// one kind when they share their route pattern, status and error code, and
// intakeFailed's, of one kind when they share their level, message and
// error code; a few dozen kinds at most. The first line of a kind opens a
// window of warnWindow and is written as it is, at its level with all its
// attributes; the others of its kind within the window are counted (and
// written at debug, as every request is), and once the window has ended
// one line at the kind's level summarises them: "http: N more 503
// overloaded answers in the 1s after the one logged", with the route,
// status, code, count and the window's start, or "vote intake failed: N
// more in the 1s after the one logged", with the code, count and start.
// The summary is written by the first line of its kind after the window,
// which then opens the next one, or by flush (Server.Run calls it every
// warnWindow), whichever comes first. So each kind writes at most two
// lines a warnWindow, whatever the rate of its requests, and every line is
// written or counted on one, at most 2 × warnWindow late. When Run's
// context ends, every open window is summarised and sampling stops: the
// lines of the requests a stop cut, which may finish after it, are written
// each at its level, none counted in a window nobody would summarise.
type warnSampler struct {
	mu      sync.Mutex
	kinds   map[warnKind]*sampled
	stopped bool // run has ended: no line is counted
}

// warnKind is a kind of line: the access log's (msg "http") for a 5xx
// answer, or intakeFailed's (no route or status).
type warnKind struct {
	level  slog.Level
	msg    string
	route  string
	status int
	code   string
}

// sampled is a kind's open window: its start and the lines counted in it
// (after the one written).
type sampled struct {
	start time.Time
	more  int64
}

// level is the level to write a line of kind k at, at now: k's own if it
// opens a window, debug if it is counted in one. A window it closes, with
// lines counted in it, is summarised on log first.
func (w *warnSampler) level(ctx context.Context, log *slog.Logger, k warnKind, now time.Time) slog.Level {
	opens, closed := w.admit(k, now)
	if closed.more > 0 {
		summarise(ctx, log, k, closed)
	}
	if !opens {
		return slog.LevelDebug
	}
	return k.level
}

// admit reports whether a line of kind k at now is written at its level:
// it opens a window unless one of its kind is open (then it is counted),
// or sampling has stopped. A window it closes is returned to be summarised
// (more 0: none counted).
func (w *warnSampler) admit(k warnKind, now time.Time) (opens bool, closed sampled) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return true, sampled{}
	}
	s, ok := w.kinds[k]
	switch {
	case ok && now.Sub(s.start) < warnWindow:
		s.more++
		return false, sampled{}
	case ok:
		closed = *s
		*s = sampled{start: now}
	default:
		if w.kinds == nil {
			w.kinds = make(map[warnKind]*sampled)
		}
		w.kinds[k] = &sampled{start: now}
	}
	return true, closed
}

// flush summarises, on log, the windows ended by now (every window if
// stop), and forgets them: the next line of their kinds opens a window. If
// stop, sampling stops too: every later line is written at its level.
func (w *warnSampler) flush(ctx context.Context, log *slog.Logger, now time.Time, stop bool) {
	type ended struct {
		k warnKind
		s sampled
	}
	var done []ended
	w.mu.Lock()
	w.stopped = w.stopped || stop
	for k, s := range w.kinds {
		if stop || now.Sub(s.start) >= warnWindow {
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

// run samples and flushes every warnWindow until ctx ends, with now as the
// clock; then it summarises every window open and stops sampling.
func (w *warnSampler) run(ctx context.Context, log *slog.Logger, now func() time.Time) {
	w.mu.Lock()
	w.stopped = false
	w.mu.Unlock()
	t := time.NewTicker(warnWindow)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			w.flush(context.Background(), log, now(), true) // their counts are not lost
			return
		case <-t.C:
			w.flush(ctx, log, now(), false)
		}
	}
}

// summarise logs, at k's level, the lines of kind k counted in window s.
// An answer without an error code (a page's 5xx) has none in the line.
func summarise(ctx context.Context, log *slog.Logger, k warnKind, s sampled) {
	attrs := make([]slog.Attr, 0, 5)
	what := ""
	if k.status != 0 { // the access log's
		what = " " + strings.TrimSpace(strconv.Itoa(k.status)+" "+k.code) + " answers"
		attrs = append(attrs, slog.String("route", k.route), slog.Int("status", k.status))
	}
	if k.code != "" {
		attrs = append(attrs, slog.String("code", k.code))
	}
	attrs = append(attrs, slog.Int64("count", s.more), slog.Time("since", s.start))
	log.LogAttrs(ctx, k.level, fmt.Sprintf("%s: %d more%s in the %s after the one logged", k.msg, s.more, what, warnWindow), attrs...)
}
