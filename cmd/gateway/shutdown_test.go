package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/intakelog"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
	"github.com/votechain/votechain/internal/testlog"
)

// asGatewayEnv, set to 1, makes the test binary run as the gateway
// (TestMain): main's code (cli.Main, run with its flags) over fakeLedger
// instead of a Fabric network, which the gateway needs only to read the
// election record before it serves its API.
const asGatewayEnv = "VOTECHAIN_TEST_AS_GATEWAY"

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode) // as main does
	if os.Getenv(asGatewayEnv) == "1" {
		cli.Main("gateway", func(ctx context.Context) error {
			return run(ctx, os.Args[1:], os.Stderr, func(context.Context, *options) (ledger, func() error, error) {
				e, err := testElection()
				return fakeLedger{e}, func() error { return nil }, err
			})
		})
	}
	os.Exit(m.Run())
}

// TestSIGTERMFinishesRequestsInFlight starts the gateway as a process of
// its own (the test binary run as cmd/gateway's main over a fake ledger, on
// a real redis-server), opens a vote request and sends half its body, and
// once the request is in its handler (the server's 100 Continue to its
// Expect: 100-continue, sent when the handler reads the body) SIGTERM. The gateway must log its shutdown, close its listener (a new
// connection is refused), still answer the request in flight 202 once the
// rest of the body arrives, with the vote in Redis, and exit 0 within its
// grace period (--shutdown-timeout) without leaving background loops
// running.
func TestSIGTERMFinishesRequestsInFlight(t *testing.T) {
	const grace = 10 * time.Second
	p := startGateway(t, "--shutdown-timeout", grace.String())
	rs, addr, logs, cmd, exited := p.redis, p.addr, p.logs, p.cmd, p.exited
	ctx := context.Background()

	body := testVote
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	half := len(body) / 2
	if _, err := fmt.Fprintf(conn, "POST /api/v1/vote HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n%s",
		addr, len(body), body[:half]); err != nil {
		t.Fatal(err)
	}
	// A SIGTERM before the server has read the request's head would close
	// the connection unanswered: it is sent once the handler reads the body.
	answers := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	cont, err := http.ReadResponse(answers, nil)
	if err != nil {
		t.Fatalf("no 100 Continue to the request in flight: %v\n%s", err, logs.String())
	}
	if cont.StatusCode != http.StatusContinue {
		t.Fatalf("the request in flight got %d before its whole body; want 100 Continue, its handler reading the body", cont.StatusCode)
	}

	termAt := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the shutdown's log line", func() bool { return strings.Contains(logs.String(), `msg="shutting down"`) }, logs.String)
	waitFor(t, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return false
		}
		return true
	}, logs.String)

	if _, err := conn.Write([]byte(body[half:])); err != nil {
		t.Fatalf("rest of the request in flight: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(grace))
	resp, err := http.ReadResponse(answers, nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v\n%s", err, logs.String())
	}
	var answer struct {
		VoteID string `json:"vote_id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || err != nil || answer.VoteID == "" {
		t.Fatalf("the request in flight got %d (vote id %q, %v); want 202 with a vote id", resp.StatusCode, answer.VoteID, err)
	}
	if n, err := rs.Client().XLen(ctx, votequeue.StreamKey("CA")).Result(); err != nil || n != 1 {
		t.Errorf("vote stream of CA holds %d entries (%v); want the accepted vote", n, err)
	}

	select {
	case <-exited:
		took := time.Since(termAt)
		if *p.waitErr != nil {
			t.Fatalf("gateway exited with %v after SIGTERM; want 0\n%s", *p.waitErr, logs.String())
		}
		if took > grace {
			t.Errorf("gateway took %v to exit after SIGTERM; grace period %v", took, grace)
		}
		t.Logf("gateway exited 0 %v after SIGTERM", took.Round(time.Millisecond))
	case <-time.After(grace + 5*time.Second):
		t.Fatalf("gateway still running %v after SIGTERM\n%s", grace+5*time.Second, logs.String())
	}
	logged := logs.String()
	if !strings.Contains(logged, `msg="shutting down" grace=`+grace.String()) {
		t.Errorf("no shutdown line with the grace period in the gateway's log:\n%s", logged)
	}
	if !strings.Contains(logged, `msg="gateway stopped"`) {
		t.Errorf("no line saying the gateway stopped in its log:\n%s", logged)
	}
	if strings.Contains(logged, "background loops still running") {
		t.Errorf("background loops outlived the grace period:\n%s", logged)
	}
}

// gatewayProcess is the gateway run as a process of its own by
// startGateway.
type gatewayProcess struct {
	redis   *redistest.Server
	addr    string // its API's listener, bound where the kernel chose
	logs    logFile
	cmd     *exec.Cmd
	exited  <-chan struct{} // closed once cmd.Wait has returned *waitErr
	waitErr *error
}

// startGateway runs the test binary as cmd/gateway's main (TestMain) over
// a fake ledger, on a real redis-server with voter v1 (credential c1) on
// CA's roll, with args added to its flags, and waits until it is ready;
// the test's end kills it by its PID if it still runs. Its --listen is
// port 0, so no other process can take the port between its choice and
// the bind: the address is the one the gateway logs.
func startGateway(t *testing.T, args ...string) *gatewayProcess {
	t.Helper()
	rs := redistest.Start(t)
	enrollVoter(t, rs)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(testSecretHex+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], append([]string{"--listen", "127.0.0.1:0",
		"--redis-addr", rs.Addr, "--redis-user", redisserver.UserGateway,
		"--redis-password-file", rs.ACL.PasswordFile(redisserver.UserGateway),
		"--secret-file", secretFile, "--log-key=", "--results-checkpoint", filepath.Join(dir, "results.json"),
		"--log-format", "text", "--log-level", "info"}, args...)...) // waitReady reads the text log, whatever GATEWAY_* the caller exported
	cmd.Env = append(os.Environ(), asGatewayEnv+"=1")
	logs := logFile(filepath.Join(dir, "gateway.log"))
	out, err := os.Create(string(logs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &gatewayProcess{redis: rs, logs: logs, cmd: cmd, waitErr: new(error)}
	exited := make(chan struct{})
	p.exited = exited
	go func() { *p.waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill() // by its PID
			<-exited
		}
	})
	p.addr = waitReady(t, exited, logs)
	return p
}

// testVote is the vote of voter v1 (credential c1), whom enrollVoter puts
// on CA's roll.
const testVote = `{"voter_id":"v1","credential":"c1","state":"CA","choice":"alice"}`

// enrollVoter puts voter v1 (credential c1) on CA's roll in rs, for the
// test election and secret, and returns the voter's nullifier in contest
// president.
func enrollVoter(t *testing.T, rs *redistest.Server) [32]byte {
	t.Helper()
	secret, err := hex.DecodeString(testSecretHex)
	if err != nil {
		t.Fatal(err)
	}
	e, err := testElection()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	roll, err := votequeue.EnsureRoll(ctx, rs.Client(), "CA", votequeue.RollBits(1))
	if err != nil {
		t.Fatal(err)
	}
	null := ballot.NullifierOf(ballot.VoterKey(secret, e.ID, "v1", "c1"), "president")
	pipe := rs.Client().Pipeline()
	votequeue.Enroll(ctx, pipe, roll, [][]byte{null[:]})
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return null
}

// With --metrics-listen the metrics are served on their own address and
// not on the API's, which voters reach.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	p := startGateway(t, "--metrics-listen", "127.0.0.1:0")
	metrics := p.logs.addr("metrics listening") // logged before the gateway is ready
	if metrics == "" {
		t.Fatalf("no metrics listener's address in the gateway's log:\n%s", p.logs.String())
	}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("http://" + metrics + "/metrics"); code != http.StatusOK || !strings.Contains(body, "vote_queue_depth") {
		t.Errorf("GET /metrics on --metrics-listen: %d, %.200q; want 200 with the gateway's metrics", code, body)
	}
	if code, body := get("http://" + metrics + "/healthz"); code != http.StatusOK {
		t.Errorf("GET /healthz on --metrics-listen: %d %q", code, body)
	}
	if code, _ := get("http://" + p.addr + "/metrics"); code != http.StatusNotFound {
		t.Errorf("GET /metrics on the API's listener: %d; want 404", code)
	}
	if code, _ := get("http://" + p.addr + "/healthz"); code != http.StatusOK {
		t.Errorf("GET /healthz on the API's listener: %d; want 200", code)
	}
}

// logFile is the file a process logs to.
type logFile string

// String is what the process has logged so far.
func (f logFile) String() string {
	b, _ := os.ReadFile(string(f))
	return string(b)
}

// addr is the addr= of the first whole line logged with message msg,
// such as where a listener given port 0 was bound; "" if none is yet.
func (f logFile) addr(msg string) string {
	lines := strings.Split(f.String(), "\n")
	for _, line := range lines[:len(lines)-1] { // the last is not yet a whole line
		if !strings.Contains(line, ` msg="`+msg+`" `) {
			continue
		}
		if _, rest, ok := strings.Cut(line, " addr="); ok {
			addr, _, _ := strings.Cut(rest, " ")
			return addr
		}
	}
	return ""
}

// waitReady waits until the gateway has logged the address it listens on
// and answers /readyz 200 there, and returns that address; it fails the
// test if the process exits first or takes over 30 s.
func waitReady(t *testing.T, exited <-chan struct{}, logs logFile) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if addr := logs.addr("gateway listening"); addr != "" {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return addr
				}
			}
		}
		select {
		case <-exited:
			t.Fatalf("gateway exited before it was ready:\n%s", logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not ready after 30 s:\n%s", logs.String())
		}
	}
}

// serviceWait is how long a test waits for what a real service, process
// or goroutine will do: generous, as a wait that ends costs nothing, and CI
// runs two test binaries (often beside a Fabric network) on two cores, where
// a starved process can take seconds. A test's window for something that
// must not happen, or a bound that must beat another timeout, is not one.
const serviceWait = time.Minute

// waitFor polls cond for up to serviceWait, then fails the test with what
// logs returns (what was logged).
func waitFor(t *testing.T, what string, cond func() bool, logs func() string) {
	t.Helper()
	for deadline := time.Now().Add(serviceWait); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v:\n%s", what, serviceWait, logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStopAnchorsTheVotesAccepted: a gateway that stops, whether asked to
// with a grace period (--shutdown-timeout) shorter than its closing round
// takes or because serving failed (its listener closed), first gives the
// intake log's closing round its own time: the vote it accepted is
// anchored on a slow ledger, slower than the grace, before run returns and
// closes Redis and the ledger, which would cut the round. The closing
// round's own anchor commits it (its line says so): the ledger refuses
// anchors till the stop begins, so a round whose tick comes first (start
// to stop over the 6 s interval on a loaded machine) anchors nothing, and
// the test passed without the closing round then.
func TestStopAnchorsTheVotesAccepted(t *testing.T) {
	for _, c := range []struct {
		name    string
		end     func(ln net.Listener, logs *testlog.Buffer, stop func() error) error
		wantErr string
	}{
		{"stopped, the grace too short", func(_ net.Listener, _ *testlog.Buffer, stop func() error) error { return stop() }, ""},
		{"serving failed", func(ln net.Listener, logs *testlog.Buffer, stop func() error) error {
			ln.Close()
			// The stop's context ends only once run has chosen to stop for
			// the failure.
			waitForLine(t, logs, `msg="shutting down"`)
			return stop()
		}, "serve on --listen"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs := redistest.Start(t)
			enrollVoter(t, rs)
			e, err := testElection()
			if err != nil {
				t.Fatal(err)
			}
			key := filepath.Join(t.TempDir(), "log.key")
			if _, err := intakelog.EnsureKey(key); err != nil {
				t.Fatal(err)
			}
			l := &anchoringLedger{fakeLedger: fakeLedger{e}, delay: 500 * time.Millisecond}
			logs := &testlog.Buffer{}
			// The longest interval the gateway takes (6 s): as a rule no
			// round before the stop, and none anchors (the ledger refuses
			// till the stop), so the closing round anchors the vote.
			interval := intakelog.Config{}.MaxInterval().String()
			ln, stop := runUntilDialled(t, runArgs(t, "--redis-addr", rs.Addr, "--redis-user", redisserver.UserGateway,
				"--redis-password-file", rs.ACL.PasswordFile(redisserver.UserGateway),
				"--log-key", key, "--log-interval", interval, "--shutdown-timeout", "100ms", "--log-level", "info"), logs, l)
			addr := ln.Addr().String()
			waitForLine(t, logs, `msg="gateway serving its API"`)
			resp, err := http.Post("http://"+addr+"/api/v1/vote", "application/json", strings.NewReader(testVote))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("vote: %d; want 202", resp.StatusCode)
			}
			l.stopping.Store(true)
			err = c.end(ln, logs, stop)
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("run: %v; want %q", err, c.wantErr)
			}
			if got := l.anchoredSize("CA"); got != 1 {
				t.Errorf("CA's anchored head covers %d votes when run returned; want the one accepted\n%s", got, strings.Join(logs.Lines(), "\n"))
			}
			if says := []string{`msg="intake log: closing heads anchored"`, " anchored=[CA]"}; !hasLine(logs, says...) {
				t.Errorf("no line says %q: the closing round's anchor did not commit CA's head\n%s", says, strings.Join(logs.Lines(), "\n"))
			}
		})
	}
}

// anchoringLedger is fakeLedger taking anchors, each delay after it was
// sent (a slow ledger), and noting the size anchored for each state. It
// refuses those sent before stopping is set (the stop has begun).
type anchoringLedger struct {
	fakeLedger
	delay    time.Duration
	stopping atomic.Bool
	mu       sync.Mutex
	anchored map[string]uint64
}

func (l *anchoringLedger) AnchorLogHeads(ctx context.Context, anchors []ballot.LogAnchor) error {
	if !l.stopping.Load() {
		return errors.New("anchoring ledger: anchors refused till the stop")
	}
	select {
	case <-time.After(l.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.anchored == nil {
		l.anchored = map[string]uint64{}
	}
	for _, a := range anchors {
		l.anchored[a.Head.State] = a.Head.Size
	}
	return nil
}

// anchoredSize is the size of state's last head anchored; 0 if none.
func (l *anchoringLedger) anchoredSize(state string) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.anchored[state]
}

// waitForLine waits up to serviceWait for a line of logs holding every
// one of parts.
func waitForLine(t *testing.T, logs *testlog.Buffer, parts ...string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("line with %q logged", parts), func() bool { return hasLine(logs, parts...) },
		func() string { return strings.Join(logs.Lines(), "\n") })
}

// hasLine says whether a line of logs holds every one of parts.
func hasLine(logs *testlog.Buffer, parts ...string) bool {
	return slices.ContainsFunc(logs.Lines(), func(line string) bool {
		return !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) })
	})
}

// TestStopCuttingARequestIsNoFailure: a request still open when the grace
// period (--shutdown-timeout) runs out is cut, its connection closed, and
// both the grace's end and the cut are logged at warn; run returns nil (exit 0), as the help says: a stop that
// cut only unanswered requests is no failure.
func TestStopCuttingARequestIsNoFailure(t *testing.T) {
	rs := redistest.Start(t)
	e, err := testElection()
	if err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	ln, stop := runUntilDialled(t, runArgs(t, "--redis-addr", rs.Addr, "--redis-user", redisserver.UserGateway,
		"--redis-password-file", rs.ACL.PasswordFile(redisserver.UserGateway),
		"--intake-log=false", "--shutdown-timeout", "100ms", "--log-level", "info"), logs, fakeLedger{e})
	waitForLine(t, logs, `msg="gateway serving its API"`)
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Part of a body: the request stays open past the grace. A stop before
	// the server has read the request's head would close the connection as
	// idle, cutting nothing: its 100 Continue, sent when the handler reads
	// the body, says the request is being handled.
	if _, err := fmt.Fprintf(conn, "POST /api/v1/vote HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n%s", len(testVote), testVote[:10]); err != nil {
		t.Fatal(err)
	}
	answers := bufio.NewReader(conn)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	cont, err := http.ReadResponse(answers, nil)
	if err != nil {
		t.Fatalf("no 100 Continue to the open request: %v\n%s", err, strings.Join(logs.Lines(), "\n"))
	}
	if cont.StatusCode != http.StatusContinue {
		t.Fatalf("the open request got %d before its whole body; want 100 Continue, its handler reading the body", cont.StatusCode)
	}
	if err := stop(); err != nil {
		t.Errorf("run: %v; want nil: the stop cut only an unanswered request", err)
	}
	if !hasLine(logs, "level=WARN", "the grace period ran out with requests still being handled") || !hasLine(logs, "level=WARN", "requests still being handled after the grace period and the wait for their answers were cut") {
		t.Errorf("no warning of the cut request:\n%s", strings.Join(logs.Lines(), "\n"))
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := answers.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("cut request's connection: read %d bytes, %v; want it closed", n, err)
	}
}
