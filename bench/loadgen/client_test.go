package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/votechain/votechain/internal/cli/clitest"
)

// countingServer is a net/http test server that counts the connections
// it accepted.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// TestConnAgainstNetHTTP: answers framed by Content-Length or chunked are
// read whole and leave the connection reusable; a body longer than kept is
// still consumed; Connection: close makes the next request dial again; the
// request's body and headers reach the server as sent.
func TestConnAgainstNetHTTP(t *testing.T) {
	long := strings.Repeat("x", 5000)
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Query().Get("as") {
		case "chunked":
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, "part1,")
			w.(http.Flusher).Flush()
			fmt.Fprint(w, "part2:", string(body))
		case "long":
			fmt.Fprint(w, long)
		case "close":
			w.Header().Set("Connection", "close")
			fmt.Fprint(w, "bye")
		case "empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, "%s %s %s", r.Method, r.Header.Get("Content-Type"), body)
		}
	})
	newC := func(query string, maxBody int) *conn {
		tgt, err := newTarget(http.MethodPost, srv.URL+"/api/v1/vote?as="+query, "application/json")
		if err != nil {
			t.Fatal(err)
		}
		return newConn(tgt, 5*time.Second, maxBody)
	}
	check := func(c *conn, body string, wantCode int, wantBody string) {
		t.Helper()
		code, err := c.do([]byte(body), true)
		if err != nil || code != wantCode || string(c.body) != wantBody {
			t.Fatalf("answer %d %q, %v; want %d %q", code, c.body, err, wantCode, wantBody)
		}
	}
	c := newC("length", 1024)
	for i := range 20 {
		check(c, fmt.Sprint("vote", i), 202, fmt.Sprintf("POST application/json vote%d", i))
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 20 requests; want one kept alive", n)
	}
	c.close()

	c = newC("chunked", 1024)
	check(c, "a", 409, "part1,part2:a")
	check(c, "b", 409, "part1,part2:b")
	c.close()
	c = newC("long", 100)
	check(c, "", 200, long[:100])
	check(c, "", 200, long[:100])
	c.close()
	c = newC("empty", 100)
	check(c, "", 204, "")
	check(c, "", 204, "")
	c.close()
	before := conns.Load()
	c = newC("close", 100)
	check(c, "", 200, "bye")
	if c.c != nil {
		t.Fatal("connection kept after Connection: close")
	}
	check(c, "", 200, "bye")
	c.close()
	if n := conns.Load() - before; n != 2 {
		t.Fatalf("%d connections for two answers with Connection: close; want 2", n)
	}
	// GET without a body.
	tgt, _ := newTarget(http.MethodGet, srv.URL+"/x", "")
	g := newConn(tgt, 5*time.Second, 1024)
	defer g.close()
	if code, err := g.do(nil, false); err != nil || code != 202 || string(g.body) != "GET  " {
		t.Fatalf("GET: %d %q, %v", code, g.body, err)
	}
}

// TestConnTimesOutAndRecovers: an answer slower than the timeout is an
// error, given at the timeout rather than at the answer, and the next
// request goes out on a new connection.
func TestConnTimesOutAndRecovers(t *testing.T) {
	const timeout, answerAfter = 100 * time.Millisecond, 5 * time.Second
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("slow") != "" {
			io.Copy(io.Discard, r.Body) // read whole, net/http watches the connection: its close ends r's context
			select {
			case <-time.After(answerAfter):
			case <-r.Context().Done(): // the client gave up: not held until the answer, nor the server's Close
			}
		}
		w.WriteHeader(http.StatusAccepted)
	})
	slow, _ := newTarget(http.MethodPost, srv.URL+"/?slow=1", "")
	c := newConn(slow, timeout, 64)
	began := time.Now()
	if code, err := c.do([]byte("x"), true); err == nil {
		t.Fatalf("slow answer: %d, no error", code)
	}
	// Generous for a loaded machine, and well short of the answer.
	if d := time.Since(began); d > 2*time.Second {
		t.Fatalf("timeout of %v took %s; the answer comes after %v", timeout, d, answerAfter)
	}
	c.t, _ = newTarget(http.MethodPost, srv.URL+"/", "")
	if code, err := c.do([]byte("x"), true); err != nil || code != 202 {
		t.Fatalf("after a timeout: %d, %v", code, err)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections; want a new one after the timeout", n)
	}
	c.close()
	// Nothing listening: a transport error, not a hang.
	dead, _ := newTarget(http.MethodPost, "http://"+clitest.ReservedAddr(t)+"/", "")
	if _, err := newConn(dead, time.Second, 64).do(nil, true); err == nil {
		t.Fatal("no error from a closed port")
	}
}

