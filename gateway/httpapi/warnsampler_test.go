package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/gateway/receipt"
	"github.com/votechain/votechain/gateway/votequeue"
)

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
		`level=WARN msg="http: 999 more 503 overloaded answers in the 1s after the first" route=/api/v1/vote status=503 code=overloaded count=999` + since(0),
		"level=WARN msg=http ",
		`level=WARN msg="http: 500 more 503 overloaded answers in the 1s after the first" route=/api/v1/vote status=503 code=overloaded count=500` + since(time.Second),
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
// state and error, the others of the second (the same error) at debug,
// then one line at its level counting them, with their states and the
// distinct errors of the second. Before, each of the 101 failures had its
// own line.
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
				"level=" + c.level + " msg=\"" + c.what + ": 99 more in the 1s after the first\" code=" + c.code + " count=99 states=CA distinct_errors=1 since=" + t0.Format("2006-01-02T15:04:05.000Z07:00"),
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
	want := `level=WARN msg="http: 4 more 503 answers in the 1s after the first" route=/ status=503 count=4 since=2026-11-03T08:00:00.000Z` + "\n"
	if got := logs.String(); !strings.HasSuffix(got, want) {
		t.Errorf("summary: %s\nwant it to end %s", got, want)
	}
}

// funcIntake is an Intake whose Accept is accept.
type funcIntake struct {
	Intake
	accept func(dedup.Attempt) (dedup.Result, error)
}

func (i funcIntake) Accept(_ context.Context, a dedup.Attempt) (dedup.Result, error) {
	return i.accept(a)
}

// TestDistinctErrorsEachLogged: failures of one kind (vote intake failed,
// unavailable) with two errors in one second write the first line of each
// error at error, so a rare cause is not hidden under an outage's; the
// others are at debug, with their request ids, and the summary names the
// states of the lines it counts and the number of distinct errors. Before,
// the second error's first line was at debug and the summary named
// neither.
func TestDistinctErrorsEachLogged(t *testing.T) {
	errs := map[string]error{"CA": errors.New("redis: connection refused"), "NY": errors.New("bloom:{NY}:params unreadable")}
	logs := failedVotes(t, []string{"CA", "CA", "NY", "NY", "CA"}, func(state string) error { return errs[state] })
	wantLines(t, grepLines(logs, `level=ERROR msg="vote intake failed`),
		`^time=\S+ level=ERROR msg="vote intake failed" request_id=\S+ state=CA err="redis: connection refused"\n$`,
		`^time=\S+ level=ERROR msg="vote intake failed" request_id=\S+ state=NY err="bloom:{NY}:params unreadable"\n$`,
		`^time=\S+ level=ERROR msg="vote intake failed: 3 more in the 1s after the first" code=unavailable count=3 states=CA,NY distinct_errors=2 since=\S+\n$`)
	debug := regexp.MustCompile(`(?m)^time=\S+ level=DEBUG msg="vote intake failed" request_id=\S+ state=(CA|NY) err=`)
	if n := len(debug.FindAllString(logs, -1)); n != 3 {
		t.Errorf("%d failures at debug with a request id and state; want the 3 counted:\n%s", n, grepLines(logs, "level=DEBUG"))
	}
}

// failedVotes casts a vote in each of states at one instant, each failing
// in the intake with errOf(its state), ends the window and returns the
// log.
func failedVotes(t *testing.T, states []string, errOf func(state string) error) string {
	t.Helper()
	var logs bytes.Buffer
	now := time.Now().UTC().Truncate(time.Second) // within the election's polls
	f := newFixture(t, fixtureOpts{log: &logs, cfg: Config{Now: func() time.Time { return now }},
		wrapIntake: func(in Intake) Intake {
			return funcIntake{in, func(a dedup.Attempt) (dedup.Result, error) { return dedup.Result{}, errOf(a.Vote.State) }}
		}})
	for i, state := range states {
		wantError(t, f.vote(voteBody(voterName(i), "c", state, "alice")), 503, codeUnavailable)
	}
	f.srv.warns.flush(context.Background(), f.srv.deps.Log, now.Add(warnWindow), false)
	return logs.String()
}

