// The benchmark's HTTP/1.1 client: one persistent connection per worker,
// requests written as pre-built bytes, answers parsed just enough (status
// line, the framing headers, a small body). It is the load generator's, not
// the product's: what it saves is CPU on the machine it measures.

package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// target is where requests go: the dial address and the request line's
// path, with the request head up to the Content-Length value pre-built.
type target struct {
	addr string
	head []byte // "METHOD path HTTP/1.1\r\nHost: ...\r\n[Content-Type ...]"
}

// newTarget parses an http:// URL (no TLS: the benchmark runs on loopback).
func newTarget(method, rawURL, contentType string) (target, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return target{}, fmt.Errorf("loadgen: url %q: %w", rawURL, err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return target{}, fmt.Errorf("loadgen: url %q: want http://host:port/path", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	head := fmt.Appendf(nil, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, u.RequestURI(), u.Host)
	if contentType != "" {
		head = fmt.Appendf(head, "Content-Type: %s\r\n", contentType)
	}
	return target{addr: addr, head: head}, nil
}

// errNoAnswer is a connection closed before any byte of the answer came.
var errNoAnswer = errors.New("connection closed before an answer")

// conn is one persistent connection and its buffers; not safe for
// concurrent use.
type conn struct {
	t          target
	timeout    time.Duration
	maxBody    int
	checkAfter time.Duration // idle time after which a reused connection is checked (idleCheckAfter)
	c          net.Conn
	r          *bufio.Reader
	deadline   time.Time // the connection's deadline as last set
	used       time.Time // when the last request was sent
	req        []byte    // the request being written
	body       []byte    // the last answer's body (up to maxBody bytes)
	stamps     *stampedReader
	arrived    time.Time // when the last answer's last bytes reached the socket (the kernel's clock); zero if unknown
}

// idleCheckAfter is how long a connection may sit idle before its next
// request checks that the server has not closed it meanwhile (servers
// close idle keep-alive connections: the gateway after 2 minutes, most
// after 5 s or more). Under load a connection is reused within
// milliseconds and the check, a system call, is not made.
const idleCheckAfter = time.Second

func newConn(t target, timeout time.Duration, maxBody int) *conn {
	return &conn{t: t, timeout: timeout, maxBody: maxBody, checkAfter: idleCheckAfter, req: make([]byte, 0, 512), body: make([]byte, 0, maxBody)}
}

// close drops the connection; the next request dials a new one.
func (c *conn) close() {
	if c.c != nil {
		c.c.Close()
		c.c, c.stamps = nil, nil
	}
}

// do sends one request with body (none if nil, as a GET) and returns the
// answer's status code; the body stays in c.body until the next call. Any
// error closes the connection. The whole exchange, dial included, is
// bounded by the timeout: the connection's deadline moves only when it
// would move by more than a sixteenth of the timeout (a timer change less
// per request), so an exchange may be given up to that much earlier.
//
// A kept-alive connection the server may have closed while it sat idle
// (idle for checkAfter or more) is checked first and replaced if it was;
// a request none of whose bytes could be written on a reused connection
// is sent once more on a new one. Nothing else is ever sent twice: a
// connection that ends after the request went out, before an answer, is
// an error (errNoAnswer), since the server may have processed it.
//
// c.arrived is then when the answer reached the socket by the kernel's
// clock (stampedReader; zero where it cannot say), which the caller's
// clock read after do returns is later than by however long this process
// waited for a core.
func (c *conn) do(body []byte, withBody bool) (int, error) {
	now := time.Now()
	deadline := now.Add(c.timeout)
	if c.c != nil && now.Sub(c.used) >= c.checkAfter && !peerOpen(c.c) {
		c.close()
	}
	c.used = now
	c.req = append(c.req[:0], c.t.head...)
	if withBody {
		c.req = append(c.req, "Content-Length: "...)
		c.req = strconv.AppendInt(c.req, int64(len(body)), 10)
		c.req = append(c.req, "\r\n"...)
	}
	c.req = append(c.req, "\r\n"...)
	c.req = append(c.req, body...)
	for {
		reused := c.c != nil
		if !reused {
			d := net.Dialer{Deadline: deadline}
			nc, err := d.Dial("tcp", c.t.addr)
			if err != nil {
				return 0, err
			}
			c.c, c.deadline = nc, time.Time{}
			var rd io.Reader = nc
			if c.stamps = newStampedReader(nc); c.stamps != nil {
				rd = c.stamps
			}
			if c.r == nil {
				c.r = bufio.NewReaderSize(rd, 4096)
			} else {
				c.r.Reset(rd)
			}
		}
		if deadline.Sub(c.deadline) > c.timeout/16 {
			if err := c.c.SetDeadline(deadline); err != nil {
				c.close()
				return 0, err
			}
			c.deadline = deadline
		}
		c.arrived = time.Time{}
		if c.stamps != nil {
			c.stamps.arrived = time.Time{}
		}
		if n, err := c.c.Write(c.req); err != nil {
			c.close()
			if n == 0 && reused {
				continue // none of it went out: the server closed the connection first
			}
			return 0, err
		}
		code, keep, err := c.readAnswer()
		if c.stamps != nil {
			c.arrived = c.stamps.arrived
		}
		if err != nil || !keep {
			c.close()
		}
		return code, err
	}
}

// readAnswer reads one answer: status line, headers, body (Content-Length,
// chunked, or up to the connection's close). keep says whether the
// connection may carry another request. 1xx interim answers are skipped.
func (c *conn) readAnswer() (code int, keep bool, err error) {
	for {
		line, err := c.line()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errNoAnswer
			}
			return 0, false, err
		}
		// HTTP/1.x SP 3DIGIT [SP reason]
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
			return 0, false, fmt.Errorf("malformed status line %q", line)
		}
		code = int(parseDecimal(line[9:12]))
		if code < 100 || code > 999 || (len(line) > 12 && line[12] != ' ') {
			return 0, false, fmt.Errorf("malformed status line %q", line)
		}
		keep = line[7] == '1' // HTTP/1.1 keeps the connection unless told otherwise
		length, chunked := int64(-1), false
		for {
			h, err := c.line()
			if err != nil {
				return code, false, err
			}
			if len(h) == 0 {
				break
			}
			name, value, ok := bytes.Cut(h, []byte(":"))
			if !ok {
				return code, false, fmt.Errorf("malformed header %q", h)
			}
			value = bytes.TrimSpace(value)
			switch {
			case asciiEqualFold(name, "content-length"):
				n := parseDecimal(value)
				if n < 0 {
					return code, false, fmt.Errorf("bad Content-Length %q", value)
				}
				length = n
			case asciiEqualFold(name, "transfer-encoding"):
				chunked = asciiEqualFold(value, "chunked")
				if !chunked {
					return code, false, fmt.Errorf("unsupported Transfer-Encoding %q", value)
				}
			case asciiEqualFold(name, "connection"):
				if asciiEqualFold(value, "close") {
					keep = false
				} else if asciiEqualFold(value, "keep-alive") {
					keep = true
				}
			}
		}
		if code < 200 {
			continue // 100 Continue and the like: the real answer follows
		}
		c.body = c.body[:0]
		switch {
		case code == 204 || code == 304:
		case chunked:
			err = c.readChunked()
		case length >= 0:
			err = c.readN(length)
		default: // the body runs to the connection's close
			keep = false
			err = c.readN(-1)
		}
		return code, keep, err
	}
}