// rawServer answers each connection's first request with answer, then
// closes it.
func rawServer(t *testing.T, answer string) string {
	t.Helper()
	ln := listenLoopback(t)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				if _, err := http.ReadRequest(r); err != nil {
					return
				}
				io.WriteString(c, answer)
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

// TestConnReadsWhatNetHTTPWouldNotSend: a body running to the close, an
// interim 100 answer, and broken answers give what they should.
func TestConnReadsWhatNetHTTPWouldNotSend(t *testing.T) {
	for _, tc := range []struct {
		name, answer string
		code         int
		body         string
		fails        bool
	}{
		{"to the close", "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", 200, "until the end", false},
		{"interim 100", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok", 202, "ok", false},
		{"chunk extension and trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n", 200, "abc", false},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 200, "", true},
		{"closed without an answer", "", 0, "", true},
		{"not HTTP", "SSH-2.0-x\r\n\r\n", 0, "", true},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 200, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tgt, _ := newTarget(http.MethodPost, rawServer(t, tc.answer), "")
			c := newConn(tgt, 2*time.Second, 64)
			defer c.close()
			code, err := c.do([]byte("{}"), true)
			if (err != nil) != tc.fails || code != tc.code || (!tc.fails && string(c.body) != tc.body) {
				t.Fatalf("%d %q, %v; want %d %q, failing %v", code, c.body, err, tc.code, tc.body, tc.fails)
			}
			if err != nil && c.c != nil {
				t.Fatal("connection kept after an error")
			}
		})
	}
	if _, err := newTarget(http.MethodGet, "https://x/", ""); err == nil {
		t.Fatal("https accepted")
	}
}

