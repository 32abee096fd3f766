package loadgen

import (
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// TestStampedReaderKeepsTheKernelsReceiveTime: data read 200 ms after it
// arrived carries the time it arrived, not the time it was read. (Only data
// that arrives once the stamps are on carries one: the server writes after
// the client's first byte.)
func TestStampedReaderKeepsTheKernelsReceiveTime(t *testing.T) {
	stampsOn(t)
	ln := listenLoopback(t)
	writing := make(chan time.Time, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := c.Read(make([]byte, 1)); err != nil { // the client's go, once its stamps are on
			return
		}
		writing <- time.Now()
		c.Write([]byte("hello"))
		io.Copy(io.Discard, c) // until the client closes
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	s := newStampedReader(nc)
	if s == nil {
		t.Fatal("no receive timestamps on a loopback TCP connection")
	}
	if _, err := nc.Write([]byte("g")); err != nil {
		t.Fatal(err)
	}
	// Wait, without reading it, until the answer is in the socket: it
	// arrived by then, however late the server got round to writing it,
	// and it sits there for the 200 ms before the read.
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	peek := make([]byte, 1)
	if err := s.rc.Read(func(fd uintptr) bool {
		for {
			_, _, err := syscall.Recvfrom(int(fd), peek, syscall.MSG_PEEK)
			if err != syscall.EINTR {
				return err != syscall.EAGAIN
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	there := time.Now()
	time.Sleep(200 * time.Millisecond)
	buf := make([]byte, 16)
	n, err := s.Read(buf)
	read := time.Now()
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read = %q, %v; want hello", buf[:n], err)
	}
	// The kernel's clock and time.Now are the same clock, read a little
	// differently: a millisecond of slack either way.
	w := <-writing
	if s.arrived.Before(w.Add(-time.Millisecond)) || s.arrived.After(there.Add(time.Millisecond)) {
		t.Fatalf("arrived %v: written from %v, in the socket by %v, read at %v; want the arrival, between the write and its being seen, 200 ms before the read", s.arrived, w, there, read)
	}
	nc.Close()
	if _, err := s.Read(buf); err == nil {
		t.Fatal("Read on a closed connection succeeded")
	}
}

// TestConnTimesAnswersToTheirArrival: do reports, beside the answer, when
// it reached the socket: after the request went out, not after do returned.
func TestConnTimesAnswersToTheirArrival(t *testing.T) {
	stampsOn(t)
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})
	tgt, err := newTarget(http.MethodPost, srv.URL+"/api/v1/vote", "application/json")
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(tgt, 5*time.Second, 64)
	defer c.close()
	for range 3 { // the first dials; the others reuse the connection
		sent := time.Now()
		code, err := c.do([]byte(`{}`), true)
		done := time.Now()
		if err != nil || code != http.StatusAccepted {
			t.Fatalf("do = %d, %v", code, err)
		}
		if c.arrived.Before(sent) || c.arrived.After(done) {
			t.Fatalf("arrived %v, want between the send (%v) and do's return (%v)", c.arrived, sent, done)
		}
	}
}

// stampsOn holds a stamped loopback connection open for the test, once a
// byte has come over it with a receive time: the kernel turns its packet
// stamps on a moment after the first socket asks, and off when the last
// one closes.
func stampsOn(t *testing.T) {
	t.Helper()
	ln := listenLoopback(t)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b := make([]byte, 1)
		for { // echo each byte
			if _, err := c.Read(b); err != nil {
				return
			}
			c.Write(b)
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	s := newStampedReader(nc)
	if s == nil {
		t.Fatal("no receive timestamps on a loopback TCP connection")
	}
	b := make([]byte, 1)
	for deadline := time.Now().Add(5 * time.Second); s.arrived.IsZero(); {
		if time.Now().After(deadline) {
			t.Fatal("no byte came with a receive time in 5 s")
		}
		time.Sleep(time.Millisecond)
		nc.Write(b)
		if _, err := s.Read(b); err != nil {
			t.Fatal(err)
		}
	}
}
