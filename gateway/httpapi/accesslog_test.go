package httpapi

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/dedup"
)

// TestAccessLogNamesTheRouteNotThePath: a receipt's path names its vote
// id, whose choice is public; the access log, which carries the client's
// address, logs the route's pattern instead.
func TestAccessLogNamesTheRouteNotThePath(t *testing.T) {
	var logs bytes.Buffer
	f := newFixture(t, fixtureOpts{log: &logs})
	id, err := ballot.NewVoteID()
	if err != nil {
		t.Fatal(err)
	}
	f.do(http.MethodGet, "/api/v1/votes/"+id, "")
	f.do(http.MethodGet, "/no/such/"+id, "")
	logged := logs.String()
	if !strings.Contains(logged, "route=/api/v1/votes/:vote_id") || !strings.Contains(logged, "route=unmatched") {
		t.Errorf("the access log lacks the routes:\n%s", logged)
	}
	if strings.Contains(logged, id) {
		t.Errorf("the access log names the vote id %s:\n%s", id, logged)
	}
}

// TestOnlyXForwardedForNamesTheClient: a trusted proxy's X-Forwarded-For
// names the client (its rate limit's and the access log's); its
// X-Real-IP, which gin also believes by default, does not.
func TestOnlyXForwardedForNamesTheClient(t *testing.T) {
	var logs bytes.Buffer
	// httptest's requests come from 192.0.2.1.
	f := newFixture(t, fixtureOpts{log: &logs, cfg: Config{TrustedProxies: []string{"192.0.2.1"}}})
	for _, c := range []struct{ header, value, client string }{
		{"X-Real-IP", "203.0.113.9", "192.0.2.1"},
		{"X-Forwarded-For", "203.0.113.7", "203.0.113.7"},
	} {
		logs.Reset()
		f.do(http.MethodGet, "/api/v1/election", "", c.header, c.value)
		if !strings.Contains(logs.String(), "client="+c.client+" ") {
			t.Errorf("%s: %s from the trusted proxy: logged\n%s\nwant client=%s", c.header, c.value, logs.String(), c.client)
		}
	}
}

// TestAccessLogBoundsRepeated503s: a surge of 503 overloaded answers
// (1,000 in a second, then 500 more) writes two warn lines a second, not
// one per answer: the first answer of the second, then a line counting
// the rest, written by the first answer after the second, or, once the
// surge is over, by the flush Run makes every second. Each answer is still
// logged at debug. Before, every 503 had a warn line of its own.
func TestAccessLogBoundsRepeated503s(t *testing.T) {
	var logs bytes.Buffer
	t0 := time.Now().UTC().Truncate(time.Second) // within the election's polls
	now := t0
	since := func(d time.Duration) string { return " since=" + t0.Add(d).Format("2006-01-02T15:04:05.000Z07:00") }
	f := newFixture(t, fixtureOpts{log: &logs, cfg: Config{Now: func() time.Time { return now }},
		wrapIntake: func(in Intake) Intake { return failingIntake{in, dedup.ErrBusy} }})
	f.enroll("v1", "c1", "CA")
	surge := func(from time.Time, n int) {
		t.Helper()
		for i := range n {
			now = from.Add(time.Duration(i) * time.Millisecond) // within the second
			if rec := f.vote(voteBody("v1", "c1", "CA", "alice")); rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("vote %d: %d; want 503", i, rec.Code)
			}
		}
	}
	surge(t0, 1000)
	surge(t0.Add(time.Second), 501) // its first answer summarises the first second's
	f.srv.warns.flush(context.Background(), f.srv.deps.Log, t0.Add(2500*time.Millisecond), false)

	var warns []string
	debug := 0
	for line := range strings.Lines(logs.String()) {
		switch {
		case strings.Contains(line, "level=WARN"):
			warns = append(warns, line)
		case strings.Contains(line, "level=DEBUG msg=http ") && strings.Contains(line, "status=503"):
			debug++
		}
	}
	want := []string{
		"level=WARN msg=http ",
		`level=WARN msg="http: 999 more 503 overloaded answers in the 1s after the one logged" route=/api/v1/vote status=503 code=overloaded count=999` + since(0),
		"level=WARN msg=http ",
		`level=WARN msg="http: 500 more 503 overloaded answers in the 1s after the one logged" route=/api/v1/vote status=503 code=overloaded count=500` + since(time.Second),
	}
	if len(warns) != len(want) {
		t.Fatalf("%d warn lines for 1,501 answers 503; want %d:\n%s", len(warns), len(want), strings.Join(warns[:min(len(warns), 10)], ""))
	}
	for i, w := range want {
		if !strings.Contains(warns[i], w) {
			t.Errorf("warn line %d: %s\nwant it to contain %s", i+1, warns[i], w)
		}
	}
	if debug != 1501-2 {
		t.Errorf("%d answers 503 logged at debug; want the 1,499 not logged at warn", debug)
	}
}