// TestRunnerIsOpenLoopAndCountsEveryAnswer: answers slower than the send
// interval do not slow the sending while workers are free; every answer
// is counted by its code, transport errors as errors; the ids of 202s are
// recorded; with a bound of workers the sending waits for them.
func TestRunnerIsOpenLoopAndCountsEveryAnswer(t *testing.T) {
	var mu sync.Mutex
	got := map[int]int{}
	var n, inFlight, peak atomic.Int64 // requests in the handler now, and at most
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		// Counted out before the answer leaves (it is sent once the
		// handler returns), so a worker's next request never overlaps it.
		now := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
		}
		io.ReadAll(r.Body)
		time.Sleep(100 * time.Millisecond)
		i := n.Add(1)
		code := []int{202, 202, 202, 409, 403, 503, 500, 0}[i%8]
		if code == 0 { // a transport error: the connection dies unanswered
			panic(http.ErrAbortHandler)
		}
		mu.Lock()
		got[code]++
		mu.Unlock()
		w.WriteHeader(code)
		if code == 202 {
			fmt.Fprintf(w, `{"vote_id":"%032x"}`, i)
		}
	})
	g, err := NewGenerator(testRoll(map[string]int{"CA": 10000}, "CA"), race, Mix{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	rec := NewRecorder(time.Now())
	r := &Runner{URL: srv.URL + "/api/v1/vote", Gen: g, Rec: rec}
	p, err := r.Constant(context.Background(), "open", 400, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	answered := maps.Clone(got) // the server is done: its answers are all in
	mu.Unlock()
	// At 400/s, 100 ms answers take 40 requests in flight: the rate holds.
	// A client that waited for each answer would send at most 10 in the
	// second. How many more go out depends on the machine (the test and
	// its server share the cores), but the schedule sends every request
	// due each time it runs, so it falls short of 400 only by what is due
	// after its last run: more than 40, four times what waiting for the
	// answers allows, shows the sending does not wait for them unless the
	// schedule got no core for most of the second.
	if p.Sent <= 40 || p.Sent > 401 {
		t.Fatalf("sent %d in 1 s at 400/s with 100 ms answers; want about 400, more than 40 (a client waiting for each answer sends 10)", p.Sent)
	}
	if p.Accepted != answered[202] || p.Duplicates != answered[409] || p.Ineligible != answered[403] || p.Overloaded != answered[503] ||
		p.OtherStatus != answered[500] || p.Errors != p.Sent-answered[202]-answered[409]-answered[403]-answered[503]-answered[500] || p.Errors == 0 {
		t.Fatalf("phase %+v; server answered %v", p, answered)
	}
	ids, bad := rec.AcceptedIDs()
	if len(ids) != p.Accepted || bad != 0 || rec.Unanswered() != p.Errors || len(p.ErrorSamples) == 0 {
		t.Fatalf("%d ids (%d unreadable), %d unanswered, samples %v; want %d ids, %d unanswered", len(ids), bad, rec.Unanswered(), p.ErrorSamples, p.Accepted, p.Errors)
	}
	if p.AcceptLatency.P50ms < 100 {
		t.Fatalf("202 p50 %.1f ms; the server takes 100 ms", p.AcceptLatency.P50ms)
	}

	// Two workers at 100 ms each serve at most ~20/s: the sending waits.
	// That is counted where it does not depend on the machine's speed: the
	// server never has more than the two workers' requests at once (at
	// 400/s, without the bound, it would have about 40). And the sending
	// waits rather than stops: a worker that has its answer is handed the
	// next request, so more than the first two go out (about 10 do; more
	// than 2 needs only one turn of the schedule in the 0.4 s after the
	// first answers).
	peak.Store(0) // the open phase's requests are all answered
	bounded := &Runner{URL: srv.URL + "/api/v1/vote", Gen: g, Rec: rec, MaxWorkers: 2}
	p, err = bounded.Constant(context.Background(), "bounded", 400, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if peak.Load() > 2 || p.Sent <= 2 {
		t.Fatalf("sent %d in 0.5 s with 2 workers and 100 ms answers, %d at the server at once; want about 10, at most 2 at once", p.Sent, peak.Load())
	}
}

// TestRunnerStopsWhenTheRollRunsOut: the phase ends early with
// ErrRollExhausted once every voter was sent.
func TestRunnerStopsWhenTheRollRunsOut(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"vote_id":"00112233445566778899aabbccddeeff"}`)
	})
	g, err := NewGenerator(testRoll(map[string]int{"CA": 30}, "CA"), race, Mix{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{URL: srv.URL + "/api/v1/vote", Gen: g, Rec: NewRecorder(time.Now())}
	began := time.Now()
	p, err := r.Constant(context.Background(), "out", 200, 10*time.Second)
	if !IsExhausted(err) || p.Sent != 30 || time.Since(began) > 5*time.Second {
		t.Fatalf("sent %d, %v after %s; want 30 and ErrRollExhausted early", p.Sent, err, time.Since(began))
	}
}

// TestHammerReadsCountsOKAnswers: the closed-loop reads count the bare
// handler's 200s, and answers of any other code as failed.
func TestHammerReadsCountsOKAnswers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ServeBare(ctx, ln, ReadSnapshot{Body: []byte(`{"results":[]}`), ContentType: "application/json", ETag: `"1"`})
	res := HammerReads(context.Background(), "http://"+ln.Addr().String()+"/api/v1/results", 4, 200*time.Millisecond)
	if res.OK == 0 || res.Failed != 0 || res.QPS <= 0 {
		t.Fatalf("reads of the bare handler: %+v", res)
	}
	srv, _ := countingServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) })
	res = HammerReads(context.Background(), srv.URL+"/x", 2, 100*time.Millisecond)
	if res.OK != 0 || res.Failed == 0 {
		t.Fatalf("reads of a 404: %+v", res)
	}
}

// TestConnRedialsAConnectionTheServerClosedWhileIdle: a server that closes
// idle keep-alive connections (net/http's IdleTimeout) has closed the
// connection before the next request is written; the client sees that
// and sends it on a new connection, once, and the server gets each
// request once.
func TestConnRedialsAConnectionTheServerClosedWhileIdle(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		requests.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	srv.Config.IdleTimeout = 20 * time.Millisecond
	var conns, closed atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			conns.Add(1)
		case http.StateClosed: // reported after the server closed it
			closed.Add(1)
		}
	}
	// serverClosed waits until the server has closed n connections: its
	// idle timer fires late on a loaded machine, and a request written
	// before it closes meets the close unread (a reset, which no client
	// can tell from a request the server may have processed).
	serverClosed := func(n int64) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); closed.Load() < n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the server closed %d idle connections in 10 s; want %d", closed.Load(), n)
			}
		}
	}
	srv.Start()
	defer srv.Close()
	tgt, _ := newTarget(http.MethodPost, srv.URL+"/", "")
	c := newConn(tgt, 5*time.Second, 64)
	c.checkAfter = 50 * time.Millisecond // rather than idleCheckAfter, for a quick test
	defer c.close()
	for i := range 5 {
		if code, err := c.do([]byte("x"), true); err != nil || code != 202 {
			t.Fatalf("request %d: %d, %v", i, code, err)
		}
		serverClosed(int64(i) + 1)
		time.Sleep(c.checkAfter) // idle long enough to be checked
	}
	if n, m := requests.Load(), conns.Load(); n != 5 || m != 5 {
		t.Fatalf("server saw %d requests on %d connections; want 5 on 5", n, m)
	}
	// Unchecked, the request goes out on the closed connection: an error,
	// and it is not sent again.
	c.checkAfter = time.Hour
	if code, err := c.do([]byte("x"), true); err == nil {
		t.Fatalf("request on a connection the server closed, unchecked: %d, no error", code)
	}
	if code, err := c.do([]byte("x"), true); err != nil || code != 202 {
		t.Fatalf("the next request: %d, %v", code, err)
	}
	if n, m := requests.Load(), conns.Load(); n != 6 || m != 6 {
		t.Fatalf("server saw %d requests on %d connections; want 6 on 6", n, m)
	}
}

// TestConnDoesNotResendARequestTheServerMayHaveProcessed: a server that
// reads a request on a kept-alive connection and closes it unanswered
// may have processed it: the client reports an error and sends it once.
func TestConnDoesNotResendARequestTheServerMayHaveProcessed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var requests atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for i := 0; ; i++ {
					req, err := http.ReadRequest(r)
					if err != nil {
						return
					}
					io.ReadAll(req.Body)
					requests.Add(1)
					if i == 1 {
						return // the second request of a connection: closed unanswered
					}
					io.WriteString(c, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
				}
			}()
		}
	}()
	tgt, _ := newTarget(http.MethodPost, "http://"+ln.Addr().String()+"/", "")
	c := newConn(tgt, 5*time.Second, 64)
	c.checkAfter = 0 // checked before every request: the check must not hide this case
	defer c.close()
	if code, err := c.do([]byte("x"), true); err != nil || code != 202 {
		t.Fatalf("first request: %d, %v", code, err)
	}
	if code, err := c.do([]byte("x"), true); !errors.Is(err, errNoAnswer) {
		t.Fatalf("second request, closed unanswered: %d, %v; want errNoAnswer", code, err)
	}
	if code, err := c.do([]byte("x"), true); err != nil || code != 202 {
		t.Fatalf("third request: %d, %v", code, err)
	}
	if n := requests.Load(); n != 3 {
		t.Fatalf("server read %d requests; want 3, none sent twice", n)
	}
}

// TestCrewWakesTheLatestIdleWorker: requests go to the worker that became
// idle last, none when all are busy, and dismiss ends every worker.
func TestCrewWakesTheLatestIdleWorker(t *testing.T) {
	c := newCrew()
	if c.wake() {
		t.Fatal("woke a worker of an empty crew")
	}
	a, b := c.hire(), c.hire()
	<-a // their first requests
	<-b
	c.rest(a)
	c.rest(b)
	select {
	case <-c.freed:
	default:
		t.Fatal("no word that a worker became idle")
	}
	for i, want := range []chan struct{}{b, a} {
		if !c.wake() {
			t.Fatalf("wake %d: no idle worker", i)
		}
		select {
		case <-want:
		default:
			t.Fatalf("wake %d: not the latest idle worker", i)
		}
	}
	if c.wake() {
		t.Fatal("woke a busy worker")
	}
	c.dismiss()
	if _, open := <-a; open {
		t.Fatal("a worker's wake-ups still open after dismiss")
	}
}

// TestRunnerSetsGOMAXPROCSForTheAttack: an attack runs with Procs (default
// 1) and puts the process's setting back; a negative Procs leaves it.
func TestRunnerSetsGOMAXPROCSForTheAttack(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	var during atomic.Int64
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		during.Store(int64(runtime.GOMAXPROCS(0)))
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"vote_id":"00112233445566778899aabbccddeeff"}`)
	})
	g, err := NewGenerator(testRoll(map[string]int{"CA": 100}, "CA"), race, Mix{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ procs, want int }{{0, 1}, {-1, before}, {3, 3}} {
		r := &Runner{URL: srv.URL + "/api/v1/vote", Gen: g, Rec: NewRecorder(time.Now()), Procs: tc.procs}
		if _, err := r.Constant(context.Background(), "procs", 100, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if got, after := during.Load(), runtime.GOMAXPROCS(0); got != int64(tc.want) || after != before {
			t.Fatalf("Procs %d: GOMAXPROCS %d during the attack, %d after; want %d, then %d", tc.procs, got, after, tc.want, before)
		}
	}
}

// TestRunnerCollectsBeforeTheAttack: an attack begins with a garbage
// collection, so a cycle is not due inside it.
func TestRunnerCollectsBeforeTheAttack(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"vote_id":"00112233445566778899aabbccddeeff"}`)
	})
	g, err := NewGenerator(testRoll(map[string]int{"CA": 100}, "CA"), race, Mix{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{URL: srv.URL + "/api/v1/vote", Gen: g, Rec: NewRecorder(time.Now())}
	cycles := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	before := cycles()
	p, err := r.Constant(context.Background(), "collect", 100, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if ran := cycles() - before; ran < 1+p.Self.GCCycles {
		t.Fatalf("%d GC cycles over the call, %d of them inside the attack: want one more, before it", ran, p.Self.GCCycles)
	}
}

// TestRampCallsOnStepAroundEachStep: OnStep is called as each step begins,
// with its name, and its end as the step is over (after its answers),
// once per step run, in order; the ramp stops after the step that was not
// served, and that step is booked too.
func TestRampCallsOnStepAroundEachStep(t *testing.T) {
	var sent atomic.Int64
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		sent.Add(1)
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"vote_id":"00112233445566778899aabbccddeeff"}`)
	})
	g, err := NewGenerator(testRoll(map[string]int{"CA": 10000}, "CA"), race, Mix{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	r := &Runner{URL: srv.URL + "/api/v1/vote", Gen: g, Rec: NewRecorder(time.Now())}
	r.OnStep = func(step string) func() {
		events = append(events, "begin "+step)
		before := sent.Load()
		return func() { events = append(events, fmt.Sprintf("end %s sent>0:%v", step, sent.Load() > before)) }
	}
	// A p99 bound no answer can meet ends the ramp after its first step.
	phases, knee, err := r.Ramp(context.Background(), []float64{100, 200, 300}, 300*time.Millisecond, KneeCriteria{MinServed: 0.5, MaxFailed: 1, MaxP99: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"begin ramp-100", "end ramp-100 sent>0:true"}
	if len(phases) != 1 || knee != -1 || !slices.Equal(events, want) {
		t.Fatalf("%d steps, knee %d, OnStep saw %q; want 1 step, knee -1, %q", len(phases), knee, events, want)
	}
	events = nil
	phases, _, err = r.Ramp(context.Background(), []float64{100, 200}, 300*time.Millisecond, KneeCriteria{MinServed: 0.5, MaxFailed: 1, MaxP99: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"begin ramp-100", "end ramp-100 sent>0:true", "begin ramp-200", "end ramp-200 sent>0:true"}
	if len(phases) != 2 || !slices.Equal(events, want) {
		t.Fatalf("%d steps, OnStep saw %q; want 2 steps, %q", len(phases), events, want)
	}
}

// TestAnswerTimedToItsArrival: an answer's latency runs to its arrival when
// the kernel gave one inside sent..read, the rest being the reader's lag;
// otherwise to the read.
func TestAnswerTimedToItsArrival(t *testing.T) {
	sent := time.Now()
	read := sent.Add(30 * time.Millisecond)
	for _, c := range []struct {
		name          string
		arrived       time.Time
		err           error
		latency, lags time.Duration
	}{
		{"arrival known", sent.Add(10 * time.Millisecond), nil, 10 * time.Millisecond, 20 * time.Millisecond},
		{"arrival unknown", time.Time{}, nil, 30 * time.Millisecond, 0},
		{"arrival after the read (clock step)", read.Add(time.Millisecond), nil, 30 * time.Millisecond, 0},
		{"arrival before the send", sent.Add(-time.Millisecond), nil, 30 * time.Millisecond, 0},
		{"no answer", sent.Add(10 * time.Millisecond), errNoAnswer, 30 * time.Millisecond, 0},
	} {
		a := answer{sent: sent}
		a.timeTo(read, c.arrived, c.err)
		if a.latency != c.latency || a.readLag != c.lags {
			t.Errorf("%s: latency %v, lag %v; want %v, %v", c.name, a.latency, a.readLag, c.latency, c.lags)
		}
	}
}

// listenLoopback listens on a free loopback port until the test ends.
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}
