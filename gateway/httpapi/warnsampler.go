package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// warnWindow is how long the first line of a kind sampled by warnSampler
// stands for the others of its kind.
const warnWindow = time.Second

// The bounds of a kind's window: the distinct errors written at the
// kind's level, and the states its summary names.
const (
	windowErrors = 8
	windowStates = 16
)

// warnSampler bounds the lines at warn or error the gateway writes per
// request, which come by the thousand a second under a surge (503
// overloaded) or a fault (a Redis or ledger outage: 503 unavailable,
// ledger_unavailable, election_unavailable, stopping): the access log's
// for its 5xx answers, of one kind when they share their route pattern,
// status and error code, sampledLine's (a failed intake, no election
// record, a receipt or the intake log unreadable, a vote id not drawn,
// /readyz without Redis) and recover's (a panic), of one kind when they
// share their level, message and error code; a few dozen kinds at most.
//
// The first line of a kind opens a window of warnWindow and is written as
// it is, at its level with all its attributes, and so is the first line
// in the window of each other error (up to windowErrors distinct errors a
// window), so a rare cause that shares its kind with an outage's is not
// hidden by it. Errors are told apart by their class (errClass: the text
// with each number and id, and a connection's local address, made "#"), so
// the errors of one cause that differ only in an id, a count or a local
// port are one, and those of different IP addresses stay apart. The others
// of its kind within the window are counted (and written at debug, as every
// request is), and once the window has ended one line at the kind's level
// summarises them: "<message>: N more in the 1s after the first" ("http: N
// more 503 overloaded answers in the 1s after the first" for the access
// log's), with the route and status (the access log's), the code, the
// count, the states of the lines counted (sorted; at most windowStates,
// then "..."), the number of distinct errors written in the window, the
// lines counted whose error is none of them (windowErrors being reached)
// and the window's start.
//
// The summary is written by the first line of its kind after the window,
// which then opens the next one, or by flush (Server.Run calls it every
// warnWindow), whichever comes first. So each kind writes at most
// windowErrors + 1 lines a warnWindow (two for errors of one class), whatever
// the rate of its requests, and every line is written or counted on one,
// at most 2 × warnWindow late. When Run's context ends, every open window
// is summarised and sampling stops until Run is called again: the lines of
// requests still finishing after that are written each at its level, none
// counted in a window nobody would summarise.
type warnSampler struct {
	mu      sync.Mutex
	kinds   map[warnKind]*sampled
	stopped bool // run has ended: no line is counted
}

// warnKind is a kind of line: the access log's (msg "http") for a 5xx
// answer, sampledLine's (no route or status), or recover's "panic" (each
// bug told apart as an error: its value's class and its site).
type warnKind struct {
	level  slog.Level
	msg    string
	route  string
	status int
	code   string
}

// warnLine tells apart the lines of a kind: the state a line is about and
// its error's class (errClass; "" if none: the access log's lines have
// neither).
type warnLine struct {
	state, err string
}

// sampled is a kind's open window.
type sampled struct {
	start time.Time
	more  int64 // lines counted (written at debug)
	// errs are the distinct error classes of the window's lines, the
	// first line of each written at the kind's level; otherErrs counts the
	// lines of yet other classes, errs being full.
	errs      []string
	otherErrs int64
	// states are the distinct states of the lines counted, sorted;
	// moreStates says lines of yet others were counted, states being full.
	states     []string
	moreStates bool
}

// level is the level to write line l of kind k at, at now: k's own if it
// opens a window or is the first of its error in one, debug if it is
// counted. A window it closes, with lines counted in it, is summarised on
// log first.
func (w *warnSampler) level(ctx context.Context, log *slog.Logger, k warnKind, l warnLine, now time.Time) slog.Level {
	written, closed := w.admit(k, l, now)
	if closed.more > 0 {
		summarise(ctx, log, k, closed)
	}
	if !written {
		return slog.LevelDebug
	}
	return k.level
}

