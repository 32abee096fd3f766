package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/votechain/votechain/gateway/dedup"
)

// refusingIntake is an Intake that finds nobody on the roll, so the fuzz
// test exercises the whole handler without Redis.
type refusingIntake struct{}

func (refusingIntake) Accept(context.Context, dedup.Attempt) (dedup.Result, error) {
	return dedup.Result{Outcome: dedup.NotEligible}, nil
}
func (refusingIntake) QueueDepth(context.Context, string) (int64, error)       { return 0, nil }
func (refusingIntake) QueueAge(context.Context, string) (time.Duration, error) { return 0, nil }
func (refusingIntake) BloomStats(context.Context, string) (dedup.BloomStats, error) {
	return dedup.BloomStats{}, nil
}
func (refusingIntake) Ping(context.Context) error { return nil }

// FuzzVoteRequest feeds arbitrary bodies to POST /api/v1/vote: the decoder
// must never panic and the answer must be a documented 4xx JSON error.
func FuzzVoteRequest(f *testing.F) {
	for _, seed := range []string{
		voteBody("v1", "c1", "CA", "alice"),
		`{"voter_id":"v1","credential":"c1","state":"CA","choice":"alice","x":null}`,
		`{"voter_id":"v1","voter_id":"v1","credential":"c1","state":"CA","choice":"alice"}`,
		`{"voter_id":"\u0000","credential":"\ud800","state":"CA","choice":"alice"}`,
		`{"voter_id":1e999}`, `[]`, `null`, `"x"`, `{`, `{}}`, ``, "\xff\xfe",
		`{"voter_id":"v1","credential":"c1","state":"ca","choice":"alice"}`,
		voteIn("v1", "c1", "CA", "president", "alice"),
		voteIn("v1", "c1", "CA", "L2", "alice"),
		`{"voter_id":"v1","credential":"c1","state":"CA","choice":"alice","contest":null}`,
	} {
		f.Add(seed)
	}
	elections := &staticElections{e: testElection()}
	srv, err := New(Config{Secret: testSecret}, Deps{
		Elections: elections, Ledger: elections, Intake: refusingIntake{},
		Results: loadedResults(f), Receipts: fakeReceipts{},
		Registry: prometheus.NewRegistry(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/vote", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code < 400 || rec.Code >= 500 {
			t.Fatalf("body %q: status %d; want a 4xx refusal", body, rec.Code)
		}
		errorOf(t, rec.Code, rec.Body.Bytes(), rec.Header())
	})
}

// FuzzScanPlainAgrees checks the one-pass reader of vote bodies against the
// encoding/json one: whatever scanPlain accepts, decodeStrict accepts with
// the same values.
func FuzzScanPlainAgrees(f *testing.F) {
	for _, seed := range []string{
		voteBody("v1", "c1", "CA", "alice"),
		` { "choice" : "bob" ,"state":"NY","credential":"c","voter_id":"v" } ` + "\n",
		voteIn("v1", "c1", "CA", "L2025-001", "oui"),
		`{"contest":"L1","voter_id":"v1","credential":"c1","state":"CA","choice":"oui","contest":"L1"}`,
		`{"voter_id":"v1","credential":"c1","state":"CA","choice":"oui","contest":""}`,
		`{"voter_id":"v1","credential":"c1","state":"CA","choice":"alice"}x`,
		`{"voter_id":"v1","voter_id":"v1","credential":"c1","state":"CA","choice":"alice"}`,
		`{"voter_id":"v\u0031","credential":"c1","state":"CA","choice":"alice"}`,
		`{"voter_id":"","credential":"c1","state":"CA","choice":"alice"}`,
		`{"voter_id":"v1","credential":"c1","state":"CA"}`, `{}`, `{"a":"b"}`,
	} {
		f.Add(seed)
	}
	for _, body := range []string{voteBody("v1", "c1", "CA", "alice"), voteIn("v1", "c1", "CA", "L2025-001", "oui")} {
		var values [5]string
		if !scanPlain(body, voteFields, values[:]) {
			f.Fatalf("scanPlain refused a plain vote body %s", body)
		}
	}
	f.Fuzz(func(t *testing.T, body string) {
		var fast, strict [5]string
		if !scanPlain(body, voteFields, fast[:]) {
			return
		}
		if err := decodeStrict([]byte(body), voteFields, strict[:]); err != nil || fast != strict {
			t.Fatalf("body %q: one pass read %q, encoding/json %q, %v", body, fast, strict, err)
		}
	})
}
