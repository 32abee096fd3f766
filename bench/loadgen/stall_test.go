package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStallWatchTellsEachStallOnce: answers coming, and a request in
// flight a short while, tell nothing; no answer for after while requests
// wait tells the stop once, however many samples and failures follow; the
// first answer tells the recovery with the whole wait; nothing sent tells
// nothing; failures without an answer (a refused connection) stop it too,
// with their error; an attack ending stopped says so.
func TestStallWatchTellsEachStallOnce(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	w := stallWatch{after: time.Second}
	var got []string
	feed := func(from, to, step int, s func(ms int) stallSample) {
		for ms := from; ms <= to; ms += step {
			sample := s(ms)
			sample.at = t0.Add(time.Duration(ms) * time.Millisecond)
			if e, ok := w.observe(sample); ok {
				got = append(got, fmt.Sprintf("%d: kind %d, no answer %s, %d waiting, %d failed, %q", ms, e.kind, e.waited, e.inFlight, e.failed, e.lastErr))
			}
		}
	}
	// Answers every sample, 10 in flight; then one request in flight 900
	// ms at a low rate, answered.
	feed(0, 3000, 100, func(ms int) stallSample { return stallSample{answered: int64(ms), inFlight: 10} })
	feed(3100, 3900, 100, func(ms int) stallSample { return stallSample{answered: 3000, inFlight: 1} })
	feed(4000, 4000, 100, func(ms int) stallSample { return stallSample{answered: 3001} })
	// Answers stop at 5000 with requests in flight, which time out from
	// 7000 on; an answer at 8500.
	feed(4100, 5000, 100, func(ms int) stallSample { return stallSample{answered: 3001 + int64(ms), inFlight: 10} })
	feed(5100, 8400, 100, func(ms int) stallSample {
		return stallSample{answered: 8001, failed: int64(max(0, ms-7000) / 100), inFlight: 10, lastErr: "i/o timeout"}
	})
	feed(8500, 8500, 100, func(ms int) stallSample { return stallSample{answered: 8002, failed: 14} })
	// Nothing sent for 5 s.
	feed(8600, 13500, 100, func(ms int) stallSample { return stallSample{answered: 8002, failed: 14} })
	// Refused connections from 13600 on: failures, nothing in flight.
	feed(13600, 15000, 100, func(ms int) stallSample {
		return stallSample{answered: 8002, failed: 14 + int64(ms-13500)/100, lastErr: "connection refused"}
	})
	end, ok := w.end(stallSample{at: t0.Add(15100 * time.Millisecond), answered: 8002, failed: 30})
	want := []string{
		`6000: kind 0, no answer 1s, 10 waiting, 0 failed, "i/o timeout"`, // stopped
		`8500: kind 1, no answer 3.5s, 0 waiting, 14 failed, ""`,          // recovered
		`14600: kind 0, no answer 1s, 0 waiting, 11 failed, "connection refused"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !ok || end != (stallEvent{kind: stallUnrecovered, waited: 1500 * time.Millisecond, failed: 16}) {
		t.Errorf("the end: %+v, %v; want it unrecovered after 1.5s, 16 failed", end, ok)
	}
	w = stallWatch{after: time.Second}
	if e, ok := w.end(stallSample{at: t0, answered: 5}); ok {
		t.Errorf("an end with answers and no stall told %+v", e)
	}
}

// TestStallMessages: each event names the gateway and how long; the stop
// says how many wait and what to check, and each event how many ended
// unanswered (the stop: the last error) when any did.
func TestStallMessages(t *testing.T) {
	const url = "http://127.0.0.1:27380/api/v1/vote"
	for _, c := range []struct {
		e    stallEvent
		want string
	}{
		{stallEvent{kind: stallStopped, waited: 5 * time.Second, inFlight: 1024},
			"the gateway at " + url + " stopped answering: no answer for 5s, 1024 requests waiting; check that it still runs and what its log says, its /readyz (its queue, Redis) and the machine's load; the run goes on"},
		{stallEvent{kind: stallStopped, waited: 5 * time.Second, failed: 3, lastErr: "connection refused"},
			"the gateway at " + url + " stopped answering: no answer for 5s, 0 requests waiting, 3 ended unanswered (the last: connection refused); check that"},
		{stallEvent{kind: stallRecovered, waited: 12340 * time.Millisecond, failed: 800},
			"the gateway at " + url + " answers again, after 12.3s without an answer (800 requests ended unanswered)"},
		{stallEvent{kind: stallRecovered, waited: 2 * time.Second},
			"the gateway at " + url + " answers again, after 2s without an answer"},
		{stallEvent{kind: stallUnrecovered, waited: 7 * time.Second, failed: 2},
			"the gateway at " + url + " had still not answered when the phase ended: no answer for 7s (2 requests ended unanswered)"},
	} {
		if got := c.e.message(url); !strings.HasPrefix(got, c.want) {
			t.Errorf("%+v:\n got %q\nwant %q", c.e, got, c.want)
		}
	}
}

// TestRunnerTellsAStallAndTheRecovery: a gateway that holds every request
// for 1.5 s in the middle of a phase, then answers them all, is told on
// Progress once as stopped (naming it) and once as answering again, with
// no line per request; the phase still counts every answer.
func TestRunnerTellsAStallAndTheRecovery(t *testing.T) {
	var from, until time.Time // the stall, set before the phase begins
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if now := time.Now(); now.After(from) && now.Before(until) {
			select {
			case <-time.After(until.Sub(now)):
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"vote_id":"00112233445566778899aabbccddeeff"}`)
	})
	g, err := NewGenerator(testRoll(map[string]int{"CA": 10000}, "CA"), race, Mix{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r := &Runner{URL: srv.URL + "/api/v1/vote", Gen: g, Rec: NewRecorder(time.Now()), Progress: &out, StallAfter: 500 * time.Millisecond, Timeout: 10 * time.Second}
	from = time.Now().Add(500 * time.Millisecond)
	until = from.Add(1500 * time.Millisecond)
	p, err := r.Constant(context.Background(), "stall", 100, 2500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	stopped := strings.Count(text, "the gateway at "+r.URL+" stopped answering: no answer for ")
	again := strings.Count(text, "the gateway at "+r.URL+" answers again, after ")
	if stopped != 1 || again != 1 || strings.Index(text, "stopped answering") > strings.Index(text, "answers again") || strings.Contains(text, "had still not answered") {
		t.Errorf("told %d stops and %d recoveries; want one of each, in order:\n%s", stopped, again, text)
	}
	if p.Accepted != p.Sent || p.Errors != 0 {
		t.Errorf("phase %+v; want every request answered 202", p)
	}
}