// TestAccessLogSummarisesAtStop: the answers counted in a window still
// open when Run's context ends are summarised as Run returns, not lost;
// after that each answer (of a request the stop cut, finishing late) has
// a warn line of its own, not a count in a window nobody would summarise.
func TestAccessLogSummarisesAtStop(t *testing.T) {
	var logs bytes.Buffer
	f := newFixture(t, fixtureOpts{log: &logs, wrapIntake: func(in Intake) Intake { return failingIntake{in, dedup.ErrBusy} }})
	f.enroll("v1", "c1", "CA")
	now := time.Now()
	f.srv.cfg.Now = func() time.Time { return now } // one instant: a single window
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); f.srv.Run(ctx) }()
	for range 10 {
		f.vote(voteBody("v1", "c1", "CA", "alice"))
	}
	cancel()
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("Run has not returned 10 s after its context ended")
	}
	if got := grepLines(logs.String(), "level=WARN"); strings.Count(got, "\n") != 2 || !strings.Contains(got, "count=9 ") {
		t.Errorf("warn lines at Run's end:\n%swant 2, the second counting 9 answers", got)
	}
	logs.Reset()
	for range 2 {
		f.vote(voteBody("v1", "c1", "CA", "alice"))
	}
	if got := grepLines(logs.String(), "level=WARN msg=http "); strings.Count(got, "\n") != 2 {
		t.Errorf("2 answers after Run's end: warn lines\n%swant one each", got)
	}
}

// TestIntakeFailuresBounded: under a Redis or ledger outage every vote
// fails in intakeFailed, whose line is at error or warn: each kind (level,
// message, code) writes its first line of a second as it is, with the
// state and error, the others of the second at debug, then one line at its
// level counting them. Before, each of the 101 failures had its own line.
func TestIntakeFailuresBounded(t *testing.T) {
	type failure struct {
		err               error
		level, what, code string
	}
	for _, c := range []failure{
		{errors.New("redis: connection refused"), "ERROR", "vote intake failed", "unavailable"},
		{dedup.ErrLedger, "WARN", "exact duplicate check failed", "ledger_unavailable"},
	} {
		t.Run(c.what, func(t *testing.T) {
			var logs bytes.Buffer
			t0 := time.Now().UTC().Truncate(time.Second) // within the election's polls
			now := t0
			f := newFixture(t, fixtureOpts{log: &logs, cfg: Config{Now: func() time.Time { return now }},
				wrapIntake: func(in Intake) Intake { return failingIntake{in, c.err} }})
			f.enroll("v1", "c1", "CA")
			for i := range 101 {
				now = t0.Add(time.Duration(i) * 10 * time.Millisecond) // the last in the next second
				wantError(t, f.vote(voteBody("v1", "c1", "CA", "alice")), 503, c.code)
			}
			var lines []string
			debug := 0
			for line := range strings.Lines(logs.String()) {
				switch {
				case !strings.Contains(line, c.what):
				case strings.Contains(line, "level=DEBUG"):
					debug++
				default:
					lines = append(lines, line)
				}
			}
			want := []string{
				"level=" + c.level + " msg=\"" + c.what + "\" request_id=",
				"level=" + c.level + " msg=\"" + c.what + ": 99 more in the 1s after the one logged\" code=" + c.code + " count=99 since=" + t0.Format("2006-01-02T15:04:05.000Z07:00"),
				"level=" + c.level + " msg=\"" + c.what + "\" request_id=",
			}
			if len(lines) != len(want) {
				t.Fatalf("%d lines at %s for 101 failures; want %d:\n%s", len(lines), c.level, len(want), strings.Join(lines[:min(len(lines), 10)], ""))
			}
			for i, w := range want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("line %d: %s\nwant it to contain %s", i+1, lines[i], w)
				}
			}
			if !strings.Contains(lines[0], " state=CA ") || !strings.Contains(lines[0], "err=") {
				t.Errorf("the first line lacks the state or the error: %s", lines[0])
			}
			if debug != 99 {
				t.Errorf("%d failures at debug; want the 99 counted", debug)
			}
		})
	}
}

// TestSummaryWithoutCode: a 5xx answer without an error code (a page's)
// is summarised without one, not as "503  answers" with code="".
func TestSummaryWithoutCode(t *testing.T) {
	var logs bytes.Buffer
	since := time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC)
	summarise(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), warnKind{level: slog.LevelWarn, msg: "http", route: "/", status: 503}, sampled{start: since, more: 4})
	want := `level=WARN msg="http: 4 more 503 answers in the 1s after the one logged" route=/ status=503 count=4 since=2026-11-03T08:00:00.000Z` + "\n"
	if got := logs.String(); !strings.HasSuffix(got, want) {
		t.Errorf("summary: %s\nwant it to end %s", got, want)
	}
}