// line reads one CRLF- (or LF-) terminated line without its end.
func (c *conn) line() ([]byte, error) {
	l, err := c.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errors.New("header line too long")
		}
		if len(l) > 0 && errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	l = l[:len(l)-1]
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
	}
	return l, nil
}

// readN reads n body bytes (to EOF if n < 0), keeping up to maxBody of them.
func (c *conn) readN(n int64) error {
	for n != 0 {
		b, err := c.r.Peek(1)
		if len(b) == 0 {
			if n < 0 && errors.Is(err, io.EOF) {
				return nil
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		chunk := c.r.Buffered()
		if n >= 0 && int64(chunk) > n {
			chunk = int(n)
		}
		b, _ = c.r.Peek(chunk)
		if room := c.maxBody - len(c.body); room > 0 {
			c.body = append(c.body, b[:min(room, len(b))]...)
		}
		c.r.Discard(chunk)
		if n > 0 {
			n -= int64(chunk)
		}
	}
	return nil
}

// readChunked reads a chunked body and its trailer.
func (c *conn) readChunked() error {
	for {
		l, err := c.line()
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(l, ';'); i >= 0 { // chunk extensions
			l = l[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(l)), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("bad chunk size %q", l)
		}
		if size == 0 {
			for { // trailer headers up to the blank line
				t, err := c.line()
				if err != nil {
					return err
				}
				if len(t) == 0 {
					return nil
				}
			}
		}
		if err := c.readN(size); err != nil {
			return err
		}
		if l, err := c.line(); err != nil || len(l) != 0 {
			return fmt.Errorf("chunk not followed by CRLF (%v)", err)
		}
	}
}

// parseDecimal is the value of the ASCII digits b, -1 if b is empty, holds
// anything else, or is too long to be a body length.
func parseDecimal(b []byte) int64 {
	if len(b) == 0 || len(b) > 15 {
		return -1
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// asciiEqualFold reports whether b equals the lower-case ASCII s, ignoring case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