// wantLines checks that got has a line for each pattern of want, in
// order, matching it.
func wantLines(t *testing.T, got string, want ...string) {
	t.Helper()
	lines := slices.Collect(strings.Lines(got))
	if len(lines) != len(want) {
		t.Fatalf("lines:\n%swant %d", got, len(want))
	}
	for i, w := range want {
		if !regexp.MustCompile(w).MatchString(lines[i]) {
			t.Errorf("line %d: %swant it to match %s", i+1, lines[i], w)
		}
	}
}

// TestWindowErrorsCapped: within a window the first line of each of at
// most windowErrors distinct errors is written at its kind's level; lines
// of further errors are counted (other_errors), and the summary names at
// most windowStates states, then "...".
func TestWindowErrorsCapped(t *testing.T) {
	var logs bytes.Buffer
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var w warnSampler
	k := warnKind{level: slog.LevelError, msg: "vote intake failed", code: codeUnavailable}
	t0 := time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC)
	written := 0
	line := func(state, err string) {
		if w.level(ctx, log, k, warnLine{state: state, err: err}, t0) == k.level {
			written++
		}
	}
	for i := range windowErrors + 2 {
		line("S00", "error "+string(rune('a'+i))) // classes (errClass) apart
	}
	for i := range windowStates + 1 {
		line(fmt.Sprintf("S%02d", i), "error a")
	}
	if written != windowErrors {
		t.Errorf("%d lines written at error; want the first of each of %d errors", written, windowErrors)
	}
	w.flush(ctx, log, t0.Add(warnWindow), false)
	want := `level=ERROR msg="vote intake failed: 19 more in the 1s after the first" code=unavailable count=19 ` +
		`states=S00,S01,S02,S03,S04,S05,S06,S07,S08,S09,S10,S11,S12,S13,S14,S15,... distinct_errors=8 other_errors=2 since=2026-11-03T08:00:00.000Z` + "\n"
	if got := logs.String(); !strings.HasSuffix(got, want) || strings.Count(got, "\n") != 1 {
		t.Errorf("summary: %swant the one line %s", got, want)
	}
}

