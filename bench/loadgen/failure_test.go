package loadgen

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"
)

// refusedDial returns the error of a real dial refused: a connection to a
// port whose listener was just closed.
func refusedDial(t *testing.T) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := net.Dial("tcp", addr)
	if err == nil {
		c.Close()
		t.Fatalf("a dial to %s, its listener closed, connected", addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("a dial to %s, its listener closed: %v; want connection refused", addr, err)
	}
	return err
}

// TestAFailedRequestAllocatesNothing: a request ended by a transport error
// (a refused connection, as in a storm of them at 10,000 requests/s), once
// its kind is sampled, costs no allocation in the stall watch's counters
// or the worker's tally, with progress output on (a flow) or off (none);
// the watch still words the last error when it samples, and the tally
// counts every failure.
func TestAFailedRequestAllocatesNothing(t *testing.T) {
	refused := refusedDial(t)
	for _, c := range []struct {
		name     string
		requests *flow
	}{{"progress on", new(flow)}, {"progress off", nil}} {
		t.Run(c.name, func(t *testing.T) {
			var tl tally
			a := answer{sent: time.Now()}
			inTime := a.sent.Add(time.Hour)
			n := 0
			fail := func() {
				c.requests.sent()
				c.requests.ended(transportError, refused)
				tl.add(&a, transportError, inTime, refused)
				n++
			}
			fail() // the first of its kind is worded, once
			if allocs := testing.AllocsPerRun(1000, fail); allocs != 0 {
				t.Errorf("%v allocations per failed request; want none", allocs)
			}
			if tl.codes[transportError] != n || len(tl.errorSamples) != 1 || tl.errorSamples[0].text != refused.Error() {
				t.Errorf("tally: %d transport errors, samples %+v; want %d and the one refusal's words", tl.codes[transportError], tl.errorSamples, n)
			}
			if c.requests == nil {
				return
			}
			s := c.requests.sample(time.Now())
			if s.failed != int64(n) || s.inFlight != 0 || s.answered != 0 || s.lastErr != refused.Error() {
				t.Errorf("sample %+v; want %d failed, none in flight or answered, the last error %q", s, n, refused.Error())
			}
		})
	}
}

// TestTallySamplesOneErrorOfEachKind: a worker's tally keeps the words of
// the first failure of each kind (a status without a known answer, or the
// transport error's cause), up to three: a second refusal, however worded,
// adds none.
func TestTallySamplesOneErrorOfEachKind(t *testing.T) {
	refused := refusedDial(t)
	otherRefusal := fmt.Errorf("dial again: %w", syscall.ECONNREFUSED)
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	var tl tally
	inTime := time.Now().Add(time.Hour)
	for _, f := range []struct {
		code int
		err  error
	}{{0, refused}, {0, otherRefusal}, {http.StatusInternalServerError, nil}, {http.StatusInternalServerError, nil}, {0, timeout}, {0, errNoAnswer}} {
		a := answer{code: f.code}
		tl.add(&a, classify(&a), inTime, f.err)
	}
	var got []string
	for _, s := range tl.errorSamples {
		got = append(got, s.text)
	}
	want := []string{refused.Error(), "500 Internal Server Error", timeout.Error()}
	if !slices.Equal(got, want) {
		t.Errorf("samples %q; want %q", got, want)
	}
}