// admit reports whether line l of kind k at now is written at its level:
// it opens a window unless one of its kind is open, where it is written
// if it is the first of its error, else counted; every line is written
// once sampling has stopped. A window it closes is returned to be
// summarised (more 0: none counted).
func (w *warnSampler) admit(k warnKind, l warnLine, now time.Time) (written bool, closed sampled) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return true, sampled{}
	}
	s, ok := w.kinds[k]
	switch {
	case ok && now.Sub(s.start) < warnWindow:
		return s.admit(l), sampled{}
	case ok:
		closed = *s
	default:
		if w.kinds == nil {
			w.kinds = make(map[warnKind]*sampled)
		}
		s = new(sampled)
		w.kinds[k] = s
	}
	*s = sampled{start: now}
	if l.err != "" {
		s.errs = []string{l.err}
	}
	return true, closed
}

// admit reports whether line l, in window s, is written at its kind's
// level, the first of its error in s, or counted.
func (s *sampled) admit(l warnLine) bool {
	if l.err != "" && !slices.Contains(s.errs, l.err) {
		if len(s.errs) < windowErrors {
			s.errs = append(s.errs, l.err)
			return true
		}
		s.otherErrs++
	}
	s.more++
	if l.state != "" {
		i, found := slices.BinarySearch(s.states, l.state)
		switch {
		case found:
		case len(s.states) < windowStates:
			s.states = slices.Insert(s.states, i, l.state)
		default:
			s.moreStates = true
		}
	}
	return false
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

// run samples (again, if an earlier run stopped it) and flushes every
// warnWindow until ctx ends, with now as the clock; then it summarises
// every window open and stops sampling.
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
// An answer without an error code (a page's 5xx) has none in the line;
// lines without states or errors (the access log's) name none.
func summarise(ctx context.Context, log *slog.Logger, k warnKind, s sampled) {
	attrs := make([]slog.Attr, 0, 8)
	what := ""
	if k.status != 0 { // the access log's
		what = " " + strings.TrimSpace(strconv.Itoa(k.status)+" "+k.code) + " answers"
		attrs = append(attrs, slog.String("route", k.route), slog.Int("status", k.status))
	}
	if k.code != "" {
		attrs = append(attrs, slog.String("code", k.code))
	}
	attrs = append(attrs, slog.Int64("count", s.more))
	if len(s.states) > 0 {
		states := strings.Join(s.states, ",")
		if s.moreStates {
			states += ",..."
		}
		attrs = append(attrs, slog.String("states", states))
	}
	if len(s.errs) > 0 {
		attrs = append(attrs, slog.Int("distinct_errors", len(s.errs)))
	}
	if s.otherErrs > 0 {
		attrs = append(attrs, slog.Int64("other_errors", s.otherErrs))
	}
	attrs = append(attrs, slog.Time("since", s.start))
	log.LogAttrs(ctx, k.level, fmt.Sprintf("%s: %d more%s in the %s after the first", k.msg, s.more, what, warnWindow), attrs...)
}

// sampledLevel is the level to write a line of kind k at, about state
// ("" if none) with err (nil if none), in a request of ctx: below warn, or
// with k's level off, k's own; else warnSampler's.
func (s *Server) sampledLevel(ctx context.Context, k warnKind, state string, err error) slog.Level {
	if !s.sampling(ctx, k) {
		return k.level
	}
	l := warnLine{state: state}
	if err != nil {
		l.err = errClass(err.Error()) // outside warnSampler's lock
	}
	return s.warns.level(ctx, s.deps.Log, k, l, s.cfg.Now())
}

// sampling reports whether the lines of kind k, in a request of ctx, go
// through warnSampler: at warn or above, with k's level on.
func (s *Server) sampling(ctx context.Context, k warnKind) bool {
	return k.level >= slog.LevelWarn && s.deps.Log.Enabled(ctx, k.level)
}

// errClass is the class of an error's text that warnSampler tells errors
// apart by: the text with each number made "#", a number being a word (a
// run of ASCII letters, digits, '_' and '-') that starts with a digit
// (after any '-'), or of 16 or more hex digits (and dashes); and with the
// local address of a connection ("10.0.0.5:51234" before "->") made "#".
// So the errors of one cause that differ only in what they are about (a
// vote, batch or transaction id, a count, a duration, a log range, a
// connection's local port: "read tcp 10.0.0.5:51234->10.0.0.9:6379: i/o
// timeout") are one, and errors of different causes stay apart, as do
// those of different hosts: a name holding a digit ("redis-0", "peer0",
// "x509") is not a number, and another IP address (IPv4, or IPv6 in
// brackets, with its port) stays as it is, so a Redis Cluster node that
// fails alone is not hidden under another's errors (a host name's port,
// "localhost:7001", and a label starting with a digit, "10-0-0-9.pod", are
// numbers to it, so such hosts are one). A text without a digit
// is its own class, at no cost.
func errClass(text string) string {
	if strings.IndexAny(text, "0123456789") < 0 {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	for i := 0; i < len(text); {
		if i == 0 || !isWordByte(text[i-1]) && text[i-1] != '.' {
			if n := addrLen(text[i:]); n > 0 {
				if strings.HasPrefix(text[i+n:], "->") {
					b.WriteByte('#')
				} else {
					b.WriteString(text[i : i+n])
				}
				i += n
				continue
			}
		}
		if !isWordByte(text[i]) {
			b.WriteByte(text[i])
			i++
			continue
		}
		j := i
		for j < len(text) && isWordByte(text[j]) {
			j++
		}
		if isNumber(text[i:j]) {
			b.WriteByte('#')
		} else {
			b.WriteString(text[i:j])
		}
		i = j
	}
	return b.String()
}

// isNumber reports whether word is a number for errClass: it starts with
// a digit after any '-' ("42", "-1", "350ms", "0f9a…"), or it is of 16 or
// more hex digits and dashes (an id).
func isNumber(word string) bool {
	if w := strings.TrimLeft(word, "-"); w != "" && '0' <= w[0] && w[0] <= '9' {
		return true
	}
	hex := 0
	for i := 0; i < len(word); i++ {
		switch c := word[i]; {
		case '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F':
			hex++
		case c != '-':
			return false
		}
	}
	return hex >= 16
}

// addrLen is the length of the IP address that s starts with, with its
// port if any: four dot-separated runs of 1 to 3 digits, or hex digits,
// ':' and '.' in brackets, holding at least two ':'. 0 if s starts with
// none, or with one that a word or another number continues.
func addrLen(s string) int {
	n := 0
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || strings.Count(s[:end], ":") < 2 || strings.Trim(s[1:end], "0123456789abcdefABCDEF:.") != "" {
			return 0
		}
		n = end + 1
	} else {
		for part := range 4 {
			if part > 0 {
				if n == len(s) || s[n] != '.' {
					return 0
				}
				n++
			}
			d := digits(s[n:])
			if d == 0 || d > 3 {
				return 0
			}
			n += d
		}
	}
	if n < len(s) && s[n] == ':' {
		if d := digits(s[n+1:]); d > 0 {
			n += 1 + d
		}
	}
	rest := s[n:]
	if rest != "" && isWordByte(rest[0]) && !strings.HasPrefix(rest, "->") || strings.HasPrefix(rest, ".") && digits(rest[1:]) > 0 {
		return 0
	}
	return n
}

// digits is the number of ASCII digits s starts with.
func digits(s string) int {
	n := 0
	for n < len(s) && '0' <= s[n] && s[n] <= '9' {
		n++
	}
	return n
}

// isWordByte reports whether c is part of a word for errClass.
func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// sampledLine logs msg about request c, answered with error code code, at
// level, with the request's id, state (unless "") and err. At warn or
// above it is sampled with the lines of its kind (level, msg and code;
// warnSampler): written at debug if it is counted.
func (s *Server) sampledLine(c *gin.Context, level slog.Level, msg, code, state string, err error) {
	ctx := c.Request.Context()
	level = s.sampledLevel(ctx, warnKind{level: level, msg: msg, code: code}, state, err)
	if !s.deps.Log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 3)
	attrs = append(attrs, slog.String("request_id", requestIDOf(c)))
	if state != "" {
		attrs = append(attrs, slog.String("state", state))
	}
	attrs = append(attrs, slog.Any("err", err))
	s.deps.Log.LogAttrs(ctx, level, msg, attrs...)
}