// TestErrClass: errors that differ only in their numbers and ids (an id, a
// count, a duration, a log range, a connection's local port) are of one
// class; errors of different causes, about different states, or about
// different hosts are not. Before, every word holding a digit was "#", and
// the errors of redis-0 and redis-2, or of 10.0.0.9:6379 and
// 10.0.0.10:6379, were one: in a partial Redis Cluster outage only the
// first node's reached warn.
func TestErrClass(t *testing.T) {
	for _, alike := range [][2]string{
		{"read tcp 10.0.0.5:51234->10.0.0.9:6379: i/o timeout", "read tcp 10.0.0.5:40001->10.0.0.9:6379: i/o timeout"},
		{"read tcp [fd00::5]:51234->[fd00::9]:6379: i/o timeout", "read tcp [fd00::5]:40001->[fd00::9]:6379: i/o timeout"},
		{"votequeue: read the CA log [120, 376): i/o timeout", "votequeue: read the CA log [7, 9): i/o timeout"},
		{"dedup: call for 3 votes of CA: LOADING", "dedup: call for 120 votes of CA: LOADING"},
		{"read batch CA/12 of 0f9a3c51d2e84b7690a1c3e5f7092b4d: x", "read batch CA/7 of 9c2e41aa07b35d68f1e0c94b2a7d3e58: x"},
		{"transaction f0e1d2c3b4a5968778695a4b3c2d1e0f: MVCC", "transaction a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4: MVCC"},
		{"anchor: deadline exceeded after 3s", "anchor: deadline exceeded after 250ms"},
		{"MOVED 3999 10.0.0.9:6379", "MOVED 12 10.0.0.9:6379"},
	} {
		if a, b := errClass(alike[0]), errClass(alike[1]); a != b {
			t.Errorf("errClass(%q) = %q, errClass(%q) = %q; want one class", alike[0], a, alike[1], b)
		}
	}
	for _, apart := range [][2]string{
		{"read tcp 10.0.0.5:51234->10.0.0.9:6379: i/o timeout", "dial tcp 10.0.0.9:6379: connect: connection refused"},
		{"bloom:{CA}:params unreadable", "bloom:{NY}:params unreadable"},
		{"redis: connection pool timeout", "redis: client is closed"},
		{"dial tcp: lookup redis-0.redis: no such host", "dial tcp: lookup redis-2.redis: no such host"},
		{"dial tcp redis-0.redis:6379: i/o timeout", "dial tcp redis-2.redis:6379: i/o timeout"},
		{"dial tcp 10.0.0.9:6379: connect: connection refused", "dial tcp 10.0.0.10:6379: connect: connection refused"},
		{"read tcp 10.0.0.5:51234->10.0.0.9:6379: i/o timeout", "read tcp 10.0.0.5:51234->10.0.0.10:6379: i/o timeout"},
		{"read tcp [fd00::5]:51234->[fd00::9]:6379: i/o timeout", "read tcp [fd00::5]:51234->[fd00::10]:6379: i/o timeout"},
		{"MOVED 3999 10.0.0.9:6379", "MOVED 3999 10.0.0.10:6379"},
		{"peer0.org1.example.com:7051: unavailable", "peer1.org1.example.com:7051: unavailable"},
		{"x509: certificate signed by unknown authority", "tls: certificate signed by unknown authority"},
	} {
		if a, b := errClass(apart[0]), errClass(apart[1]); a == b {
			t.Errorf("errClass(%q) = errClass(%q) = %q; want two classes", apart[0], apart[1], a)
		}
	}
	for text, want := range map[string]string{
		"read tcp 10.0.0.5:51234->10.0.0.9:6379: i/o timeout": "read tcp #->10.0.0.9:6379: i/o timeout",
		"votequeue: read the CA log [120, 376): LOADING":      "votequeue: read the CA log [#, #): LOADING",
		"lookup redis-0.redis on 10.96.0.10:53: no such host": "lookup redis-0.redis on 10.96.0.10:53: no such host",
		"read tcp [::1]:51234->[::1]:6379: EOF":               "read tcp #->[::1]:6379: EOF",
		"version 1.2.3.4.5 of -1 x":                           "version #.#.#.#.# of # x",
	} {
		if got := errClass(text); got != want {
			t.Errorf("errClass(%q) = %q; want %q", text, got, want)
		}
	}
}

// TestAlikeErrorsCountedAsOne: in an outage the failures' errors differ in
// what they are about (here the local port of a Redis connection, a log
// range): the first line of each cause is written, the others, alike but
// for those numbers, counted, and a rarer cause's first line is still
// written. Before, errors were told apart by their exact text: each of
// the 6 failures had its line at error and the cap of distinct errors
// filled.
func TestAlikeErrorsCountedAsOne(t *testing.T) {
	calls := 0
	logs := failedVotes(t, []string{"CA", "CA", "CA", "NY", "CA", "NY"}, func(state string) error {
		calls++
		if state == "NY" {
			return fmt.Errorf("votequeue: read the NY log [%d, %d): LOADING", calls, calls+256)
		}
		return fmt.Errorf("read tcp 127.0.0.1:%d->127.0.0.1:6379: i/o timeout", 51000+calls)
	})
	wantLines(t, grepLines(logs, `level=ERROR msg="vote intake failed`),
		`^time=\S+ level=ERROR msg="vote intake failed" request_id=\S+ state=CA err="read tcp 127.0.0.1:51001->127.0.0.1:6379: i/o timeout"\n$`,
		`^time=\S+ level=ERROR msg="vote intake failed" request_id=\S+ state=NY err="votequeue: read the NY log \[4, 260\): LOADING"\n$`,
		`^time=\S+ level=ERROR msg="vote intake failed: 4 more in the 1s after the first" code=unavailable count=4 states=CA,NY distinct_errors=2 since=\S+\n$`)
}

// TestReceiptFailureLogNamesNoVote: the warn line of a receipt the
// gateway's Redis cannot read (the production receipt service and store)
// carries the request's id, which the access log ties to the client's
// address, so it must not name the vote. Before, its error read "read
// receipt <vote id>: …".
func TestReceiptFailureLogNamesNoVote(t *testing.T) {
	var logs bytes.Buffer
	f := newFixture(t, fixtureOpts{log: &logs})
	f.srv.deps.Receipts = receipt.New(nil, receipt.RedisStore{RDB: f.rdb}, testSecret, testElection().ID, 1)
	if err := f.rdb.Set(context.Background(), votequeue.ReceiptKey(knownVote), "not a hash", 0).Err(); err != nil {
		t.Fatal(err)
	}
	wantError(t, f.do(http.MethodGet, ballot.ReceiptPath(knownVote), ""), 503, codeUnavailable)
	switch warn := grepLines(logs.String(), `level=WARN msg="receipt unavailable"`); {
	case !strings.Contains(warn, " request_id=") || !strings.Contains(warn, "WRONGTYPE"):
		t.Errorf("warn lines for a receipt Redis cannot read:\n%swant one with the request id and Redis's error", warn)
	case strings.Contains(warn, knownVote):
		t.Errorf("the warn line names the vote %s: %s", knownVote, warn)
	}
}

// TestUnknownOutcomeLoggedApart: an intake answer castVote does not know
// (a bug) is logged at error under a message of its own, not sampled with
// the intake's failures (vote intake failed), which would hide it under an
// outage's.
func TestUnknownOutcomeLoggedApart(t *testing.T) {
	var logs bytes.Buffer
	f := newFixture(t, fixtureOpts{log: &logs, wrapIntake: func(in Intake) Intake {
		return funcIntake{in, func(dedup.Attempt) (dedup.Result, error) { return dedup.Result{Outcome: 99}, nil }}
	}})
	wantError(t, f.vote(voteBody("v1", "c1", "CA", "alice")), 503, codeUnavailable)
	want := `level=ERROR msg="vote intake answered an unknown outcome" request_id=`
	if got := grepLines(logs.String(), "level=ERROR"); !strings.Contains(got, want) || !strings.Contains(got, "Outcome(99)") {
		t.Errorf("lines at error: %swant %s…, naming Outcome(99)", got, want)
	}
}

// TestScriptContractLoggedApart: an intake script answer outside its
// contract (a bug; dedup.ErrScriptContract) is logged at error under a
// message of its own, and the 503 tells the voter a retry's 409 means the
// vote was kept (the script may have stored it before answering).
func TestScriptContractLoggedApart(t *testing.T) {
	var logs bytes.Buffer
	f := newFixture(t, fixtureOpts{log: &logs, wrapIntake: func(in Intake) Intake {
		return funcIntake{in, func(dedup.Attempt) (dedup.Result, error) {
			return dedup.Result{}, fmt.Errorf("%w: status \"maybe\"", dedup.ErrScriptContract)
		}}
	}})
	resp := f.vote(voteBody("v1", "c1", "CA", "alice"))
	if body := wantError(t, resp, 503, codeUnavailable); !strings.Contains(body.Message, "409 duplicate on retry means the vote was kept") {
		t.Errorf("message %q; want it to say a 409 on retry means the vote was kept", body.Message)
	}
	want := `level=ERROR msg="vote intake: the dedup script broke its contract" request_id=`
	if got := grepLines(logs.String(), "level=ERROR"); !strings.Contains(got, want) || !strings.Contains(got, `status \"maybe\"`) {
		t.Errorf("lines at error: %swant %s…, naming the script's answer", got, want)
	}
}

// TestNoElectionSampled: once the election record is unavailable (a
// ledger outage past --election-max-age) every request fails, and its
// "no election record" warn is sampled: 3 at one instant write 1 warn
// and 2 debug lines, then a warn counting them. Before, each had a warn.
func TestNoElectionSampled(t *testing.T) {
	var logs bytes.Buffer
	now := time.Now().UTC().Truncate(time.Second)
	f := newFixture(t, fixtureOpts{log: &logs, cfg: Config{Now: func() time.Time { return now }}})
	f.elections.fail(errors.New("election: the last record read is older than 2m0s"))
	for range 3 {
		wantError(t, f.do(http.MethodGet, "/api/v1/election", ""), 503, codeElectionUnavailable)
	}
	f.srv.warns.flush(context.Background(), f.srv.deps.Log, now.Add(warnWindow), false)
	lines := slices.Collect(strings.Lines(grepLines(logs.String(), `msg="no election record`)))
	want := []string{
		`level=WARN msg="no election record" request_id=`,
		`level=DEBUG msg="no election record" request_id=`,
		`level=DEBUG msg="no election record" request_id=`,
		`level=WARN msg="no election record: 2 more in the 1s after the first" code=election_unavailable count=2 distinct_errors=1 since=`,
	}
	if len(lines) != len(want) {
		t.Fatalf("lines for 3 requests without the election record:\n%swant %d", strings.Join(lines, ""), len(want))
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d: %swant it to contain %s", i+1, lines[i], w)
		}
	}
}

// TestRunSamplesAgainAfterRestart: Run's end turns sampling off (the
// lines after it are each at its level); a Run after it turns it back on,
// so 3 503s at one instant write 1 warn and 2 debug lines, and the warn
// counting them as that Run ends. Without the reset each had a warn.
func TestRunSamplesAgainAfterRestart(t *testing.T) {
	var logs bytes.Buffer
	f := newFixture(t, fixtureOpts{log: &logs, wrapIntake: func(in Intake) Intake { return failingIntake{in, dedup.ErrBusy} }})
	now := time.Now()
	f.srv.cfg.Now = func() time.Time { return now } // one instant: a single window
	run := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan struct{})
		go func() { defer close(ran); f.srv.Run(ctx) }()
		return func() {
			cancel()
			select {
			case <-ran:
			case <-time.After(10 * time.Second):
				t.Fatal("Run has not returned 10 s after its context ended")
			}
		}
	}
	run()() // a Run that has ended: sampling off
	logs.Reset()
	stop := run()
	for deadline := time.Now().Add(5 * time.Second); !sampling(&f.srv.warns); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			stop()
			t.Fatal("sampling still off 5 s after Run was started again")
		}
	}
	for range 3 {
		wantError(t, f.vote(voteBody("v1", "c1", "CA", "alice")), 503, codeOverloaded)
	}
	stop() // before reading the log: Run's loops write to it
	warns := grepLines(logs.String(), "level=WARN msg=")
	if strings.Count(warns, "\n") != 2 || !strings.Contains(warns, "level=WARN msg=http ") || !strings.Contains(warns, " count=2 ") {
		t.Errorf("warn lines for 3 503s at one instant in a restarted Run:\n%swant 2: the first answer's, then one counting 2", warns)
	}
	if debug := grepLines(logs.String(), "level=DEBUG msg=http "); strings.Count(debug, "status=503") != 2 {
		t.Errorf("answers 503 at debug:\n%swant the 2 counted", debug)
	}
}

// sampling reports whether w counts lines (a Run is on).
func sampling(w *warnSampler) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.stopped
}

// pingFailingIntake is an Intake whose Ping fails with err (Redis down).
type pingFailingIntake struct {
	Intake
	err error
}

func (i pingFailingIntake) Ping(context.Context) error { return i.err }

// TestPerRequestFaultsSampled: a vote id that crypto/rand could not draw
// (every vote's, then) and /readyz without Redis (every probe's) are
// sampled like the others: 3 at one instant write the first line at its
// level, with request_id, state where there is one, and err, the other
// two at debug, and one line at that level counting them. Before, each
// had its own line at error or warn.
func TestPerRequestFaultsSampled(t *testing.T) {
	for _, c := range []struct {
		msg, level, first, summary string
		opts                       fixtureOpts
		request                    func(f *fixture)
	}{{
		msg: "vote id", level: "ERROR",
		first:   `msg="vote id" request_id=\S+ state=CA err="ballot: read random vote id: entropy source failed"`,
		summary: `msg="vote id: 2 more in the 1s after the first" code=unavailable count=2 states=CA distinct_errors=1 since=`,
		request: func(f *fixture) {
			f.srv.voteID = func() (string, error) { return "", errors.New("ballot: read random vote id: entropy source failed") }
			wantError(t, f.vote(voteBody("v1", "c1", "CA", "alice")), 503, codeUnavailable)
		},
	}, {
		msg: "not ready: redis", level: "WARN",
		first:   `msg="not ready: redis" request_id=\S+ err="dial tcp 127\.0\.0\.1:6379: connect: connection refused"`,
		summary: `msg="not ready: redis: 2 more in the 1s after the first" code=not_ready count=2 distinct_errors=1 since=`,
		opts: fixtureOpts{wrapIntake: func(in Intake) Intake {
			return pingFailingIntake{in, errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")}
		}},
		request: func(f *fixture) { wantError(t, f.do(http.MethodGet, "/readyz", ""), 503, codeNotReady) },
	}} {
		t.Run(c.msg, func(t *testing.T) {
			var logs bytes.Buffer
			now := time.Now().UTC().Truncate(time.Second) // within the election's polls
			c.opts.log, c.opts.cfg.Now = &logs, func() time.Time { return now }
			f := newFixture(t, c.opts)
			f.enroll("v1", "c1", "CA")
			for range 3 {
				c.request(f)
			}
			f.srv.warns.flush(context.Background(), f.srv.deps.Log, now.Add(warnWindow), false)
			wantLines(t, grepLines(logs.String(), ` msg="`+c.msg),
				`^time=\S+ level=`+c.level+` `+c.first+"\n$",
				`^time=\S+ level=DEBUG msg="`+regexp.QuoteMeta(c.msg)+`" request_id=`,
				`^time=\S+ level=DEBUG msg="`+regexp.QuoteMeta(c.msg)+`" request_id=`,
				`^time=\S+ level=`+c.level+` `+c.summary)
		})
	}
}

// TestPanicsSampled: a bug that panics on every request writes, a window,
// the first line of each distinct panic at error with its stack (two
// sites with one message are two panics), the others at debug, and one
// error line counting them; every request is answered 503 unavailable.
// Before, each panic had an error line with a stack of its own.
func TestPanicsSampled(t *testing.T) {
	var logs bytes.Buffer
	now := time.Now().UTC().Truncate(time.Second)
	f := newFixture(t, fixtureOpts{log: &logs, cfg: Config{Now: func() time.Time { return now }}})
	f.srv.gin.GET("/panic/a", panicA)
	f.srv.gin.GET("/panic/b", panicB)
	for _, path := range []string{"/panic/a", "/panic/a", "/panic/b", "/panic/a", "/panic/b"} {
		wantError(t, f.do(http.MethodGet, path, ""), 503, codeUnavailable)
	}
	f.srv.warns.flush(context.Background(), f.srv.deps.Log, now.Add(warnWindow), false)
	wantLines(t, grepLines(logs.String(), "level=ERROR"),
		`^time=\S+ level=ERROR msg=panic request_id=\S+ panic="assignment to entry in nil map" stack=".*httpapi\.panicA\(`,
		`^time=\S+ level=ERROR msg=panic request_id=\S+ panic="assignment to entry in nil map" stack=".*httpapi\.panicB\(`,
		`^time=\S+ level=ERROR msg="panic: 3 more in the 1s after the first" code=unavailable count=3 distinct_errors=2 since=`)
	if debug := grepLines(logs.String(), "level=DEBUG msg=panic "); strings.Count(debug, " stack=") != 3 {
		t.Errorf("panics at debug:\n%swant the 3 counted, each with its stack", debug)
	}
}

// panicA and panicB are handlers that panic alike at two sites (a bug).
func panicA(*gin.Context) { var m map[string]int; m["a"]++ }
func panicB(*gin.Context) { var m map[string]int; m["b"]++ }
